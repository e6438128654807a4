using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

// fallocate(2) and lseek(2) SEEK_DATA/SEEK_HOLE, with ext4's semantics (LibFs.Ffs/FfsFileSystem.Fallocate.cs is
// the model). In a log, allocating ahead means promising room, not choosing blocks: the log decides where a
// block goes when it is written. So an allocated, unwritten file block is a *reservation*: its pointer is
// LfsLayout.ReservedBlock, it reads as zeros, counts in st_blocks, is data to SEEK_DATA (as on tmpfs and FFS),
// and its space is counted in BlockTree.Reserved, which statfs counts as used (with a margin for the dead blocks
// writing it may strand, see ReservedCharge) and EnsureSpace keeps free for it:
// no other call can take that room, and a write into a reserved block never answers ENOSPC where the
// reservation holds (its block takes the reservation's place). The count is in the checkpoint and recounted
// after roll-forward; fsck checks it.
// - Mode 0, KEEP_SIZE and ZERO_RANGE reserve every hole the range touches; ENOSPC before anything changes when
//   the holes (and the tree nodes they may need) exceed the free space.
// - ZERO_RANGE turns each whole block of the range into a reservation (its log block dies: no zeros are
//   written) and zeroes the partial ones in memory like a write.
// - PUNCH_HOLE unmaps the whole blocks (log blocks die, reservations go back) and zeroes the partial ones; at or
//   past the end of file it does nothing, and it ends at the block holding the last byte (ext4's rule).
// - COLLAPSE_RANGE and INSERT_RANGE move file blocks. A log block's summary names the file block it holds and
//   the cleaner decides liveness from it, so a moved block is rewritten (read, re-dirtied at its new place)
//   rather than re-pointed; a reservation just moves.
// - Every call lands in one write unit (prefix semantics), like a write — except a collapse or insert that
//   re-dirties more than the dirty budget, which is flushed in pieces as a large write is.
// - Reservations are the LFS's own accounting: XN's free segments are shared with other guests, so on a
//   shared disk another libFS can still take the room a reservation counts on.
public sealed partial class LfsFileSystem
{
    private const ulong Bs = LfsLayout.BlockSize;

    public Errno Fallocate(InodeNo ino, FileHandle fh, FallocateMode mode, long offset, long length)
    {
        var bad = FallocateRules.Check(mode, offset, length);
        if (bad != Errno.OK) return bad;
        lock (_lock)
        {
            CheckOpen();
            bad = CheckHandle(ino.Value, fh, OpenFlags.ReadOnly);
            if (bad != Errno.OK) return bad;
            if (_readOnly) return Errno.EROFS;
            ulong off = (ulong)offset, len = (ulong)length, end = off + len;
            if (end > MaxFileSize) return Errno.EFBIG;
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            ulong size = i.Rec.Size;
            Errno err;
            if (mode is FallocateMode.CollapseRange or FallocateMode.InsertRange)
            {
                bad = FallocateRules.CheckShift(mode, off, len, size, Bs, MaxFileSize);
                if (bad != Errno.OK) return bad;
                if (mode == FallocateMode.CollapseRange)
                {
                    err = Collapse(i, off / Bs, len / Bs);
                    if (err == Errno.OK) i.Rec.Size = size - len;
                }
                else
                {
                    err = Insert(i, off / Bs, len / Bs);
                    if (err == Errno.OK) i.Rec.Size = size + len;
                }
                if (err == Errno.OK) Touch(i, Timespec.Now());
                return Finish(i, err);
            }
            if (mode.HasFlag(FallocateMode.PunchHole))
            {
                if (off >= size) return Errno.OK;
                err = ZeroBytes(i, off, Math.Min(end, (size + Bs - 1) / Bs * Bs), punch: true);
                Touch(i, Timespec.Now());
                err = Finish(i, err);
                AfterFreeing();
                return err;
            }
            ulong first = off / Bs, last = (end - 1) / Bs;
            var holes = CountHoles(i, first, last + 1);
            if (!holes.Ok) return holes.Error;
            // The holes become reservations; the tree nodes that map them may be new blocks too.
            ulong need = ReservedCharge(_tree.Reserved + holes.Value) - ReservedCharge(_tree.Reserved)
                + (holes.Value + LfsLayout.PointersPerBlock - 1) / LfsLayout.PointersPerBlock * 2 + 3;
            if (holes.Value > 0 && need > FreeBlocksHonest()) return Errno.ENOSPC;
            bool keep = mode.HasFlag(FallocateMode.KeepSize), zero = mode.HasFlag(FallocateMode.ZeroRange);
            err = zero ? ZeroBytes(i, off, end, punch: false) : Errno.OK;
            if (err == Errno.OK) err = ReserveHoles(i, first, last + 1);
            var now = Timespec.Now();
            bool grew = err == Errno.OK && !keep && end > size;
            if (grew) i.Rec.Size = end;
            Touch(i, now, mtime: grew || zero);
            return Finish(i, err);
        }
    }

