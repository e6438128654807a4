using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>A segment as a cleaning policy sees it: its slot, live fraction and age (log blocks appended since its last write).</summary>
public readonly record struct SegmentInfo(int Slot, double Utilization, double AgeSeconds, uint LiveBlocks);

/// <summary>How the cleaner picks victims, and whether it sorts the survivors it rewrites by age.</summary>
public interface ICleanerPolicy
{
    string Name { get; }
    /// <summary>Candidates ordered best victim first.</summary>
    IEnumerable<SegmentInfo> Order(IReadOnlyList<SegmentInfo> candidates);
    /// <summary>Rewrite live blocks oldest first (cold data together) rather than in inode order.</summary>
    bool AgeSort { get; }
}

/// <summary>The policies a user can choose (at mkfs, or <c>-o cleaner=NAME</c> at mount).</summary>
public static class CleanerPolicies
{
    public const uint GreedyId = 0, CostBenefitId = 1, AgeSortId = 2;

    /// <summary>Least-utilized segment first (optimal for uniform access).</summary>
    public sealed class Greedy : ICleanerPolicy
    {
        public string Name => "greedy";
        public bool AgeSort => false;
        public IEnumerable<SegmentInfo> Order(IReadOnlyList<SegmentInfo> c) => c.OrderBy(s => s.Utilization).ThenByDescending(s => s.AgeSeconds);
    }

    /// <summary>
    /// Sprite's cost-benefit: highest (1−u)·age/(1+u) first, with the survivors age-sorted. Falls back to the
    /// greedy choice when greedy's best would free at least twice as much (SeaStore's guard against picking
    /// nearly full cold segments under uniform load).
    /// </summary>
    public sealed class CostBenefit(bool ageSort = true) : ICleanerPolicy
    {
        public string Name => ageSort ? "cost-benefit" : "cost-benefit-unsorted";
        public bool AgeSort => ageSort;
        public IEnumerable<SegmentInfo> Order(IReadOnlyList<SegmentInfo> c)
        {
            if (c.Count == 0) return c;
            var cb = c.OrderByDescending(s => (1 - s.Utilization) * (s.AgeSeconds + 1) / (1 + s.Utilization)).ToList();
            var g = c.MinBy(s => s.Utilization);
            if (1 - g.Utilization >= 2 * (1 - cb[0].Utilization)) return new[] { g }.Concat(cb.Where(s => s.Slot != g.Slot));
            return cb;
        }
    }

    /// <summary>Greedy victims, survivors rewritten oldest first.</summary>
    public sealed class AgeSorting : ICleanerPolicy
    {
        public string Name => "age-sort";
        public bool AgeSort => true;
        public IEnumerable<SegmentInfo> Order(IReadOnlyList<SegmentInfo> c) => new Greedy().Order(c);
    }

    public static ICleanerPolicy ByNumber(uint id) => id switch
    {
        CostBenefitId => new CostBenefit(),
        AgeSortId => new AgeSorting(),
        _ => new Greedy(),
    };

    /// <summary>The policy named <paramref name="name"/> ("greedy", "cost-benefit", "age-sort"), or null.</summary>
    public static ICleanerPolicy? ByName(string name) => name switch
    {
        "greedy" => new Greedy(),
        "cost-benefit" or "costbenefit" => new CostBenefit(),
        "age-sort" or "agesort" => new AgeSorting(),
        _ => null,
    };

    public static uint IdOf(ICleanerPolicy p) => p switch
    {
        CostBenefit => CostBenefitId,
        AgeSorting => AgeSortId,
        _ => GreedyId,
    };
}

/// <summary>
/// The cleaner: reads victim segments, decides from their summaries and the current inode map and block
/// trees which blocks are live, re-dirties those (so the next flush rewrites them at the log head, oldest
/// first if the policy age-sorts), writes a checkpoint, and only then releases the victims to XN: a victim
/// goes back only once the copies of its live blocks and a checkpoint that no longer needs it are durable.
/// Runs on demand when the log head needs room (<see cref="CleanFor"/>) and at sync when clean space falls
/// under the start threshold (<see cref="Background"/>). Lock held.
/// </summary>
public sealed class Cleaner
{
    private readonly LfsFileSystem _fs;

    internal Cleaner(LfsFileSystem fs, ICleanerPolicy policy)
    {
        _fs = fs;
        Policy = policy;
        StartPercent = fs.Disk.Super.CleanStartPercent;
        StopPercent = fs.Disk.Super.CleanStopPercent;
        SurvivorsAtLogHead = fs.Disk.Super.Survivors == LfsSuper.SurvivorsLogHead;
    }

