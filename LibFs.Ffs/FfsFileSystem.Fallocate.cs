using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

// fallocate(2) and lseek(2) SEEK_DATA/SEEK_HOLE, with ext4's semantics on FFS's 4 KiB blocks. FFS has no
// unwritten extents: a preallocated block is an ordinary block that XN zero-filled when it was allocated, so it
// reads as zeros, counts in st_blocks and is data to SEEK_DATA (as on tmpfs; ext4 would call it a hole).
// - Mode 0, KEEP_SIZE and ZERO_RANGE allocate every block the range touches. ENOSPC is answered before anything
//   changes when the blocks the range lacks exceed the free space; indirect blocks can still run out midway,
//   and then the blocks allocated so far stay (as on ext4) and the size does not change.
// - Blocks past the end of file from KEEP_SIZE set DiskInode.FlagBlocksPastEof, so fsck does not take them for
//   a crash's leftovers; a truncate to at most the size frees them (ext4 does the same).
// - PUNCH_HOLE frees the whole blocks of the range through XN's Free (the path truncate uses) and zeroes the
//   partial ones; at or past the end of file it does nothing, and its range ends at the block holding the last
//   byte (ext4's rule), so blocks preallocated further out survive it.
// - COLLAPSE_RANGE and INSERT_RANGE move block pointers with XN's Move where both pointers share a block, and copy
//   the block where they do not (BlockMap.MoveBlock says why: no crash may leave a block named twice).
// - Mode 0 and KEEP_SIZE change ctime, and mtime only when the size grows; the other modes change both.
public sealed partial class FfsFileSystem
{
    private const ulong Bs = FfsLayout.BlockSize;

    public Errno Fallocate(InodeNo ino, FileHandle fh, FallocateMode mode, long offset, long length)
    {
        var bad = FallocateRules.Check(mode, offset, length);
        if (bad != Errno.OK) return bad;
        lock (_lock)
        {
            _readAhead.Forget(ino.Value); // blocks come, go or move
            CheckOpen();
            bad = CheckHandle(ino.Value, fh, OpenFlags.ReadOnly);
            if (bad != Errno.OK) return bad;
            ulong off = (ulong)offset, len = (ulong)length, end = off + len;
            if (end > MaxFileSize) return Errno.EFBIG;
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            ulong size = i.Size;
            Errno err;
            if (mode is FallocateMode.CollapseRange or FallocateMode.InsertRange)
            {
                bad = FallocateRules.CheckShift(mode, off, len, size, Bs, MaxFileSize);
                if (bad != Errno.OK) return bad;
                if (mode == FallocateMode.CollapseRange)
                {
                    err = Collapse(ino.Value, i, off / Bs, len / Bs);
                    if (err == Errno.OK) i.Size = size - len;
                }
                else
                {
                    err = Insert(ino.Value, i, off / Bs, len / Bs);
                    if (err == Errno.OK) i.Size = size + len;
                }
                if (err == Errno.OK) Touch(i, Timespec.Now());
                return Finish(ino.Value, i, err);
            }
            if (mode.HasFlag(FallocateMode.PunchHole))
            {
                if (off >= size) return Errno.OK;
                err = ZeroBytes(ino.Value, i, off, Math.Min(end, (size + Bs - 1) / Bs * Bs), punch: true);
                Touch(i, Timespec.Now());
                return Finish(ino.Value, i, err);
            }
            if (end > size && DropPastEof(ino.Value, i) is var dropped && dropped != Errno.OK) return Finish(ino.Value, i, dropped);
            ulong first = off / Bs, last = (end - 1) / Bs;
            if (CountHoles(i, first, last + 1) > _alloc.AvailableBlocks(BlocksAwaitingFree)) return Errno.ENOSPC;
            bool keep = mode.HasFlag(FallocateMode.KeepSize), zero = mode.HasFlag(FallocateMode.ZeroRange);
            if (keep && last >= (size + Bs - 1) / Bs) i.Flags |= DiskInode.FlagBlocksPastEof;
            err = zero ? ZeroBytes(ino.Value, i, off, end, punch: false) : Errno.OK;
            if (err == Errno.OK) err = Preallocate(ino.Value, i, first, last + 1);
            var now = Timespec.Now();
            bool grew = err == Errno.OK && !keep && end > size;
            if (grew) i.Size = end;
            Touch(i, now, mtime: grew || zero);
            return Finish(ino.Value, i, err);
        }
    }