    /// <summary>The inode goes to the next unit whatever happened (its map may have changed even when <paramref name="err"/> is set). Lock held.</summary>
    private Errno Finish(LfsInode i, Errno err)
    {
        MarkDirty(i);
        AfterChange();
        return err;
    }

    /// <summary>Whether file block <paramref name="fb"/> is a hole: not dirty, and its pointer is clear. Lock held.</summary>
    private Result<bool> IsHole(LfsInode i, ulong fb)
    {
        if (i.DirtyData.ContainsKey(fb)) return false;
        var a = _tree.Lookup(i, fb);
        if (!a.Ok) return a.Error;
        return a.Value == 0;
    }

    /// <summary>The first file block in [<paramref name="from"/>, <paramref name="to"/>) holding data (dirty, written or reserved), or <paramref name="to"/>. Lock held.</summary>
    private Result<ulong> NextData(LfsInode i, ulong from, ulong to)
    {
        var t = _tree.Next(i, from, to, mapped: true);
        if (!t.Ok) return t.Error;
        ulong best = t.Value;
        foreach (ulong fb in i.DirtyData.Keys)
        {
            if (fb < from) continue;
            if (fb < best) best = fb;
            break;
        }
        return best;
    }

    /// <summary>The first hole in [<paramref name="from"/>, <paramref name="to"/>), or <paramref name="to"/>. Lock held.</summary>
    private Result<ulong> NextHole(LfsInode i, ulong from, ulong to)
    {
        while (from < to)
        {
            var t = _tree.Next(i, from, to, mapped: false);
            if (!t.Ok) return t.Error;
            if (t.Value >= to || !i.DirtyData.ContainsKey(t.Value)) return t.Value;
            from = t.Value + 1;
        }
        return to;
    }

    /// <summary>How many of file blocks [<paramref name="from"/>, <paramref name="to"/>) are holes. Lock held.</summary>
    private Result<ulong> CountHoles(LfsInode i, ulong from, ulong to)
    {
        ulong holes = 0;
        while (from < to)
        {
            var hole = NextHole(i, from, to);
            if (!hole.Ok) return hole.Error;
            if (hole.Value >= to) break;
            var data = NextData(i, hole.Value, to);
            if (!data.Ok) return data.Error;
            holes += data.Value - hole.Value;
            from = data.Value;
        }
        return holes;
    }

    /// <summary>Makes hole <paramref name="fb"/> a reservation (st_blocks counts it). Lock held.</summary>
    private Errno Reserve(LfsInode i, ulong fb)
    {
        var old = _tree.Set(i, fb, LfsLayout.ReservedBlock);
        if (!old.Ok) return old.Error;
        i.Rec.Blocks++;
        return Errno.OK;
    }

    /// <summary>Reserves every hole among file blocks [<paramref name="from"/>, <paramref name="to"/>). Lock held.</summary>
    private Errno ReserveHoles(LfsInode i, ulong from, ulong to)
    {
        while (from < to)
        {
            var hole = NextHole(i, from, to);
            if (!hole.Ok) return hole.Error;
            if (hole.Value >= to) break;
            var err = Reserve(i, hole.Value);
            if (err != Errno.OK) return err;
            from = hole.Value + 1;
        }
        return Errno.OK;
    }