    public ICleanerPolicy Policy { get; set; }
    /// <summary>Background cleaning starts when free space (a share of the total) falls below this, and stops above <see cref="StopPercent"/>.</summary>
    public uint StartPercent { get; set; }
    public uint StopPercent { get; set; }
    /// <summary>
    /// Survivors go to the log's head with new data (Sprite LFS's single log) rather than to the cleaner's own head.
    /// The own head keeps what has survived a cleaning (mostly cold) apart from what is being written (mostly hot),
    /// a segregation of its own: under hot-and-cold access it does for greedy what cost-benefit's age sort does.
    /// </summary>
    public bool SurvivorsAtLogHead { get; set; }

    public ulong SegmentsCleaned { get; private set; }
    public ulong BlocksRead { get; private set; }
    public ulong BlocksMoved { get; private set; }
    private readonly List<double> _cleaned = new();

    /// <summary>The utilization of each segment cleaned since mount, in cleaning order (the LFS paper's distribution).</summary>
    public IReadOnlyList<double> CleanedUtilizations { get { lock (_cleaned) return _cleaned.ToList(); } }

    /// <summary>New blocks the log has written for the workload (not the cleaner's copies): write cost's denominator.</summary>
    public ulong NewBlocks => _fs.Log.NewBlocks;

    /// <summary>Sum of the utilization of every segment cleaned (for the mean).</summary>
    public double UtilizationSum { get; private set; }

    /// <summary>
    /// Write cost as Sprite defines it: (blocks read by the cleaner + blocks it rewrote + new blocks) / new
    /// blocks; 1.0 when nothing was cleaned.
    /// </summary>
    public double WriteCost
    {
        get
        {
            ulong fresh = _fs.Log.NewBlocks;
            return fresh == 0 ? 1.0 : (double)(BlocksRead + BlocksMoved + fresh) / fresh;
        }
    }

    internal void Restore(ulong segments, ulong read, ulong moved, ulong fresh)
    {
        SegmentsCleaned = segments;
        BlocksRead = read;
        BlocksMoved = moved;
        _fs.Log.NewBlocks = fresh;
        _fs.Log.CleanerBlocks = moved;
    }

    /// <summary>Segments worth cleaning: bound, not the head, not full, no more live than <paramref name="ceiling"/>.</summary>
    private List<SegmentInfo> Candidates(double ceiling)
    {
        uint now = _fs.Log.Clock;
        double seg = _fs.Usage.SegmentBlocks;
        var list = new List<SegmentInfo>();
        foreach (int s in _fs.Usage.AllocatedSlots)
        {
            if (_fs.IsHead(s)) continue;
            uint live = _fs.Usage.Live(s);
            if (live >= _fs.Usage.SegmentBlocks - 1) continue; // nothing to gain
            double u = _fs.Usage.LiveFragments(s) / (seg * LfsLayout.FragmentsPerBlock);
            if (u > ceiling) continue;
            list.Add(new SegmentInfo(s, u, unchecked(now - _fs.Usage.LastWrite(s)), live));
        }
        return list;
    }

    /// <summary>Crash-test mutant: victims released as soon as their survivors are flushed, before those are durable.</summary>
    internal bool ReleaseBeforeDurable { get; set; }

    /// <summary>Runs one cleaning pass now, whatever the thresholds say; false if no segment was worth cleaning.</summary>
    public bool CleanOnce()
    {
        lock (_fs.Lock) return Pass(ulong.MaxValue / 2, ahead: false);
    }

    /// <summary>
    /// Blocks beyond the survivors themselves that copying <paramref name="live"/> live blocks out may write:
    /// their inodes' records and tree nodes (taken as one per 16 blocks) and summaries.
    /// </summary>
    internal static ulong CopyCost(uint live) => live / 16 + 3;

    /// <summary>Cleans until the log can take <paramref name="extra"/> more blocks without cleaning, or no victim helps.</summary>
    internal void CleanFor(ulong extra)
    {
        // Overwritten blocks die only when their replacements reach the log: flush first (the room for
        // the dirty state is there, EnsureSpace kept it), so the victims' dead blocks are known.
        if (_fs.PendingBlocks() > 8 && _fs.Flush(withImap: false) != Errno.OK) return;
        // Segments already empty only wait for a checkpoint to go back to XN: no copying needed.
        if (_fs.Usage.AllocatedSlots.Any(s => !_fs.IsHead(s) && _fs.Usage.Live(s) == 0))
            _fs.WriteCheckpoint(clean: false);
        for (int round = 0; round < 64 && _fs.ImmediateBlocks() < _fs.NeedFor(extra); round++)
            if (!Pass(_fs.NeedFor(extra), ahead: false)) return;
    }

