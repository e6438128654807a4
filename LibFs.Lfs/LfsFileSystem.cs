using System.Text;
using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Lfs.Log;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// The LFS-like library file system (format: <see cref="LfsLayout"/>).
///
/// Every change is made in memory first (inodes, directory blocks, file blocks, tree nodes) and reaches the
/// log when it is flushed: the flush lays the dirty blocks out at the log head, data before the nodes that
/// point to them, nodes bottom-up, inodes last, as one write unit (atomic under roll-forward). A checkpoint
/// also writes the inode map and records the head, the map's blocks and the segment usage table in the
/// older of the two checkpoint regions. Fsync makes the unit durable (roll-forward finds it); Sync and
/// unmount checkpoint.
///
/// Locking: one monitor for the whole of every public call (the FFS discipline); nothing below takes locks.
/// </summary>
public sealed partial class LfsFileSystem : IFileSystem, ExoFS.LibFs.Runtime.ISelfChecking, ExoFS.LibFs.Runtime.IReportsRecovery
{
    /// <summary>Dirty blocks held in memory before a flush writes them to the log.</summary>
    internal const int DirtyBudget = 1024;
    /// <summary>
    /// Most blocks one flush appends when many of the dirty blocks are small files' that pack into fragments
    /// (an estimate, <see cref="AfterChange"/>): small creates make write units of up to 8 MiB, so 10,000 of
    /// them reach the disk in two requests rather than ten, each of which loses a revolution.
    /// </summary>
    internal const int UnitBudget = 2 * DirtyBudget;
    /// <summary>Most dirty data blocks held whatever they pack into: the buffers' memory bound (32 MiB).</summary>
    internal const int MaxDirtyBlocks = 8 * DirtyBudget;
    private readonly object _lock = new();
    private readonly ILfsDisk _disk;
    private readonly SegmentUsage _usage;
    private readonly InodeMap _imap;
    private readonly BlockTree _tree;
    private SegmentWriter _log;
    private readonly Dictionary<ulong, LfsInode> _cache = new();
    private readonly HashSet<LfsInode> _dirty = new();
    private readonly Dictionary<ulong, (ulong Ino, OpenFlags Flags, bool IsDir)> _handles = new();
    private ulong _nextHandle = 1;
    private ulong _nextGeneration = 1;
    private ulong _cpSeq;
    // Running counts of the dirty state (see PendingBlocks and CheckDirtyCounts): file blocks in DirtyData, inodes with XattrDirty.
    private int _dirtyBlocks;
    private int _dirtyXattrs;
    private bool _disposed;
    private readonly bool _readOnly;

    public string Name => "lfs";
    public bool FlushHasEffect => false;
    public bool ServesInParallel => false;

    /// <summary>The cleaner (policy, thresholds, figures).</summary>
    public Cleaner Cleaner { get; }
    /// <summary>What mount-time recovery did: partials and units rolled forward, orphans freed, the checkpoint used.</summary>
    public RecoveryInfo Recovery { get; private set; } = new(0, 0, 0, 0, 0);

    /// <summary>What the mount-time recovery did, for the host's recovery report (nothing after a clean unmount).</summary>
    public IReadOnlyList<string> RecoveryActions
    {
        get
        {
            var r = Recovery;
            var lines = new List<string>();
            if (r.UnitsRolledForward > 0)
                lines.Add($"rolled forward {r.UnitsRolledForward} write unit(s) ({r.PartialsRolledForward} partial segment(s)) past checkpoint region {r.CheckpointRegion}");
            if (r.ValidCheckpoints == 1) lines.Add("one checkpoint region was damaged or torn; the other was used");
            if (r.OrphansFreed > 0) lines.Add($"freed {r.OrphansFreed} orphaned inode(s)");
            if (r.RollForwardStopped is { } why) lines.Add(why);
            return lines;
        }
    }

    private LfsFileSystem(ILfsDisk disk, SegmentUsage usage, InodeMap imap, SegmentWriter log, bool readOnly, ICleanerPolicy? policy)
    {
        _disk = disk;
        _usage = usage;
        _imap = imap;
        _log = log;
        _readOnly = readOnly;
        _tree = new BlockTree(disk, usage);
        Cleaner = new Cleaner(this, policy ?? CleanerPolicies.ByNumber(disk.Super.CleanerPolicy));
    }

    internal object Lock => _lock;
    internal ILfsDisk Disk => _disk;
    /// <summary>The disk under the check of log blocks against their summaries (tests, tools).</summary>
    internal ILfsDisk RawDisk => _disk is CheckedLfsDisk c ? c.Inner : _disk;
    /// <summary>Log blocks that failed their summary's checksum during this mount, in the order met.</summary>
    public IReadOnlyList<ulong> DamagedBlocks => (_disk as CheckedLfsDisk)?.DamagedBlocks ?? [];
    /// <summary>Where the one line per damaged log block goes (stderr by default).</summary>
    public Action<string> DamageLog
    {
        get => (_disk as CheckedLfsDisk)?.Log ?? (_ => { });
        set { if (_disk is CheckedLfsDisk c) c.Log = value; }
    }
    internal SegmentUsage Usage => _usage;
    internal InodeMap Imap => _imap;
    internal BlockTree Tree => _tree;
    internal SegmentWriter Log => _log;
    private SegmentWriter? _cleanerLog;
    /// <summary>
    /// The cleaner's own log head (bound lazily, a fresh segment each mount): segments it fills hold only
    /// survivors, so copied (cold) blocks do not mix with new (hot) ones again. Lock held.
    /// </summary>
    internal SegmentWriter CleanerLog => _cleanerLog ??= new SegmentWriter(_disk, _usage, -1, 0, SegmentWriter.CleanerSeqBase, cleanerOf: _log);
    /// <summary>True for a segment a log head is writing into (never a victim, never released).</summary>
    /// <summary>The cleaner head's segment and offset (-1, 0 when it has none yet).</summary>
    internal int CleanerHeadSlot => _cleanerLog?.HeadSlot ?? -1;
    internal uint CleanerHeadOffset => _cleanerLog?.HeadOffset ?? 0;
    internal bool IsHead(int slot) => slot == _log.HeadSlot || (_cleanerLog is { } c && slot == c.HeadSlot);
    /// <summary>
    /// Lets go of the cleaner head's segment (as a remount does): it becomes an ordinary segment, its unwritten
    /// tail dead room a pass can win back, and the next pass binds a fresh one. Between passes only (no partial
    /// open: every flush ends its unit). Lock held.
    /// </summary>
    internal void RetireCleanerHead() => _cleanerLog = null;
    internal ulong CheckpointSeq => _cpSeq;

