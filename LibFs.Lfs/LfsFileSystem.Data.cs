using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

// Attributes, file data, handles, listing, xattrs, statfs and sync. Every member takes the lock.
public sealed partial class LfsFileSystem
{
    private const ulong MaxFileSize = LfsLayout.MaxFileBlocks * LfsLayout.BlockSize;
    private const int MaxXattrValue = 65536;

    public Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request)
    {
        lock (_lock)
        {
            CheckOpen();
            if (_readOnly) return Errno.EROFS;
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            // Its record goes to the log with the next flush: a clean inode asks for the room when the reserve's
            // first half is spent (a truncate that shrinks frees more than it dirties, and never asks).
            if (!_dirty.Contains(i) && !(request.Size is { } shrink && shrink < i.Rec.Size) && !MayDirtyRecord())
            {
                var space = EnsureSpace(1);
                if (space != Errno.OK) return space;
            }
            var now = Timespec.Now();
            if (request.Size is { } size)
            {
                if (FileMode.IsDir(i.Rec.Mode)) return Errno.EISDIR;
                if (!FileMode.IsRegular(i.Rec.Mode)) return Errno.EINVAL;
                if (size > MaxFileSize) return Errno.EFBIG;
                var err = Truncate(i, size);
                if (err != Errno.OK) return err;
                Touch(i, now);
            }
            bool ownerChange = request.Uid is not null || request.Gid is not null;
            if (request.Uid is { } uid) i.Rec.Uid = uid;
            if (request.Gid is { } gid) i.Rec.Gid = gid;
            if (request.Mode is { } mode) i.Rec.Mode = (i.Rec.Mode & FileMode.TypeMask) | (mode & FileMode.PermMask);
            else if (ownerChange && !FileMode.IsDir(i.Rec.Mode))
            {
                const uint SetUid = 0x800, SetGid = 0x400, GroupExec = 0x08;
                i.Rec.Mode &= ~SetUid;
                if ((i.Rec.Mode & GroupExec) != 0) i.Rec.Mode &= ~SetGid;
            }
            if (request.Atime is { } at)
            {
                var t = at.Now ? now : at.Time;
                i.Rec.AtimeSec = t.Sec;
                i.Rec.AtimeNsec = t.Nsec;
            }
            if (request.Mtime is { } mt)
            {
                var t = mt.Now ? now : mt.Time;
                i.Rec.MtimeSec = t.Sec;
                i.Rec.MtimeNsec = t.Nsec;
            }
            Touch(i, now, mtime: false);
            MarkDirty(i);
            AfterChange();
            if (request.Size is not null) AfterFreeing();
            return ToAttr(i);
        }
    }

    /// <summary>
    /// Sets a regular file's size: blocks past the end die, the tail of the last block is zeroed. As on ext4, a
    /// size that does not grow the file also drops blocks fallocate(KEEP_SIZE) left past the end. Lock held.
    /// </summary>
    private Errno Truncate(LfsInode i, ulong size)
    {
        if (size <= i.Rec.Size)
        {
            ulong keep = (size + LfsLayout.BlockSize - 1) / LfsLayout.BlockSize;
            foreach (ulong fb in i.DirtyData.Keys.Where(fb => fb >= keep).ToList())
            {
                var a = _tree.Lookup(i, fb);
                if (a.Ok && a.Value == 0) i.Rec.Blocks--;
                i.DirtyData.Remove(fb);
                _dirtyBlocks--;
            }
            var freed = _tree.Truncate(i, keep);
            if (!freed.Ok) return freed.Error;
            i.Rec.Blocks -= Math.Min(i.Rec.Blocks, freed.Value);
            int tail = (int)(size % LfsLayout.BlockSize);
            if (tail != 0 && size < i.Rec.Size)
            {
                ulong fb = size / LfsLayout.BlockSize;
                var a = _tree.Lookup(i, fb);
                if (!a.Ok) return a.Error;
                if (a.Value != 0 || i.DirtyData.ContainsKey(fb))
                {
                    var buf = new byte[LfsLayout.BlockSize];
                    var err = ReadBlock(i, fb, buf);
                    if (err != Errno.OK) return err;
                    buf.AsSpan(tail).Clear();
                    PutBlock(i, fb, buf);
                }
            }
        }
        i.Rec.Size = size;
        MarkDirty(i);
        return Errno.OK;
    }

    public Result<FileHandle> Open(InodeNo ino, OpenFlags flags)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if (FileMode.IsDir(i.Rec.Mode)) return Errno.EISDIR;
            if (FileMode.IsSymlink(i.Rec.Mode)) return Errno.ELOOP;
            if (flags.HasFlag(OpenFlags.Directory)) return Errno.ENOTDIR;
            if (!FileMode.IsRegular(i.Rec.Mode)) return Errno.EINVAL;
            bool writing = (flags & OpenFlags.AccessMask) != OpenFlags.ReadOnly;
            if (flags.HasFlag(OpenFlags.Truncate) && writing && i.Rec.Size > 0)
            {
                var err = Truncate(i, 0);
                Touch(i, Timespec.Now());
                if (err != Errno.OK) return err;
            }
            return NewHandle(i, flags, isDir: false);
        }
    }

    private FileHandle NewHandle(LfsInode i, OpenFlags flags, bool isDir)
    {
        ulong fh = _nextHandle++;
        _handles[fh] = (i.Ino, flags, isDir);
        i.Opens++;
        return new FileHandle(fh);
    }

    private Errno CloseHandle(ulong ino, FileHandle fh, bool isDir)
    {
        lock (_lock)
        {
            if (_disposed) return Errno.OK;
            if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino || h.IsDir != isDir) return Errno.EBADF;
            _handles.Remove(fh.Value);
            if (_cache.TryGetValue(ino, out var i))
            {
                if (i.Opens > 0) i.Opens--;
                ReapIfOrphan(i);
            }
            return Errno.OK;
        }
    }

    private Errno CheckHandle(ulong ino, FileHandle fh, OpenFlags? forbidden)
    {
        if (!_handles.TryGetValue(fh.Value, out var h) || h.Ino != ino || h.IsDir) return Errno.EBADF;
        return (h.Flags & OpenFlags.AccessMask) == forbidden ? Errno.EBADF : Errno.OK;
    }

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
            return (r.Value, NewHandle(_cache[r.Value.Ino.Value], flags, isDir: false));
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
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if ((ulong)offset >= i.Rec.Size || buffer.Length == 0) return 0;
            int n = (int)Math.Min((ulong)buffer.Length, i.Rec.Size - (ulong)offset);
            int done = 0;
            while (done < n)
            {
                ulong pos = (ulong)offset + (ulong)done;
                int inBlock = (int)(pos % LfsLayout.BlockSize);
                ulong fb = pos / LfsLayout.BlockSize, last = ((ulong)offset + (ulong)n - 1) / LfsLayout.BlockSize;
                var run = ReadBlocks(i, fb, (int)Math.Min(last - fb + 1, MaxReadRun));
                if (!run.Ok) return run.Error;
                int chunk = Math.Min(n - done, run.Value * LfsLayout.BlockSize - inBlock);
                _readScratch.AsSpan(inBlock, chunk).CopyTo(buffer.Slice(done, chunk));
                done += chunk;
            }
            var atime = new Timespec(i.Rec.AtimeSec, i.Rec.AtimeNsec);
            // relatime; a clean inode's record takes log room, so on a full volume the update is skipped once the
            // reserve's first half is spent (a read never fails for want of space, nor takes the checkpoint's room).
            if ((atime.CompareTo(new Timespec(i.Rec.MtimeSec, i.Rec.MtimeNsec)) <= 0 || atime.CompareTo(new Timespec(i.Rec.CtimeSec, i.Rec.CtimeNsec)) <= 0)
                && (_dirty.Contains(i) || MayDirtyRecord()))
            {
                var now = Timespec.Now();
                i.Rec.AtimeSec = now.Sec;
                i.Rec.AtimeNsec = now.Nsec;
                MarkDirty(i);
            }
            return done;
        }
    }

    /// <summary>
    /// Writes up to this many bytes are all or nothing for space: their room is checked (and cleaned for) before
    /// any block changes, so one that reclaimable space cannot cover answers ENOSPC and writes nothing (the
    /// shared model's rule; Linux's for a write that cannot fit at all). Longer writes check block by block and
    /// may come back short, as on Linux.
    /// </summary>
    internal const int WholeWriteSpaceCheck = 2 << 20;

    /// <summary>
    /// Makes sure writing <paramref name="length"/> bytes at <paramref name="offset"/> of <paramref name="i"/>
    /// cannot fail for space once it starts (ENOSPC if it would). Two things must hold. Blocks new to the file
    /// (holes) take statfs's free space, with the tree nodes they may need (counted high: one per 512 blocks
    /// beyond the direct pointers, a path of 3 and one for a straddle). And the log must have the immediate
    /// room for every block the write dirties, an overwrite's new copy included (its old copy dies only once the
    /// new one is in the log), a reserved block's too, with what the loop may add (<see cref="WriteLoopRoom"/>):
    /// this cleans for all of it now, before the first block changes, so the write loop asks for no room. (It
    /// asked block by block before, and an overwrite or append that statfs covered but the cleaner could not
    /// make room for came back short: a 16-block overwrite wrote 15.) When even cleaning leaves too little room
    /// for a large overwrite, <paramref name="steps"/> says whether checkpoints in the middle of the loop, each
    /// giving back the segments whose every live block the write has replaced so far, make it fit
    /// (<see cref="PlanSteps"/>): then the loop checkpoints at the planned blocks, and needs no cleaning either.
    /// Lock held.
    /// </summary>
    private Errno EnsureSpaceForWrite(LfsInode i, ulong offset, int length, out List<int>? steps)
    {
        steps = null;
        if (_readOnly) return Errno.EROFS;
        ulong first = offset / LfsLayout.BlockSize, last = (offset + (ulong)length - 1) / LfsLayout.BlockSize;
        ulong logBlocks = 0, reserved = 0, newBlocks = 0, beyondDirect = 0, newBeyondDirect = 0;
        List<ulong>? olds = null;   // the old copies an overwrite replaces, in the loop's order (0: none)
        Errno Walk()
        {
            logBlocks = reserved = newBlocks = beyondDirect = newBeyondDirect = 0;
            olds?.Clear();
            for (ulong fb = first; fb <= last; fb++)
            {
                if (i.DirtyData.ContainsKey(fb)) continue;
                var at = _tree.Lookup(i, fb);
                if (!at.Ok) return at.Error;
                logBlocks++;
                if (fb >= LfsLayout.DirectPointers) beyondDirect++;
                (olds ??= new List<ulong>()).Add(at.Value is 0 or LfsLayout.ReservedBlock || LfsLayout.IsPacked(at.Value) ? 0 : at.Value);
                if (at.Value == LfsLayout.ReservedBlock) { reserved++; continue; }   // its free space is counted already
                if (at.Value != 0) continue;
                newBlocks++;
                if (fb >= LfsLayout.DirectPointers) newBeyondDirect++;
            }
            return Errno.OK;
        }
        var walked = Walk();
        if (walked != Errno.OK) return walked;
        if (logBlocks == 0) return Errno.OK;
        static ulong NodesFor(ulong blocks) => blocks == 0 ? 0 : (blocks + 511) / 512 + 1 + 3;
        ulong nodes = NodesFor(beyondDirect);
        ulong room = WriteLoopRoom(logBlocks + nodes, length);
        // The fast path leaves room for every other reservation, as EnsureSpace's does.
        if (NeedFor(room) + ReservedCharge(_tree.Reserved - Math.Min(reserved, _tree.Reserved)) <= ImmediateBlocks()) return Errno.OK;
        if (logBlocks > reserved && FreeBlocksHonest() < Math.Max(2, newBlocks + NodesFor(newBeyondDirect) + 1)) return Errno.ENOSPC;
        Cleaner.CleanFor(room);
        // The cleaner's flush may have written this file's dirty blocks: the loop will dirty them again.
        if ((walked = Walk()) != Errno.OK) return walked;
        nodes = NodesFor(beyondDirect);
        room = WriteLoopRoom(logBlocks + nodes, length);
        if (NeedFor(room) <= ImmediateBlocks()) return Errno.OK;
        // Steps count blocks from a dirty state of nothing (a checkpoint in the loop flushes what is dirty now).
        if (_dirtyBlocks > 0 && (Flush(withImap: false) != Errno.OK || (walked = Walk()) != Errno.OK)) return Errno.ENOSPC;
        steps = PlanSteps(olds!, nodes, length);
        return steps is not null ? Errno.OK : Errno.ENOSPC;
    }

    /// <summary>
    /// Log room a write loop that dirties <paramref name="blocks"/> blocks (tree nodes included) may take beyond
    /// today's dirty state, an upper bound: the blocks, their summaries, its inode's block, the two blocks
    /// <see cref="EnsureSpace"/> keeps free past the dirty state, and, should the dirty budget's flush come in
    /// the middle of the loop, what that flush can write beyond <see cref="PendingBlocks"/>' estimate. Lock held.
    /// </summary>
    private ulong WriteLoopRoom(ulong blocks, int length)
    {
        ulong room = blocks + blocks / Summary.MaxEntries + 1 + 1 + 2;
        if (BudgetFlushIn(blocks, length)) room += FlushOverrun(PendingBlocks() + blocks);
        return room;
    }

    /// <summary>Whether dirtying <paramref name="blocks"/> more blocks in a write of <paramref name="length"/> bytes reaches the loop's budget flush.</summary>
    private bool BudgetFlushIn(ulong blocks, int length)
    {
        ulong dirtyAfter = (ulong)Math.Max(0, _dirtyBlocks) + blocks;
        return dirtyAfter >= DirtyBudget && ((ulong)length > LfsLayout.PackedMaxBytes || dirtyAfter >= MaxDirtyBlocks);
    }

    /// <summary>
    /// What a flush of <paramref name="pending"/> blocks can write beyond <see cref="PendingBlocks"/>' estimate: each
    /// segment it crosses costs a head, a summary and a tail too short for a partial.
    /// </summary>
    private ulong FlushOverrun(ulong pending) => 3 * (pending / (SegBlocks > 3 ? SegBlocks - 3 : 1) + 1);

    /// <summary>
    /// Where an overwrite that the log cannot take at once checkpoints so that it fits, or null if it does not: the
    /// write loop (the blocks <paramref name="olds"/> names, their old copies, 0 for a hole or reservation, in
    /// its order) replayed against the log's room as the loop spends it. Each checkpoint (its flush, a crossing,
    /// the inode map) gives back every segment whose live blocks the write has all replaced by then, with no
    /// cleaning; one is taken as soon as such a segment is there and less than a segment of room is left. The
    /// costs are upper bounds, so the loop, checkpointing at these positions, has at least this room. O(blocks).
    /// Lock held.
    /// </summary>
    private List<int>? PlanSteps(List<ulong> olds, ulong nodes, int length)
    {
        // Fragments of each segment the write replaces, and the position of the last of them.
        var replaced = new Dictionary<int, (uint Fragments, int Last)>();
        for (int k = 0; k < olds.Count; k++)
        {
            if (olds[k] == 0) continue;
            int slot = _usage.SlotOf(olds[k]);
            if (slot < 0 || IsHead(slot)) continue;
            replaced[slot] = (replaced.GetValueOrDefault(slot).Fragments + LfsLayout.FragmentsPerBlock, k);
        }
        var emptied = replaced.Where(kv => kv.Value.Fragments >= _usage.LiveFragments(kv.Key)).Select(kv => kv.Value.Last).OrderBy(x => x).ToList();
        if (emptied.Count == 0) return null;
        long imm = (long)ImmediateBlocks(), pending = (long)PendingBlocks(), reserve = (long)ReserveBlocks, seg = (long)SegBlocks;
        long cpExtra = Math.Min(_dirty.Count + 1, _imap.UsedBlocks);   // the inode-map blocks the checkpoint adds
        var at = new List<int>();
        int credited = 0;
        for (int k = 0; k <= olds.Count; k++)
        {
            // The loop's need before each block (and, at the end, the nodes and inode block the flush adds).
            long want = k < olds.Count ? 2 : (long)nodes + 4;
            int gain = 0;
            while (credited + gain < emptied.Count && emptied[credited + gain] < k) gain++;
            if (gain > 0 && pending + want + reserve + seg > imm)
            {
                credited += gain;
                imm -= pending + (long)FlushOverrun((ulong)pending) + cpExtra;
                imm += gain * seg;
                pending = 4;
                at.Add(k);
            }
            if (pending + want + reserve > imm) return null;
            pending += 1 + (k % Summary.MaxEntries == 0 ? 1 : 0);
        }
        return !BudgetFlushIn((ulong)olds.Count, length) || imm >= pending + reserve + (long)FlushOverrun((ulong)pending) ? at : null;
    }

    /// <summary>A write's bytes so far reach <paramref name="end"/>: the file is at least that long (a flush or a checkpoint in the middle of the write records it).</summary>
    private static void GrowSize(LfsInode i, ulong end)
    {
        if (end > i.Rec.Size) i.Rec.Size = end;
    }

    public Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            CheckOpen();
            var bad = CheckHandle(ino.Value, fh, OpenFlags.ReadOnly);
            if (bad != Errno.OK) return bad;
            if (offset < 0) return Errno.EINVAL;
            if (data.Length == 0) return 0;
            if ((ulong)offset + (ulong)data.Length > MaxFileSize) return Errno.EFBIG;
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            // A write that cannot fit answers ENOSPC before it changes anything, not a short count later: once
            // its room is made, the loop below asks for none.
            bool roomMade = data.Length <= WholeWriteSpaceCheck;
            List<int>? steps = null;
            int fresh = 0, step = 0;   // blocks the loop has dirtied, checkpoints taken (steps)
            if (roomMade)
            {
                var room = EnsureSpaceForWrite(i, (ulong)offset, data.Length, out steps);
                if (room != Errno.OK) return room;
            }
            int done = 0;
            Errno failure = Errno.OK;
            while (done < data.Length)
            {
                ulong pos = (ulong)offset + (ulong)done;
                ulong fb = pos / LfsLayout.BlockSize;
                int inBlock = (int)(pos % LfsLayout.BlockSize);
                int chunk = Math.Min(data.Length - done, LfsLayout.BlockSize - inBlock);
                // Whether the block is new to the dirty state: neither a planned step nor the space check below
                // can make it dirty, so one lookup serves the whole iteration.
                bool isNew = !i.DirtyData.TryGetValue(fb, out var cur);
                if (steps is not null && isNew && step < steps.Count && steps[step] == fresh)
                {
                    // A planned step: the checkpoint gives back the segments this write has emptied so far.
                    GrowSize(i, (ulong)offset + (ulong)done);
                    MarkDirty(i);
                    var err = WriteCheckpoint(clean: false);
                    if (err != Errno.OK) { failure = err; break; }
                    step++;
                }
                else if (!roomMade && isNew)
                {
                    // A new block in the log (and, every 512 blocks, a tree node) for each block not yet dirty;
                    // a reserved block's space is counted already.
                    var at = _tree.Lookup(i, fb);
                    if (!at.Ok) { failure = at.Error; break; }
                    var space = at.Value == LfsLayout.ReservedBlock ? EnsureSpace(2, uncounted: 0) : EnsureSpace(2);
                    if (space != Errno.OK) { failure = space; break; }
                }
                byte[] blk;
                if (!isNew) blk = cur!;
                else
                {
                    fresh++;
                    blk = RentBlock();
                    if (chunk < LfsLayout.BlockSize)
                    {
                        if (pos / LfsLayout.BlockSize * LfsLayout.BlockSize < i.Rec.Size)
                        {
                            var err = ReadBlock(i, fb, blk);
                            if (err != Errno.OK) { failure = err; break; }
                        }
                        else Array.Clear(blk);
                    }
                }
                data.Slice(done, chunk).CopyTo(blk.AsSpan(inBlock));
                PutBlock(i, fb, blk);
                done += chunk;
                // A small write leaves the budget to AfterChange, which counts a small file's block as the
                // fragments the flush packs it into (so thousands of small creates make one write unit, not a
                // unit per 1,024 files); a large write flushes here, and the hard cap bounds the buffers either way.
                if (_dirtyBlocks >= DirtyBudget && ((ulong)data.Length > LfsLayout.PackedMaxBytes || _dirtyBlocks >= MaxDirtyBlocks))
                {
                    GrowSize(i, (ulong)offset + (ulong)done);
                    var err = Flush(withImap: false);
                    if (err != Errno.OK) { failure = err; break; }
                }
            }
            // A write that wrote nothing changed nothing: its inode goes to no unit (on a full volume every
            // refused write would otherwise cost the log an inode block and a summary).
            if (done == 0) return failure;
            GrowSize(i, (ulong)offset + (ulong)done);
            Touch(i, Timespec.Now());
            MarkDirty(i);
            // A step planned after the last block (a failure resurfaces at the next call that asks for room, or the next sync).
            if (steps is not null && step < steps.Count) WriteCheckpoint(clean: false);
            AfterChange();
            return done;
        }
    }

    public Errno Flush(InodeNo ino, FileHandle fh)
    {
        lock (_lock)
        {
            CheckOpen();
            return CheckHandle(ino.Value, fh, null);
        }
    }

    public Errno Release(InodeNo ino, FileHandle fh) => CloseHandle(ino.Value, fh, isDir: false);

    /// <summary>The whole log up to now becomes durable (a unit roll-forward will find), not only this file.</summary>
    public Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => SyncThrough(ino.Value, fh, isDir: false);

    public Result<FileHandle> OpenDir(InodeNo ino)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = GetDir(ino.Value);
            if (!r.Ok) return r.Error;
            return NewHandle(r.Value, OpenFlags.ReadOnly | OpenFlags.Directory, isDir: true);
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
                if (r.Value.Rec.Nlink == 0) return Errno.ENOENT;
                var d = Dir(r.Value);
                if (!d.Ok) return d.Error;
                if (offset < 1) batch.Add(new DirEntry(".", ino, FileMode.Directory, 1));
                if (offset < 2) batch.Add(new DirEntry("..", new InodeNo(d.Value.Parent), FileMode.Directory, 2));
                foreach (var (cookie, e) in d.Value.ByCookie)
                {
                    if ((long)cookie <= offset) continue;
                    if (batch.Count >= Batch) break;
                    batch.Add(new DirEntry(e.Name, new InodeNo(e.Ino), (uint)e.Type << 12, (long)cookie));
                }
            }
            foreach (var e in batch)
                if (!sink(e)) return Errno.OK;
            if (batch.Count < Batch) return Errno.OK;
            offset = batch[^1].NextOffset;
        }
    }

    public Errno ReleaseDir(InodeNo ino, FileHandle fh) => CloseHandle(ino.Value, fh, isDir: true);

    public Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => SyncThrough(ino.Value, fh, isDir: true);

    private Errno SyncThrough(ulong ino, FileHandle fh, bool isDir)
    {
        lock (_lock)
        {
            CheckOpen();
            var bad = isDir ? CheckDirHandle(ino, fh) : CheckHandle(ino, fh, null);
            return bad != Errno.OK ? bad : Durable();
        }
    }

    public Result<FsStats> StatFs()
    {
        lock (_lock)
        {
            CheckOpen();
            ulong free = FreeBlocksHonest();
            ulong total = TotalBlocks > ReserveBlocks ? TotalBlocks - ReserveBlocks : 0;
            return new FsStats(LfsLayout.BlockSize, total, free, free, _imap.MaxInodes, _imap.FreeCount, LfsLayout.MaxNameBytes, ReadOnly: _readOnly);
        }
    }

    public Errno Sync()
    {
        lock (_lock)
        {
            if (_disposed || _readOnly) return Errno.OK;
            var err = WriteCheckpoint(clean: false);
            if (err == Errno.OK) Cleaner.Background();
            return err;
        }
    }

    // ---------------------------------------------------------------- extended attributes

    private Result<List<KeyValuePair<string, byte[]>>> LoadXattrs(LfsInode i)
    {
        if (i.Xattrs is not null) return i.Xattrs;
        if (i.Rec.Xattr == 0) return i.Xattrs = new List<KeyValuePair<string, byte[]>>();
        var buf = new byte[LfsLayout.BlockSize];
        var err = _disk.Read(i.Rec.Xattr, buf);
        if (err != Errno.OK) return err;
        var list = XattrBlock.Parse(buf);
        if (list is null) return Errno.EIO;
        return i.Xattrs = list;
    }

    private static readonly string[] XattrPrefixes = ["user.", "trusted.", "security.", "system."];

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
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var bad = CheckXattrName(name);
            if (bad != Errno.OK) return bad;
            if (v.Length > MaxXattrValue) return Errno.E2BIG;
            var i = r.Value;
            var lr = LoadXattrs(i);
            if (!lr.Ok) return lr.Error;
            var list = new List<KeyValuePair<string, byte[]>>(lr.Value);
            int at = list.FindIndex(kv => kv.Key == name);
            if (at >= 0 && flags.HasFlag(XattrFlags.Create)) return Errno.EEXIST;
            if (at < 0 && flags.HasFlag(XattrFlags.Replace)) return Errno.ENODATA;
            if (at >= 0) list[at] = new(name, v);
            else list.Add(new(name, v));
            if (XattrBlock.SizeOf(list) > LfsLayout.BlockSize) return Errno.ENOSPC;
            var space = EnsureSpace(1);
            if (space != Errno.OK) return space;
            i.Xattrs = list;
            MarkXattrDirty(i);
            Touch(i, Timespec.Now(), mtime: false);
            MarkDirty(i);
            AfterChange();
            return Errno.OK;
        }
    }

    public Result<byte[]> GetXattr(InodeNo ino, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = GetInode(ino.Value);
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
            var r = GetInode(ino.Value);
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
            if (_readOnly) return Errno.EROFS;
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var bad = CheckXattrName(name);
            if (bad != Errno.OK) return bad;
            var i = r.Value;
            var lr = LoadXattrs(i);
            if (!lr.Ok) return lr.Error;
            int at = lr.Value.FindIndex(kv => kv.Key == name);
            if (at < 0) return Errno.ENODATA;
            lr.Value.RemoveAt(at);
            MarkXattrDirty(i);
            Touch(i, Timespec.Now(), mtime: false);
            MarkDirty(i);
            AfterChange();
            return Errno.OK;
        }
    }
}