    /// <summary>Writes the inode back (its pointers and block count may have changed even when <paramref name="err"/> is set). Lock held.</summary>
    private Errno Finish(ulong ino, DiskInode i, Errno err)
    {
        var perr = _inodes.Put(ino, i);
        return err != Errno.OK ? err : perr;
    }

    /// <summary>How many of file blocks [<paramref name="from"/>, <paramref name="to"/>) are holes.</summary>
    private ulong CountHoles(DiskInode i, ulong from, ulong to)
    {
        ulong holes = 0;
        while (from < to)
        {
            ulong hole = _map.Next(i, from, to, mapped: false);
            if (hole >= to) break;
            ulong data = _map.Next(i, hole, to, mapped: true);
            holes += data - hole;
            from = data;
        }
        return holes;
    }

    /// <summary>Allocates the holes among file blocks [<paramref name="from"/>, <paramref name="to"/>), each zero-filled by XN. Lock held.</summary>
    private Errno Preallocate(ulong ino, DiskInode i, ulong from, ulong to)
    {
        int sinceSync = 0;
        while (from < to)
        {
            ulong n = _map.Next(i, from, to, mapped: false);
            if (n >= to) break;
            ulong prev = n > 0 ? _map.Lookup(i, n - 1) : 0;
            var b = _map.Ensure(ino, i, n, prev != 0 ? new BlockNo(prev + 1) : _alloc.DataGoal(ino));
            if (!b.Ok) return b.Error;
            from = n + 1;
            if (++sinceSync == DirtyBudget)
            {
                // A large preallocation writes back as it goes, as a large write does; the inode first, so
                // what reaches the disk counts its blocks.
                var perr = _inodes.Put(ino, i);
                if (perr != Errno.OK) return perr;
                Dirtied(sinceSync);
                sinceSync = 0;
            }
        }
        Dirtied(sinceSync);
        return Errno.OK;
    }

    /// <summary>
    /// Makes bytes [<paramref name="from"/>, <paramref name="to"/>) read as zeros: the blocks inside the range are
    /// freed (<paramref name="punch"/>) or overwritten with zeros, the partial blocks at its edges zeroed in place.
    /// Holes stay holes. Lock held.
    /// </summary>
    private Errno ZeroBytes(ulong ino, DiskInode i, ulong from, ulong to, bool punch)
    {
        if (from >= to) return Errno.OK;
        ulong firstWhole = (from + Bs - 1) / Bs, endWhole = to / Bs;
        Errno err;
        if (firstWhole >= endWhole)
        {
            // No whole block: the range lies in one block, or straddles the boundary of two.
            ulong mid = Math.Min(to, (from / Bs + 1) * Bs);
            err = ZeroWithin(i, from, mid);
            return err == Errno.OK ? ZeroWithin(i, mid, to) : err;
        }
        err = ZeroWithin(i, from, firstWhole * Bs);
        if (err == Errno.OK) err = ZeroWithin(i, endWhole * Bs, to);
        if (err != Errno.OK) return err;
        if (punch) return _map.FreeRange(ino, i, firstWhole, endWhole);
        var zeros = new byte[Bs];
        int dirtied = 0;
        for (ulong n = _map.Next(i, firstWhole, endWhole, mapped: true); n < endWhole; n = _map.Next(i, n + 1, endWhole, mapped: true))
        {
            err = _disk.WriteRaw(new BlockNo(_map.Lookup(i, n)), 0, zeros);
            if (err != Errno.OK) return err;
            if (++dirtied == DirtyBudget)
            {
                // Zeroing a large range writes back as it goes, as a large write does.
                Dirtied(dirtied);
                dirtied = 0;
            }
        }
        Dirtied(dirtied);
        return Errno.OK;
    }