    internal static uint NowSeconds() => (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    // ---------------------------------------------------------------- format and mount

    /// <summary>Lays out a new LFS on <paramref name="disk"/> (header already written): the root directory and a first checkpoint.</summary>
    internal static Result<LfsFileSystem> FormatOn(ILfsDisk disk)
    {
        disk = CheckedLfsDisk.Wrap(disk);
        var usage = new SegmentUsage((int)disk.Super.SegmentSlots, disk.Super.SegmentBlocks);
        var imap = new InodeMap(disk.Super.MaxInodes, Array.Empty<ulong>());
        var fs = new LfsFileSystem(disk, usage, imap, new SegmentWriter(disk, usage, -1, 0, 1), false, null);
        var now = Timespec.Now();
        var root = fs.NewInode(LfsLayout.RootIno, FileMode.Directory | 0x1ED, 0, Caller.Root, null, now);
        root.Rec.Nlink = 2;
        root.Dir = DirState.Empty(LfsLayout.RootIno);
        fs._cache[LfsLayout.RootIno] = root;
        fs.WriteDirBlock(root, 0);
        fs.MarkDirty(root);
        var err = fs.WriteCheckpoint(clean: false);
        return err == Errno.OK ? fs : err;
    }

    /// <summary>Mounts the LFS on <paramref name="disk"/>: newest valid checkpoint, roll-forward, orphan cleanup. EUCLEAN if damaged.</summary>
    internal static Result<LfsFileSystem> MountOn(ILfsDisk disk, bool readOnly = false, ICleanerPolicy? policy = null, bool rollForward = true)
    {
        disk = CheckedLfsDisk.Wrap(disk);
        var sup = disk.Super;
        int bytes = (int)sup.CheckpointBlocks * LfsLayout.BlockSize;
        CheckpointRecord? best = null;
        int bestRegion = -1, valid = 0;
        for (int r = 0; r < 2; r++)
        {
            var buf = new byte[bytes];
            var err = disk.ReadCheckpoint(r, buf);
            if (err != Errno.OK) return err;
            var cp = CheckpointRecord.ReadFrom(buf);
            if (cp is null || cp.Usage.Length != sup.SegmentSlots) continue;
            valid++;
            if (best is null || cp.Seq > best.Seq) { best = cp; bestRegion = r; }
        }
        if (best is null) return Errno.EUCLEAN;
        var usage = new SegmentUsage((int)sup.SegmentSlots, sup.SegmentBlocks);
        for (int s = 0; s < sup.SegmentSlots; s++)
            if (disk.SegmentStart(s) != 0) usage.Attach(s, disk.SegmentStart(s));
        usage.Load(best.Usage);
        var imap = new InodeMap(sup.MaxInodes, best.ImapBlocks) { NextIno = Math.Max(2, best.NextIno) };
        var block = new byte[LfsLayout.BlockSize];
        for (int b = 0; b < best.ImapBlocks.Length && b < imap.BlockAddrs.Length; b++)
        {
            if (best.ImapBlocks[b] == 0) continue;
            if (usage.SlotOf(best.ImapBlocks[b]) < 0) return Errno.EUCLEAN;
            var err = disk.Read(best.ImapBlocks[b], block);
            if (err != Errno.OK) return err;
            imap.LoadBlock(b, block);
        }
        imap.Rebuild();
        int headSlot = best.HeadSlot == uint.MaxValue || disk.SegmentStart((int)best.HeadSlot) == 0 ? -1 : (int)best.HeadSlot;
        var log = new SegmentWriter(disk, usage, headSlot, best.HeadOffset, best.NextPartialSeq);
        var fs = new LfsFileSystem(disk, usage, imap, log, readOnly, policy) { _cpSeq = best.Seq, _nextGeneration = Math.Max(1, best.NextGeneration) };
        fs._tree.Reserved = best.Reserved;
        fs._checkpointTime = DateTime.UnixEpoch.AddTicks(best.TimeNs / 100);
        fs.Cleaner.Restore(best.SegmentsCleaned, best.CleanerBlocksRead, best.CleanerBlocksMoved, best.NewBlocks);
        var rf = rollForward ? Lfs.RollForward.Run(fs) : new RollForwardResult(0, 0, headSlot, best.HeadOffset, best.NextPartialSeq);
        if (!rf.Ok) return rf.Error;
        if (rf.Value.Units > 0 || disk.WrittenBeyond(rf.Value.HeadSlot, rf.Value.HeadOffset))
        {
            // Blocks XN kept past the recovered head belong to a unit a crash tore: the log goes on in a new segment.
            uint headOffset = disk.WrittenBeyond(rf.Value.HeadSlot, rf.Value.HeadOffset) ? sup.SegmentBlocks : rf.Value.HeadOffset;
            fs._log = new SegmentWriter(disk, usage, rf.Value.HeadSlot, headOffset, rf.Value.NextSeq);
            var err = fs.RecomputeUsage();
            if (err != Errno.OK) return err;
        }
        var root = fs.GetInode(LfsLayout.RootIno);
        if (!root.Ok || !FileMode.IsDir(root.Value.Rec.Mode)) return Errno.EUCLEAN;
        int orphans = 0;
        if (!readOnly && ((best.Flags & CheckpointRecord.CleanFlag) == 0 || rf.Value.Units > 0))
        {
            foreach (ulong ino in imap.LiveInodes().ToList())
            {
                var r = fs.GetInode(ino);
                if (!r.Ok) return Errno.EUCLEAN;
                if (r.Value.Rec.Nlink == 0) { fs.Destroy(r.Value); orphans++; }
            }
        }
        fs.Recovery = new RecoveryInfo(bestRegion, valid, rf.Value.Partials, rf.Value.Units, orphans, rf.Value.Stopped);
        if (!readOnly)
        {
            var err = fs.WriteCheckpoint(clean: false);
            if (err != Errno.OK) return err;
        }
        return fs;
    }

    /// <summary>Recounts every segment's live blocks from the inode map and every inode's blocks (after roll-forward). Lock held.</summary>
    internal Errno RecomputeUsage()
    {
        _usage.Reset();
        _tree.Reserved = 0;
        foreach (ulong b in _imap.BlockAddrs) if (b != 0) _usage.Add(b, 0);
        foreach (ulong b in _imap.LiveInodeBlocks) _usage.Add(b, 0);
        foreach (ulong ino in _imap.LiveInodes().ToList())
        {
            var r = GetInode(ino);
            if (!r.Ok) return r.Error == Errno.ENOENT ? Errno.EUCLEAN : r.Error;
            var i = r.Value;
            ulong reserved = 0;
            var err = _tree.Walk(i, (kind, _, addr) => _usage.Add(addr, 0), _ => reserved++);
            _tree.Reserved += reserved;
            if (err != Errno.OK) return err;
            if (i.Rec.Xattr != 0) _usage.Add(i.Rec.Xattr, 0);
        }
        return Errno.OK;
    }

    /// <summary>Told once this file system has closed (the host then ends the guest); set by <see cref="LfsLibFs"/>.</summary>
    internal Action? OnClosed { get; set; }

    /// <summary>The LFS checker on this live instance (see <see cref="LfsFsck.Check"/>).</summary>
    public IReadOnlyList<string> CheckConsistency() => LfsFsck.Check(this).Problems;

    public void Dispose()
    {
        DisposeCore();
        OnClosed?.Invoke();
    }

    private void DisposeCore()
    {
        // The timer first (outside the lock: a tick may be waiting for it), so no tick runs after the checkpoint.
        StopBackgroundCleaner();
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            if (!_readOnly)
            {
                foreach (var i in _cache.Values.ToList())
                {
                    i.Lookups = 0;
                    i.Opens = 0;
                    ReapIfOrphan(i);
                }
                _handles.Clear();
                WriteCheckpoint(clean: true);
            }
        }
    }