    /// <summary>
    /// At a sync, or a background tick in a mount: clean while free space is under the start threshold, until it
    /// is over the stop threshold (at most <paramref name="maxPasses"/> passes).
    /// </summary>
    internal void Background(int maxPasses = 16)
    {
        ulong total = _fs.TotalBlocks;
        if (total == 0 || StartPercent == 0) return;
        // Between the thresholds, a cleaning already started goes on (hysteresis: passes cut short by maxPasses resume).
        if (!_backgroundActive && _fs.ImmediateBlocks() * 100 >= total * StartPercent) return;
        _backgroundActive = true;
        ulong target = total * StopPercent / 100;
        for (int round = 0; round < maxPasses && _fs.ImmediateBlocks() < target; round++)
            if (!Pass(target, ahead: true)) { _backgroundActive = false; return; }
        if (_fs.ImmediateBlocks() >= target) _backgroundActive = false;
    }

    private bool _backgroundActive;

    /// <summary>
    /// One pass: picks victims whose live blocks fit the room there is, moves them, checkpoints, releases. False
    /// if nothing could be gained. Survivors go to the cleaner's own log head when they fit there, leaving a
    /// free segment for the main log (the checkpoint's inode map); near full, to the main head as they come.
    /// </summary>
    private bool Pass(ulong need, bool ahead)
    {
        // New data goes to the main head first, so what the cleaner's head gets is survivors only.
        if (_fs.Flush(withImap: false) != Errno.OK) return false;
        // Cleaning ahead of need (a background pass) leaves out the segments more live than the volume as a whole:
        // their live fraction only falls while they wait, and the free space copying one out makes now costs more
        // than waiting would (much as NILFS2's cleaner skips segments with too little to reclaim). Cleaning on
        // demand takes any of them.
        double ceiling = ahead && _fs.TotalBlocks > 0 ? (double)_fs.Usage.TotalLive / _fs.TotalBlocks : 1;
        ulong segBlocks = _fs.Usage.SegmentBlocks;
        ulong freeSegments = _fs.Disk.FreeBlocks / segBlocks;
        var head = _fs.CleanerLog;
        ulong cleanerRoom = head.HeadRemaining + (freeSegments > 1 ? freeSegments - 1 : 0) * segBlocks;
        var victims = SurvivorsAtLogHead ? new List<SegmentInfo>() : PickVictims(need, ceiling, cleanerRoom > 2 ? cleanerRoom - 2 : 0);
        if (victims.Count == 0)
        {
            head = null;
            // The survivors then go to the main head, where the checkpoint after them must still find room.
            ulong room = _fs.ImmediateBlocks(), pending = _fs.PendingBlocks(), margin = _fs.CheckpointMargin;
            if (room <= pending + margin) return false;
            victims = PickVictims(need, ceiling, room - pending - margin);
            if (victims.Count == 0 && _fs.CleanerHeadSlot >= 0)
            {
                // The cleaner head's unwritten room is out of the main log's reach, and a head is never a
                // victim: with nothing else worth cleaning (every other segment nearly full, as after
                // background passes spread the dead blocks thin), that room is what is left to win back.
                _fs.RetireCleanerHead();
                victims = PickVictims(need, ceiling, room - pending - margin);
            }
        }
        if (victims.Count == 0) return false;
        var survivors = new List<(LfsInode Inode, double Age, uint Stamp)>();
        foreach (var v in victims)
        {
            var err = Collect(v, survivors);
            if (err != Errno.OK) return false;
        }
        var first = Policy.AgeSort
            ? survivors.OrderByDescending(s => s.Age).Select(s => s.Inode).Distinct().ToList()
            : survivors.Select(s => s.Inode).Distinct().ToList();
        _fs.Log.CleanerAppending = true;
        ulong before = _fs.Log.CleanerBlocks;
        var stamps = new Dictionary<LfsInode, uint>();
        foreach (var (inode, _, stamp) in survivors)
            stamps[inode] = stamps.TryGetValue(inode, out uint had) && (int)(had - stamp) > 0 ? had : stamp;
        var e = _fs.Flush(withImap: false, first, head, head is null ? null : stamps);
        _fs.Log.CleanerAppending = false;
        BlocksMoved += _fs.Log.CleanerBlocks - before;
        if (e != Errno.OK) return false;
        if (ReleaseBeforeDurable)
            foreach (var v in victims)
                if (_fs.Usage.Live(v.Slot) == 0 && _fs.Disk.FreeSegment(v.Slot) == Errno.OK) _fs.Usage.Detach(v.Slot);
        // The checkpoint releases every victim whose live count reached zero, after the copies are durable.
        if (_fs.WriteCheckpoint(clean: false) != Errno.OK) return false;
        foreach (var v in victims)
        {
            SegmentsCleaned++;
            UtilizationSum += v.Utilization;
            lock (_cleaned) _cleaned.Add(v.Utilization);
        }
        return true;
    }

