using ExoFS.Xn;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>What roll-forward applied and where the log continues.</summary>
internal readonly record struct RollForwardResult(int Partials, int Units, int HeadSlot, uint HeadOffset, ulong NextSeq, string? Stopped = null);

/// <summary>
/// Roll-forward: from the checkpoint's head, reads the partial segments written after it, in sequence order,
/// following the next-segment link each full segment's last summary carries. A partial counts only if its
/// summary is valid (magic, checksum, the expected sequence number, slot and offset) and the blocks it
/// describes match the summary's data checksum, and, on XN segments, the head's claim of it (if XN holds one) types
/// what the summary says (else the log ends there: XN would hold a node, inode or imap block of it as xn.data, or
/// file contents as metadata, and <see cref="RollForwardResult.Stopped"/> says so); a write unit is applied only when its last partial counts,
/// so a unit is all-or-nothing. Applying a unit means taking its inode records into the inode map (a
/// tombstone removes the inode): data and tree nodes are reached through those records. Lock held.
/// </summary>
internal static class RollForward
{
    public static Result<RollForwardResult> Run(LfsFileSystem fs)
    {
        var disk = fs.Disk;
        uint segBlocks = disk.Super.SegmentBlocks;
        int slot = fs.Log.HeadSlot;
        uint off = fs.Log.HeadOffset;
        ulong seq = fs.Log.NextSeq;
        var committed = new RollForwardResult(0, 0, slot, off, seq);
        var unit = new List<(ulong Start, Summary Sum)>();
        int partials = 0, units = 0;
        var block = new byte[LfsLayout.BlockSize];
        string? stopped = null;
        (int Slot, IReadOnlyList<ClaimEntry>? List) claims = (-1, null);
        while (slot >= 0 && disk.SegmentStart(slot) != 0 && off + 2 <= segBlocks)
        {
            ulong start = disk.SegmentStart(slot) + off;
            if (disk.ReadUnchecked(start, block) != Errno.OK) break;
            var sum = Summary.ReadFrom(block);
            if (sum is null || sum.Seq != seq || sum.Slot != (uint)slot || sum.Offset != off) break;
            if (off + 1 + (uint)sum.Entries.Count > segBlocks) break;
            uint crc = 0;
            bool readOk = true;
            for (int i = 0; i < sum.Entries.Count; i++)
            {
                if (disk.ReadUnchecked(start + 1 + (ulong)i, block) != Errno.OK) { readOk = false; break; }
                crc = XnCrc32C.Compute(block, crc);
            }
            if (!readOk || crc != sum.DataCrc) break;
            if (claims.Slot != slot) claims = (slot, disk.Claims(slot));
            if (claims.List?.FirstOrDefault(c => c.Start == start) is { Start: not 0 } claim && claim.Disagreement(sum) is { } why)
            {
                stopped = $"the log ends at segment {slot} offset {off}: XN's claim of that partial {why}";
                break;
            }
            unit.Add((start, sum));
            partials++;
            seq++;
            off += 1 + (uint)sum.Entries.Count;
            if (off + 2 > segBlocks)
            {
                if (sum.NextSlot == Summary.NoSlot) { slot = -1; off = disk.FirstOffset; }
                else { slot = (int)sum.NextSlot; off = disk.FirstOffset; }
            }
            if (sum.ContinuesUnit) continue;
            var err = Apply(fs, unit);
            if (err != Errno.OK) return err;
            unit.Clear();
            units++;
            // A full segment's summary names the next one, but a crash can lose that binding (XN keeps it only with
            // every block of the segment that was in flight): the log then goes on in a segment bound anew (-1).
            committed = slot >= 0 && disk.SegmentStart(slot) == 0
                ? new RollForwardResult(partials, units, -1, 0, seq)
                : new RollForwardResult(partials, units, slot < 0 ? committed.HeadSlot : slot, slot < 0 ? segBlocks : off, seq);
        }
        return committed with { Partials = partials, Units = units, Stopped = stopped };
    }

    private static Errno Apply(LfsFileSystem fs, List<(ulong Start, Summary Sum)> unit)
    {
        var block = new byte[LfsLayout.BlockSize];
        foreach (var (start, sum) in unit)
        {
            for (int i = 0; i < sum.Entries.Count; i++)
            {
                if (sum.Entries[i].Kind != LogKind.Inodes) continue;
                ulong addr = start + 1 + (ulong)i;
                var err = fs.Disk.ReadUnchecked(addr, block);
                if (err != Errno.OK) return err;
                foreach (var (s, rec) in InodeRecord.InBlock(block))
                {
                    if (rec.Ino >= fs.Imap.MaxInodes) continue;
                    fs.Imap.Set(rec.Ino, rec.IsTombstone ? 0 : ImapEntry.Make(addr, s), out _);
                    if (rec.Ino >= fs.Imap.NextIno) fs.Imap.NextIno = rec.Ino + 1;
                    fs.BumpGeneration(rec.Generation);
                }
            }
        }
        fs.Imap.Rebuild();
        return Errno.OK;
    }
}
