using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

// Attributes, file data, handles, directories listing, xattrs, statfs and sync. Every member takes the lock.
public sealed partial class FfsFileSystem
{
    private const ulong MaxFileSize = BlockMap.MaxFileBlocks * FfsLayout.BlockSize;
    private const int MaxXattrValue = 65536;

    /// <summary>
    /// Crash tests only: false drops the inode write of a setattr that changes no size (chmod, chown, utimes): the
    /// caller is told the new attributes, the disk keeps the old ones (the broken variant the crash oracle's
    /// attribute rule must catch).
    /// </summary>
    internal bool WriteAttributeChanges { get; set; } = true;

    public Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            var now = Timespec.Now();
            if (request.Size is { } size)
            {
                _readAhead.Forget(ino.Value);
                if (FileMode.IsDir(i.Mode)) return Errno.EISDIR;
                if (!FileMode.IsRegular(i.Mode)) return Errno.EINVAL;
                if (size > MaxFileSize) return Errno.EFBIG;
                var err = Truncate(ino.Value, i, size);
                if (err != Errno.OK)
                {
                    _inodes.Put(ino.Value, i);
                    return err;
                }
                Touch(i, now);
            }
            bool ownerChange = request.Uid is not null || request.Gid is not null;
            if (request.Uid is { } uid) i.Uid = uid;
            if (request.Gid is { } gid) i.Gid = gid;
            if (request.Mode is { } mode) i.Mode = (i.Mode & FileMode.TypeMask) | (mode & FileMode.PermMask);
            else if (ownerChange && !FileMode.IsDir(i.Mode))
            {
                // chown(2) on Linux drops set-user-ID, and set-group-ID when group execute is set.
                const uint SetUid = 0x800, SetGid = 0x400, GroupExec = 0x08;
                i.Mode &= ~SetUid;
                if ((i.Mode & GroupExec) != 0) i.Mode &= ~SetGid;
            }
            if (request.Atime is { } at)
            {
                var t = at.Now ? now : at.Time;
                i.AtimeSec = t.Sec;
                i.AtimeNsec = t.Nsec;
            }
            if (request.Mtime is { } mt)
            {
                var t = mt.Now ? now : mt.Time;
                i.MtimeSec = t.Sec;
                i.MtimeNsec = t.Nsec;
            }
            Touch(i, now, mtime: false);
            var perr = WriteAttributeChanges || request.Size is not null ? _inodes.Put(ino.Value, i) : Errno.OK;
            return perr != Errno.OK ? perr : ToAttr(ino.Value, i);
        }
    }

    /// <summary>
    /// Sets the size of a regular file, freeing blocks past the end and zeroing the tail of the last block. Blocks
    /// preallocated past the end (fallocate KEEP_SIZE) go too unless the file grows, as ext4 does. Lock held.
    /// </summary>
    private Errno Truncate(ulong ino, DiskInode i, ulong size)
    {
        if (size > i.Size && DropPastEof(ino, i) is var dropped && dropped != Errno.OK) return dropped;
        bool pastEof = (i.Flags & DiskInode.FlagBlocksPastEof) != 0;
        if (size < i.Size || (pastEof && size == i.Size))
        {
            i.Flags &= ~DiskInode.FlagBlocksPastEof;
            ulong keep = (size + FfsLayout.BlockSize - 1) / FfsLayout.BlockSize;
            var err = SizeAgreesWithBlocks ? _map.Truncate(ino, i, keep) : Errno.OK;
            if (err != Errno.OK) return err;
            int tail = (int)(size % FfsLayout.BlockSize);
            if (tail != 0)
            {
                // Bytes past the new end must read as zeros if the file grows again.
                ulong b = _map.Lookup(i, size / FfsLayout.BlockSize);
                if (b != 0)
                {
                    err = _disk.WriteRaw(new BlockNo(b), tail, new byte[FfsLayout.BlockSize - tail]);
                    if (err != Errno.OK) return err;
                }
            }
        }
        i.Size = size;
        return Errno.OK;
    }

    /// <summary>
    /// While leaks a deferred recovery left are pending (<see cref="LeaksPending"/>), a file may hold what a crash
    /// kept of an append whose new size never reached the disk: blocks past its end of file (their pointers sit in
    /// an indirect block written before the inode) and bytes past the end in its last block. Before the file grows
    /// over them (a truncate up, a write or an allocation past the end) they are dropped, so the range it grows
    /// into reads as zeros, as POSIX says, and not as bytes no write of the file's current life put there. Without
    /// pending leaks there are none (truncate and recovery free them), so nothing is done. Blocks kept past the end
    /// on purpose (<see cref="DiskInode.FlagBlocksPastEof"/>) were allocated as zeros and stay. Lock held.
    /// </summary>
    private Errno DropPastEof(ulong ino, DiskInode i)
    {
        if (!_leaksPending || !FileMode.IsRegular(i.Mode) || (i.Flags & DiskInode.FlagBlocksPastEof) != 0) return Errno.OK;
        ulong keep = (i.Size + FfsLayout.BlockSize - 1) / FfsLayout.BlockSize;
        if (_map.Next(i, keep, BlockMap.MaxFileBlocks, mapped: true) < BlockMap.MaxFileBlocks)
        {
            var err = _map.Truncate(ino, i, keep);
            if (err != Errno.OK) return err;
        }
        int tail = (int)(i.Size % FfsLayout.BlockSize);
        ulong last = tail == 0 ? 0 : _map.Lookup(i, i.Size / FfsLayout.BlockSize);
        return last == 0 ? Errno.OK : _disk.WriteRaw(new BlockNo(last), tail, new byte[FfsLayout.BlockSize - tail]);
    }

    public Result<FileHandle> Open(InodeNo ino, OpenFlags flags)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if (FileMode.IsDir(i.Mode)) return Errno.EISDIR;
            if (FileMode.IsSymlink(i.Mode)) return Errno.ELOOP;
            if (flags.HasFlag(OpenFlags.Directory)) return Errno.ENOTDIR;
            if (!FileMode.IsRegular(i.Mode)) return Errno.EINVAL; // fifos, sockets, devices open in the kernel
            bool writing = (flags & OpenFlags.AccessMask) != OpenFlags.ReadOnly;
            if (flags.HasFlag(OpenFlags.Truncate) && writing && i.Size > 0)
            {
                _readAhead.Forget(ino.Value);
                var err = Truncate(ino.Value, i, 0);
                Touch(i, Timespec.Now());
                _inodes.Put(ino.Value, i);
                if (err != Errno.OK) return err;
            }
            return NewHandle(ino.Value, flags, isDir: false);
        }
    }

    private FileHandle NewHandle(ulong ino, OpenFlags flags, bool isDir)
    {
        ulong fh = _nextHandle++;
        _handles[fh] = (ino, flags, isDir);
        _inodes.AddOpen(ino);
        return new FileHandle(fh);
    }

    private Errno CloseHandle(ulong ino, FileHandle fh, bool isDir)
    {
        lock (_lock)
        {
            if (_disposed) return Errno.OK;
            if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino || h.IsDir != isDir) return Errno.EBADF;
            _handles.Remove(fh.Value);
            if (_inodes.Release(ino)) ReapIfOrphan(ino);
            return Errno.OK;
        }
    }

    /// <summary>
    /// Checks a file handle: EBADF if unknown, for another inode, a directory handle, or opened with access
    /// mode <paramref name="forbidden"/> (WriteOnly for reads, ReadOnly for writes; null for no check).
    /// </summary>
    private Errno CheckHandle(ulong ino, FileHandle fh, OpenFlags? forbidden)
    {
        if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino || h.IsDir) return Errno.EBADF;
        return (h.Flags & OpenFlags.AccessMask) == forbidden ? Errno.EBADF : Errno.OK;
    }

    /// <summary>EBADF unless <paramref name="fh"/> is an open directory handle of <paramref name="ino"/>. Lock held.</summary>
    private Errno CheckDirHandle(ulong ino, FileHandle fh) =>
        _handles.TryGetValue(fh.Value, out var h) && h.Ino == ino && h.IsDir ? Errno.OK : Errno.EBADF;

    public Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller)
    {
        uint type = FileMode.TypeOf(mode);
        if (type != 0 && type != FileMode.Regular) return Errno.EINVAL;
        lock (_lock)
        {
            CheckOpen();
            var r = MakeNode(parent.Value, name, FileMode.Regular | (mode & FileMode.PermMask), 0, caller, null);
            if (!r.Ok) return r.Error;
            return (r.Value, NewHandle(r.Value.Ino.Value, flags, isDir: false));
        }
    }

    public Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            CheckOpen();
            var bad = CheckHandle(ino.Value, fh, OpenFlags.WriteOnly);
            if (bad != Errno.OK) return bad;
            if (offset < 0) return Errno.EINVAL;
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if ((ulong)offset >= i.Size || buffer.Length == 0) return 0;
            int n = (int)Math.Min((ulong)buffer.Length, i.Size - (ulong)offset);
            int done = 0;
            while (done < n)
            {
                ulong pos = (ulong)offset + (ulong)done;
                int inBlock = (int)(pos % FfsLayout.BlockSize);
                // Whole blocks go as runs: each stretch contiguous on disk is one read (one device request).
                int wholeBlocks = inBlock == 0 ? (n - done) / FfsLayout.BlockSize : 0;
                if (wholeBlocks > 0)
                {
                    var served = ReadAheadServe(ino.Value, i, pos / FfsLayout.BlockSize, buffer.Slice(done, wholeBlocks * FfsLayout.BlockSize), continuing: done > 0);
                    if (!served.Ok) return served.Error;
                    if (served.Value > 0)
                    {
                        done += served.Value * FfsLayout.BlockSize;
                        continue;
                    }
                }
                var (b, count) = wholeBlocks > 0 ? _map.LookupExtent(i, pos / FfsLayout.BlockSize, wholeBlocks)
                    : (_map.Lookup(i, pos / FfsLayout.BlockSize), 1);
                int chunk = wholeBlocks > 0 ? count * FfsLayout.BlockSize : Math.Min(n - done, FfsLayout.BlockSize - inBlock);
                var dst = buffer.Slice(done, chunk);
                if (b == 0 && _map.LookupError != Errno.OK) return _map.LookupError;   // never serve a damaged pointer block as a hole
                if (b == 0) dst.Clear();
                else
                {
                    var err = ReadFileData(ino.Value, new BlockNo(b), inBlock, dst);
                    if (err != Errno.OK) return err;
                }
                done += chunk;
            }
            _readAhead.ReadEnded(ino.Value, ((ulong)offset + (ulong)done) / FfsLayout.BlockSize);
            // relatime: record an access only when atime is older than the last change.
            var atime = new Timespec(i.AtimeSec, i.AtimeNsec);
            if (atime.CompareTo(new Timespec(i.MtimeSec, i.MtimeNsec)) <= 0 || atime.CompareTo(new Timespec(i.CtimeSec, i.CtimeNsec)) <= 0)
            {
                var now = Timespec.Now();
                i.AtimeSec = now.Sec;
                i.AtimeNsec = now.Nsec;
                _inodes.Put(ino.Value, i);
            }
            return done;
        }
    }

    public Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            CheckOpen();
            var bad = CheckHandle(ino.Value, fh, OpenFlags.ReadOnly);
            if (bad != Errno.OK) return bad;
            if (offset < 0) return Errno.EINVAL;
            if (data.Length == 0) return 0; // Linux: a zero-length write changes nothing, not even times
            if ((ulong)offset + (ulong)data.Length > MaxFileSize) return Errno.EFBIG;
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            _readAhead.Forget(ino.Value); // its blocks are rewritten or allocated
            if ((ulong)offset > i.Size)
            {
                var dropped = DropPastEof(ino.Value, i);
                if (dropped != Errno.OK) { _inodes.Put(ino.Value, i); return dropped; }
            }
            int done = 0, cachedBlocks = 0;
            Errno failure = Errno.OK;
            ulong prev = 0;
            while (done < data.Length)
            {
                ulong pos = (ulong)offset + (ulong)done;
                ulong fb = pos / FfsLayout.BlockSize;
                int inBlock = (int)(pos % FfsLayout.BlockSize);
                if (prev == 0 && fb > 0) prev = _map.Lookup(i, fb - 1);
                var hint = prev != 0 ? new BlockNo(prev + 1) : _alloc.DataGoal(ino.Value);
                // Whole blocks go as runs (McVoy & Kleiman's clustering): a hole's run is allocated by one XN
                // call, and each run contiguous on disk is written as one device request. A partial block is
                // merged into its cached page.
                int wholeBlocks = inBlock == 0 ? (data.Length - done) / FfsLayout.BlockSize : 0;
                Result<(ulong First, int Count)> run;
                if (wholeBlocks > 0) run = _map.EnsureExtent(ino.Value, i, fb, wholeBlocks, hint);
                else
                {
                    var one = _map.Ensure(ino.Value, i, fb, hint);
                    run = one.Ok ? (one.Value, 1) : one.Error;
                }
                if (!run.Ok)
                {
                    failure = run.Error;
                    break;
                }
                var (first, count) = run.Value;
                int chunk = wholeBlocks > 0 ? count * FfsLayout.BlockSize : Math.Min(data.Length - done, FfsLayout.BlockSize - inBlock);
                var err = WriteFileData(new BlockNo(first), inBlock, data.Slice(done, chunk));
                if (err != Errno.OK)
                {
                    failure = err;
                    break;
                }
                if (wholeBlocks == 0) cachedBlocks++;
                prev = first + (ulong)count - 1;
                done += chunk;
            }
            ulong end = (ulong)offset + (ulong)done;
            // A write that wrote nothing (refused at its first block) leaves the size alone.
            if (done > 0 && end > i.Size) i.Size = end;
            if (done > 0) Touch(i, Timespec.Now());
            var perr = _inodes.Put(ino.Value, i);
            // Whole blocks went to the device already; what stays dirty is partial blocks, pointers and the inode.
            // Counted only after the inode is written: a write-back the budget starts must not find the Alloc's
            // size (raised to whole blocks) and a block count without the exact size and count the inode has.
            Dirtied(cachedBlocks + 1);
            if (done == 0) return failure != Errno.OK ? failure : perr;
            return perr != Errno.OK ? perr : done; // a short write, as Linux reports one
        }
    }

    /// <summary>
    /// The one place a file's data bytes are written: <paramref name="bytes"/> from byte <paramref name="inBlock"/>
    /// of disk block <paramref name="first"/>. Whole blocks (inBlock 0, a multiple of the block size, consecutive
    /// on disk) go to the device as one request with no cache page each; a piece of a block is merged into the
    /// block's cached page. Lock held.
    /// </summary>
    private Errno WriteFileData(BlockNo first, int inBlock, ReadOnlySpan<byte> bytes)
    {
        _readAhead.ForgetDisk(first.Value, (ulong)((inBlock + bytes.Length + FfsLayout.BlockSize - 1) / FfsLayout.BlockSize));
        return inBlock == 0 && bytes.Length % FfsLayout.BlockSize == 0
            ? _disk.WriteDataBlocks(first, bytes)
            : _disk.WriteRaw(first, inBlock, bytes);
    }

    /// <summary>
    /// Serves whole file blocks <paramref name="fileBlock"/>.. of <paramref name="ino"/> from a read-ahead window
    /// (see <see cref="ReadAhead"/>); if none holds them and the read continues the previous one (and asks for fewer
    /// than <see cref="ReadAhead.Blocks"/>: a larger request is a cluster by itself), first reads the
    /// request and up to <see cref="ReadAhead.Blocks"/> more of the file's contiguous run (before its end) in one
    /// device request into a new window (<paramref name="continuing"/>: the rest of a read a window served the start
    /// of, sequential by definition). Returns the blocks served (0: the caller reads them itself). A window is
    /// filled unverified; with data checksums the blocks served are verified as they are served, so a damaged
    /// block read ahead fails (and is reported) only when a reader asks for it. A window that fails to read is
    /// not kept and the caller's own read reports the error. Lock held.
    /// </summary>
    private Result<int> ReadAheadServe(ulong ino, DiskInode i, ulong fileBlock, Span<byte> into, bool continuing)
    {
        int served = ServeVerified(ino, fileBlock, into, out var bad);
        if (bad != Errno.OK) return bad;
        bool sequential = continuing ? _readAhead.Blocks > 0 : _readAhead.IsSequential(ino, fileBlock);
        if (served > 0 || !sequential) return served;
        int want = into.Length / FfsLayout.BlockSize;
        if (want >= _readAhead.Blocks) return 0;   // a request as large as a window is a cluster already: read it straight
        ulong fileBlocks = i.Size / FfsLayout.BlockSize; // whole blocks only: the last partial one is read as a piece
        ulong room = fileBlocks > fileBlock ? fileBlocks - fileBlock : 0;
        int max = (int)Math.Min(room, (ulong)(want + _readAhead.Blocks));
        if (max <= want) return 0;
        var (disk, count) = _map.LookupExtent(i, fileBlock, max);
        if (_map.LookupError != Errno.OK) return 0;   // the caller's own lookup meets it and reports it
        if (disk == 0 || count <= want) return 0; // a hole, or no run past the request: nothing to read ahead
        var window = _readAhead.Buffer(count);
        if (_disk.ReadDataBlocks(new BlockNo(disk), window.AsSpan(0, count * FfsLayout.BlockSize)) != Errno.OK) return 0;
        _readAhead.Install(ino, fileBlock, disk, count, window);
        served = ServeVerified(ino, fileBlock, into, out bad);
        return bad != Errno.OK ? bad : served;
    }

    private int ServeVerified(ulong ino, ulong fileBlock, Span<byte> into, out Errno bad)
    {
        bad = Errno.OK;
        int served = _readAhead.Serve(ino, fileBlock, into, out ulong disk);
        if (served > 0 && Sums is { } sums) bad = sums.VerifyRun(ino, disk, into[..(served * FfsLayout.BlockSize)]);
        return served;
    }

    /// <summary>
    /// The one place a file's data bytes are read: <c>into.Length</c> bytes from byte <paramref name="inBlock"/>
    /// of disk block <paramref name="first"/>; whole consecutive blocks in one device request (those not cached).
    /// Lock held.
    /// </summary>
    private Errno ReadFileData(ulong ino, BlockNo first, int inBlock, Span<byte> into)
    {
        bool whole = inBlock == 0 && into.Length % FfsLayout.BlockSize == 0;
        if (Sums is not { } sums)
            return whole ? _disk.ReadDataBlocks(first, into) : _disk.Read(first, inBlock, into);
        if (!whole) return sums.Read(ino, first.Value, inBlock, into);
        // With data checksums a run is still one device request; each of its blocks is verified before any is served.
        var err = _disk.ReadDataBlocks(first, into);
        return err != Errno.OK ? err : sums.VerifyRun(ino, first.Value, into);
    }

    /// <summary>Writes report their errors when made; a flush only checks the handle.</summary>
    public bool FlushHasEffect => false;

    /// <summary>Every call does its work under the one file-system lock.</summary>
    public bool ServesInParallel => false;

    public Errno Flush(InodeNo ino, FileHandle fh)
    {
        lock (_lock)
        {
            CheckOpen();
            return CheckHandle(ino.Value, fh, null);
        }
    }

    public Errno Release(InodeNo ino, FileHandle fh) => CloseHandle(ino.Value, fh, isDir: false);

    /// <summary>Everything is synced, not just the file: XN writes in dependency order, a whole at a time.</summary>
    public Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => SyncThrough(ino.Value, fh, isDir: false);

    public Result<FileHandle> OpenDir(InodeNo ino)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = GetDir(ino.Value);
            if (!r.Ok) return r.Error;
            return NewHandle(ino.Value, OpenFlags.ReadOnly | OpenFlags.Directory, isDir: true);
        }
    }

    public Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        const int Batch = 256;
        var batch = new List<DirEntry>(Batch);
        while (true)
        {
            batch.Clear();
            lock (_lock)
            {
                CheckOpen();
                if (CheckDirHandle(ino.Value, fh) != Errno.OK) return Errno.EBADF;
                if (offset < 0) return Errno.EINVAL;
                var r = GetDir(ino.Value);
                if (!r.Ok) return r.Error;
                if (r.Value.Nlink == 0) return Errno.ENOENT; // a removed directory lists nothing, as on Linux
                var err = _dirs.Enumerate(r.Value, offset, (rec, next) =>
                {
                    batch.Add(new DirEntry(rec.Name, new InodeNo(rec.Ino), (uint)rec.FileType << 12, next));
                    return batch.Count < Batch;
                });
                if (err != Errno.OK) return err;
            }
            // The sink runs outside the lock: it may be slow or call back into the file system.
            foreach (var e in batch)
                if (!sink(e)) return Errno.OK;
            if (batch.Count < Batch) return Errno.OK;
            offset = batch[^1].NextOffset;
        }
    }

    public Errno ReleaseDir(InodeNo ino, FileHandle fh) => CloseHandle(ino.Value, fh, isDir: true);

    public Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => SyncThrough(ino.Value, fh, isDir: true);

    /// <summary>Syncs the file system through an open handle of <paramref name="ino"/> (EBADF for another kind).</summary>
    private Errno SyncThrough(ulong ino, FileHandle fh, bool isDir)
    {
        lock (_lock)
        {
            CheckOpen();
            var bad = isDir ? CheckDirHandle(ino, fh) : CheckHandle(ino, fh, null);
            return bad != Errno.OK ? bad : SyncAndReap();
        }
    }

    public Result<FsStats> StatFs()
    {
        lock (_lock)
        {
            CheckOpen();
            ulong free = _alloc.AvailableBlocks(BlocksAwaitingFree); // those are freed at the next sync
            return new FsStats(FfsLayout.BlockSize, _alloc.Sb.TotalBlocks, free, free,
                _alloc.TotalInodes, _alloc.FreeInodes, FfsLayout.MaxNameBytes, ReadOnly: _readOnly || RemountedReadOnly);
        }
    }

    public Errno Sync()
    {
        lock (_lock)
        {
            if (_disposed) return Errno.OK;
            return SyncAndReap();
        }
    }

    // ---------------------------------------------------------------- extended attributes

    private Result<List<KeyValuePair<string, byte[]>>> LoadXattrs(DiskInode i)
    {
        ulong x = i.Ptr[DiskInode.XattrSlot];
        if (x == 0) return new List<KeyValuePair<string, byte[]>>();
        var buf = new byte[FfsLayout.BlockSize];
        var err = _disk.Read(new BlockNo(x), 0, buf);
        if (err != Errno.OK) return err;
        var list = XattrBlock.Parse(buf);
        return list is null ? Errno.EIO : list;
    }

    private static readonly string[] XattrPrefixes = ["user.", "trusted.", "security.", "system."];

    /// <summary>Linux's xattr name rules: 1–255 bytes (ERANGE), a known namespace (ENOTSUP) with a name after it (EINVAL).</summary>
    private static Errno CheckXattrName(string name)
    {
        if (string.IsNullOrEmpty(name) || System.Text.Encoding.UTF8.GetByteCount(name) > 255) return Errno.ERANGE;
        foreach (var p in XattrPrefixes)
            if (name.StartsWith(p, StringComparison.Ordinal))
                return name.Length == p.Length ? Errno.EINVAL : Errno.OK;
        return Errno.ENOTSUP;
    }

    public Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags)
    {
        if ((flags & ~(XattrFlags.Create | XattrFlags.Replace)) != 0 || flags == (XattrFlags.Create | XattrFlags.Replace))
            return Errno.EINVAL;
        byte[] v = value.ToArray();
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var bad = CheckXattrName(name);
            if (bad != Errno.OK) return bad;
            if (v.Length > MaxXattrValue) return Errno.E2BIG;
            var i = r.Value;
            var lr = LoadXattrs(i);
            if (!lr.Ok) return lr.Error;
            var list = lr.Value;
            int at = list.FindIndex(kv => kv.Key == name);
            if (at >= 0 && flags.HasFlag(XattrFlags.Create)) return Errno.EEXIST;
            if (at < 0 && flags.HasFlag(XattrFlags.Replace)) return Errno.ENODATA;
            if (at >= 0) list[at] = new(name, v);
            else list.Add(new(name, v));
            var block = new byte[FfsLayout.BlockSize];
            if (!XattrBlock.TryWrite(list, block)) return Errno.ENOSPC;
            var xb = _map.EnsureXattrBlock(ino.Value, i);
            if (!xb.Ok) return xb.Error;
            var err = _disk.WriteRaw(new BlockNo(xb.Value), 0, block.AsSpan(0, XattrBlock.Capacity));
            if (err != Errno.OK) return err;
            Touch(i, Timespec.Now(), mtime: false);
            return _inodes.Put(ino.Value, i);
        }
    }

    public Result<byte[]> GetXattr(InodeNo ino, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var bad = CheckXattrName(name);
            if (bad != Errno.OK) return bad;
            var lr = LoadXattrs(r.Value);
            if (!lr.Ok) return lr.Error;
            foreach (var kv in lr.Value)
                if (kv.Key == name) return kv.Value;
            return Errno.ENODATA;
        }
    }

    public Result<IReadOnlyList<string>> ListXattr(InodeNo ino)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var lr = LoadXattrs(r.Value);
            if (!lr.Ok) return lr.Error;
            return lr.Value.Select(kv => kv.Key).ToList();
        }
    }

    public Errno RemoveXattr(InodeNo ino, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var bad = CheckXattrName(name);
            if (bad != Errno.OK) return bad;
            var i = r.Value;
            var lr = LoadXattrs(i);
            if (!lr.Ok) return lr.Error;
            var list = lr.Value;
            int at = list.FindIndex(kv => kv.Key == name);
            if (at < 0) return Errno.ENODATA;
            list.RemoveAt(at);
            Errno err;
            if (list.Count == 0) err = _map.FreeXattrBlock(ino.Value, i);
            else
            {
                var block = new byte[FfsLayout.BlockSize];
                XattrBlock.TryWrite(list, block);
                err = _disk.WriteRaw(new BlockNo(i.Ptr[DiskInode.XattrSlot]), 0, block.AsSpan(0, XattrBlock.Capacity));
            }
            if (err != Errno.OK) return err;
            Touch(i, Timespec.Now(), mtime: false);
            return _inodes.Put(ino.Value, i);
        }
    }
}
