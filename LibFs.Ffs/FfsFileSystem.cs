using System.Text;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// The FFS-like library file system (see <see cref="FfsLayout"/> for the format).
///
/// Locking: one monitor per file system (<c>_lock</c>) is held for the whole of every public call, so calls
/// from FUSE's many threads are serialised: correctness first. Everything below this class (allocator,
/// inode table, directories, block map, and the in-memory lookup counts and name indexes) assumes the
/// lock is held and takes no locks of its own; XN's session is thread-safe on its own. Data copies are
/// cheap next to XN's checks, so the single lock costs little on the two-core machines this runs on.
///
/// Durability: every change goes to XN's buffer cache at once (pointers through Alloc/Free, the rest
/// through WriteRaw); XN writes blocks back in an order that never persists a pointer to an uninitialized
/// block. <see cref="Sync"/>/<see cref="Fsync"/> flush everything. The superblock's clean flag is cleared
/// at mount and set at unmount. A mount that finds it cleared either runs the recovery walk (<see cref="Fsck"/>
/// with repair: frees orphaned inodes, rebuilds bitmaps and counts) or, with <see cref="FfsRecovery.Defer"/>,
/// skips it — soft updates leave only leaks — and keeps <see cref="Superblock.LeaksPending"/> set on disk until
/// a walk (fsck --repair) reclaims them.
/// </summary>
public sealed partial class FfsFileSystem : IFileSystem, IReportsRecovery, ISelfChecking
{
    private const int InitialTableBlocks = 4;
    /// <summary>
    /// Dirty blocks the file system lets pile up in XN's cache before it writes them back (a sync). XN can
    /// only evict clean pages, so without this bound a long write would fill the cache with dirty pages.
    /// Settable for tests that want the write-back it starts to fall inside small workloads.
    /// </summary>
    internal int DirtyBudget { get; set; } = 2048;
    private int _dirtySinceSync;
    private readonly object _lock = new();
    private readonly IFfsDisk _disk;
    private readonly BlockNo _superBlock;
    private readonly Allocator _alloc;
    private readonly InodeTable _inodes;
    private readonly BlockMap _map;
    private readonly Directory _dirs;
    private readonly ReadAhead _readAhead = new();
    private readonly Dictionary<ulong, (ulong Ino, OpenFlags Flags, bool IsDir)> _handles = new();
    private ulong _nextHandle = 1;
    private ulong _nextGeneration;
    private bool _disposed;
    private bool _readOnly;

    /// <summary>What the mount-time recovery scan did (null if the image was clean, or the walk was deferred).</summary>
    public FsckReport? RecoveryReport { get; private set; }

    /// <summary>
    /// Leaks (and only leaks) may remain from a crash whose recovery walk a mount deferred; persisted in the
    /// superblock's clean word until a walk with repair that leaves nothing unrepaired clears it.
    /// </summary>
    public bool LeaksPending => _leaksPending;
    private bool _leaksPending;

    /// <summary>The line a mount reports while <see cref="LeaksPending"/>.</summary>
    public const string LeaksPendingLine =
        "leaks not reclaimed yet (the walk after the crash was deferred; soft updates leave only leaks); 'exofs fsck --repair' reclaims them";

    /// <summary>FFS's fsck of this live instance (see <see cref="Fsck.Check"/>).</summary>
    public IReadOnlyList<string> CheckConsistency() => Fsck.Check(this).Problems;

    /// <summary>
    /// What the mount-time recovery repaired, one line each with its class in front ("leak: ..." or
    /// "damage: ...", see <see cref="FsckFindingKind"/>), for the host's recovery report.
    /// </summary>
    public IReadOnlyList<string> RecoveryActions =>
        [
            .. _intentEntriesRedone > 0 ? [string.Format(IntentRedoneLine, _intentEntriesRedone)] : Array.Empty<string>(),
            .. _pendingIntent ? [IntentPendingLine] : Array.Empty<string>(),
            .. RecoveryReport is { } walked ? walked.RepairedWithClass : _leaksPending ? [LeaksPendingLine] : [],
        ];

    /// <summary>The line a mount reports when it completed a RENAME_EXCHANGE a crash interrupted ({0}: entries retargeted).</summary>
    public const string IntentRedoneLine = "redo: completed a rename-exchange the crash interrupted ({0} entries retargeted from the superblock's intent record)";
    /// <summary>The line a read-only mount reports while such an exchange is pending (it cannot write the entries).</summary>
    public const string IntentPendingLine =
        "a rename-exchange the crash interrupted is pending (one of its files has no name in this read-only view); a read-write mount or 'exofs fsck --repair' completes it";
    private int _intentEntriesRedone;
    private bool _pendingIntent;