    /// <summary>Victims in policy order whose copying fits <paramref name="budget"/> blocks, until they free what <paramref name="need"/> asks.</summary>
    private List<SegmentInfo> PickVictims(ulong need, double ceiling, ulong budget)
    {
        ulong room = _fs.ImmediateBlocks();
        var victims = new List<SegmentInfo>();
        var plans = new List<CopyPlan>();
        ulong estimated = 0, moving = 0, freed = 0;
        foreach (var s in Policy.Order(Candidates(ceiling)))
        {
            ulong cost = CopyCost(s.LiveBlocks) + s.LiveBlocks;
            if (cost >= _fs.Usage.SegmentBlocks) continue; // copying it out would use what it frees
            if (estimated + cost > budget) continue;
            // The estimate takes a block's owner as one of 16 sharing an inode-record block, but a segment of packed
            // small files revives up to five inodes a block: what the victims' summaries say the copy writes must
            // fit too (or the flush runs out of room halfway, and the checkpoint after it finds none).
            var plan = Plan(s.Slot);
            if (!plan.Ok || CopyBlocks(new[] { plan.Value }) >= _fs.Usage.SegmentBlocks) continue;
            plans.Add(plan.Value);
            ulong together = CopyBlocks(plans);
            if (together > budget) { plans.RemoveAt(plans.Count - 1); continue; }
            victims.Add(s);
            estimated += cost;
            moving = Math.Max(estimated, together);
            freed += _fs.Usage.SegmentBlocks;
            if (room + freed >= need + moving) break;
            if (victims.Count >= 16) break;
        }
        return victims;
    }

    /// <summary>What collecting one victim revives, as the flush after it will see it: the inodes whose records it
    /// rewrites, the tree nodes it dirties, whole blocks, and the small files repacked (fragments each).</summary>
    private sealed class CopyPlan
    {
        public readonly HashSet<ulong> Inodes = new();
        public readonly HashSet<(ulong Ino, ulong Key)> Nodes = new();
        public readonly Dictionary<ulong, int> Packed = new();
        public ulong Blocks;
    }

