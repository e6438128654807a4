using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// What an fsck finding means after a crash. <see cref="Leak"/> is soft updates' whole allowance (McKusick &amp;
/// Ganger): space or an inode allocated but unreachable (an unreachable inode, blocks past a file's end, an inode
/// bitmap bit set for a free inode, a block count above what the inode owns), a link count too high, a per-group
/// directory count too high, or a moved directory's stale old entry (its ".." names the new parent: see
/// <see cref="Fsck"/>). <see cref="Damage"/> is anything else: a link count too low, an entry naming a free
/// inode, a directory linked twice, a live inode its bitmap calls free, a claimed block XN's free map calls free.
/// </summary>
public enum FsckFindingKind { Leak, Damage }

/// <summary>One finding: the line reported and its class.</summary>
public readonly record struct FsckFinding(string What, FsckFindingKind Kind)
{
    public bool IsLeak => Kind == FsckFindingKind.Leak;
    /// <summary>The line with its class in front ("leak: ...", "damage: ..."), as a recovery report shows it.</summary>
    public override string ToString() => $"{(IsLeak ? "leak" : "damage")}: {What}";
}

/// <summary>What <see cref="Fsck"/> found and, with repair, what it fixed.</summary>
public sealed record FsckReport(IReadOnlyList<string> Problems, IReadOnlyList<string> Repaired, IReadOnlyList<string> Unrepaired)
{
    /// <summary>Every problem with its class, in the order of <see cref="Problems"/>.</summary>
    public IReadOnlyList<FsckFinding> Findings { get; init; } = [];

    /// <summary>The findings that are not leaks (empty when a crash left soft updates' allowance at most).</summary>
    public IReadOnlyList<FsckFinding> Damage => Findings.Where(f => !f.IsLeak).ToList();

    /// <summary>What repair did, each line with its class in front (<see cref="FsckFinding.ToString"/>).</summary>
    public IReadOnlyList<string> RepairedWithClass { get; init; } = [];

    /// <summary>True when nothing was wrong.</summary>
    public bool Clean => Problems.Count == 0;
    /// <summary>fsck(8) exit status: 0 clean, 1 all problems corrected, 4 problems left.</summary>
    public int ExitCode => Clean ? 0 : Unrepaired.Count == 0 && Repaired.Count > 0 ? 1 : 4;
    public override string ToString() => Clean ? "clean" : string.Join("\n", Problems);
}

/// <summary>
/// The FFS checker. It rebuilds the truth from the pointers (the same fields the owns-UDFs read, so this
/// is XN's view of what this root owns) and compares: every block claimed once, and allocated in XN's free map
/// (FFS keeps no block bitmap of its own since format 4: what XN reaches from the root is what FFS owns, so
/// there is nothing to reconcile; a block XN calls free while a pointer names it is XN's damage, left to
/// <c>exofs fsck</c>'s XN check); a free inode owns no blocks; inode bitmaps equal to the allocated inodes;
/// directory structure ("." and "..", entries naming live inodes of the type they say); every inode reachable
/// from the root with the right link count (orphans kept alive by open handles or kernel lookups on a mounted
/// file system are fine); per-group directory counts. Repair fixes inode bitmaps, counts, link counts and entry
/// types, drops entries naming free inodes, frees unreachable inodes and a free inode's blocks; a block claimed
/// twice or a pointer off the device is reported and left.
/// </summary>
public static class Fsck
{
    /// <summary>
    /// Checks (and with <paramref name="repair"/>, repairs) a mounted file system: FFS's own structures. XN's
    /// global invariants are the host's to check (<c>ExoHost.Check</c>). Thread-safe.
    /// </summary>
    public static FsckReport Check(FfsFileSystem fs, bool repair = false)
    {
        lock (fs.Lock) return Run(fs, repair);
    }