    /// <summary>A read-only mount found a <see cref="NameIntent"/> it could not apply.</summary>
    public bool IntentPending => _pendingIntent;

    /// <summary>A walk with repair left nothing unrepaired (fsck --repair): the flag clears at the next header write.</summary>
    internal void LeaksReclaimed() => _leaksPending = false;

    public string Name => "ffs";

    private FfsFileSystem(IFfsDisk disk, BlockNo superBlock, Allocator alloc)
    {
        _disk = disk;
        _superBlock = superBlock;
        _alloc = alloc;
        // A block claimed or freed is no longer what a read-ahead window copied from it.
        alloc.BlockChangedHook = b => _readAhead.ForgetDisk(b.Value, 1);
        _inodes = new InodeTable(disk, alloc);
        _map = new BlockMap(disk, alloc);
        _dirs = new Directory(disk, _map, ino => OrderDirectoryWrites && !_unorderedEntries ? _alloc.Locate(ino).Block : null);
        _nextGeneration = Math.Max(1, alloc.Sb.NextGeneration);
    }

    internal IFfsDisk Disk => _disk;
    internal Allocator Alloc => _alloc;
    internal InodeTable Inodes => _inodes;
    internal BlockMap Map => _map;
    internal Directory Dirs => _dirs;
    internal ReadAhead ReadAheadWindows => _readAhead;

    /// <summary>
    /// Blocks FFS reads past a sequential reader's request, within the file's contiguous run (default 256: 1 MiB;
    /// 0 turns read-ahead off). A tuning knob for benchmarks; see <see cref="ReadAhead"/>.
    /// </summary>
    public int ReadAheadBlocks
    {
        get { lock (_lock) return _readAhead.Blocks; }
        set { lock (_lock) _readAhead.Blocks = Math.Max(0, value); }
    }
    internal BlockNo SuperBlock => _superBlock;
    internal object Lock => _lock;

    // ---------------------------------------------------------------- format and mount