    private void CheckOpen()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(LfsFileSystem));
    }

    // ---------------------------------------------------------------- inodes

    private LfsInode NewInode(ulong ino, uint mode, ulong rdev, Caller caller, LfsInode? parent, Timespec now)
    {
        var rec = new InodeRecord
        {
            Ino = ino, Mode = mode, Nlink = 1, Uid = caller.Uid, Gid = caller.Gid, Rdev = rdev,
            Generation = _nextGeneration++,
            AtimeSec = now.Sec, AtimeNsec = now.Nsec, MtimeSec = now.Sec, MtimeNsec = now.Nsec, CtimeSec = now.Sec, CtimeNsec = now.Nsec,
        };
        if (parent is not null && (parent.Rec.Mode & 0x400) != 0)
        {
            rec.Gid = parent.Rec.Gid;
            if (FileMode.IsDir(mode)) rec.Mode |= 0x400;
        }
        return new LfsInode(rec);
    }

    /// <summary>The inode <paramref name="ino"/> (ENOENT if there is none; EIO if its record is damaged). Lock held.</summary>
    internal Result<LfsInode> GetInode(ulong ino)
    {
        if (_cache.TryGetValue(ino, out var i)) return i.Deleted ? Errno.ENOENT : i;
        if (ino == 0 || ino >= _imap.MaxInodes) return Errno.ENOENT;
        ulong e = _imap.Get(ino);
        if (e == 0) return Errno.ENOENT;
        var rec = ReadRecord(ImapEntry.Block(e), ImapEntry.Slot(e));
        if (!rec.Ok) return rec.Error;
        if (rec.Value is not { } r || r.Ino != ino || r.IsTombstone) return Errno.EIO;
        i = new LfsInode(r);
        _cache[ino] = i;
        return i;
    }

    internal Result<InodeRecord?> ReadRecord(ulong block, int slot)
    {
        var buf = new byte[LfsLayout.BlockSize];
        var err = _disk.Read(block, buf);
        if (err != Errno.OK) return err;
        return InodeRecord.ReadFrom(buf.AsSpan(slot * InodeRecord.SlotBytes));
    }

    internal void MarkDirty(LfsInode i) => _dirty.Add(i);

    /// <summary>Marks <paramref name="i"/>'s xattr set changed (the next flush writes its block); the caller marks the inode dirty. Lock held.</summary>
    internal void MarkXattrDirty(LfsInode i) => _dirtyXattrs += i.SetXattrDirty(true);

    private static FileAttr ToAttr(LfsInode i) => new(
        new InodeNo(i.Ino), i.Rec.Mode, i.Rec.Nlink, i.Rec.Uid, i.Rec.Gid, i.Rec.Rdev, i.Rec.Size, i.Rec.Blocks * (LfsLayout.BlockSize / 512),
        new Timespec(i.Rec.AtimeSec, i.Rec.AtimeNsec), new Timespec(i.Rec.MtimeSec, i.Rec.MtimeNsec), new Timespec(i.Rec.CtimeSec, i.Rec.CtimeNsec),
        i.Rec.Generation);

    private static void Touch(LfsInode i, Timespec now, bool mtime = true, bool ctime = true)
    {
        if (mtime) { i.Rec.MtimeSec = now.Sec; i.Rec.MtimeNsec = now.Nsec; }
        if (ctime) { i.Rec.CtimeSec = now.Sec; i.Rec.CtimeNsec = now.Nsec; }
    }

    /// <summary>Frees an inode with no links and no references: its blocks die now, a tombstone goes to the log. Lock held.</summary>
    internal void Destroy(LfsInode i)
    {
        if (i.Deleted) return;
        var t = _tree.Truncate(i, 0);
        _dirtyBlocks -= i.DirtyData.Count;
        i.DirtyData.Clear();
        _tree.ForgetAll(i);
        if (i.Rec.Xattr != 0) _usage.Kill(i.Rec.Xattr);
        i.Rec.Xattr = 0;
        i.Xattrs = null;
        _dirtyXattrs += i.SetXattrDirty(false);
        i.Dir = null;
        i.Deleted = true;
        if (_imap.Get(i.Ino) != 0 && _imap.Set(i.Ino, 0, out ulong left)) _usage.Kill(left);
        MarkDirty(i);
        _ = t;
    }

    private void ReapIfOrphan(LfsInode i)
    {
        if (!i.Deleted && i.Rec.Nlink == 0 && i.Lookups == 0 && i.Opens == 0) Destroy(i);
    }

    // ---------------------------------------------------------------- file blocks

    /// <summary>Reads file block <paramref name="fb"/> into <paramref name="into"/> (zeros for a hole). Lock held.</summary>
    internal Errno ReadBlock(LfsInode i, ulong fb, Span<byte> into)
    {
        if (i.DirtyData.TryGetValue(fb, out var d)) { d.CopyTo(into); return Errno.OK; }
        var a = _tree.Lookup(i, fb);
        if (!a.Ok) return a.Error;
        return ReadPointer(a.Value, into);
    }

    // Scratch for Read (up to MaxReadRun blocks) and for a packed block's read (lock held; never handed out: each
    // call copies out of them), so a small read allocates nothing per call.
    private byte[] _readScratch = new byte[LfsLayout.BlockSize];
    private readonly byte[] _packedScratch = new byte[LfsLayout.BlockSize];

    /// <summary>The most file blocks one <see cref="ReadBlocks"/> reads (128 KiB, FUSE's largest read).</summary>
    private const int MaxReadRun = 32;

    /// <summary>
    /// Reads file block <paramref name="fb"/> into the read scratch, and after it, up to <paramref name="most"/>
    /// in all, the following blocks the log holds right after it (one request to the disk for a file written in
    /// one go, as a file's blocks are); returns how many it read (at least 1). Lock held.
    /// </summary>
    private Result<int> ReadBlocks(LfsInode i, ulong fb, int most)
    {
        const int B = LfsLayout.BlockSize;
        if (i.DirtyData.Count == 0 || !i.DirtyData.ContainsKey(fb))
        {
            var a = _tree.Lookup(i, fb);
            if (!a.Ok) return a.Error;
            ulong ptr = a.Value;
            if (ptr is not 0 and not LfsLayout.ReservedBlock && !LfsLayout.IsPacked(ptr))
            {
                int n = 1;
                for (; n < most; n++)
                {
                    if (i.DirtyData.ContainsKey(fb + (ulong)n)) break;
                    var next = _tree.Lookup(i, fb + (ulong)n);
                    if (!next.Ok || next.Value != ptr + (ulong)n) break;
                }
                if (_readScratch.Length < n * B) _readScratch = new byte[MaxReadRun * B];
                var err = _disk.ReadRun(ptr, _readScratch.AsSpan(0, n * B));
                return err == Errno.OK ? n : err;
            }
        }
        var one = ReadBlock(i, fb, _readScratch);
        return one == Errno.OK ? 1 : one;
    }

    // Dirty file blocks the flush has copied into the log come back here for the next writes (up to a dirty
    // budget's worth), so a write allocates no 4 KiB array per new block. Every array in DirtyData is its
    // block's alone (callers hand PutBlock a fresh one), so once a flush has appended it nothing else refers to it.
    private readonly Stack<byte[]> _spareBlocks = new();

    /// <summary>A block buffer for a new dirty block: its bytes are whatever it held before (the caller overwrites or clears them). Lock held.</summary>
    private byte[] RentBlock() => _spareBlocks.TryPop(out var b) ? b : new byte[LfsLayout.BlockSize];

    /// <summary>A dirty block's buffer the flush has appended to the log and dropped from DirtyData. Lock held.</summary>
    private void ReturnBlock(byte[] b)
    {
        if (b.Length == LfsLayout.BlockSize && _spareBlocks.Count < DirtyBudget) _spareBlocks.Push(b);
    }

    /// <summary>The file block a data pointer names: zeros for a hole or a reservation, a packed file's fragments then zeros.</summary>
    internal Errno ReadPointer(ulong ptr, Span<byte> into)
    {
        into = into[..LfsLayout.BlockSize];
        if (ptr is 0 or LfsLayout.ReservedBlock) { into.Clear(); return Errno.OK; }
        if (!LfsLayout.IsPacked(ptr)) return _disk.Read(ptr, into);
        var block = _packedScratch;
        var err = _disk.Read(LfsLayout.PackedAddr(ptr), block);
        if (err != Errno.OK) return err;
        into.Clear();
        block.AsSpan(LfsLayout.PackedFirst(ptr) * LfsLayout.FragmentSize, LfsLayout.PackedFragments(ptr) * LfsLayout.FragmentSize).CopyTo(into);
        return Errno.OK;
    }

    /// <summary>Whether the flush packs <paramref name="i"/>'s data with other small files' (see <see cref="LfsLayout.PackedMaxBytes"/>).</summary>
    private static bool Packable(LfsInode i) =>
        !i.Deleted && FileMode.IsRegular(i.Rec.Mode) && i.Rec.Size is > 0 and <= LfsLayout.PackedMaxBytes
        && i.DirtyData.Count == 1 && i.DirtyData.ContainsKey(0);

    /// <summary>
    /// Appends the small files' block 0 packed, up to <see cref="LfsLayout.PackedMaxMembers"/> files a block, in
    /// inode order (so the summary's 16-bit deltas reach), and points each file at its fragments. Lock held.
    /// </summary>
    private Errno AppendPacked(SegmentWriter log, List<LfsInode> tails, IReadOnlyDictionary<LfsInode, uint>? stamps, uint now)
    {
        const int Frag = LfsLayout.FragmentSize;
        tails.Sort((a, b) => a.Ino.CompareTo(b.Ino));
        var block = new byte[LfsLayout.BlockSize];
        var group = new List<LfsInode>();
        int used = 0;
        Errno Emit()
        {
            if (group.Count == 0) return Errno.OK;
            Array.Clear(block);
            ulong deltas = 0;
            int at = 0;
            for (int k = 0; k < group.Count; k++)
            {
                var i = group[k];
                i.DirtyData[0].AsSpan(0, (int)i.Rec.Size).CopyTo(block.AsSpan(at * Frag));
                if (k > 0) deltas |= (group[k].Ino - group[0].Ino) << (16 * (k - 1));
                at += (int)((i.Rec.Size + Frag - 1) / Frag);
            }
            if (stamps is not null)
                log.Stamp = group.Select(g => stamps.TryGetValue(g, out uint st) ? st : (uint?)null).Where(x => x is not null).DefaultIfEmpty(null).Max();
            var a = log.Append(LogKind.Packed, group[0].Ino, deltas, block, now);
            if (!a.Ok) return a.Error;
            // A block with all its members has no use for its unused fragments while they live (a repack puts them
            // five to a block again): the last member's pointer takes them (zeros past its data), so they count
            // as live, in statfs and the cleaner's utilization, and die with it. Otherwise they are dead at once
            // (the block counted whole when appended): a repack can fill them.
            int pad = group.Count == LfsLayout.PackedMaxMembers ? LfsLayout.FragmentsPerBlock - at : 0;
            _usage.KillFragments(a.Value, (uint)(LfsLayout.FragmentsPerBlock - at - pad));
            at = 0;
            foreach (var i in group)
            {
                int n = FragmentsOf(i) + (i == group[^1] ? pad : 0);
                var old = _tree.Set(i, 0, LfsLayout.Packed(a.Value, at, n));
                if (!old.Ok) return old.Error;
                _usage.Kill(old.Value);
                at += n;
                if (i.DirtyData.TryGetValue(0, out var spare)) { i.DirtyData.Remove(0); ReturnBlock(spare); }
                _dirtyBlocks--;
                if (stamps is null && !log.CleanerAppending) i.DataClock = log.Clock;
            }
            group.Clear();
            used = 0;
            return Errno.OK;
        }
        foreach (var i in tails)
        {
            int n = FragmentsOf(i);
            if (group.Count > 0 && StartsNewPack(group.Count, used, group[0].Ino, i.Ino, n))
            {
                var err = Emit();
                if (err != Errno.OK) return err;
            }
            group.Add(i);
            used += n;
        }
        return Emit();
    }

    /// <summary>Fragments a packed small file takes.</summary>
    internal static int FragmentsOf(LfsInode i) => (int)((i.Rec.Size + LfsLayout.FragmentSize - 1) / LfsLayout.FragmentSize);

    /// <summary>Whether a small file of <paramref name="frags"/> fragments goes to a new packed block rather than join the open one (<paramref name="members"/> files, <paramref name="used"/> fragments, the first one's number <paramref name="first"/>).</summary>
    private static bool StartsNewPack(int members, int used, ulong first, ulong ino, int frags) =>
        used + frags > LfsLayout.FragmentsPerBlock || members == LfsLayout.PackedMaxMembers || ino - first > ushort.MaxValue;

    /// <summary>The packed blocks <see cref="AppendPacked"/> writes for these small files (inode order, fragments each).</summary>
    internal static ulong PackedBlocks(IEnumerable<(ulong Ino, int Frags)> tails)
    {
        ulong blocks = 0, first = 0;
        int members = 0, used = 0;
        foreach (var (ino, frags) in tails)
        {
            if (members > 0 && StartsNewPack(members, used, first, ino, frags)) { blocks++; members = 0; used = 0; }
            if (members == 0) first = ino;
            members++;
            used += frags;
        }
        return members > 0 ? blocks + 1 : blocks;
    }

    /// <summary>Makes <paramref name="data"/> the new content of file block <paramref name="fb"/> (in memory until the flush). Lock held.</summary>
    internal void PutBlock(LfsInode i, ulong fb, byte[] data)
    {
        if (!i.DirtyData.ContainsKey(fb))
        {
            _dirtyBlocks++;
            var a = _tree.Lookup(i, fb);
            if (a.Ok && a.Value == 0) i.Rec.Blocks++;
            // A reserved block being written: the dirty block takes the reservation's place (and its count).
            else if (a.Ok && a.Value == LfsLayout.ReservedBlock) _tree.Set(i, fb, 0);
        }
        i.DirtyData[fb] = data;
        MarkDirty(i);
    }

    private void WriteDirBlock(LfsInode dir, int b)
    {
        PutBlock(dir, (ulong)b, dir.Dir!.Encode(b));
        ulong size = (ulong)dir.Dir.Blocks.Count * LfsLayout.BlockSize;
        if (dir.Rec.Size < size) dir.Rec.Size = size;
    }

    /// <summary>The loaded directory of <paramref name="dir"/> (EIO if its blocks are damaged). Lock held.</summary>
    internal Result<DirState> Dir(LfsInode dir)
    {
        if (dir.Dir is not null) return dir.Dir;
        ulong n = dir.Rec.Size / LfsLayout.BlockSize;
        var blocks = new List<byte[]>();
        for (ulong b = 0; b < n; b++)
        {
            var buf = new byte[LfsLayout.BlockSize];
            var err = ReadBlock(dir, b, buf);
            if (err != Errno.OK) return err;
            blocks.Add(buf);
        }
        var d = DirState.Load(blocks);
        if (d is null) return Errno.EIO;
        dir.Dir = d;
        return d;
    }

    // ---------------------------------------------------------------- flush and checkpoint

    /// <summary>
    /// Writes every dirty block to the log as one write unit: file contents (data, xattr, then packed blocks),
    /// every file's tree nodes bottom-up, then inode records (the imap entries move with them), and with
    /// <paramref name="withImap"/> the dirty imap blocks. That order makes every partial segment of the unit
    /// [contents, nodes, inodes, imap], the layout the segment head's claim types (<see cref="ClaimEntry"/>).
    /// <paramref name="first"/> inodes go first (the cleaner's age-sorted survivors). Lock held.
    /// </summary>
    internal Errno Flush(bool withImap, IReadOnlyList<LfsInode>? first = null, SegmentWriter? to = null,
        IReadOnlyDictionary<LfsInode, uint>? stamps = null)
    {
        var log = to ?? _log;
        try
        {
            var err = FlushTo(log, withImap, first, stamps);
            // Cut short (no segment for the log to go on in, or an I/O error): the partials it wrote hold blocks
            // the file system already points at, waiting in the run; they go to the disk now, with their
            // summaries, so reads of them are checked and served. The unit stays open (see SendWritten).
            if (err != Errno.OK) log.SendWritten(NowSeconds());
            return err;
        }
        finally { log.Stamp = null; }
    }

    private Errno FlushTo(SegmentWriter log, bool withImap, IReadOnlyList<LfsInode>? first, IReadOnlyDictionary<LfsInode, uint>? stamps)
    {
        uint now = NowSeconds();
        var order = new List<LfsInode>();
        if (first is not null) order.AddRange(first.Where(_dirty.Contains));
        var seen = new HashSet<LfsInode>(order);
        order.AddRange(_dirty.Where(i => !seen.Contains(i)).OrderBy(i => i.Ino));
        var block = new byte[LfsLayout.BlockSize];
        var tails = new List<LfsInode>();
        Errno err;
        foreach (var i in order)
        {
            if (i.Deleted) continue;
            if (stamps is not null) log.Stamp = stamps.TryGetValue(i, out uint st) ? st : null;
            bool packed = Packable(i);
            if (packed) tails.Add(i);
            else foreach (var (fb, data) in i.DirtyData)
            {
                var a = log.Append(LogKind.Data, i.Ino, fb, data, now);
                if (!a.Ok) return a.Error;
                var old = _tree.Set(i, fb, a.Value);
                if (!old.Ok) return old.Error;
                _usage.Kill(old.Value);
            }
            if (!packed)
            {
                _dirtyBlocks -= i.DirtyData.Count;
                if (i.DirtyData.Count > 0 && stamps is null && !log.CleanerAppending) i.DataClock = log.Clock;
                foreach (var spare in i.DirtyData.Values) ReturnBlock(spare);
                i.DirtyData.Clear();
            }
            if (i.XattrDirty)
            {
                ulong old = i.Rec.Xattr;
                if (i.Xattrs is { Count: > 0 } xs)
                {
                    XattrBlock.TryWrite(xs, block);
                    var a = log.Append(LogKind.Xattr, i.Ino, 0, block, now);
                    if (!a.Ok) return a.Error;
                    i.Rec.Xattr = a.Value;
                }
                else i.Rec.Xattr = 0;
                _usage.Kill(old);
                _dirtyXattrs += i.SetXattrDirty(false);
            }
        }
        // Small files' data, packed, still before the inode records that point to it (and before every node: a
        // packed pointer is a direct one, in the inode).
        if (tails.Count > 0 && (err = AppendPacked(log, tails, stamps, now)) != Errno.OK) return err;
        // Tree nodes after all the contents they point to (placing a block dirtied its nodes), so each partial's
        // nodes are its typed tail's first run. Bottom-up, a depth at a time: writing a node dirties its parent.
        foreach (var i in order)
        {
            if (i.Deleted || i.Nodes.Count == 0) continue;
            if (stamps is not null) log.Stamp = stamps.TryGetValue(i, out uint st) ? st : null;
            for (int depth = 2; depth >= 0; depth--)
            foreach (var (key, node) in i.Nodes.Where(kv => kv.Value.Dirty && BlockTree.DepthOf(kv.Key) == depth).OrderBy(kv => kv.Key).ToList())
            {
                BlockTree.Encode(node, block);
                var a = log.Append(LogKind.Node, i.Ino, key, block, now);
                if (!a.Ok) return a.Error;
                ulong old = _tree.SetNodeAddr(i, key, a.Value);
                _usage.Kill(old);
                node.Addr = a.Value;
                _tree.MarkClean(node);
            }
        }
        // Inode records, 16 to 32 to a block (one or two slots each), after everything they point to.
        log.Stamp = stamps is { Count: > 0 } ? stamps.Values.Max() : null;
        var records = order.ToList();
        for (int at = 0; at < records.Count;)
        {
            var group = new List<(LfsInode Inode, int Slot)>();
            int firstRecord = at, used = 0;
            Array.Clear(block);
            for (; at < records.Count; at++)
            {
                var rec = records[at].Deleted ? new InodeRecord { Ino = records[at].Ino } : records[at].Rec;
                if (used + rec.Slots > InodeRecord.SlotsPerBlock) break;
                rec.WriteTo(block.AsSpan(used * InodeRecord.SlotBytes));
                group.Add((records[at], used));
                used += rec.Slots;
            }
            var a = log.Append(LogKind.Inodes, 0, (ulong)firstRecord, block, now);
            if (!a.Ok) return a.Error;
            int live = 0;
            foreach (var (i, s) in group)
            {
                if (i.Deleted)
                {
                    _cache.Remove(i.Ino);
                    _imap.Release(i.Ino);
                    continue;
                }
                live++;
                if (_imap.Set(i.Ino, ImapEntry.Make(a.Value, s), out ulong left)) _usage.Kill(left);
            }
            if (live == 0) _usage.Kill(a.Value);
        }
        _dirty.Clear();
        if (withImap)
        {
            foreach (int b in _imap.DirtyBlocks.OrderBy(b => b).ToList())
            {
                var a = log.Append(LogKind.Imap, 0, (ulong)b, _imap.EncodeBlock(b), now);
                if (!a.Ok) return a.Error;
                _usage.Kill(_imap.BlockAddrs[b]);
                _imap.BlockAddrs[b] = a.Value;
            }
            _imap.ClearDirty();
        }
        err = log.EndUnit(now);
        _dirtyBlocks = 0;
        _nextBudgetCheck = 0;
        return err;
    }

    /// <summary>
    /// Flush (with the inode map), make the log durable, then write the older checkpoint region and make it
    /// durable; then release the segments nothing references any more. Lock held.
    /// <para>
    /// The checkpoint is what gives empty segments back, so its flush must always find room (see
    /// <see cref="CheckpointMargin"/>). Should the main head not have it while the cleaner's head does (a
    /// cleaning pass near full that copied more than it counted on), the flush goes there: nothing rolls that
    /// head forward, which costs nothing here, since the checkpoint right after it names everything it wrote.
    /// </para>
    /// </summary>
    internal Errno WriteCheckpoint(bool clean)
    {
        if (_readOnly) return Errno.EROFS;
        ulong need = CheckpointBlocks();
        var to = (need > ImmediateBlocks() || CheckpointAtCleanerHead) && _cleanerLog is { } c && c.HeadRemaining >= need ? c : null;
        var err = Flush(withImap: true, to: to);
        // A main-log flush cut short by ENOSPC may have left closed partials in the main head's run: they hold
        // blocks the checkpoint names, so they go to the disk before the sync below.
        if (err == Errno.OK && to is not null) err = _log.EndUnit(NowSeconds());
        if (err != Errno.OK) return err;
        // The checkpoint names log blocks: they must be durable before it is (an LFS's one ordering rule).
        if (!SkipLogSyncBeforeCheckpoint && (err = _disk.Sync()) != Errno.OK) return err;
        ulong seq = _cpSeq + 1;
        var cp = new CheckpointRecord(seq, DateTime.UtcNow.Ticks * 100 - DateTime.UnixEpoch.Ticks * 100,
            _log.HeadSlot < 0 ? uint.MaxValue : (uint)_log.HeadSlot, _log.HeadOffset, _log.NextSeq, _imap.NextIno, _nextGeneration,
            clean ? CheckpointRecord.CleanFlag : 0, _imap.BlockAddrs.Take(_imap.UsedBlocks).ToArray(), _usage.Snapshot(),
            Cleaner.SegmentsCleaned, Cleaner.BlocksRead, Cleaner.BlocksMoved, _log.NewBlocks) { Reserved = _tree.Reserved };
        var region = new byte[(int)_disk.Super.CheckpointBlocks * LfsLayout.BlockSize];
        cp.WriteTo(region);
        if ((err = _disk.WriteCheckpoint((int)(seq % 2), region)) != Errno.OK) return err;
        // Commit point: once this sync returns, a mount starts from this checkpoint.
        if ((err = _disk.Sync()) != Errno.OK) return err;
        _cpSeq = seq;
        _checkpointTime = DateTime.UtcNow;
        _log.Checkpointed();
        return ReleaseEmptySegments();
    }

    /// <summary>
    /// Gives back to XN every bound segment with no live block other than the head. Only right after a
    /// checkpoint: roll-forward from it never needs them, and the cleaner's copies are durable. Lock held.
    /// </summary>
    private Errno ReleaseEmptySegments()
    {
        bool any = false;
        foreach (int s in _usage.AllocatedSlots.ToList())
        {
            if (IsHead(s) || _usage.Live(s) != 0) continue;
            var err = _disk.FreeSegment(s);
            if (err != Errno.OK) return err;
            _usage.Detach(s);
            any = true;
        }
        // The release is durable (and the blocks reusable) only after the segment table's write.
        return any && !DeferReleaseSync ? _disk.Sync() : Errno.OK;
    }

    /// <summary>Crash-test mutant: a checkpoint written without first making the log it names durable.</summary>
    internal bool SkipLogSyncBeforeCheckpoint { get; set; }
    /// <summary>Crash tests: every checkpoint's flush goes to the cleaner's head when it has the room (as it does near full).</summary>
    internal bool CheckpointAtCleanerHead { get; set; }
    /// <summary>Leave the segment-table write of released segments to the next sync.</summary>
    internal bool DeferReleaseSync { get; set; }

    /// <summary>Makes everything done so far durable: the unit on disk, and a checkpoint if the log moved where none points. Lock held.</summary>
    private Errno Durable()
    {
        if (_readOnly) return Errno.OK;
        var err = Flush(withImap: false);
        if (err != Errno.OK) return err;
        if (_log.Unlinked) return WriteCheckpoint(clean: false);
        return _disk.Sync();
    }

    /// <summary>After a change: flush when the dirty budget is spent, clean when clean segments run low. Lock held.</summary>
    private void AfterChange()
    {
        int load = _dirtyBlocks + _dirty.Count / 8;
        if (load < DirtyBudget || load < _nextBudgetCheck) return;
        // The budget is what the flush will write: a small file's block packs into a few fragments, so many
        // small files make one larger write unit (fewer, longer log writes) rather than many short ones.
        // Whole blocks are held up to the dirty budget, packed ones up to the unit budget's estimate.
        int packable = _dirty.Count(Packable);
        int whole = load - packable;   // with no small file dirty, exactly the load
        int willWrite = load - packable + packable / 4;
        if (whole < DirtyBudget && willWrite < UnitBudget && _dirtyBlocks < MaxDirtyBlocks)
        {
            _nextBudgetCheck = load + Math.Min(DirtyBudget - whole, UnitBudget - willWrite);
            return;
        }
        _nextBudgetCheck = 0;
        Flush(withImap: false); // a failure resurfaces at the next sync
    }

    private int _nextBudgetCheck;

    /// <summary>
    /// After a call that frees space but asks for no room first (unlink, rmdir, a truncate, a punched hole): such
    /// calls still dirty directory blocks, inode records and tree nodes, so a long run of them on a full volume
    /// would eat the reserve the checkpoint's flush and the cleaner need, and the segments they emptied would
    /// never go back. Once they have taken half of it: flush, checkpoint (the empty segments go back to XN) and
    /// clean, as a call that asks for room would. Lock held.
    /// </summary>
    private void AfterFreeing()
    {
        if (_readOnly || ImmediateBlocks() >= CheckpointBlocks() + ReserveBlocks / 2) return;
        // When the last try won nothing back (nothing worth cleaning, no segment emptied yet), the next waits until
        // the dirty state has grown by a quarter segment: a flush after every unlink would write a record block, a
        // directory block and a summary each time, more than most unlinks free, and eat the reserve it guards.
        if (CheckpointBlocks() < _freeingRetryAt) return;
        Cleaner.CleanFor(0); // a failure resurfaces at the next call that asks for room, or the next sync
        _freeingRetryAt = ImmediateBlocks() >= CheckpointBlocks() + ReserveBlocks / 2 ? 0 : CheckpointBlocks() + SegBlocks / 4;
    }

    private ulong _freeingRetryAt;

    // ---------------------------------------------------------------- space

    private ulong SegBlocks => _disk.Super.SegmentBlocks;

    /// <summary>Blocks the cleaner keeps for itself: enough to copy a segment's live blocks out and more.</summary>
    internal ulong ReserveBlocks => 2 * SegBlocks;

    /// <summary>
    /// Blocks the next flush will append (an upper bound), from running counts: O(1), since the space check
    /// before every new block asks (it scanned the dirty inodes, thousands of them in postmark). Lock held.
    /// </summary>
    internal ulong PendingBlocks()
    {
        ulong n = (ulong)Math.Max(0, _dirtyBlocks) + (ulong)_tree.DirtyNodes + (ulong)_dirtyXattrs;
        n += (ulong)(_dirty.Count + LfsLayout.MinInodesPerBlock - 1) / LfsLayout.MinInodesPerBlock;
        n += (ulong)_imap.DirtyBlocks.Count + 1;
        return n + n / Summary.MaxEntries + 2;
    }

    /// <summary>
    /// Blocks a checkpoint's flush may append, an upper bound: the dirty state, the inode-map blocks its inode
    /// records may dirty, and if it crosses into a new segment that segment's head, its summary and the tail
    /// left behind. Lock held.
    /// </summary>
    internal ulong CheckpointBlocks() => PendingBlocks() + (ulong)Math.Min(_dirty.Count, _imap.UsedBlocks) + 3;

    /// <summary>
    /// Room a cleaning pass leaves the log beyond the dirty state once its survivors are written: the
    /// checkpoint that follows (every inode-map block, a summary, a segment crossing) and a few blocks for the
    /// copy's own cost running over its estimate. A pass that took this room would leave its victims, empty,
    /// waiting for a checkpoint that cannot be written, and every later sync would answer ENOSPC.
    /// </summary>
    internal ulong CheckpointMargin => (ulong)_imap.UsedBlocks + 8;

    /// <summary>Inodes whose xattr set the next flush writes (a running count).</summary>
    internal int DirtyXattrs => _dirtyXattrs;

    /// <summary>
    /// The running counts of dirty data blocks, tree nodes and xattr sets against a scan of every inode in memory,
    /// and every inode holding dirty state being one the flush will write: one line per disagreement (none:
    /// empty). The checker runs it before its checkpoint; tests run it after every call. Lock held.
    /// </summary>
    internal IReadOnlyList<string> CheckDirtyCounts()
    {
        var problems = new List<string>();
        int blocks = 0, nodes = 0, xattrs = 0;
        foreach (var i in _cache.Values.Concat(_dirty.Where(d => !_cache.TryGetValue(d.Ino, out var c) || c != d)))
        {
            int n = i.Nodes.Values.Count(x => x.Dirty);
            blocks += i.DirtyData.Count;
            nodes += n;
            if (i.XattrDirty) xattrs++;
            if ((i.DirtyData.Count > 0 || n > 0 || i.XattrDirty) && !_dirty.Contains(i))
                problems.Add($"inode {i.Ino}: {i.DirtyData.Count} dirty block(s), {n} dirty node(s), xattrs {(i.XattrDirty ? "dirty" : "clean")}, but the flush would not write it");
        }
        if (blocks != _dirtyBlocks) problems.Add($"dirty blocks: the running count says {_dirtyBlocks}, the inodes hold {blocks}");
        if (nodes != _tree.DirtyNodes) problems.Add($"dirty tree nodes: the running count says {_tree.DirtyNodes}, the inodes hold {nodes}");
        if (xattrs != _dirtyXattrs) problems.Add($"dirty xattr sets: the running count says {_dirtyXattrs}, the inodes hold {xattrs}");
        return problems;
    }

    /// <summary>Blocks the log can take now without cleaning: free whole segments at XN, and the head's room.</summary>
    internal ulong ImmediateBlocks() => _disk.FreeBlocks / SegBlocks * SegBlocks + _log.HeadRemaining;

    /// <summary>Everything the LFS could hold: its segments and what XN has free.</summary>
    internal ulong TotalBlocks => _disk.FreeBlocks / SegBlocks * SegBlocks + (ulong)_usage.AllocatedCount * SegBlocks;

    /// <summary>
    /// Makes sure the log has room for the dirty state plus <paramref name="extra"/> new blocks, cleaning if it
    /// must; ENOSPC only when even cleaning every reclaimable block would not make enough. Of those blocks,
    /// <paramref name="uncounted"/> (default: all) are not yet in statfs's used count: a write into a reserved
    /// block passes 0, its space being counted already, so it cannot fail where the reservation holds. The
    /// fast path leaves room for every reservation too, so no other call takes what fallocate promised. Lock held.
    /// </summary>
    internal Errno EnsureSpace(ulong extra, ulong? uncounted = null)
    {
        if (_readOnly) return Errno.EROFS;
        if (HasRoomAtHand(extra)) return Errno.OK;
        if (FreeBlocksHonest() < (uncounted ?? extra)) return Errno.ENOSPC;
        Cleaner.CleanFor(extra);
        return NeedFor(extra) <= ImmediateBlocks() ? Errno.OK : Errno.ENOSPC;
    }

    /// <summary>Whether the log takes the dirty state and <paramref name="extra"/> more blocks without cleaning, every reservation kept (<see cref="EnsureSpace"/>'s fast path). Lock held.</summary>
    private bool HasRoomAtHand(ulong extra) => NeedFor(extra) + ReservedCharge(_tree.Reserved) <= ImmediateBlocks();

    /// <summary>
    /// Whether a call that only rewrites a clean inode's record (a chmod, a chown, a utimens, a truncate, a read's
    /// atime) may do so without asking for room: when the log has it at hand, or, on a full volume, while the
    /// dirty state leaves half the cleaner's reserve untouched (as unlinks may: one such call always works on a
    /// full volume, but thousands of them in a row must not take the room the checkpoint needs). Lock held.
    /// </summary>
    private bool MayDirtyRecord() => HasRoomAtHand(1) || CheckpointBlocks() + 2 + ReserveBlocks / 2 <= ImmediateBlocks();

    /// <summary>What the log must be able to take for the dirty state, <paramref name="extra"/> more blocks and the cleaner's reserve.</summary>
    internal ulong NeedFor(ulong extra) => PendingBlocks() + extra + ReserveBlocks;

    /// <summary>
    /// Free space as statfs reports it: everything the LFS could hold, less the live blocks, less the blocks
    /// the dirty state will add, less fallocate's reservations, less the cleaner's reserve and the checkpoint's
    /// margin. Lock held.
    /// </summary>
    internal ulong FreeBlocksHonest()
    {
        ulong pendingNew = 0;
        foreach (var i in _dirty)
        {
            if (i.Deleted) continue;
            foreach (ulong fb in i.DirtyData.Keys)
            {
                var a = _tree.Lookup(i, fb);
                if (a.Ok && a.Value == 0) pendingNew++;
            }
            pendingNew += (ulong)i.Nodes.Values.Count(n => n.Dirty && n.Addr == 0);
            if (i.XattrDirty && i.Rec.Xattr == 0 && i.Xattrs is { Count: > 0 }) pendingNew++;
        }
        // No segment holds data in its head (XN's, if any) and its first summary: those are nobody's free space.
        ulong fixedPerSegment = _disk.FirstOffset + 1UL;
        ulong overhead = (_disk.FreeBlocks / SegBlocks + (ulong)_usage.AllocatedCount) * fixedPerSegment;
        // Dead blocks the cleaner cannot win back (a segment so full that copying it out costs what it frees) are not free.
        ulong crumbs = 0;
        foreach (int s in _usage.AllocatedSlots)
        {
            if (IsHead(s)) continue;
            uint live = _usage.Live(s);
            if (live == 0 || live + fixedPerSegment >= SegBlocks) continue;
            ulong dead = SegBlocks - fixedPerSegment - live;
            if (dead <= Cleaner.CopyCost(live)) crumbs += dead;
        }
        // The checkpoint's room is no more free than the cleaner's reserve: a pass leaves it (CheckpointMargin).
        ulong used = _usage.TotalLive + pendingNew + ReservedCharge(_tree.Reserved) + ReserveBlocks + CheckpointMargin + overhead + crumbs;
        return TotalBlocks > used ? TotalBlocks - used : 0;
    }

    /// <summary>
    /// What <paramref name="reserved"/> fallocated blocks take from statfs's free space: the blocks, and the dead
    /// blocks writing them can strand in segments too full to be worth cleaning (up to
    /// <see cref="Cleaner.CopyCost"/> per segment they fill). Without that margin the crumbs their own writing
    /// leaves could eat the room they were promised.
    /// </summary>
    internal ulong ReservedCharge(ulong reserved) =>
        reserved == 0 ? 0 : reserved + reserved / 16 + 3 * ((reserved + SegBlocks - 1) / SegBlocks);

    private static Errno CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('/') || name.Contains('\0')) return Errno.EINVAL;
        if (Encoding.UTF8.GetByteCount(name) > LfsLayout.MaxNameBytes) return Errno.ENAMETOOLONG;
        return Errno.OK;
    }

    private static bool IsDot(string name) => name is "." or "..";

    private Result<LfsInode> GetDir(ulong ino)
    {
        var r = GetInode(ino);
        if (!r.Ok) return r.Error;
        if (!FileMode.IsDir(r.Value.Rec.Mode)) return Errno.ENOTDIR;
        return r;
    }

    private Result<LfsInode> ParentDir(ulong ino, string name, bool allowDots)
    {
        var d = GetDir(ino);
        if (!d.Ok) return d.Error;
        if (d.Value.Rec.Nlink == 0) return Errno.ENOENT;
        var bad = CheckName(name);
        if (bad != Errno.OK) return bad;
        if (!allowDots && IsDot(name)) return Errno.EEXIST;
        return d;
    }

    /// <summary>Every inode in memory (fsck, cleaner).</summary>
    internal IEnumerable<LfsInode> CachedInodes => _cache.Values;
    internal bool IsDirty(LfsInode i) => _dirty.Contains(i);
}

/// <summary>What mount-time recovery found: the checkpoint region used, how many were valid, what roll-forward applied, orphans freed, and why roll-forward ended before the log did (an XN claim disagreeing with its summary), if it did.</summary>
public sealed record RecoveryInfo(int CheckpointRegion, int ValidCheckpoints, int PartialsRolledForward, int UnitsRolledForward, int OrphansFreed,
    string? RollForwardStopped = null);

public sealed partial class LfsFileSystem
{
    internal void BumpGeneration(ulong seen) { if (seen >= _nextGeneration) _nextGeneration = seen + 1; }
}