    /// <summary>Caller holds the lock or has not shared <paramref name="fs"/> yet.</summary>
    internal static FsckReport Run(FfsFileSystem fs, bool repair)
    {
        var problems = new List<string>();
        var repaired = new List<string>();
        var unrepaired = new List<string>();
        var findings = new List<FsckFinding>();
        var repairedWithClass = new List<string>();
        void Problem(string what, bool fixedIt, bool leak = false)
        {
            problems.Add(what);
            var f = new FsckFinding(what, leak ? FsckFindingKind.Leak : FsckFindingKind.Damage);
            findings.Add(f);
            if (!repair) return;
            (fixedIt ? repaired : unrepaired).Add(what);
            if (fixedIt) repairedWithClass.Add(f.ToString());
        }

        var disk = fs.Disk;
        var alloc = fs.Alloc;
        var inodes = fs.Inodes;
        ulong device = disk.DeviceBlocks;

        // 1. Every allocated inode slot, and the blocks its pointers claim.
        var owner = new Dictionary<ulong, ulong>(); // block -> inode (0 = FFS metadata)
        void Claim(ulong b, ulong by, string what)
        {
            if (b >= device) { Problem($"{what}: pointer {b} is off the device", false); return; }
            if (!owner.TryAdd(b, by)) Problem($"block {b} claimed twice (inode {owner[b]} and {(by == 0 ? "metadata" : "inode " + by)})", false);
        }
        Claim(fs.SuperBlock.Value, 0, "superblock");
        for (int g = 0; g < alloc.GroupCount; g++)
        {
            var ge = alloc.Groups[g];
            Claim(ge.InodeBitmap, 0, $"group {g} inode bitmap");
            for (uint k = 0; k < ge.InodeTableBlocks; k++) Claim(ge.InodeTable + k, 0, $"group {g} inode table");
        }

        var live = new Dictionary<ulong, DiskInode>();
        // Cleared inodes whose numbers return to the pool after the next sync (still counted as allocated).
        var releasing = new HashSet<ulong>(alloc.InodesAwaitingRelease.Select(x => x.Ino));
        var tableBlock = new byte[FfsLayout.BlockSize];
        for (int g = 0; g < alloc.GroupCount; g++)
        {
            for (int slot = 0; slot < alloc.InodesInGroup(g); slot++)
            {
                ulong ino = (ulong)g * alloc.InodesPerGroup + (ulong)slot + 1;
                int inBlock = slot % FfsLayout.InodesPerBlock;
                if (inBlock == 0 && disk.Read(alloc.Locate(ino).Block, 0, tableBlock) != Errno.OK)
                {
                    Problem($"inode table block of inode {ino}: unreadable", false);
                    slot += FfsLayout.InodesPerBlock - 1;
                    continue;
                }
                var inode = DiskInode.ReadFrom(tableBlock.AsSpan(inBlock * FfsLayout.InodeSize, FfsLayout.InodeSize));
                // A live file system's link decrements wait for a sync (InodeTable); judge its in-memory count.
                inode.Nlink -= inodes.LinkDebt(ino);
                bool marked = alloc.InodeAllocated(ino);
                if (inode.IsFree)
                {
                    if (marked && !releasing.Contains(ino)) Problem($"inode {ino}: free but marked allocated", repair, leak: true);
                    if (inode.Ptr.Any(p => p != 0))
                    {
                        // XN's owns-UDF reads pointers whatever the mode: such blocks are this root's but no file's.
                        Problem($"inode {ino}: free but owns blocks", repair, leak: true);
                        if (repair) { fs.Map.Truncate(ino, inode, 0); fs.Map.FreeXattrBlock(ino, inode); }
                        else for (int s = 0; s < 16; s++)
                            if (inode.Ptr[s] != 0)
                                ClaimTree(disk, inode.Ptr[s], s < FfsLayout.DirectPointers || s == DiskInode.XattrSlot ? 0 : s - FfsLayout.DirectPointers + 1, ino, Claim);
                    }
                    continue;
                }
                if (!marked) Problem($"inode {ino}: in use but not marked allocated", repair);
                live[ino] = inode;
                ulong count = 0;
                for (int s = 0; s < 16; s++)
                {
                    ulong p = inode.Ptr[s];
                    if (p == 0) continue;
                    int level = s < FfsLayout.DirectPointers || s == DiskInode.XattrSlot ? 0 : s - FfsLayout.DirectPointers + 1;
                    count += ClaimTree(disk, p, level, ino, Claim);
                }
                bool pastEofOnPurpose = FileMode.IsRegular(inode.Mode) && (inode.Flags & DiskInode.FlagBlocksPastEof) != 0;
                if ((FileMode.IsRegular(inode.Mode) || FileMode.IsDir(inode.Mode)) && !pastEofOnPurpose)
                {
                    // A crash between claiming a block and recording the new size leaves blocks past the
                    // end; they would show old data if the file grew again.
                    ulong keep = (inode.Size + FfsLayout.BlockSize - 1) / FfsLayout.BlockSize;
                    if (HasBlocksFrom(fs, inode, keep))
                    {
                        Problem($"inode {ino}: blocks past the end of the file", repair, leak: true);
                        if (repair)
                        {
                            fs.Map.Truncate(ino, inode, keep);
                            inodes.Put(ino, inode);
                            count = CountTree(disk, inode);
                            ReleaseClaims(owner, ino);
                            for (int s = 0; s < 16; s++)
                                if (inode.Ptr[s] != 0)
                                    ClaimTree(disk, inode.Ptr[s], s < FfsLayout.DirectPointers || s == DiskInode.XattrSlot ? 0 : s - FfsLayout.DirectPointers + 1, ino, Claim);
                        }
                    }
                }
                if (count != inode.Blocks)
                {
                    Problem($"inode {ino}: block count {inode.Blocks}, owns {count}", repair, leak: inode.Blocks > count);
                    if (repair) { inode.Blocks = count; inodes.Put(ino, inode); }
                }
            }
        }

        // 2. The directory tree from the root: structure, reachability, link counts.
        var refs = new Dictionary<ulong, uint>();
        var subdirs = new Dictionary<ulong, uint>();
        var visitedDirs = new HashSet<ulong>();
        var enqueued = new HashSet<ulong> { FfsLayout.RootIno };
        var queue = new Queue<(ulong Dir, ulong Parent)>();
        if (!live.TryGetValue(FfsLayout.RootIno, out var rootInode) || !FileMode.IsDir(rootInode.Mode))
            Problem("root inode is not a directory", false);
        else queue.Enqueue((FfsLayout.RootIno, FfsLayout.RootIno));
        var buf = new byte[FfsLayout.BlockSize];
        // How many entries name each directory, and its ".." (to settle one named twice).
        var dirNames = new Dictionary<ulong, int>();
        foreach (var (ino, inode) in live)
            if (FileMode.IsDir(inode.Mode)) CountDirNames(fs, ino, inode, live, dirNames);
        bool IsHome(ulong dir, ulong parent)
        {
            if (dirNames.GetValueOrDefault(dir) <= 1) return true;
            var d = live[dir];
            var dotdot = fs.Dirs.Find(dir, d, "..");
            return !dotdot.Ok || dotdot.Value.Ino == parent || !live.ContainsKey(dotdot.Value.Ino);
        }
        while (queue.Count > 0)
        {
            var (dirIno, parentIno) = queue.Dequeue();
            if (!visitedDirs.Add(dirIno)) { Problem($"directory {dirIno} is linked from more than one place", false); continue; }
            var dir = live[dirIno];
            bool sawDot = false, sawDotDot = false;
            var badEntries = new List<(string Name, bool Drop, byte Type, ulong Ino)>();
            if (!Directory.SizeAgreesWithBlocks(dir)) Problem($"directory {dirIno}: size {dir.Size} disagrees with its {dir.Blocks} blocks", false);
            for (ulong lb = 0; lb < Directory.BlockCount(dir); lb++)
            {
                ulong b = fs.Map.Lookup(dir, lb);
                if (b == 0 || disk.Read(new BlockNo(b), 0, buf) != Errno.OK) { Problem($"directory {dirIno}: block {lb} missing", false); continue; }
                var records = DirBlock.Parse(buf);
                if (records is null) { Problem($"directory {dirIno}: block {lb} malformed", false); continue; }
                foreach (var rec in records)
                {
                    if (rec.Ino == 0) continue;
                    if (rec.Name == ".")
                    {
                        sawDot = true;
                        if (rec.Ino != dirIno) Problem($"directory {dirIno}: \".\" names {rec.Ino}", false);
                        continue;
                    }
                    if (rec.Name == "..")
                    {
                        sawDotDot = true;
                        if (rec.Ino != parentIno)
                        {
                            Problem($"directory {dirIno}: \"..\" names {rec.Ino}, not {parentIno}", repair);
                            if (repair) badEntries.Add(("..", false, DirBlock.FileTypeOf(FileMode.Directory), parentIno));
                        }
                        continue;
                    }
                    if (!live.TryGetValue(rec.Ino, out var child))
                    {
                        Problem($"directory {dirIno}: entry '{rec.Name}' names free inode {rec.Ino}", repair);
                        if (repair) badEntries.Add((rec.Name, true, 0, 0));
                        continue;
                    }
                    if (rec.FileType != DirBlock.FileTypeOf(child.Mode))
                    {
                        Problem($"directory {dirIno}: entry '{rec.Name}' has the wrong file type", repair);
                        if (repair) badEntries.Add((rec.Name, false, DirBlock.FileTypeOf(child.Mode), rec.Ino));
                    }
                    if (FileMode.IsDir(child.Mode) && (enqueued.Contains(rec.Ino) || !IsHome(rec.Ino, dirIno)))
                    {
                        // A directory named twice: a crash between the two halves of a rename. The name in
                        // the parent its ".." names stays; others go. A moved directory's ".." is its rename's
                        // commit point (written after the new entry is durable, before the old one goes), so an
                        // entry in another live directory than the one ".." names is that rename's other half:
                        // a stale entry, a leak. Two entries in the directory ".." names are damage.
                        var home = fs.Dirs.Find(rec.Ino, live[rec.Ino], "..");
                        bool stale = home.Ok && home.Value.Ino != dirIno && live.TryGetValue(home.Value.Ino, out var h) && FileMode.IsDir(h.Mode);
                        Problem($"directory {rec.Ino} is linked from more than one place ('{rec.Name}' in {dirIno})", repair, leak: stale);
                        if (repair) badEntries.Add((rec.Name, true, 0, 0));
                        continue;
                    }
                    if (FileMode.IsDir(child.Mode)) enqueued.Add(rec.Ino);
                    refs[rec.Ino] = refs.GetValueOrDefault(rec.Ino) + 1;
                    if (FileMode.IsDir(child.Mode))
                    {
                        subdirs[dirIno] = subdirs.GetValueOrDefault(dirIno) + 1;
                        queue.Enqueue((rec.Ino, dirIno));
                    }
                }
            }
            if (!sawDot || !sawDotDot) Problem($"directory {dirIno}: missing \".\" or \"..\"", false);
            foreach (var (name, drop, type, ino) in badEntries)
            {
                if (drop) fs.Dirs.Remove(dirIno, dir, name);
                else fs.Dirs.Retarget(dirIno, dir, name, ino, type);
            }
        }

        var inMemory = new HashSet<ulong>(inodes.Referenced);
        inMemory.UnionWith(fs.AwaitingFree); // unlinked; freed at the next sync
        var freed = new HashSet<ulong>();
        foreach (var (ino, inode) in live.OrderBy(kv => kv.Key))
        {
            bool isDir = FileMode.IsDir(inode.Mode);
            bool reachable = ino == FfsLayout.RootIno || refs.ContainsKey(ino);
            if (!reachable)
            {
                if (inode.Nlink == 0 && inMemory.Contains(ino)) continue; // an open or looked-up orphan
                Problem($"inode {ino}: unreachable (link count {inode.Nlink})", repair, leak: true);
                if (repair) { fs.FreeInodeForFsck(ino, inode); ReleaseClaims(owner, ino); freed.Add(ino); }
                continue;
            }
            uint expected = isDir ? 2 + subdirs.GetValueOrDefault(ino) : refs[ino];
            if (inode.Nlink != expected)
            {
                Problem($"inode {ino}: link count {inode.Nlink}, should be {expected}", repair, leak: inode.Nlink > expected);
                if (repair) { inode.Nlink = expected; inodes.Put(ino, inode); }
            }
        }

        // 3. The claims against XN's free map, in runs of consecutive blocks: a claimed block XN calls free (or
        // freed, awaiting a sync) is damage FFS cannot repair (XN's check rebuilds its map from reachability).
        var claimed = owner.Keys.Where(b => b < device).Order().ToList();
        for (int i = 0; i < claimed.Count;)
        {
            int j = i + 1;
            while (j < claimed.Count && claimed[j] == claimed[j - 1] + 1) j++;
            var r = disk.CountFree(new BlockNo(claimed[i]), (ulong)(j - i));
            if (r.Ok && r.Value.FreeOrDeferred > 0)
                for (int k = i; k < j; k++)
                    if (disk.CountFree(new BlockNo(claimed[k]), 1) is { Ok: true } one && one.Value.FreeOrDeferred > 0)
                        Problem($"block {claimed[k]} ({(owner[claimed[k]] == 0 ? "metadata" : "inode " + owner[claimed[k]])}): claimed, but free in XN's free map", false);
            i = j;
        }

        // 4. Inode bitmaps against the allocated inodes; directory counts.
        var pendingNow = alloc.InodesAwaitingRelease.ToDictionary(x => x.Ino, x => x.Directory);
        for (int g = 0; g < alloc.GroupCount; g++)
        {
            var wantInodes = new byte[FfsLayout.BlockSize];
            uint dirs = 0;
            for (int slot = 0; slot < alloc.InodesInGroup(g); slot++)
            {
                ulong ino = (ulong)g * alloc.InodesPerGroup + (ulong)slot + 1;
                if (pendingNow.TryGetValue(ino, out bool pendingDir))
                {
                    // Cleared (perhaps by this repair); counted as allocated until the next sync releases it.
                    wantInodes[slot >> 3] |= (byte)(1 << (slot & 7));
                    if (pendingDir) dirs++;
                    continue;
                }
                if (!live.TryGetValue(ino, out var inode)) continue;
                if (freed.Contains(ino)) continue;
                wantInodes[slot >> 3] |= (byte)(1 << (slot & 7));
                if (FileMode.IsDir(inode.Mode)) dirs++;
            }
            var haveInodes = alloc.InodeBitmap(g);
            // Bits set for free inodes are leaks; a live inode whose bit is clear is damage.
            var (inodesLeaked, inodesUnmarked) = Differences(haveInodes, wantInodes, alloc.InodeCapacity(g));
            if (inodesLeaked > 0) Problem($"group {g}: inode bitmap marks {inodesLeaked} free inode(s) allocated", repair, leak: true);
            if (inodesUnmarked > 0) Problem($"group {g}: inode bitmap differs from the inode table in {inodesUnmarked} inode(s) it marks free", repair);
            if (repair && inodesLeaked + inodesUnmarked > 0) alloc.RewriteInodeBitmap(g, wantInodes);
            if (alloc.Groups[g].Directories != dirs)
            {
                Problem($"group {g}: directory count {alloc.Groups[g].Directories}, should be {dirs}", repair, leak: alloc.Groups[g].Directories > dirs);
                if (repair) alloc.SetDirectories(g, dirs);
            }
        }
        if (repair && problems.Count > 0) { fs.Dirs.DropAll(); fs.ReadAheadWindows.Clear(); }
        return new FsckReport(problems, repaired, unrepaired) { Findings = findings, RepairedWithClass = repairedWithClass };
    }