    /// <summary>
    /// Lays out a new file system whose superblock is <paramref name="superBlock"/> (an XN root block,
    /// zero-filled) on a device of <paramref name="totalBlocks"/> blocks, and mounts it. <paramref name="blocksPerGroup"/>:
    /// the allocation group size (0: <see cref="FfsLayout.BlocksPerGroup"/>; smaller groups are for tests that want
    /// several groups on a small device).
    /// </summary>
    internal static Result<FfsFileSystem> FormatOn(IFfsDisk disk, BlockNo superBlock, ulong totalBlocks, bool dataChecksums = false,
        uint blocksPerGroup = 0)
    {
        ulong bpg = blocksPerGroup == 0 ? FfsLayout.BlocksPerGroup : blocksPerGroup;
        if (bpg < Superblock.MinBlocksPerGroup || bpg > FfsLayout.BlocksPerGroup || bpg % 8 != 0) return Errno.EINVAL;
        ulong groups = (totalBlocks + bpg - 1) / bpg;
        if (groups == 0 || groups > FfsLayout.MaxGroups || totalBlocks < 64) return Errno.EINVAL;
        uint ipg = FfsLayout.InodesForGroup(Math.Min(totalBlocks, bpg));
        var sb = new Superblock(Superblock.CurrentVersion, (uint)groups, ipg, totalBlocks, 0, 1,
            DateTimeOffset.UtcNow.ToUnixTimeSeconds()) { Features = dataChecksums ? Superblock.FeatureDataChecksums : 0, BlocksPerGroup = (uint)bpg };
        var csumRuns = new ulong[dataChecksums ? groups : 0];
        var header = new byte[Superblock.HeaderSize];
        sb.WriteTo(header);
        var err = disk.WriteRaw(superBlock, 0, header);
        if (err != Errno.OK) return err;

        var entries = new GroupEntry[groups];
        for (int g = 0; g < (int)groups; g++)
        {
            int off = Superblock.GroupOffset(g);
            var hint = new BlockNo((ulong)g * bpg);
            ulong groupBlocks = Math.Min(bpg, totalBlocks - hint.Value);
            int capacity = Allocator.TableCapacityBlocks(groupBlocks, ipg);
            var ib = disk.FindFree(hint, 1);
            if (!ib.Ok) return ib.Error;
            err = disk.Alloc(superBlock, g, new[] { FieldEdit.U64(off + GroupEntry.InodeBitmapOffset, ib.Value.Value) }, BlockKind.InodeBitmap, ib.Value);
            if (err != Errno.OK) return err;
            // The whole table is owned from the start, through XN: a run FFS only meant to grow into would look
            // free to every other libFS on the disk, and a second root's blocks landing in it would stop this
            // group's table from growing. Only when no run that long is free does the table start small and
            // grow on demand into what follows it (see Allocator).
            uint tableBlocks = (uint)capacity;
            var it = disk.FindFree(ib.Value, (ulong)capacity);
            if (!it.Ok)
            {
                tableBlocks = (uint)Math.Min(capacity, InitialTableBlocks);
                it = disk.FindFree(ib.Value, tableBlocks);
            }
            if (!it.Ok) return it.Error;
            // One Alloc per inode-table block: the owns-UDF grows by exactly that block each time.
            for (uint i = 0; i < tableBlocks; i++)
            {
                var edits = i == 0
                    ? new[] { FieldEdit.U64(off + GroupEntry.InodeTableOffset, it.Value.Value), FieldEdit.U32(off + GroupEntry.InodeTableBlocksOffset, 1) }
                    : new[] { FieldEdit.U32(off + GroupEntry.InodeTableBlocksOffset, i + 1) };
                err = disk.Alloc(superBlock, g, edits, BlockKind.Inodes, it.Value.Offset(i));
                if (err != Errno.OK) return err;
            }
            if (dataChecksums)
            {
                // The group's csum run, owned by its inode bitmap; one Alloc per block, as for the table.
                var run = disk.FindFree(it.Value.Offset(tableBlocks), CsumBlock.BlocksPerGroup);
                if (!run.Ok) return run.Error;
                for (uint i = 0; i < CsumBlock.BlocksPerGroup; i++)
                {
                    var edits = i == 0
                        ? new[] { FieldEdit.U64(CsumBlock.RunOffset, run.Value.Value), FieldEdit.U32(CsumBlock.RunOffset + 8, 1) }
                        : new[] { FieldEdit.U32(CsumBlock.RunOffset + 8, i + 1) };
                    if ((err = disk.Alloc(ib.Value, 0, edits, BlockKind.Csum, run.Value.Offset(i))) != Errno.OK) return err;
                }
                csumRuns[g] = run.Value.Value;
            }
            entries[g] = new GroupEntry(ib.Value.Value, it.Value.Value, tableBlocks, 0);
        }

        var inodeMaps = new byte[groups][];
        for (int g = 0; g < (int)groups; g++) inodeMaps[g] = new byte[FfsLayout.BlockSize];
        inodeMaps[0][0] = 1; // inode 1: the root directory
        // Only group 0's bitmap has a bit set; the others are zero-filled by their Alloc already.
        if ((err = disk.WriteRaw(new BlockNo(entries[0].InodeBitmap), 0, inodeMaps[0].AsSpan(0, 1))) != Errno.OK) return err;

        var alloc = new Allocator(disk, superBlock, sb, entries, inodeMaps);
        alloc.SetDirectories(0, 1);
        var fs = new FfsFileSystem(disk, superBlock, alloc);
        if (dataChecksums) fs.UseDataChecksums(csumRuns);
        alloc.Reclaim = fs.Reclaim;
        var now = Timespec.Now();
        var root = fs.NewDiskInode(FileMode.Directory | 0x1ED /* 0755 */, 0, Caller.Root, null, now);
        root.Nlink = 2;
        err = fs._dirs.Init(FfsLayout.RootIno, root, FfsLayout.RootIno, alloc.DataGoal(FfsLayout.RootIno));
        if (err != Errno.OK) return err;
        if ((err = fs._inodes.Put(FfsLayout.RootIno, root)) != Errno.OK) return err;
        if ((err = fs.WriteHeader(clean: false)) != Errno.OK) return err;
        if ((err = disk.Sync()) != Errno.OK) return err;
        return fs;
    }

