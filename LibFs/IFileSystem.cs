namespace ExoFS.LibFs;

/// <summary>
/// The contract every library file system implements: inode-based like FUSE's low-level API, one call per
/// FUSE request, POSIX semantics (where this is silent, do what Linux's own file systems do).
///
/// Names are single path components (no '/', not empty, at most 255 UTF-8 bytes: ENAMETOOLONG beyond).
/// Permission checks are the caller's (FUSE mounts with default_permissions); a libFS records owners and
/// modes and enforces structure (ENOTEMPTY, EISDIR, EXDEV is never needed on one libFS, ...).
///
/// Lookup counts: every successful Lookup, MkNod, MkDir, Symlink, Link and Create adds one to the
/// inode's lookup count; <see cref="Forget"/> subtracts. An inode whose link count reaches zero lives on
/// while its lookup count or open handles are non-zero, and is freed when both reach zero (or at unmount).
///
/// Thread-safety: every member may be called concurrently from many threads.
/// </summary>
public interface IFileSystem : IDisposable
{
    /// <summary>The libFS's registered name ("ffs", "lfs", "model").</summary>
    string Name { get; }

    Result<FileAttr> Lookup(InodeNo parent, string name);
    void Forget(InodeNo ino, ulong nlookup);
    Result<FileAttr> GetAttr(InodeNo ino);
    Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request);

    Result<string> ReadLink(InodeNo ino);
    /// <summary>Makes a regular file, fifo, socket or device node (the type is in <paramref name="mode"/>).</summary>
    Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller);
    Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller);
    Errno Unlink(InodeNo parent, string name);
    Errno RmDir(InodeNo parent, string name);
    Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller);
    Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags);
    Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName);

    Result<FileHandle> Open(InodeNo ino, OpenFlags flags);
    /// <summary>Creates and opens a regular file (EEXIST if the name exists).</summary>
    Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller);
    /// <summary>Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; fewer only at end of file. Holes read as zeros.</summary>
    Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer);
    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/> (the caller resolves O_APPEND).</summary>
    Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data);
    /// <summary>Called at each close(2) of a descriptor of the open file (it may report a deferred write error).</summary>
    Errno Flush(InodeNo ino, FileHandle fh);
    /// <summary>
    /// Whether <see cref="Flush"/> does anything beyond checking the handle. A libFS whose writes report their
    /// errors at once says false, and a mount then asks the kernel not to send flushes at all (a request per close).
    /// </summary>
    bool FlushHasEffect => true;
    /// <summary>
    /// Whether calls made at the same time run in parallel. A libFS that serializes its calls behind one lock
    /// says false: a mount then serves its requests on one thread (with a second only while a request waits for
    /// the disk), since more threads would only take turns at the lock and pay a hand-off each.
    /// </summary>
    bool ServesInParallel => true;
    Errno Release(InodeNo ino, FileHandle fh);
    /// <summary>Makes the file's data (and, unless <paramref name="dataOnly"/>, its metadata) durable.</summary>
    Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly);

    Result<FileHandle> OpenDir(InodeNo ino);
    /// <summary>
    /// Sends entries from cookie <paramref name="offset"/> (0 = start; "." and ".." come first) to
    /// <paramref name="sink"/> until it returns false or the directory ends.
    /// </summary>
    Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink);
    Errno ReleaseDir(InodeNo ino, FileHandle fh);
    Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly);

    Result<FsStats> StatFs();

    Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags);
    /// <summary>The attribute's value; ENODATA if absent.</summary>
    Result<byte[]> GetXattr(InodeNo ino, string name);
    Result<IReadOnlyList<string>> ListXattr(InodeNo ino);
    Errno RemoveXattr(InodeNo ino, string name);

    /// <summary>Makes everything durable (sync(2)); also run at unmount.</summary>
    Errno Sync();
}
