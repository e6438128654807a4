using System.Text;

namespace ExoFS.LibFs.Testing.Model;

/// <summary>
/// The reference model: an in-memory, POSIX-faithful <see cref="IFileSystem"/> that the conformance suite,
/// the model-equivalence property and the crash oracle compare real libFSes against. Correctness and
/// clarity over speed: one lock serialises every call.
///
/// Policies where POSIX leaves a choice (a libFS under test may differ only where a test says so):
/// <list type="bullet">
/// <item>atime is never updated by reads or readdir (like mounting with noatime); only SetAttr changes it.</item>
/// <item>Inode numbers are never reused (so Generation is always 0); the root is 1.</item>
/// <item>Capacity counts 4 KiB data chunks only (metadata, names and xattrs are free); a write that needs
///   more chunks than are free fails whole with ENOSPC and changes nothing.</item>
/// <item>Directories report size 4096 and nlink 2 + subdirectories.</item>
/// <item>chown of a non-directory clears S_ISUID, and S_ISGID when group-execute is set (Linux's rule,
///   applied even for root), unless the same request sets the mode. Writes do not clear them (the kernel
///   sends that as a separate setattr).</item>
/// <item>A new inode in a set-group-ID directory takes the directory's group; a new directory also
///   inherits S_ISGID.</item>
/// <item>Truncate (SetAttr with Size) sets mtime and ctime to now even when the size is unchanged, as
///   truncate(2) does on Linux, unless the request sets mtime itself.</item>
/// <item>Xattr names need a "user.", "trusted.", "security." or "system." prefix (ENOTSUP otherwise) and
///   a non-empty suffix (EINVAL); empty or &gt; 255-byte names are ERANGE; values over 64 KiB are E2BIG.</item>
/// <item>Open of a directory is EISDIR (FUSE uses OpenDir), of a symlink ELOOP, of a fifo, socket or device
///   EINVAL (the kernel serves those itself); read/write through a handle opened without that access is EBADF.</item>
/// </list>
/// </summary>
public sealed partial class ModelFileSystem : IFileSystem
{
    /// <summary>Largest file size accepted (ext4's limit with 4 KiB blocks); beyond it writes and truncates give EFBIG.</summary>
    public const long MaxFileSize = 16L << 40;
    public const int NameMax = 255;
    public const int SymlinkMax = 4095;
    public const int XattrNameMax = 255;
    public const int XattrValueMax = 65536;

    private const int ChunkSize = ModelNode.ChunkSize;
    private static readonly string[] XattrPrefixes = ["user.", "trusted.", "security.", "system."];

    private readonly object _lock = new();
    private readonly Dictionary<ulong, ModelNode> _nodes = new();
    private readonly Dictionary<ulong, (ulong Ino, OpenFlags Flags, bool IsDir)> _handles = new();
    private readonly long _capacityChunks;
    private readonly ulong _maxInodes;
    private long _usedChunks;
    private ulong _nextIno = 2;
    private ulong _nextHandle = 1;
    private bool _disposed;