    /// <summary>Mounts the file system whose superblock is <paramref name="superBlock"/>; EUCLEAN if it is not one.</summary>
    internal static Result<FfsFileSystem> MountOn(IFfsDisk disk, BlockNo superBlock, bool recover = true,
        bool readOnly = false, FfsRecovery recovery = FfsRecovery.Walk)
    {
        var buf = new byte[FfsLayout.BlockSize];
        var err = disk.Read(superBlock, 0, buf);
        if (err != Errno.OK) return err;
        var sbOrNull = Superblock.ReadFrom(buf);
        if (sbOrNull is not { } sb || sb.TotalBlocks > disk.DeviceBlocks
            || (sb.TotalBlocks + sb.BlocksPerGroup - 1) / sb.BlocksPerGroup != sb.GroupCount)
            return Errno.EUCLEAN;
        var entries = new GroupEntry[sb.GroupCount];
        var inodeMaps = new byte[sb.GroupCount][];
        for (int g = 0; g < entries.Length; g++)
        {
            var raw = buf.AsSpan(Superblock.GroupOffset(g));
            entries[g] = GroupEntry.ReadFrom(raw);
            if (GroupEntry.Reserved(raw) != 0 || entries[g].InodeBitmap == 0 || entries[g].InodeTable == 0
                || entries[g].InodeTableBlocks == 0 || entries[g].InodeTableBlocks * FfsLayout.InodesPerBlock > sb.InodesPerGroup)
                return Errno.EUCLEAN;
            inodeMaps[g] = new byte[FfsLayout.BlockSize];
            if ((err = disk.Read(new BlockNo(entries[g].InodeBitmap), 0, inodeMaps[g])) != Errno.OK) return err;
        }
        var alloc = new Allocator(disk, superBlock, sb, entries, inodeMaps);
        var fs = new FfsFileSystem(disk, superBlock, alloc) { _readOnly = readOnly, _leaksPending = (sb.Clean & Superblock.LeaksPending) != 0 };
        if (sb.DataChecksums)
        {
            var runs = new ulong[sb.GroupCount];
            for (int g = 0; g < runs.Length; g++)
            {
                runs[g] = BitConverter.ToUInt64(inodeMaps[g], CsumBlock.RunOffset);
                if (runs[g] == 0 || BitConverter.ToUInt32(inodeMaps[g], CsumBlock.RunOffset + 8) != CsumBlock.BlocksPerGroup) return Errno.EUCLEAN;
            }
            fs.UseDataChecksums(runs);
        }
        alloc.Reclaim = fs.Reclaim;
        var rootInode = fs._inodes.Get(FfsLayout.RootIno);
        if (!rootInode.Ok || !FileMode.IsDir(rootInode.Value.Mode)) return Errno.EUCLEAN;
        if (readOnly)
        {
            if (NameIntent.Decode(buf) is not { Count: 0 }) fs._pendingIntent = true;
            return fs;
        }
        var redone = fs.ApplyNameIntent(buf);
        if (!redone.Ok) return redone.Error;
        fs._intentEntriesRedone = redone.Value;
        bool unclean = (sb.Clean & Superblock.CleanUnmounted) == 0;
        if (recover && recovery == FfsRecovery.Walk && (unclean || fs._leaksPending))
        {
            // The last session did not unmount cleanly (or a mount after a crash deferred this walk): orphans
            // may hold blocks and inodes, and the inode bitmaps may disagree with the table. Repair from the
            // pointers, which XN kept consistent.
            fs.RecoveryReport = Fsck.Run(fs, repair: true);
            if (fs.RecoveryReport.Unrepaired.Count == 0) fs._leaksPending = false;
        }
        else if (recover && unclean)
        {
            // Deferred: soft updates' order leaves at most leaks (see README), which cost space, never
            // correctness, so the file system serves at once. The flag reaches the disk with the header below,
            // before anything this mount writes can matter, and stays until a walk reclaims the leaks.
            fs._leaksPending = true;
        }
        if ((err = fs.WriteHeader(clean: false)) != Errno.OK) return err;
        if ((err = disk.Sync()) != Errno.OK) return err;
        return fs;
    }

    /// <summary>Data checksums (null when the file system was made without them); see <see cref="DataChecksums"/>.</summary>
    internal DataChecksums? Sums { get; private set; }

    private void UseDataChecksums(ulong[] runs)
    {
        var fixedBlocks = new List<ulong> { _superBlock.Value };
        foreach (var ge in _alloc.Groups)
        {
            fixedBlocks.Add(ge.InodeBitmap);
            for (ulong i = 0; i < ge.InodeTableBlocks; i++) fixedBlocks.Add(ge.InodeTable + i);
        }
        Sums = new DataChecksums(_disk, runs, fixedBlocks, _alloc.Sb.BlocksPerGroup);
        if (_disk is XnFfsDisk xd)
        {
            xd.Sums = Sums;
            Sums.Damaged = (b, why) => xd.Damaged(new BlockNo(b), why);
        }
    }