    /// <summary>
    /// Makes file block <paramref name="fb"/> a hole: dirty content is dropped, a log block dies, a reservation
    /// goes back; st_blocks follows. Lock held.
    /// </summary>
    private Errno Unmap(LfsInode i, ulong fb)
    {
        var a = _tree.Lookup(i, fb);
        if (!a.Ok) return a.Error;
        if (i.DirtyData.Remove(fb))
        {
            _dirtyBlocks--;
            if (a.Value == 0) i.Rec.Blocks--; // counted when it was dirtied; the map never named it
        }
        if (a.Value == 0) return Errno.OK;
        var old = _tree.Set(i, fb, 0);
        if (!old.Ok) return old.Error;
        if (old.Value != LfsLayout.ReservedBlock) _usage.Kill(old.Value);
        i.Rec.Blocks--;
        return Errno.OK;
    }

    /// <summary>
    /// Makes bytes [<paramref name="from"/>, <paramref name="to"/>) read as zeros: the whole blocks inside the
    /// range become holes (<paramref name="punch"/>) or reservations, the partial blocks at its edges are zeroed
    /// like a write (a hole or reservation there needs nothing, or is reserved when not punching). Lock held.
    /// </summary>
    private Errno ZeroBytes(LfsInode i, ulong from, ulong to, bool punch)
    {
        if (from >= to) return Errno.OK;
        ulong firstWhole = (from + Bs - 1) / Bs, endWhole = to / Bs;
        Errno err;
        if (firstWhole >= endWhole)
        {
            // No whole block: the range lies in one block, or straddles the boundary of two.
            ulong mid = Math.Min(to, (from / Bs + 1) * Bs);
            err = ZeroWithin(i, from, mid, punch);
            return err == Errno.OK ? ZeroWithin(i, mid, to, punch) : err;
        }
        err = ZeroWithin(i, from, firstWhole * Bs, punch);
        if (err == Errno.OK) err = ZeroWithin(i, endWhole * Bs, to, punch);
        if (err != Errno.OK) return err;
        for (ulong fb = firstWhole; fb < endWhole; )
        {
            var d = NextData(i, fb, endWhole);
            if (!d.Ok) return d.Error;
            if (d.Value >= endWhole) break;
            var a = _tree.Lookup(i, d.Value);
            if (!a.Ok) return a.Error;
            if (punch || a.Value != LfsLayout.ReservedBlock)
            {
                err = Unmap(i, d.Value);
                if (err == Errno.OK && !punch) err = Reserve(i, d.Value);
                if (err != Errno.OK) return err;
            }
            fb = d.Value + 1;
        }
        return Errno.OK;
    }

    /// <summary>Zeroes bytes [<paramref name="from"/>, <paramref name="to"/>) of one file block. Lock held.</summary>
    private Errno ZeroWithin(LfsInode i, ulong from, ulong to, bool punch)
    {
        if (from >= to) return Errno.OK;
        ulong fb = from / Bs;
        bool dirty = i.DirtyData.ContainsKey(fb);
        var a = _tree.Lookup(i, fb);
        if (!a.Ok) return a.Error;
        if (!dirty && a.Value == LfsLayout.ReservedBlock) return Errno.OK; // reads as zeros already
        if (!dirty && a.Value == 0) return punch ? Errno.OK : Reserve(i, fb);
        if (!dirty)
        {
            var space = EnsureSpace(2, uncounted: 0); // an overwrite: its block replaces a live one
            if (space != Errno.OK) return space;
        }
        var blk = new byte[Bs];
        var err = ReadBlock(i, fb, blk);
        if (err != Errno.OK) return err;
        blk.AsSpan((int)(from % Bs), (int)(to - from)).Clear();
        PutBlock(i, fb, blk);
        return Errno.OK;
    }