    /// <summary>A fresh file system holding only the root directory (mode 0755, owned by root).</summary>
    /// <param name="capacityBytes">Data capacity; rounded down to 4 KiB chunks. Default 1 TiB.</param>
    /// <param name="maxInodes">Inode limit (ENOSPC beyond), counting the root.</param>
    public ModelFileSystem(long capacityBytes = 1L << 40, ulong maxInodes = 1UL << 24)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        ArgumentOutOfRangeException.ThrowIfZero(maxInodes);
        _capacityChunks = capacityBytes / ChunkSize;
        _maxInodes = maxInodes;
        var now = Timespec.Now();
        _nodes[1] = new ModelNode
        {
            Ino = 1, Mode = FileMode.Directory | 0x1ED /* 0755 */, Nlink = 2, Size = ChunkSize,
            Atime = now, Mtime = now, Ctime = now, Dir = new ModelDirectory { Parent = 1 },
        };
    }

    public string Name => "model";

    /// <summary>Data capacity in bytes (a multiple of 4096).</summary>
    public long CapacityBytes => _capacityChunks * ChunkSize;

    // ---------------------------------------------------------------- lookup and attributes

    public Result<FileAttr> Lookup(InodeNo parent, string name)
    {
        lock (_lock)
        {
            var (dir, err) = ParentDir(parent, name, allowDots: true);
            if (err != Errno.OK) return err;
            ulong ino;
            if (name == ".") ino = dir!.Ino;
            else if (name == "..") ino = dir!.Dir!.Parent;
            else if (!dir!.Dir!.TryGet(name, out ino)) return Errno.ENOENT;
            var node = _nodes[ino];
            node.LookupCount++;
            return node.ToAttr();
        }
    }

    public void Forget(InodeNo ino, ulong nlookup)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var node)) return;
            node.LookupCount = nlookup >= node.LookupCount ? 0 : node.LookupCount - nlookup;
            MaybeFree(node);
        }
    }

    public Result<FileAttr> GetAttr(InodeNo ino)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            return node.ToAttr();
        }
    }

    public Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            var now = Timespec.Now();
            if (request.Size is { } size)
            {
                if (node.IsDir) return Errno.EISDIR;
                if (!node.IsRegular) return Errno.EINVAL;
                if (size > MaxFileSize) return Errno.EFBIG;
                Truncate(node, (long)size);
                node.Mtime = now;
                node.Ctime = now;
            }
            bool ownerChange = request.Uid is not null || request.Gid is not null;
            if (request.Uid is { } uid) node.Uid = uid;
            if (request.Gid is { } gid) node.Gid = gid;
            if (request.Mode is { } mode)
                node.Mode = node.Type | (mode & FileMode.PermMask);
            else if (ownerChange && !node.IsDir)
            {
                const uint SetUid = 0x800, SetGid = 0x400, GroupExec = 0x08;
                node.Mode &= ~SetUid;
                if ((node.Mode & GroupExec) != 0) node.Mode &= ~SetGid;
            }
            if (request.Atime is { } at) node.Atime = at.Now ? now : at.Time;
            if (request.Mtime is { } mt) node.Mtime = mt.Now ? now : mt.Time;
            node.Ctime = now;
            return node.ToAttr();
        }
    }

    public Result<string> ReadLink(InodeNo ino)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            return node.Target is null ? Errno.EINVAL : node.Target;
        }
    }

    // ---------------------------------------------------------------- creating names

    public Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller)
    {
        uint type = FileMode.TypeOf(mode);
        if (type == 0) type = FileMode.Regular; // mknod(2): a zero type means a regular file
        switch (type)
        {
            case FileMode.Regular or FileMode.Fifo or FileMode.Socket: rdev = 0; break;
            case FileMode.Char or FileMode.Block: break;
            case FileMode.Directory: return Errno.EPERM; // Linux: mknod(S_IFDIR) is EPERM; use MkDir
            default: return Errno.EINVAL;
        }
        lock (_lock)
        {
            var r = NewNode(parent, name, type | (mode & FileMode.PermMask), caller);
            if (!r.Ok) return r.Error;
            var node = r.Value;
            node.Rdev = rdev;
            if (type == FileMode.Regular) node.Chunks = new();
            return node.ToAttr();
        }
    }

    public Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller)
    {
        lock (_lock)
        {
            var r = NewNode(parent, name, FileMode.Directory | (mode & FileMode.PermMask), caller);
            if (!r.Ok) return r.Error;
            var node = r.Value;
            node.Nlink = 2;
            node.Size = ChunkSize;
            node.Dir = new ModelDirectory { Parent = parent.Value };
            _nodes[parent.Value].Nlink++;
            return node.ToAttr();
        }
    }

    public Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_lock)
        {
            // Parent and name errors come before target errors, as in Linux's path walk.
            var (_, err) = ParentDir(parent, name, allowDots: false);
            if (err != Errno.OK) return err;
            if (target.Length == 0) return Errno.ENOENT;
            int len = Encoding.UTF8.GetByteCount(target);
            if (len > SymlinkMax) return Errno.ENAMETOOLONG;
            var r = NewNode(parent, name, FileMode.Symlink | 0x1FF /* 0777 */, caller);
            if (!r.Ok) return r.Error;
            r.Value.Target = target;
            r.Value.Size = (ulong)len;
            return r.Value.ToAttr();
        }
    }

    public Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            var (dir, err) = ParentDir(newParent, newName, allowDots: true);
            if (err != Errno.OK) return err;
            if (newName is "." or "..") return Errno.EEXIST;
            if (node.IsDir) return Errno.EPERM;
            if (dir!.Dir!.TryGet(newName, out _)) return Errno.EEXIST;
            if (node.Nlink == 0) return Errno.ENOENT; // cannot resurrect an unlinked inode
            var now = Timespec.Now();
            dir.Dir.Add(newName, node.Ino);
            node.Nlink++;
            node.Ctime = now;
            dir.Mtime = dir.Ctime = now;
            node.LookupCount++;
            return node.ToAttr();
        }
    }

    public Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller)
    {
        uint type = FileMode.TypeOf(mode);
        if (type != 0 && type != FileMode.Regular) return Errno.EINVAL;
        lock (_lock)
        {
            var r = NewNode(parent, name, FileMode.Regular | (mode & FileMode.PermMask), caller);
            if (!r.Ok) return r.Error;
            var node = r.Value;
            node.Chunks = new();
            var fh = NewHandle(node, flags, isDir: false);
            return (node.ToAttr(), fh);
        }
    }

    // ---------------------------------------------------------------- removing names

    public Errno Unlink(InodeNo parent, string name)
    {
        lock (_lock)
        {
            var (dir, err) = ParentDir(parent, name, allowDots: true);
            if (err != Errno.OK) return err;
            if (name is "." or "..") return Errno.EISDIR;
            if (!dir!.Dir!.TryGet(name, out ulong ino)) return Errno.ENOENT;
            var node = _nodes[ino];
            if (node.IsDir) return Errno.EISDIR;
            var now = Timespec.Now();
            dir.Dir.Remove(name);
            dir.Mtime = dir.Ctime = now;
            DropLink(node, now);
            return Errno.OK;
        }
    }

    public Errno RmDir(InodeNo parent, string name)
    {
        lock (_lock)
        {
            var (dir, err) = ParentDir(parent, name, allowDots: true);
            if (err != Errno.OK) return err;
            if (name == ".") return Errno.EINVAL;
            if (name == "..") return Errno.ENOTEMPTY;
            if (!dir!.Dir!.TryGet(name, out ulong ino)) return Errno.ENOENT;
            var node = _nodes[ino];
            if (!node.IsDir) return Errno.ENOTDIR;
            if (node.Dir!.Count != 0) return Errno.ENOTEMPTY;
            var now = Timespec.Now();
            dir.Dir.Remove(name);
            dir.Nlink--;
            dir.Mtime = dir.Ctime = now;
            KillDir(node, now);
            return Errno.OK;
        }
    }

    // ---------------------------------------------------------------- rename

    public Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags)
    {
        if ((flags & ~(RenameFlags.NoReplace | RenameFlags.Exchange)) != 0) return Errno.EINVAL;
        if (flags == (RenameFlags.NoReplace | RenameFlags.Exchange)) return Errno.EINVAL;
        bool exchange = flags.HasFlag(RenameFlags.Exchange);
        lock (_lock)
        {
            var (src, err) = ParentDir(parent, name, allowDots: true);
            if (err != Errno.OK) return err;
            var (dst, err2) = ParentDir(newParent, newName, allowDots: true);
            if (err2 != Errno.OK) return err2;
            if (name is "." or ".." || newName is "." or "..") return Errno.EBUSY;
            if (!src!.Dir!.TryGet(name, out ulong srcIno)) return Errno.ENOENT;
            bool targetExists = dst!.Dir!.TryGet(newName, out ulong dstIno);
            if (exchange && !targetExists) return Errno.ENOENT;
            if (flags.HasFlag(RenameFlags.NoReplace) && targetExists) return Errno.EEXIST;
            var moved = _nodes[srcIno];
            var victim = targetExists ? _nodes[dstIno] : null;

            // Loops: the source may not be an ancestor of the new parent (EINVAL); the target may not be an
            // ancestor of the old parent (ENOTEMPTY, or EINVAL for an exchange), checked in that order as Linux does.
            if (moved.IsDir && IsAncestorOrSelf(moved.Ino, dst.Ino)) return Errno.EINVAL;
            if (victim is { IsDir: true } && IsAncestorOrSelf(victim.Ino, src.Ino))
                return exchange ? Errno.EINVAL : Errno.ENOTEMPTY;
            if (victim is not null && victim.Ino == moved.Ino) return Errno.OK; // same inode: POSIX says do nothing

            var now = Timespec.Now();
            if (exchange)
            {
                src.Dir.Replace(name, victim!.Ino);
                dst.Dir.Replace(newName, moved.Ino);
                if (src.Ino != dst.Ino)
                {
                    if (moved.IsDir) { moved.Dir!.Parent = dst.Ino; src.Nlink--; dst.Nlink++; }
                    if (victim.IsDir) { victim.Dir!.Parent = src.Ino; dst.Nlink--; src.Nlink++; }
                }
                moved.Ctime = victim.Ctime = now;
            }
            else
            {
                if (victim is not null)
                {
                    if (moved.IsDir && !victim.IsDir) return Errno.ENOTDIR;
                    if (!moved.IsDir && victim.IsDir) return Errno.EISDIR;
                    if (victim.IsDir && victim.Dir!.Count != 0) return Errno.ENOTEMPTY;
                    src.Dir.Remove(name);
                    dst.Dir.Replace(newName, moved.Ino);
                    if (victim.IsDir) { dst.Nlink--; KillDir(victim, now); }
                    else DropLink(victim, now);
                }
                else
                {
                    src.Dir.Remove(name);
                    dst.Dir.Add(newName, moved.Ino);
                }
                if (moved.IsDir && src.Ino != dst.Ino)
                {
                    moved.Dir!.Parent = dst.Ino;
                    src.Nlink--;
                    dst.Nlink++;
                }
                moved.Ctime = now;
            }
            src.Mtime = src.Ctime = now;
            dst.Mtime = dst.Ctime = now;
            return Errno.OK;
        }
    }

    // ---------------------------------------------------------------- file I/O

    public Result<FileHandle> Open(InodeNo ino, OpenFlags flags)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            if (node.IsDir) return Errno.EISDIR;
            if (node.Target is not null) return Errno.ELOOP;
            if (flags.HasFlag(OpenFlags.Directory)) return Errno.ENOTDIR;
            if (!node.IsRegular) return Errno.EINVAL;
            if (flags.HasFlag(OpenFlags.Truncate) && (flags & OpenFlags.AccessMask) != OpenFlags.ReadOnly && node.Size != 0)
            {
                Truncate(node, 0);
                node.Mtime = node.Ctime = Timespec.Now();
            }
            return NewHandle(node, flags, isDir: false);
        }
    }

    public Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            var (node, err) = FileFor(ino, fh, OpenFlags.WriteOnly);
            if (err != Errno.OK) return err;
            if (offset < 0) return Errno.EINVAL;
            if ((ulong)offset >= node!.Size) return 0;
            int n = (int)Math.Min((ulong)buffer.Length, node.Size - (ulong)offset);
            int done = 0;
            while (done < n)
            {
                long pos = offset + done;
                long ci = pos / ChunkSize;
                int within = (int)(pos % ChunkSize);
                int take = Math.Min(n - done, ChunkSize - within);
                var dest = buffer.Slice(done, take);
                if (node.Chunks!.TryGetValue(ci, out var chunk)) chunk.AsSpan(within, take).CopyTo(dest);
                else dest.Clear();
                done += take;
            }
            return n;
        }
    }

    public Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            var (node, err) = FileFor(ino, fh, OpenFlags.ReadOnly);
            if (err != Errno.OK) return err;
            if (offset < 0) return Errno.EINVAL;
            if (data.Length == 0) return 0; // Linux: a zero-length write changes nothing, not even times
            if (offset > MaxFileSize - data.Length) return Errno.EFBIG;
            long first = offset / ChunkSize, last = (offset + data.Length - 1) / ChunkSize;
            long missing = 0;
            for (long ci = first; ci <= last; ci++)
                if (!node!.Chunks!.ContainsKey(ci)) missing++;
            if (missing > _capacityChunks - _usedChunks) return Errno.ENOSPC;
            int done = 0;
            while (done < data.Length)
            {
                long pos = offset + done;
                long ci = pos / ChunkSize;
                int within = (int)(pos % ChunkSize);
                int take = Math.Min(data.Length - done, ChunkSize - within);
                if (!node!.Chunks!.TryGetValue(ci, out var chunk))
                {
                    chunk = new byte[ChunkSize];
                    node.Chunks[ci] = chunk;
                    _usedChunks++;
                }
                data.Slice(done, take).CopyTo(chunk.AsSpan(within));
                done += take;
            }
            node!.Size = Math.Max(node.Size, (ulong)(offset + data.Length));
            node.Mtime = node.Ctime = Timespec.Now();
            return data.Length;
        }
    }

    /// <summary>Writes report their errors when made; a flush only checks the handle.</summary>
    public bool FlushHasEffect => false;

    public Errno Flush(InodeNo ino, FileHandle fh)
    {
        lock (_lock) return FileFor(ino, fh, null).Err;
    }

    public Errno Release(InodeNo ino, FileHandle fh)
    {
        lock (_lock)
        {
            if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino.Value || h.IsDir) return Errno.EBADF;
            return CloseHandle(fh);
        }
    }

    public Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly)
    {
        lock (_lock) return FileFor(ino, fh, null).Err;
    }

    // ---------------------------------------------------------------- directories

    public Result<FileHandle> OpenDir(InodeNo ino)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            if (!node.IsDir) return Errno.ENOTDIR;
            return NewHandle(node, OpenFlags.ReadOnly | OpenFlags.Directory, isDir: true);
        }
    }

    public Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var batch = new List<DirEntry>();
        lock (_lock)
        {
            if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino.Value || !h.IsDir) return Errno.EBADF;
            if (offset < 0) return Errno.EINVAL;
            var dir = _nodes[ino.Value];
            if (dir.Nlink == 0) return Errno.ENOENT; // a removed directory lists nothing (Linux: ENOENT)
            if (offset <= 0) batch.Add(new DirEntry(".", new InodeNo(dir.Ino), dir.Mode, 1));
            if (offset <= 1)
            {
                var parent = _nodes[dir.Dir!.Parent];
                batch.Add(new DirEntry("..", new InodeNo(parent.Ino), parent.Mode, 2));
            }
            foreach (var (idx, name, child) in dir.Dir!.From(offset))
                batch.Add(new DirEntry(name, new InodeNo(child), _nodes[child].Mode, idx + 1));
        }
        // The sink runs outside the lock: it may be slow or call back into the file system.
        foreach (var e in batch)
            if (!sink(e)) break;
        return Errno.OK;
    }

    public Errno ReleaseDir(InodeNo ino, FileHandle fh)
    {
        lock (_lock)
        {
            if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino.Value || !h.IsDir) return Errno.EBADF;
            return CloseHandle(fh);
        }
    }

    public Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly)
    {
        lock (_lock)
            return _handles.TryGetValue(fh.Value, out var h) && h.Ino == ino.Value && h.IsDir ? Errno.OK : Errno.EBADF;
    }

    public Result<FsStats> StatFs()
    {
        lock (_lock)
        {
            ulong free = (ulong)(_capacityChunks - _usedChunks);
            ulong files = (ulong)_nodes.Count;
            return new FsStats(ChunkSize, (ulong)_capacityChunks, free, free, _maxInodes, _maxInodes - files, NameMax);
        }
    }

    // ---------------------------------------------------------------- extended attributes

    public Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags)
    {
        if ((flags & ~(XattrFlags.Create | XattrFlags.Replace)) != 0) return Errno.EINVAL;
        if (flags == (XattrFlags.Create | XattrFlags.Replace)) return Errno.EINVAL;
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            var err = CheckXattrName(name);
            if (err != Errno.OK) return err;
            if (value.Length > XattrValueMax) return Errno.E2BIG;
            bool exists = node.Xattrs.ContainsKey(name);
            if (flags == XattrFlags.Create && exists) return Errno.EEXIST;
            if (flags == XattrFlags.Replace && !exists) return Errno.ENODATA;
            node.Xattrs[name] = value.ToArray();
            node.Ctime = Timespec.Now();
            return Errno.OK;
        }
    }

    public Result<byte[]> GetXattr(InodeNo ino, string name)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            var err = CheckXattrName(name);
            if (err != Errno.OK) return err;
            return node.Xattrs.TryGetValue(name, out var v) ? (byte[])v.Clone() : Errno.ENODATA;
        }
    }

    public Result<IReadOnlyList<string>> ListXattr(InodeNo ino)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            return node.Xattrs.Keys.ToList();
        }
    }

    public Errno RemoveXattr(InodeNo ino, string name)
    {
        lock (_lock)
        {
            if (!TryNode(ino, out var node)) return Errno.ENOENT;
            var err = CheckXattrName(name);
            if (err != Errno.OK) return err;
            if (!node.Xattrs.Remove(name)) return Errno.ENODATA;
            node.Ctime = Timespec.Now();
            return Errno.OK;
        }
    }

    public Errno Sync()
    {
        lock (_lock) { ThrowIfDisposed(); return Errno.OK; }
    }

    /// <summary>Unmount: handles and lookup counts end, orphans are freed. Further calls throw.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _handles.Clear();
            _nodes.Clear();
        }
    }

    // ---------------------------------------------------------------- helpers (caller holds _lock)

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private bool TryNode(InodeNo ino, out ModelNode node)
    {
        ThrowIfDisposed();
        return _nodes.TryGetValue(ino.Value, out node!);
    }

    /// <summary>
    /// Resolves a parent directory and validates a name, with Linux's precedence: an unknown parent is
    /// ENOENT, a non-directory ENOTDIR, a removed directory ENOENT, then the name (EINVAL, ENAMETOOLONG).
    /// </summary>
    private (ModelNode? Dir, Errno Err) ParentDir(InodeNo parent, string name, bool allowDots)
    {
        if (!TryNode(parent, out var dir)) return (null, Errno.ENOENT);
        if (!dir.IsDir) return (null, Errno.ENOTDIR);
        if (dir.Nlink == 0) return (null, Errno.ENOENT);
        var err = CheckName(name);
        if (err != Errno.OK) return (null, err);
        if (!allowDots && name is "." or "..") return (null, Errno.EEXIST);
        return (dir, Errno.OK);
    }

    /// <summary>Name rules for a single path component (see IFileSystem): non-empty, no '/' or NUL, ≤ 255 UTF-8 bytes.</summary>
    public static Errno CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('/') || name.Contains('\0')) return Errno.EINVAL;
        return Encoding.UTF8.GetByteCount(name) > NameMax ? Errno.ENAMETOOLONG : Errno.OK;
    }

    private static Errno CheckXattrName(string? name)
    {
        if (string.IsNullOrEmpty(name) || Encoding.UTF8.GetByteCount(name) > XattrNameMax) return Errno.ERANGE;
        foreach (var p in XattrPrefixes)
            if (name.StartsWith(p, StringComparison.Ordinal))
                return name.Length == p.Length ? Errno.EINVAL : Errno.OK;
        return Errno.ENOTSUP;
    }

    /// <summary>Creates an inode linked at parent/name, with one lookup; the caller fills in the kind-specific part.</summary>
    private Result<ModelNode> NewNode(InodeNo parent, string name, uint mode, Caller caller)
    {
        var (dir, err) = ParentDir(parent, name, allowDots: false);
        if (err != Errno.OK) return err;
        if (dir!.Dir!.TryGet(name, out _)) return Errno.EEXIST;
        if ((ulong)_nodes.Count >= _maxInodes) return Errno.ENOSPC;
        const uint SetGid = 0x400;
        uint gid = caller.Gid;
        if ((dir.Mode & SetGid) != 0)
        {
            gid = dir.Gid;
            if (FileMode.IsDir(mode)) mode |= SetGid;
        }
        var now = Timespec.Now();
        var node = new ModelNode
        {
            Ino = _nextIno++, Mode = mode, Nlink = 1, Uid = caller.Uid, Gid = gid,
            Atime = now, Mtime = now, Ctime = now, LookupCount = 1,
        };
        _nodes[node.Ino] = node;
        dir.Dir.Add(name, node.Ino);
        dir.Mtime = dir.Ctime = now;
        return node;
    }

    private FileHandle NewHandle(ModelNode node, OpenFlags flags, bool isDir)
    {
        ulong fh = _nextHandle++;
        _handles[fh] = (node.Ino, flags, isDir);
        node.OpenCount++;
        return new FileHandle(fh);
    }

    private Errno CloseHandle(FileHandle fh)
    {
        var h = _handles[fh.Value];
        _handles.Remove(fh.Value);
        var node = _nodes[h.Ino];
        node.OpenCount--;
        MaybeFree(node);
        return Errno.OK;
    }

    /// <summary>
    /// The regular file behind a file handle; EBADF if the handle is unknown, for another inode, or opened
    /// with access mode <paramref name="forbiddenAccess"/> (WriteOnly for reads, ReadOnly for writes, null for no check).
    /// </summary>
    private (ModelNode? Node, Errno Err) FileFor(InodeNo ino, FileHandle fh, OpenFlags? forbiddenAccess)
    {
        ThrowIfDisposed();
        if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino.Value || h.IsDir) return (null, Errno.EBADF);
        var access = h.Flags & OpenFlags.AccessMask;
        if (access == forbiddenAccess) return (null, Errno.EBADF);
        return (_nodes[h.Ino], Errno.OK);
    }

    /// <summary>
    /// Sets the size. Shrinking drops the chunks past the new end; so does a truncate to the same or a smaller
    /// size of a file holding chunks preallocated past its end (ext4 calls its truncate whenever the size does
    /// not grow, to drop such blocks); growing keeps them.
    /// </summary>
    private void Truncate(ModelNode node, long size)
    {
        if ((ulong)size < node.Size || (node.PastEof && (ulong)size == node.Size))
        {
            node.PastEof = false;
            long keep = (size + ChunkSize - 1) / ChunkSize; // chunks [0, keep) may hold data below size
            foreach (long ci in node.Chunks!.Keys.Where(c => c >= keep).ToList())
            {
                node.Chunks.Remove(ci);
                _usedChunks--;
            }
            int tail = (int)(size % ChunkSize);
            // Zero the tail of the last kept chunk so a later grow reads zeros there, not old data.
            if (tail != 0 && node.Chunks.TryGetValue(size / ChunkSize, out var last))
                last.AsSpan(tail).Clear();
        }
        node.Size = (ulong)size;
    }

    private void DropLink(ModelNode node, Timespec now)
    {
        node.Nlink--;
        node.Ctime = now;
        MaybeFree(node);
    }

    private void KillDir(ModelNode dir, Timespec now)
    {
        dir.Nlink = 0;
        dir.Ctime = now;
        MaybeFree(dir);
    }

    private void MaybeFree(ModelNode node)
    {
        if (node.Nlink != 0 || node.LookupCount != 0 || node.OpenCount != 0 || node.Ino == 1) return;
        if (node.Chunks is not null) _usedChunks -= node.Chunks.Count;
        _nodes.Remove(node.Ino);
    }

    private bool IsAncestorOrSelf(ulong ancestor, ulong ino)
    {
        while (true)
        {
            if (ino == ancestor) return true;
            if (ino == 1) return false;
            ino = _nodes[ino].Dir!.Parent;
        }
    }
}
