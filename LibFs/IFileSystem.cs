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

    /// <summary>
    /// fallocate(2) on an open file, with ext4's semantics (see <see cref="FallocateMode"/>). The checks the VFS
    /// makes before a file system sees the call are the libFS's too: EINVAL for a negative offset, a length
    /// that is not positive, or COLLAPSE/INSERT combined with another bit; ENOTSUP (EOPNOTSUPP) for unknown
    /// bits, PUNCH_HOLE without KEEP_SIZE or with ZERO_RANGE; EBADF for a handle not open for writing; EFBIG
    /// past the libFS's largest file. COLLAPSE and INSERT need a block-aligned offset and length (EINVAL), a
    /// collapse must end before the end of file and an insert start before it (EINVAL). A libFS that does not
    /// implement it answers ENOTSUP for every mode, as Linux does for such a file system.
    /// </summary>
    Errno Fallocate(InodeNo ino, FileHandle fh, FallocateMode mode, long offset, long length) => Errno.ENOTSUP;

    /// <summary>
    /// lseek(2) SEEK_DATA or SEEK_HOLE on an open file: the offset found, or ENXIO when
    /// <paramref name="offset"/> is negative or at or after the end of file (as Linux). The default knows no
    /// holes: all of a file is data, followed by the implicit hole at its end (what Linux does for a file
    /// system without its own llseek).
    /// </summary>
    Result<long> Lseek(InodeNo ino, FileHandle fh, long offset, SeekWhence whence)
    {
        if (whence is not (SeekWhence.Data or SeekWhence.Hole)) return Errno.EINVAL;
        var a = GetAttr(ino);
        if (!a.Ok) return a.Error;
        ulong size = a.Value.Size;
        if (offset < 0 || (ulong)offset >= size) return Errno.ENXIO;
        return whence == SeekWhence.Data ? offset : (long)size;
    }

    /// <summary>
    /// copy_file_range(2) between two open files of this libFS: copies up to <paramref name="length"/> bytes
    /// and returns how many (fewer only at the input's end of file; 0 at or past it). EBADF unless the input is
    /// open for reading and the output for writing; EINVAL for negative offsets or overlapping ranges of one
    /// file. The default reads and writes through this libFS in 1 MiB pieces, so the data stays in the
    /// daemon instead of crossing the kernel twice; a libFS may do better (share or move blocks).
    /// </summary>
    Result<long> CopyFileRange(InodeNo inIno, FileHandle inFh, long inOffset, InodeNo outIno, FileHandle outFh, long outOffset, long length)
    {
        if (inOffset < 0 || outOffset < 0 || length < 0) return Errno.EINVAL;
        if (inIno == outIno && inOffset < outOffset + length && outOffset < inOffset + length) return Errno.EINVAL;
        const int Piece = 1 << 20;
        var buf = new byte[(int)Math.Min(length, Piece)];
        long done = 0;
        while (done < length)
        {
            int want = (int)Math.Min(length - done, buf.Length);
            var r = Read(inIno, inFh, inOffset + done, buf.AsSpan(0, want));
            if (!r.Ok) return done > 0 ? done : r.Error;
            if (r.Value == 0) break;
            var w = Write(outIno, outFh, outOffset + done, buf.AsSpan(0, r.Value));
            if (!w.Ok) return done > 0 ? done : w.Error;
            done += w.Value;
            if (w.Value < r.Value || r.Value < want) break; // a short write, or the input's end of file
        }
        return done;
    }
}