    /// <summary>
    /// Moves file block <paramref name="from"/> to hole <paramref name="to"/>: a reservation moves as it is; content
    /// is re-dirtied at the new place (its old log block dies), flushing when the dirty budget is spent. Lock held.
    /// </summary>
    private Errno MoveBlock(LfsInode i, ulong from, ulong to)
    {
        bool dirty = i.DirtyData.TryGetValue(from, out var data);
        var a = _tree.Lookup(i, from);
        if (!a.Ok) return a.Error;
        if (!dirty && a.Value == LfsLayout.ReservedBlock)
        {
            var e = Unmap(i, from);
            return e == Errno.OK ? Reserve(i, to) : e;
        }
        Errno err;
        if (!dirty)
        {
            if ((err = EnsureSpace(2, uncounted: 0)) != Errno.OK) return err;
            data = new byte[Bs];
            if ((err = ReadPointer(a.Value, data)) != Errno.OK) return err;
        }
        if ((err = Unmap(i, from)) != Errno.OK) return err;
        PutBlock(i, to, data!);
        if (_dirtyBlocks >= DirtyBudget) return Flush(withImap: false);
        return Errno.OK;
    }

    /// <summary>
    /// Removes file blocks [<paramref name="first"/>, first + <paramref name="count"/>) and moves every block after
    /// them down by <paramref name="count"/>, lowest first so each lands in a slot already emptied. Lock held.
    /// </summary>
    private Errno Collapse(LfsInode i, ulong first, ulong count)
    {
        ulong end = first + count;
        Errno err;
        for (var d = NextData(i, first, end); ; d = NextData(i, d.Value + 1, end))
        {
            if (!d.Ok) return d.Error;
            if (d.Value >= end) break;
            if ((err = Unmap(i, d.Value)) != Errno.OK) return err;
        }
        ulong top = first;
        for (var d = NextData(i, end, LfsLayout.MaxFileBlocks); ; d = NextData(i, d.Value + 1, LfsLayout.MaxFileBlocks))
        {
            if (!d.Ok) return d.Error;
            if (d.Value >= LfsLayout.MaxFileBlocks) break;
            if ((err = MoveBlock(i, d.Value, d.Value - count)) != Errno.OK) return err;
            top = d.Value - count + 1;
        }
        // Everything from top on is a hole now: drop the tree nodes left mapping nothing.
        var t = _tree.Truncate(i, top);
        return t.Ok ? Errno.OK : t.Error;
    }

    /// <summary>
    /// Moves every block from file block <paramref name="first"/> on up by <paramref name="count"/>, highest first,
    /// leaving a hole of <paramref name="count"/> blocks (EFBIG if a block would pass the largest file). Lock held.
    /// </summary>
    private Errno Insert(LfsInode i, ulong first, ulong count)
    {
        var mapped = new List<ulong>();
        for (var d = NextData(i, first, LfsLayout.MaxFileBlocks); ; d = NextData(i, d.Value + 1, LfsLayout.MaxFileBlocks))
        {
            if (!d.Ok) return d.Error;
            if (d.Value >= LfsLayout.MaxFileBlocks) break;
            mapped.Add(d.Value);
        }
        if (mapped.Count > 0 && mapped[^1] + count >= LfsLayout.MaxFileBlocks) return Errno.EFBIG;
        for (int k = mapped.Count - 1; k >= 0; k--)
        {
            var err = MoveBlock(i, mapped[k], mapped[k] + count);
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }

    public Result<long> Lseek(InodeNo ino, FileHandle fh, long offset, SeekWhence whence)
    {
        if (whence is not (SeekWhence.Data or SeekWhence.Hole)) return Errno.EINVAL;
        lock (_lock)
        {
            CheckOpen();
            var bad = CheckHandle(ino.Value, fh, null);
            if (bad != Errno.OK) return bad;
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if (offset < 0 || (ulong)offset >= i.Rec.Size) return Errno.ENXIO;
            ulong eofBlock = (i.Rec.Size + Bs - 1) / Bs;
            var n = whence == SeekWhence.Data ? NextData(i, (ulong)offset / Bs, eofBlock) : NextHole(i, (ulong)offset / Bs, eofBlock);
            if (!n.Ok) return n.Error;
            // No data from here to the end of file; the end of file is always a hole.
            if (n.Value >= eofBlock) return whence == SeekWhence.Data ? Errno.ENXIO : (long)i.Rec.Size;
            return Math.Max(offset, (long)(n.Value * Bs));
        }
    }
}
