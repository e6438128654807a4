using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>What the LFS checker found: one line per problem.</summary>
public sealed record LfsFsckReport(IReadOnlyList<string> Problems, int Inodes, ulong LiveBlocks, int Segments)
{
    public bool Clean => Problems.Count == 0;
}

/// <summary>
/// The LFS checker. After a checkpoint (so the disk says what memory says) it checks: the newest checkpoint
/// region is valid and names what is in memory; the inode map reaches only valid records of the right inode;
/// every inode's blocks (data, tree nodes, xattr) lie in bound segments and no block is claimed twice; the
/// segment usage table matches a recount; directory entries name live inodes, link counts match the names,
/// every directory's ".." is its parent; every live log block matches the CRC-32C its summary recorded; each XN
/// segment head's claims type what their partials' summaries say. Lock taken.
/// </summary>
public static class LfsFsck
{
    public static LfsFsckReport Check(LfsFileSystem fs)
    {
        lock (fs.Lock)
        {
            var problems = new List<string>(fs.CheckDirtyCounts());
            var err = fs.WriteCheckpoint(clean: false);
            if (err != Errno.OK) problems.Add($"checkpoint before check failed: {err}");
            return Run(fs, problems);
        }
    }

    internal static LfsFsckReport Run(LfsFileSystem fs, List<string> problems)
    {
        var disk = fs.Disk;
        // Checkpoint regions: the newest valid one must be the one memory wrote last.
        var buf = new byte[(int)disk.Super.CheckpointBlocks * LfsLayout.BlockSize];
        ulong newest = 0;
        for (int r = 0; r < 2; r++)
            if (disk.ReadCheckpoint(r, buf) == Errno.OK && CheckpointRecord.ReadFrom(buf) is { } cp) newest = Math.Max(newest, cp.Seq);
        if (newest != fs.CheckpointSeq) problems.Add($"newest valid checkpoint is {newest}, the file system wrote {fs.CheckpointSeq}");

        var owner = new Dictionary<ulong, string>();
        var counts = new Dictionary<int, uint>(); // live fragments per slot
        var fragments = new Dictionary<ulong, int>(); // packed blocks: the fragments claimed so far, as a bit mask
        const string PackedOwner = "packed small files";
        void Claim(ulong ptr, string what)
        {
            ulong addr = LfsLayout.BlockOf(ptr);
            int slot = fs.Usage.SlotOf(addr);
            if (slot < 0) { problems.Add($"{what}: block {addr} is in no bound segment"); return; }
            if (LfsLayout.IsPacked(ptr))
            {
                int first = LfsLayout.PackedFirst(ptr), n = LfsLayout.PackedFragments(ptr);
                if (first + n > LfsLayout.FragmentsPerBlock) { problems.Add($"{what}: fragments {first}+{n} run past block {addr}"); return; }
                int mask = ((1 << n) - 1) << first;
                if (!owner.TryAdd(addr, PackedOwner) && owner[addr] != PackedOwner) { problems.Add($"{what}: block {addr} already belongs to {owner[addr]}"); return; }
                int had = fragments.GetValueOrDefault(addr);
                if ((had & mask) != 0) { problems.Add($"{what}: fragments of block {addr} already belong to another file"); return; }
                fragments[addr] = had | mask;
                counts[slot] = counts.GetValueOrDefault(slot) + (uint)n;
                return;
            }
            if (!owner.TryAdd(addr, what)) { problems.Add($"{what}: block {addr} already belongs to {owner[addr]}"); return; }
            counts[slot] = counts.GetValueOrDefault(slot) + LfsLayout.FragmentsPerBlock;
        }
        for (int b = 0; b < fs.Imap.UsedBlocks; b++)
            if (fs.Imap.BlockAddrs[b] != 0) Claim(fs.Imap.BlockAddrs[b], $"imap block {b}");
        foreach (ulong b in fs.Imap.LiveInodeBlocks)
        {
            int slot = fs.Usage.SlotOf(b);
            if (slot < 0) { problems.Add($"inode block {b} is in no bound segment"); continue; }
            if (!owner.TryAdd(b, "inode block")) { problems.Add($"inode block {b} already belongs to {owner[b]}"); continue; }
            counts[slot] = counts.GetValueOrDefault(slot) + LfsLayout.FragmentsPerBlock;
        }

        var inodes = new Dictionary<ulong, LfsInode>();
        ulong reserved = 0;
        foreach (ulong ino in fs.Imap.LiveInodes().ToList())
        {
            ulong e = fs.Imap.Get(ino);
            var rec = fs.ReadRecord(ImapEntry.Block(e), ImapEntry.Slot(e));
            if (!rec.Ok || rec.Value is not { } r || r.Ino != ino || r.IsTombstone) { problems.Add($"inode {ino}: the map names a bad record"); continue; }
            var i = fs.GetInode(ino);
            if (!i.Ok) { problems.Add($"inode {ino}: {i.Error}"); continue; }
            inodes[ino] = i.Value;
            ulong data = 0;
            var werr = fs.Tree.Walk(i.Value, (kind, index, addr) =>
            {
                if (kind == LogKind.Data) data++;
                Claim(addr, $"inode {ino} {(kind == LogKind.Data ? "block" : "node")} {index:x}");
            }, _ => { data++; reserved++; });
            if (werr != Errno.OK) problems.Add($"inode {ino}: its block map cannot be read ({werr})");
            if (i.Value.Rec.Xattr != 0) Claim(i.Value.Rec.Xattr, $"inode {ino} xattrs");
            if (data != i.Value.Rec.Blocks) problems.Add($"inode {ino}: {data} blocks mapped, the inode says {i.Value.Rec.Blocks}");
            if (i.Value.Rec.Nlink == 0 && i.Value.Lookups == 0 && i.Value.Opens == 0) problems.Add($"inode {ino}: no links and no references, not freed");
        }
        if (reserved != fs.Tree.Reserved) problems.Add($"fallocate reservations: {reserved} reserved pointers, the count says {fs.Tree.Reserved}");
        foreach (int s in fs.Usage.AllocatedSlots)
            if (fs.Usage.LiveFragments(s) != counts.GetValueOrDefault(s))
                problems.Add($"segment {s}: usage says {fs.Usage.LiveFragments(s)} live fragments, {counts.GetValueOrDefault(s)} found");
        if (fs.Usage.Anomaly is { } a) problems.Add($"segment usage: {a}");

        // Every live log block against the CRC-32C its summary recorded (damage, a stale copy, a lost write).
        if (disk is Log.CheckedLfsDisk checkedDisk)
        {
            var block = new byte[LfsLayout.BlockSize];
            foreach (var (addr, what) in owner.OrderBy(o => o.Key))
            {
                if (disk.ReadUnchecked(addr, block) != Errno.OK) { problems.Add($"{what}: block {addr} cannot be read"); continue; }
                if (checkedDisk.Check(addr, block) is { } bad) problems.Add($"{what}: {bad}");
            }
            // Tree-node, inode and inode-map blocks no longer live are still the LFS's metadata to XN (lfs.nodes,
            // lfs.inodes, lfs.imap, claimed until their segment is cleaned): scrub those too, from each segment's summaries.
            foreach (int slot in fs.Usage.AllocatedSlots.ToList())
            {
                ulong start = disk.SegmentStart(slot);
                uint segBlocks = disk.Super.SegmentBlocks;
                uint end = slot == fs.Log.HeadSlot ? fs.Log.HeadOffset : fs.CleanerHeadSlot == slot ? fs.CleanerHeadOffset : segBlocks;
                for (uint off = disk.FirstOffset; off + 2 <= segBlocks && off < end;)
                {
                    if (disk.ReadUnchecked(start + off, block) != Errno.OK || Summary.ReadFrom(block) is not { } sum
                        || sum.Slot != (uint)slot || sum.Offset != off || off + 1 + (uint)sum.Entries.Count > segBlocks) break;
                    for (int k = 0; k < sum.Entries.Count; k++)
                    {
                        ulong addr = start + off + 1 + (ulong)k;
                        if (sum.Entries[k].Kind is not (LogKind.Node or LogKind.Inodes or LogKind.Imap) || owner.ContainsKey(addr)) continue;
                        if (disk.ReadUnchecked(addr, block) != Errno.OK) { problems.Add($"dead {sum.Entries[k].Kind} block {addr}: cannot be read"); continue; }
                        if (checkedDisk.Check(addr, block) is { } bad) problems.Add($"dead {sum.Entries[k].Kind} block (still in segment {slot}): {bad}");
                    }
                    off += 1 + (uint)sum.Entries.Count;
                }
            }
        }

        // What XN types in each segment (the head's claim entries) against what each partial's summary says: a
        // node, inode or imap block XN holds as xn.data, or a data block it holds as metadata, is a finding.
        var sumBlock = new byte[LfsLayout.BlockSize];
        foreach (int slot in fs.Usage.AllocatedSlots.ToList())
        {
            if (disk.Claims(slot) is not { } claims) continue;
            ulong start = disk.SegmentStart(slot);
            for (int e = 0; e < claims.Count; e++)
            {
                var c = claims[e];
                string what = $"segment {slot} claim {e} (blocks {c.Start}+{c.Count})";
                if (c.Start < start + disk.FirstOffset || c.Start + c.Count > start + disk.Super.SegmentBlocks)
                    { problems.Add($"{what}: outside its segment"); continue; }
                if (disk.ReadUnchecked(c.Start, sumBlock) != Errno.OK || Summary.ReadFrom(sumBlock) is not { } sum
                    || sum.Slot != (uint)slot || sum.Offset != c.Start - start)
                    { problems.Add($"{what}: no valid summary opens it"); continue; }
                if (c.Disagreement(sum) is { } why) problems.Add($"{what}: {why}");
            }
        }

        // Names: every entry names a live inode; link counts match; ".." is the parent.
        var links = new Dictionary<ulong, uint>();
        if (!inodes.ContainsKey(LfsLayout.RootIno)) problems.Add("root inode missing");
        foreach (var (ino, i) in inodes)
        {
            if (!FileMode.IsDir(i.Rec.Mode)) continue;
            var d = fs.Dir(i);
            if (!d.Ok) { problems.Add($"directory {ino}: unreadable ({d.Error})"); continue; }
            links[ino] = links.GetValueOrDefault(ino) + 1; // "."
            if (ino == LfsLayout.RootIno) links[ino]++;
            else if (!inodes.TryGetValue(d.Value.Parent, out var parent) || !FileMode.IsDir(parent.Rec.Mode)) problems.Add($"directory {ino}: '..' names {d.Value.Parent}, not a directory");
            foreach (var e in d.Value.ByName.Values)
            {
                if (!inodes.TryGetValue(e.Ino, out var child)) { problems.Add($"directory {ino}: '{e.Name}' names missing inode {e.Ino}"); continue; }
                if (DirState.TypeOf(child.Rec.Mode) != e.Type) problems.Add($"directory {ino}: '{e.Name}' has the wrong type");
                if (FileMode.IsDir(child.Rec.Mode))
                {
                    links[ino] = links.GetValueOrDefault(ino) + 1; // the child's ".."
                    links[e.Ino] = links.GetValueOrDefault(e.Ino) + 1;
                    var cd = fs.Dir(child);
                    if (cd.Ok && cd.Value.Parent != ino) problems.Add($"directory {e.Ino}: '..' names {cd.Value.Parent}, but it is named in {ino}");
                }
                else links[e.Ino] = links.GetValueOrDefault(e.Ino) + 1;
            }
        }
        foreach (var (ino, i) in inodes)
            if (links.GetValueOrDefault(ino) != i.Rec.Nlink)
                problems.Add($"inode {ino}: link count {i.Rec.Nlink}, {links.GetValueOrDefault(ino)} names");
        return new LfsFsckReport(problems, inodes.Count, (ulong)owner.Count, fs.Usage.AllocatedCount);
    }
}