    /// <summary>Zeroes bytes [<paramref name="from"/>, <paramref name="to"/>) of one block, if it is mapped.</summary>
    private Errno ZeroWithin(DiskInode i, ulong from, ulong to)
    {
        if (from >= to) return Errno.OK;
        ulong b = _map.Lookup(i, from / Bs);
        if (b == 0) return Errno.OK;
        return _disk.WriteRaw(new BlockNo(b), (int)(from % Bs), new byte[to - from]);
    }

    /// <summary>
    /// Removes file blocks [<paramref name="first"/>, first + <paramref name="count"/>) and moves every block after
    /// them down by <paramref name="count"/>, lowest first so each lands in a slot already emptied. Lock held.
    /// </summary>
    private Errno Collapse(ulong ino, DiskInode i, ulong first, ulong count)
    {
        ulong end = first + count;
        var err = _map.FreeRange(ino, i, first, end);
        if (err != Errno.OK) return err;
        ulong highest = 0;
        bool moved = false;
        for (ulong n = _map.Next(i, end, ulong.MaxValue, mapped: true); n < BlockMap.MaxFileBlocks; n = _map.Next(i, n + 1, ulong.MaxValue, mapped: true))
        {
            err = _map.MoveBlock(ino, i, n, n - count);
            if (err != Errno.OK) return err;
            highest = n;
            moved = true;
        }
        // Every block from highest - count + 1 on is gone now: drop the indirect blocks left owning nothing.
        return _map.FreeRange(ino, i, moved ? highest - count + 1 : first, BlockMap.MaxFileBlocks);
    }

    /// <summary>
    /// Moves every block from file block <paramref name="first"/> on up by <paramref name="count"/>, highest first,
    /// leaving a hole of <paramref name="count"/> blocks (EFBIG if a block would pass the largest file). Lock held.
    /// </summary>
    private Errno Insert(ulong ino, DiskInode i, ulong first, ulong count)
    {
        var mapped = new List<ulong>();
        for (ulong n = _map.Next(i, first, ulong.MaxValue, mapped: true); n < BlockMap.MaxFileBlocks; n = _map.Next(i, n + 1, ulong.MaxValue, mapped: true))
            mapped.Add(n);
        if (mapped.Count > 0 && mapped[^1] + count >= BlockMap.MaxFileBlocks) return Errno.EFBIG;
        for (int k = mapped.Count - 1; k >= 0; k--)
        {
            var err = _map.MoveBlock(ino, i, mapped[k], mapped[k] + count);
            if (err != Errno.OK) return err;
        }
        // The inserted range is empty now; indirect blocks there that own nothing go.
        return _map.FreeRange(ino, i, first, first + count);
    }

    public Result<long> Lseek(InodeNo ino, FileHandle fh, long offset, SeekWhence whence)
    {
        if (whence is not (SeekWhence.Data or SeekWhence.Hole)) return Errno.EINVAL;
        lock (_lock)
        {
            CheckOpen();
            var bad = CheckHandle(ino.Value, fh, null);
            if (bad != Errno.OK) return bad;
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if (offset < 0 || (ulong)offset >= i.Size) return Errno.ENXIO;
            ulong eofBlock = (i.Size + Bs - 1) / Bs;
            ulong n = _map.Next(i, (ulong)offset / Bs, eofBlock, mapped: whence == SeekWhence.Data);
            // No data from here to the end of file; the end of file is always a hole.
            if (n >= eofBlock) return whence == SeekWhence.Data ? Errno.ENXIO : (long)i.Size;
            return Math.Max(offset, (long)(n * Bs));
        }
    }
}