    /// <summary>
    /// An upper bound on the blocks the flush after <see cref="Collect"/> of every victim in
    /// <paramref name="plans"/> writes (the inode-map blocks aside: the checkpoint margin holds them): whole
    /// blocks, tree nodes, the small files packed as the flush packs them, the records (16 a block) and summaries.
    /// </summary>
    private static ulong CopyBlocks(IEnumerable<CopyPlan> plans)
    {
        var inodes = new HashSet<ulong>();
        var nodes = new HashSet<(ulong, ulong)>();
        var packed = new Dictionary<ulong, int>();
        ulong blocks = 0;
        foreach (var p in plans)
        {
            inodes.UnionWith(p.Inodes);
            nodes.UnionWith(p.Nodes);
            foreach (var (ino, frags) in p.Packed) packed[ino] = frags;
            blocks += p.Blocks;
        }
        ulong written = blocks + (ulong)nodes.Count + LfsFileSystem.PackedBlocks(packed.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)))
                        + ((ulong)inodes.Count + LfsLayout.MinInodesPerBlock - 1) / LfsLayout.MinInodesPerBlock;
        return written + written / Summary.MaxEntries + 2;
    }

    /// <summary>
    /// The walk of <see cref="Collect"/> over segment <paramref name="slot"/>, reviving nothing: what it would
    /// revive. Its reads are not counted as the cleaner's (the collect reads the same blocks again, and counts
    /// them). Lock held.
    /// </summary>
    private Result<CopyPlan> Plan(int slot)
    {
        var scratch = new byte[LfsLayout.BlockSize];
        var plan = new CopyPlan();
        var err = ForEachEntry(slot, counted: false, (e, addr) =>
        {
            var live = LiveHolders(e, addr, scratch);
            if (!live.Ok) return live.Error;
            if (live.Value is not { } holders) return Errno.OK;
            plan.Inodes.UnionWith(holders);
            switch (e.Kind)
            {
                case LogKind.Packed:
                    foreach (ulong no in holders)
                        if (_fs.GetInode(no) is { Ok: true } member) plan.Packed[no] = LfsFileSystem.FragmentsOf(member.Value);
                    break;
                case LogKind.Node:
                    plan.Nodes.UnionWith(BlockTree.KeyAndAncestors(e.Index).Select(key => (holders[0], key)));
                    break;
                case LogKind.Data:
                    plan.Blocks++;
                    plan.Nodes.UnionWith(BlockTree.NodesAbove(e.Index).Select(key => (holders[0], key)));
                    break;
                case LogKind.Xattr:
                    plan.Blocks++;
                    break;
            }
            return Errno.OK;
        });
        return err == Errno.OK ? plan : err;
    }

    /// <summary>Reads victim <paramref name="v"/>'s summaries and re-dirties every block still live. Lock held.</summary>
    private Errno Collect(SegmentInfo v, List<(LfsInode, double, uint)> survivors)
    {
        var scratch = new byte[LfsLayout.BlockSize];
        uint stamp = _fs.Usage.LastWrite(v.Slot);
        return ForEachEntry(v.Slot, counted: true, (e, addr) =>
        {
            var r = Revive(e, addr, scratch);
            if (!r.Ok) return r.Error;
            if (r.Value is { } ino)
            {
                // The file's own age where it is known (its last new data), else the victim's.
                uint st = ino.DataClock != 0 && (int)(stamp - ino.DataClock) > 0 ? ino.DataClock : stamp;
                survivors.Add((ino, unchecked(_fs.Log.Clock - st), st));
            }
            return Errno.OK;
        });
    }

    /// <summary>
    /// Reads segment <paramref name="slot"/>'s summaries in log order and hands <paramref name="visit"/> each
    /// entry with its block's address; stops at the first block that is not the next summary, or at an error.
    /// <paramref name="counted"/>: the reads are the cleaner's (write cost), a summary and each entry's block.
    /// </summary>
    private Errno ForEachEntry(int slot, bool counted, Func<SummaryEntry, ulong, Errno> visit)
    {
        var disk = _fs.Disk;
        ulong start = disk.SegmentStart(slot);
        uint segBlocks = disk.Super.SegmentBlocks;
        var block = new byte[LfsLayout.BlockSize];
        uint off = disk.FirstOffset;
        while (off + 2 <= segBlocks)
        {
            var err = disk.ReadUnchecked(start + off, block);
            if (err != Errno.OK) return err;
            if (counted) BlocksRead++;
            var sum = Summary.ReadFrom(block);
            if (sum is null || sum.Slot != (uint)slot || sum.Offset != off) break;
            for (int k = 0; k < sum.Entries.Count; k++)
            {
                if (counted) BlocksRead++;
                if ((err = visit(sum.Entries[k], start + off + 1 + (ulong)k)) != Errno.OK) return err;
            }
            off += 1 + (uint)sum.Entries.Count;
        }
        return Errno.OK;
    }

    /// <summary>The inode numbers a packed block's summary entry names (its first member, then up to four deltas).</summary>
    private static IEnumerable<ulong> PackedMembers(SummaryEntry e)
    {
        yield return e.Ino;
        for (int k = 1; k < LfsLayout.PackedMaxMembers; k++)
        {
            ulong delta = (e.Index >> (16 * (k - 1))) & 0xFFFF;
            if (delta == 0) yield break;
            yield return e.Ino + delta;
        }
    }

    /// <summary>
    /// Whether the block at <paramref name="addr"/> that entry <paramref name="e"/> describes is still live, and
    /// which inodes hold it: the files whose current records an inode block holds, the members of a packed block
    /// whose block 0 still points into it, the owner of a data, node or xattr block (none for a live inode-map
    /// block); null if it is dead, or newer content replaces it at the next flush anyway. The one liveness rule of
    /// the cleaner: <see cref="Collect"/> revives what it names, <see cref="Plan"/> counts it. Lock held.
    /// </summary>
    private Result<List<ulong>?> LiveHolders(SummaryEntry e, ulong addr, byte[] scratch)
    {
        switch (e.Kind)
        {
            case LogKind.Imap:
                return e.Index < (ulong)_fs.Imap.BlockAddrs.Length && _fs.Imap.BlockAddrs[e.Index] == addr ? new List<ulong>() : null;
            case LogKind.Inodes:
            {
                if (_fs.Imap.LiveInodesIn(addr) == 0) return (List<ulong>?)null;
                var err = _fs.Disk.Read(addr, scratch);
                if (err != Errno.OK) return err;
                var records = new List<ulong>();
                foreach (var (s, rec) in InodeRecord.InBlock(scratch))
                    if (_fs.Imap.Get(rec.Ino) == ImapEntry.Make(addr, s)) records.Add(rec.Ino);
                return records.Count > 0 ? records : null;
            }
            case LogKind.Packed:
            {
                var members = new List<ulong>();
                foreach (ulong no in PackedMembers(e))
                {
                    var m = _fs.GetInode(no);
                    if (!m.Ok) continue;
                    ulong ptr = m.Value.Rec.Direct[0];
                    if (LfsLayout.IsPacked(ptr) && LfsLayout.PackedAddr(ptr) == addr && !m.Value.DirtyData.ContainsKey(0)) members.Add(no);
                }
                return members.Count > 0 ? members : null;
            }
        }
        var r = _fs.GetInode(e.Ino);
        if (!r.Ok) return (List<ulong>?)null; // the inode is gone: so is the block
        var inode = r.Value;
        if (e.Kind == LogKind.Data && inode.DirtyData.ContainsKey(e.Index)) return (List<ulong>?)null;
        Result<ulong> at = e.Kind switch
        {
            LogKind.Data => _fs.Tree.Lookup(inode, e.Index),
            LogKind.Node => _fs.Tree.NodeAddr(inode, e.Index),
            LogKind.Xattr => inode.Rec.Xattr,
            _ => 0UL,
        };
        if (!at.Ok) return at.Error;
        return at.Value == addr ? new List<ulong> { inode.Ino } : null;
    }

    /// <summary>If the block at <paramref name="addr"/> is live, marks what holds it dirty; returns the inode concerned (null if dead or not an inode's).</summary>
    private Result<LfsInode?> Revive(SummaryEntry e, ulong addr, byte[] scratch)
    {
        var live = LiveHolders(e, addr, scratch);
        if (!live.Ok) return live.Error;
        if (live.Value is not { } holders) return (LfsInode?)null;
        if (e.Kind == LogKind.Imap)
        {
            _fs.Imap.MarkDirty((int)e.Index);
            return (LfsInode?)null;
        }
        LfsInode? last = null;
        foreach (ulong no in holders)
        {
            var got = _fs.GetInode(no);
            if (!got.Ok) return got.Error;
            var inode = got.Value;
            switch (e.Kind)
            {
                case LogKind.Inodes:
                    _fs.MarkDirty(inode);
                    break;
                case LogKind.Packed:
                {
                    // Its data is copied out (repacked) with the other members still here.
                    var data = new byte[LfsLayout.BlockSize];
                    var err = _fs.ReadPointer(inode.Rec.Direct[0], data);
                    if (err != Errno.OK) return err;
                    _fs.PutBlock(inode, 0, data);
                    break;
                }
                case LogKind.Data:
                {
                    var data = new byte[LfsLayout.BlockSize];
                    var err = _fs.Disk.Read(addr, data);
                    if (err != Errno.OK) return err;
                    _fs.PutBlock(inode, e.Index, data);
                    break;
                }
                case LogKind.Node:
                {
                    var n = _fs.Tree.Node(inode, e.Index, addr, create: false);
                    if (!n.Ok) return n.Error;
                    _fs.Tree.MarkDirty(n.Value!);
                    _fs.MarkDirty(inode);
                    break;
                }
                case LogKind.Xattr:
                    if (inode.Xattrs is null)
                    {
                        var err = _fs.Disk.Read(addr, scratch);
                        if (err != Errno.OK) return err;
                        inode.Xattrs = XattrBlock.Parse(scratch) ?? new();
                    }
                    _fs.MarkXattrDirty(inode);
                    _fs.MarkDirty(inode);
                    break;
            }
            last = inode;
        }
        return last;
    }
}