    private Errno WriteHeader(bool clean)
    {
        var sb = _alloc.Sb with
        {
            Clean = (clean ? Superblock.CleanUnmounted : 0) | (_leaksPending ? Superblock.LeaksPending : 0),
            NextGeneration = _nextGeneration,
        };
        var header = new byte[Superblock.HeaderSize];
        sb.WriteTo(header);
        return _disk.WriteRaw(_superBlock, 0, header);
    }

    /// <summary>Told once this file system has closed (the host then ends the guest); set by <see cref="FfsLibFs"/>.</summary>
    internal Action? OnClosed { get; set; }

    /// <summary>Frees orphans, marks the file system clean and makes everything durable, then tells the host.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            if (!_readOnly) Unmount();
        }
        OnClosed?.Invoke();
    }

    /// <summary>Caller holds the lock.</summary>
    private void Unmount()
    {
        // Unmount ends every lookup and handle: orphans still referenced join those awaiting a sync.
        var referenced = _inodes.Referenced.ToList();
        _inodes.ForgetAll();
        _handles.Clear();
        foreach (ulong ino in referenced) ReapIfOrphan(ino);
        // The clean flag may reach the disk only after everything it vouches for: sync, then set it.
        // Sync + reap; sync + release the reaped inodes' numbers; sync those bitmap writes; only then
        // the clean flag, in a sync of its own.
        if (SyncAndReap() == Errno.OK && SyncAndReap() == Errno.OK && _disk.Sync() == Errno.OK
            && WriteHeader(clean: true) == Errno.OK)
            _disk.Sync();
    }

    // ---------------------------------------------------------------- helpers

    private DiskInode NewDiskInode(uint mode, ulong rdev, Caller caller, DiskInode? parent, Timespec now)
    {
        var inode = new DiskInode
        {
            Mode = mode, Nlink = 1, Uid = caller.Uid, Gid = caller.Gid, Rdev = rdev,
            Generation = (uint)_nextGeneration++,
            AtimeSec = now.Sec, AtimeNsec = now.Nsec, MtimeSec = now.Sec, MtimeNsec = now.Nsec,
            CtimeSec = now.Sec, CtimeNsec = now.Nsec,
        };
        // BSD/Linux group inheritance: a set-group-ID directory passes its group (and, to directories, the bit) on.
        if (parent is not null && (parent.Mode & 0x400) != 0)
        {
            inode.Gid = parent.Gid;
            if (FileMode.IsDir(mode)) inode.Mode |= 0x400;
        }
        return inode;
    }

    private static FileAttr ToAttr(ulong ino, DiskInode i) => new(
        new InodeNo(ino), i.Mode, i.Nlink, i.Uid, i.Gid, i.Rdev, i.Size, i.Blocks * (FfsLayout.BlockSize / 512),
        new Timespec(i.AtimeSec, i.AtimeNsec), new Timespec(i.MtimeSec, i.MtimeNsec), new Timespec(i.CtimeSec, i.CtimeNsec),
        i.Generation);

    private static void Touch(DiskInode i, Timespec now, bool mtime = true, bool ctime = true)
    {
        if (mtime) { i.MtimeSec = now.Sec; i.MtimeNsec = now.Nsec; }
        if (ctime) { i.CtimeSec = now.Sec; i.CtimeNsec = now.Nsec; }
    }

    private static Errno CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('/') || name.Contains('\0')) return Errno.EINVAL;
        if (Encoding.UTF8.GetByteCount(name) > FfsLayout.MaxNameBytes) return Errno.ENAMETOOLONG;
        return Errno.OK;
    }

    private static bool IsDot(string name) => name is "." or "..";

    /// <summary>The directory inode <paramref name="ino"/>: ENOENT if absent or already removed, ENOTDIR if not a directory.</summary>
    private Result<DiskInode> GetDir(ulong ino)
    {
        var r = _inodes.Get(ino);
        if (!r.Ok) return r.Error;
        if (!FileMode.IsDir(r.Value.Mode)) return Errno.ENOTDIR;
        return r;
    }

    /// <summary>
    /// Resolves a parent directory and validates a name with Linux's precedence: unknown parent ENOENT,
    /// not a directory ENOTDIR, a removed directory ENOENT, then the name (EINVAL, ENAMETOOLONG), then
    /// "." and ".." (EEXIST unless <paramref name="allowDots"/>).
    /// </summary>
    private Result<DiskInode> ParentDir(ulong ino, string name, bool allowDots)
    {
        var d = GetDir(ino);
        if (!d.Ok) return d.Error;
        if (d.Value.Nlink == 0) return Errno.ENOENT;
        var bad = CheckName(name);
        if (bad != Errno.OK) return bad;
        if (!allowDots && IsDot(name)) return Errno.EEXIST;
        return d;
    }

    /// <summary>Frees an inode and everything it owns. Caller has checked nothing references it.</summary>
    private Errno Destroy(ulong ino, DiskInode inode)
    {
        _readAhead.Forget(ino);
        bool dir = FileMode.IsDir(inode.Mode);
        var err = _map.Truncate(ino, inode, 0);
        if (err == Errno.OK) err = _map.FreeXattrBlock(ino, inode);
        if (err != Errno.OK)
        {
            _inodes.Put(ino, inode); // keep Blocks truthful; fsck finishes the job
            return err;
        }
        var zero = new DiskInode();
        _inodes.ForgiveLinkDebt(ino);
        if ((err = _inodes.Put(ino, zero)) != Errno.OK) return err;
        if ((err = _inodes.PutInline(ino, zero)) != Errno.OK) return err;
        _dirs.Drop(ino);
        return _alloc.FreeInode(ino, dir);
    }

    /// <summary>
    /// Queues the inode for freeing if it has no links and nothing in memory references it. It is freed
    /// only after the next sync (<see cref="SyncAndReap"/>): the directory change that dropped its last
    /// name must be on disk before the inode is cleared or reused, or a crash could leave a name bound to
    /// a cleared (or another) inode. XN orders pointers, not inode numbers in directory entries.
    /// </summary>
    private void ReapIfOrphan(ulong ino)
    {
        if (_inodes.InUse(ino) || _inodes.IsAwaitingFree(ino)) return;
        var r = _inodes.Get(ino);
        if (r.Ok && r.Value.Nlink == 0) _inodes.AwaitFree(ino, r.Value.Blocks);
    }

    internal IReadOnlyCollection<ulong> AwaitingFree => _inodes.AwaitingFree;
    internal ulong BlocksAwaitingFree => _inodes.BlocksAwaitingFree;

    /// <summary>Syncs, then frees the inodes whose last name the sync made durable. Lock held.</summary>
    private Errno SyncAndReap()
    {
        var err = _disk.Sync();
        if (err != Errno.OK) return err;
        _linkedSinceSync.Clear(); // the names link made are durable
        _dirs.GrownSinceSync.Clear(); // and the blocks directories grew by are reachable on disk
        // Inodes cleared before this sync are now cleared on disk: their numbers may be reused.
        if ((err = _alloc.CommitInodeFrees()) != Errno.OK) return err;
        // Entries removed before this sync are gone on disk: the link counts they paid for may drop (rule 2).
        if ((err = _inodes.PayLinkDebts()) != Errno.OK) return err;
        if (_inodes.AwaitingFree.Count == 0) return Errno.OK;
        foreach (ulong ino in _inodes.TakeAwaitingFree())
        {
            var r = _inodes.GetAny(ino);
            if (r.Ok && r.Value.Nlink == 0) Destroy(ino, r.Value);
        }
        return Errno.OK;
    }

    /// <summary>Out of space: free what waits for a sync, and sync again so XN can reuse those blocks. Lock held.</summary>
    private Errno Reclaim()
    {
        var err = SyncAndReap();
        // A second round makes the frees of the first durable: XN can reuse the blocks, FFS the inodes.
        return err == Errno.OK ? SyncAndReap() : err;
    }

    /// <summary>Counts <paramref name="blocks"/> newly dirtied blocks and writes everything back once the budget is spent. Lock held.</summary>
    private void Dirtied(int blocks)
    {
        _dirtySinceSync += blocks;
        if (_dirtySinceSync < DirtyBudget) return;
        _dirtySinceSync = 0;
        SyncAndReap(); // a failure here resurfaces at the next explicit sync
    }

    private Errno CheckOpen()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(FfsFileSystem));
        return Errno.OK;
    }
}

public sealed partial class FfsFileSystem
{
    /// <summary>fsck repair: frees an unreachable inode and everything it owns. Lock held.</summary>
    internal void FreeInodeForFsck(ulong ino, DiskInode inode) => Destroy(ino, inode);
}