    /// <summary>Adds one to <paramref name="names"/>[child] for each subdirectory entry of directory <paramref name="ino"/>.</summary>
    private static void CountDirNames(FfsFileSystem fs, ulong ino, DiskInode dir, Dictionary<ulong, DiskInode> live, Dictionary<ulong, int> names)
    {
        var buf = new byte[FfsLayout.BlockSize];
        for (ulong lb = 0; lb < Directory.BlockCount(dir); lb++)
        {
            ulong b = fs.Map.Lookup(dir, lb);
            if (b == 0 || fs.Disk.Read(new BlockNo(b), 0, buf) != Errno.OK) continue;
            foreach (var rec in DirBlock.Parse(buf) ?? [])
                if (rec.Ino != 0 && rec.Name is not ("." or "..") && live.TryGetValue(rec.Ino, out var c) && FileMode.IsDir(c.Mode))
                    names[rec.Ino] = names.GetValueOrDefault(rec.Ino) + 1;
        }
    }

    /// <summary>True if any data block at file index ≥ <paramref name="keep"/> exists.</summary>
    private static bool HasBlocksFrom(FfsFileSystem fs, DiskInode inode, ulong keep)
    {
        for (int s = (int)Math.Min(keep, (ulong)FfsLayout.DirectPointers); s < FfsLayout.DirectPointers; s++)
            if (inode.Ptr[s] != 0) return true;
        ulong[] first = { BlockMap.SingleStart, BlockMap.DoubleStart, BlockMap.TripleStart };
        for (int level = 1; level <= 3; level++)
        {
            ulong p = inode.Ptr[FfsLayout.DirectPointers + level - 1];
            if (p != 0 && AnyFrom(fs.Disk, p, level, first[level - 1], keep)) return true;
        }
        return false;
    }

    private static bool AnyFrom(IFfsDisk disk, ulong block, int level, ulong first, ulong keep)
    {
        ulong span = 1;
        for (int i = 0; i < level; i++) span *= FfsLayout.PointersPerBlock;
        if (first + span <= keep) return false;
        if (level == 0) return true;
        var buf = new byte[FfsLayout.BlockSize];
        if (disk.Read(new BlockNo(block), 0, buf) != Errno.OK) return false;
        ulong sub = span / FfsLayout.PointersPerBlock;
        for (int i = 0; i < FfsLayout.PointersPerBlock; i++)
        {
            ulong p = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(i * 8));
            if (p != 0 && AnyFrom(disk, p, level - 1, first + (ulong)i * sub, keep)) return true;
        }
        return false;
    }

    private static ulong CountTree(IFfsDisk disk, DiskInode inode)
    {
        ulong n = 0;
        for (int s = 0; s < 16; s++)
            if (inode.Ptr[s] != 0)
                n += ClaimTree(disk, inode.Ptr[s], s < FfsLayout.DirectPointers || s == DiskInode.XattrSlot ? 0 : s - FfsLayout.DirectPointers + 1, 0, (_, _, _) => { });
        return n;
    }

    private static void ReleaseClaims(Dictionary<ulong, ulong> owner, ulong ino)
    {
        foreach (var b in owner.Where(kv => kv.Value == ino).Select(kv => kv.Key).ToList()) owner.Remove(b);
    }

    /// <summary>Bits set in <paramref name="have"/> only (extra), and set in <paramref name="want"/> only (missing).</summary>
    private static (int Extra, int Missing) Differences(byte[] have, byte[] want, int bits)
    {
        int extra = 0, missing = 0;
        for (int i = 0; i < bits; i++)
        {
            int bit = 1 << (i & 7);
            bool h = (have[i >> 3] & bit) != 0, w = (want[i >> 3] & bit) != 0;
            if (h && !w) extra++;
            else if (w && !h) missing++;
        }
        return (extra, missing);
    }

    private static ulong ClaimTree(IFfsDisk disk, ulong block, int level, ulong ino, Action<ulong, ulong, string> claim)
    {
        claim(block, ino, $"inode {ino}");
        if (level == 0 || block >= disk.DeviceBlocks) return 1;
        var buf = new byte[FfsLayout.BlockSize];
        if (disk.Read(new BlockNo(block), 0, buf) != Errno.OK) return 1;
        ulong n = 1;
        for (int i = 0; i < FfsLayout.PointersPerBlock; i++)
        {
            ulong p = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(i * 8));
            if (p != 0) n += ClaimTree(disk, p, level - 1, ino, claim);
        }
        return n;
    }
}
