using System.Buffers.Binary;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// A file's block map: file block index → disk block through 12 direct pointers and single, double and
/// triple indirect blocks. Every pointer it sets or clears is an XN Alloc or Free on the block holding the
/// pointer (the inode-table block, partition = inode slot; or an indirect block, partition = index / 64),
/// so XN checks each change against the owns-UDFs. Caller must hold the file system lock and write the
/// inode's attributes (Blocks) afterwards; this class updates <see cref="DiskInode.Ptr"/> and Blocks in memory.
/// </summary>
internal sealed class BlockMap
{
    public const ulong P = FfsLayout.PointersPerBlock;
    public const ulong SingleStart = FfsLayout.DirectPointers;
    public const ulong DoubleStart = SingleStart + P;
    public const ulong TripleStart = DoubleStart + P * P;
    /// <summary>File blocks addressable through the map (≈ 512 GiB of 4 KiB blocks).</summary>
    public const ulong MaxFileBlocks = TripleStart + P * P * P;

    /// <summary>Where file block n's pointer chain starts: inode slot, depth (0 = direct) and per-level indices.</summary>
    public readonly record struct Path(int Slot, int Depth, int I0, int I1, int I2)
    {
        public int Index(int level) => level switch { 0 => I0, 1 => I1, _ => I2 };
    }

    /// <summary>Pure arithmetic: the pointer path to file block <paramref name="n"/> (n &lt; MaxFileBlocks).</summary>
    public static Path Resolve(ulong n)
    {
        if (n < SingleStart) return new Path((int)n, 0, 0, 0, 0);
        if (n < DoubleStart) return new Path(DiskInode.Ind1Slot, 1, (int)(n - SingleStart), 0, 0);
        if (n < TripleStart)
        {
            ulong m = n - DoubleStart;
            return new Path(DiskInode.Ind2Slot, 2, (int)(m / P), (int)(m % P), 0);
        }
        if (n >= MaxFileBlocks) throw new ArgumentOutOfRangeException(nameof(n));
        ulong t = n - TripleStart;
        return new Path(DiskInode.Ind3Slot, 3, (int)(t / (P * P)), (int)(t / P % P), (int)(t % P));
    }

    /// <summary>The kind of the block a pointer at <paramref name="level"/> of a depth-<paramref name="depth"/> chain names.</summary>
    public static BlockKind KindAt(int depth, int level, bool directory = false) => (depth - level, directory) switch
    {
        (0, false) => BlockKind.Data, (1, false) => BlockKind.Ind1, (2, false) => BlockKind.Ind2, (_, false) => BlockKind.Ind3,
        (0, true) => BlockKind.Dir, (1, true) => BlockKind.DInd1, (2, true) => BlockKind.DInd2, (_, true) => BlockKind.DInd3,
    };

    /// <summary>
    /// Whether an Alloc into an inode's direct slots carries the size that covers the new blocks (XN's size check
    /// refuses blocks past the size the inode has when the Alloc is checked). Off: the broken variant the tests
    /// show XN refusing (a block allocated past the end of file without the size growing).
    /// </summary>
    internal bool GrowSizeWithBlocks { get; set; } = true;

    /// <summary>
    /// The edits of an Alloc into pointer slots [<paramref name="slot"/>, slot + <paramref name="count"/>) of the
    /// inode at <paramref name="inodeOffset"/> in its table block, beside the pointer edits: the kind (a directory's
    /// blocks are ffs.dir, a file's xn.data; XN lets it change only while the inode owns no such block, i.e. at its
    /// first block), the block count raised by the new blocks and, for direct slots, the size, raised to cover the new blocks (the caller writes the exact
    /// size with the inode afterwards) — or, with blocks kept past the end on purpose, the flag that says so. The
    /// size and flags are raw bytes of the same inode, so the one Alloc is checked with them.
    /// </summary>
    private ExoFS.Xn.Edit[] WithInodeFields(DiskInode inode, int inodeOffset, int slot, int count, ExoFS.Xn.Edit[] pointers)
    {
        if (slot < 0) return pointers;
        // The block count rises in the same update as the pointers: a write-back between this Alloc and the
        // caller's inode write (cache pressure at the end of any XN call) must not put a pointer on disk that
        // the count does not cover (fsck's "block count n, owns more" is damage, not a leak).
        var counted = FieldEdit.U64(inodeOffset + DiskInode.BlocksOffset, inode.Blocks + (ulong)count);
        if (slot >= DiskInode.XattrSlot) return [.. pointers, counted];
        bool sized = slot < FfsLayout.DirectPointers && GrowSizeWithBlocks;
        var edits = new ExoFS.Xn.Edit[pointers.Length + (sized ? 3 : 2)];
        pointers.CopyTo(edits, 0);
        edits[pointers.Length] = FieldEdit.U32(inodeOffset + DiskInode.KindOffset, FileMode.IsDir(inode.Mode) ? DiskInode.KindDirectory : DiskInode.KindFile);
        edits[pointers.Length + 1] = counted;
        if (sized)
            edits[^1] = (inode.Flags & DiskInode.FlagBlocksPastEof) != 0
                ? FieldEdit.U32(inodeOffset + DiskInode.FlagsOffset, inode.Flags)
                : FieldEdit.U64(inodeOffset + DiskInode.SizeOffset, Math.Max(inode.Size, (ulong)(slot + count) * FfsLayout.BlockSize));
        return edits;
    }

    private readonly IFfsDisk _disk;
    private readonly Allocator _alloc;

    /// <summary>Where the block an inode's pointer slot names goes: a double or triple indirect block in the pointer zone (<see cref="Allocator.PointerZone"/>), anything else near the hint.</summary>
    private BlockNo TopHint(int depth, BlockNo hint) => depth >= 2 ? _alloc.PointerZone(hint) : hint;

    public BlockMap(IFfsDisk disk, Allocator alloc)
    {
        _disk = disk;
        _alloc = alloc;
    }

    private ulong ReadPointer(ulong block, int index)
    {
        Span<byte> b = stackalloc byte[8];
        var err = _disk.Read(new BlockNo(block), index * 8, b);
        if (err != Errno.OK) { LookupError = err; return 0; }
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    /// <summary>Why the last <see cref="Lookup"/> returned 0 when it was not a hole (an unreadable or damaged indirect block); OK otherwise.</summary>
    public Errno LookupError { get; private set; }

    /// <summary>The disk block holding file block <paramref name="n"/>, or 0 for a hole (or, with <see cref="LookupError"/> set, an unreadable pointer).</summary>
    public ulong Lookup(DiskInode inode, ulong n)
    {
        LookupError = Errno.OK;
        if (n >= MaxFileBlocks) return 0;
        var path = Resolve(n);
        ulong cur = inode.Ptr[path.Slot];
        for (int level = 0; level < path.Depth && cur != 0; level++)
            cur = ReadPointer(cur, path.Index(level));
        return cur;
    }

    /// <summary>
    /// The disk block of file block <paramref name="n"/>, allocating it (and any missing indirect blocks)
    /// near <paramref name="hint"/> if it is a hole. A new block is zero-filled by XN.
    /// </summary>
    public Result<ulong> Ensure(ulong ino, DiskInode inode, ulong n, BlockNo hint)
    {
        if (n >= MaxFileBlocks) return Errno.EFBIG;
        var path = Resolve(n);
        var (inodeBlock, inodeOffset, partition) = _alloc.Locate(ino);
        ulong cur = inode.Ptr[path.Slot];
        if (cur == 0)
        {
            var r = AllocChild(inodeBlock, partition, inodeOffset + DiskInode.PointerFieldOffset(path.Slot),
                KindAt(path.Depth, 0, FileMode.IsDir(inode.Mode)), TopHint(path.Depth, hint), inode, inodeOffset, path.Slot);
            if (!r.Ok) return r;
            cur = r.Value;
            inode.Ptr[path.Slot] = cur;
            inode.Blocks++;
        }
        for (int level = 0; level < path.Depth; level++)
        {
            int idx = path.Index(level);
            ulong next = ReadPointer(cur, idx);
            if (next == 0)
            {
                // A pointer block goes next to its parent (in the pointer zone below a double or triple indirect
                // block); data blocks near the hint.
                bool pointerBlock = level + 1 < path.Depth;
                var counted = CountAhead(ino, inode, 1);
                if (counted != Errno.OK) return counted;
                var r = AllocChild(new BlockNo(cur), idx / FfsUdfs.PointersPerIndirectPartition, idx * 8,
                    KindAt(path.Depth, level + 1, FileMode.IsDir(inode.Mode)), pointerBlock || hint.Value == 0 ? new BlockNo(cur + 1) : hint);
                if (!r.Ok) return r;
                next = r.Value;
                inode.Blocks++;
            }
            cur = next;
        }
        return cur;
    }

    private readonly byte[] _pointers = new byte[FfsLayout.BlockSize];

    /// <summary>
    /// Where file blocks <paramref name="n"/>, n+1, ... lie: the disk block of n (0 for a hole) and how many of
    /// the next file blocks (at most <paramref name="max"/>, at least 1) continue it, contiguous on disk or all
    /// holes, with their pointers in one block (the inode's direct pointers, or one indirect block).
    /// </summary>
    public (ulong Disk, int Count) LookupRun(DiskInode inode, ulong n, int max)
    {
        LookupError = Errno.OK;
        if (n >= MaxFileBlocks || max < 1) return (0, 1);
        var path = Resolve(n);
        if (path.Depth == 0)
        {
            int limit = Math.Min(max, FfsLayout.DirectPointers - path.Slot);
            ulong d = inode.Ptr[path.Slot];
            int c = 1;
            while (c < limit && inode.Ptr[path.Slot + c] == (d == 0 ? 0 : d + (ulong)c)) c++;
            return (d, c);
        }
        ulong cur = inode.Ptr[path.Slot];
        for (int level = 0; level < path.Depth - 1 && cur != 0; level++)
            cur = ReadPointer(cur, path.Index(level));
        int last = path.Index(path.Depth - 1);
        int room = Math.Min(max, FfsLayout.PointersPerBlock - last);
        if (cur == 0) return LookupError != Errno.OK ? (0UL, 1) : (0UL, room); // the whole pointer block is missing: all holes
        var ptrs = _pointers.AsSpan(0, room * 8);
        var err = _disk.Read(new BlockNo(cur), last * 8, ptrs);
        if (err != Errno.OK) { LookupError = err; return (0, 1); }
        ulong first = BinaryPrimitives.ReadUInt64LittleEndian(ptrs);
        int count = 1;
        while (count < room && BinaryPrimitives.ReadUInt64LittleEndian(ptrs[(count * 8)..]) == (first == 0 ? 0 : first + (ulong)count))
            count++;
        return (first, count);
    }

    /// <summary>
    /// <see cref="LookupRun"/> across pointer blocks: file blocks <paramref name="n"/>.. that lie contiguous on
    /// disk (or are all holes), at most <paramref name="max"/>, however many pointer blocks hold their pointers.
    /// </summary>
    public (ulong Disk, int Count) LookupExtent(DiskInode inode, ulong n, int max)
    {
        var (disk, count) = LookupRun(inode, n, max);
        if (LookupError != Errno.OK) return (0, 1);
        while (count < max)
        {
            var (d, c) = LookupRun(inode, n + (ulong)count, max - count);
            if (LookupError != Errno.OK) { LookupError = Errno.OK; break; }   // the next call meets it and reports it
            if (disk == 0 ? d != 0 : d != disk + (ulong)count) break;
            count += c;
        }
        return (disk, count);
    }

    /// <summary>
    /// <see cref="EnsureRun"/> across partitions and pointer blocks: the disk run of file blocks
    /// <paramref name="n"/>.. (at most <paramref name="max"/>), extended while the next run continues it on disk,
    /// so a large write is one device request. A run allocated that does not continue it stays allocated for the
    /// caller's next call; an error past the first run ends the extent there (the next call reports it).
    /// </summary>
    public Result<(ulong First, int Count)> EnsureExtent(ulong ino, DiskInode inode, ulong n, int max, BlockNo hint)
    {
        var r = EnsureRun(ino, inode, n, max, hint);
        if (!r.Ok) return r;
        var (first, count) = r.Value;
        while (count < max)
        {
            var more = EnsureRun(ino, inode, n + (ulong)count, max - count, new BlockNo(first + (ulong)count));
            if (!more.Ok || more.Value.First != first + (ulong)count) break;
            count += more.Value.Count;
        }
        return (first, count);
    }

    /// <summary>
    /// The disk blocks of file blocks <paramref name="n"/>, n+1, ...: a run of at most <paramref name="max"/>
    /// contiguous disk blocks (at least one), allocating a hole's run of data blocks (and any missing indirect
    /// blocks) near <paramref name="hint"/> with one XN call: the pointers of one partition (an inode's direct
    /// pointers, or 64 of an indirect block) are set by one Alloc of the whole run, checked by one owns run.
    /// New blocks are zero-filled by XN (no page until written).
    /// </summary>
    public Result<(ulong First, int Count)> EnsureRun(ulong ino, DiskInode inode, ulong n, int max, BlockNo hint)
    {
        if (n >= MaxFileBlocks) return Errno.EFBIG;
        var found = LookupRun(inode, n, max);
        if (found.Disk != 0) return found;
        var site = SiteOf(ino, inode, n, create: true, hint);
        if (!site.Ok) return site.Error;
        var at = site.Value!.Value;
        int want = found.Count;
        if (at.Slot < 0)
        {
            // Indirect: one XN partition holds PointersPerIndirectPartition pointers.
            int index = at.Field / 8;
            want = Math.Min(want, FfsUdfs.PointersPerIndirectPartition - index % FfsUdfs.PointersPerIndirectPartition);
        }
        if (want <= 1 || hint.Value >= _disk.DeviceBlocks) return One();
        // FindFree reserves nothing: another libFS sharing the disk may take the run first (EBUSY): shorter runs then.
        for (int c = want; c > 1; c /= 2)
        {
            var run = _disk.FindFree(hint, (ulong)c);
            if (!run.Ok) continue;
            var first = run.Value;
            // The run's pointers are consecutive fields: one edit carries them all (not one small array each).
            ExoFS.Xn.Edit[] edits = [FieldEdit.U64Run(at.Field, first.Value, c)];
            if (at.Slot >= 0) edits = WithInodeFields(inode, at.Field - DiskInode.PointerFieldOffset(at.Slot), at.Slot, c, edits);
            else if (CountAhead(ino, inode, c) is var counted && counted != Errno.OK) return counted;
            var err = _disk.AllocDataRun(at.Parent, at.Partition, edits, first, c);
            if (err == Errno.EBUSY) continue;
            if (err != Errno.OK) return err;
            for (int k = 0; k < c; k++)
            {
                _alloc.BlockChanged(first.Offset((ulong)k));
                if (at.Slot >= 0) inode.Ptr[at.Slot + k] = first.Value + (ulong)k;
            }
            inode.Blocks += (ulong)c;
            return (first.Value, c);
        }
        return One();

        // A single block, through the one-block path (which syncs to reclaim deferred frees on ENOSPC).
        Result<(ulong First, int Count)> One()
        {
            if (at.Slot < 0 && CountAhead(ino, inode, 1) is var counted && counted != Errno.OK) return counted;
            var r = AllocChild(at.Parent, at.Partition, at.Field, KindAt(0, 0, FileMode.IsDir(inode.Mode)), hint,
                at.Slot >= 0 ? inode : null, at.Slot >= 0 ? at.Field - DiskInode.PointerFieldOffset(at.Slot) : 0, at.Slot);
            if (!r.Ok) return r.Error;
            if (at.Slot >= 0) inode.Ptr[at.Slot] = r.Value;
            inode.Blocks++;
            return (r.Value, 1);
        }
    }

    /// <param name="owner">The inode, when <paramref name="parent"/> is its table block and <paramref name="slot"/> its pointer slot (<see cref="WithInodeFields"/>).</param>
    private Result<ulong> AllocChild(BlockNo parent, int partition, int fieldOffset, BlockKind kind, BlockNo hint,
                                     DiskInode? owner = null, int inodeOffset = 0, int slot = -1)
    {
        // FindFree reserves nothing: another libFS sharing the disk may take the block first (EBUSY).
        for (int attempt = 0; attempt < 8; attempt++)
        {
            var pick = _alloc.PickBlock(hint);
            if (!pick.Ok) return pick.Error;
            var b = pick.Value;
            ExoFS.Xn.Edit[] edits = [FieldEdit.U64(fieldOffset, b.Value)];
            if (owner is not null) edits = WithInodeFields(owner, inodeOffset, slot, 1, edits);
            var err = _disk.Alloc(parent, partition, edits, kind, b);
            if (err == Errno.EBUSY) { hint = b.Offset(1); continue; }
            if (err != Errno.OK) return err;
            _alloc.BlockChanged(b);
            return b.Value;
        }
        return Errno.ENOSPC;
    }

    /// <summary>
    /// Before an Alloc into one of the inode's indirect blocks: its block count, raised by <paramref name="n"/>, is
    /// written into its table block first (the in-memory count rises with the Alloc; the caller writes the exact
    /// count with the inode afterwards). A write-back between the Alloc and that inode write (cache pressure at the
    /// end of any XN call) then finds a count that covers the new pointer: too high is a leak fsck reclaims, too
    /// low would be damage. (An Alloc into the inode's own slots carries the count in its edits: <see cref="WithInodeFields"/>.)
    /// </summary>
    private Errno CountAhead(ulong ino, DiskInode inode, int n)
    {
        var (block, offset, _) = _alloc.Locate(ino);
        Span<byte> count = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(count, inode.Blocks + (ulong)n);
        return _disk.WriteRaw(block, offset + DiskInode.BlocksOffset, count);
    }

    /// <summary>Frees every block of the file from file block <paramref name="keep"/> on, and indirect blocks left empty.</summary>
    public Errno Truncate(ulong ino, DiskInode inode, ulong keep) => FreeRange(ino, inode, keep, MaxFileBlocks);

    /// <summary>
    /// Frees the file's data blocks in [<paramref name="from"/>, <paramref name="to"/>) and every indirect
    /// block that owns nothing afterwards (a punched hole, a truncate, the vacated part of a shift).
    /// </summary>
    public Errno FreeRange(ulong ino, DiskInode inode, ulong from, ulong to)
    {
        if (from >= to) return Errno.OK;
        var (inodeBlock, inodeOffset, partition) = _alloc.Locate(ino);
        ulong[] first = { 0, SingleStart, DoubleStart, TripleStart };
        for (int slot = 0; slot < DiskInode.XattrSlot; slot++)
        {
            ulong p = inode.Ptr[slot];
            if (p == 0) continue;
            int level = slot < FfsLayout.DirectPointers ? 0 : slot - FfsLayout.DirectPointers + 1;
            ulong start = level == 0 ? (ulong)slot : first[level];
            var (err, freed) = FreeSubtree(inodeBlock, partition, inodeOffset + DiskInode.PointerFieldOffset(slot),
                p, level, start, from, to, inode);
            if (err != Errno.OK) return err;
            if (freed) inode.Ptr[slot] = 0;
        }
        return Errno.OK;
    }

    private static ulong Span(int level) => level switch { 0 => 1, 1 => P, 2 => P * P, _ => P * P * P };

    // Children first, then the pointer to them: XN checks owns() of each parent shrinks by exactly the
    // child, and an indirect block is only dropped once it owns nothing.
    private (Errno, bool) FreeSubtree(BlockNo parent, int partition, int fieldOffset, ulong child, int level,
        ulong first, ulong from, ulong to, DiskInode inode)
    {
        if (first + Span(level) <= from || first >= to) return (Errno.OK, false);
        bool empty = true;
        if (level > 0)
        {
            var buf = new byte[FfsLayout.BlockSize];
            var err = _disk.Read(new BlockNo(child), 0, buf);
            if (err != Errno.OK) return (err, false);
            ulong sub = Span(level - 1);
            for (int i = 0; i < FfsLayout.PointersPerBlock; i++)
            {
                ulong p = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(i * 8));
                if (p == 0) continue;
                var (e, freed) = FreeSubtree(new BlockNo(child), i / FfsUdfs.PointersPerIndirectPartition, i * 8, p,
                    level - 1, first + (ulong)i * sub, from, to, inode);
                if (e != Errno.OK) return (e, false);
                if (!freed) empty = false;
            }
        }
        else if (first < from || first >= to) empty = false;
        if (!empty) return (Errno.OK, false);
        var fe = _disk.Free(parent, partition, new[] { FieldEdit.U64(fieldOffset, 0) }, new BlockNo(child));
        if (fe != Errno.OK) return (fe, false);
        // Saturating: after a crash the on-disk count may trail the pointers (they live in other blocks);
        // fsck sets the true count, and a wrapped one would read as 2^64 blocks.
        if (inode.Blocks > 0) inode.Blocks--;
        _alloc.BlockChanged(new BlockNo(child));
        return (Errno.OK, true);
    }

    /// <summary>Where a pointer lives: the block holding it, its XN partition, its byte offset, and its inode slot (direct pointers only, else -1).</summary>
    private readonly record struct Site(BlockNo Parent, int Partition, int Field, int Slot);

    /// <summary>
    /// The site of file block <paramref name="n"/>'s pointer. With <paramref name="create"/> the indirect blocks
    /// on the way are allocated (near <paramref name="hint"/>) when missing; without, a missing one gives null.
    /// </summary>
    private Result<Site?> SiteOf(ulong ino, DiskInode inode, ulong n, bool create, BlockNo hint)
    {
        if (n >= MaxFileBlocks) return Errno.EFBIG;
        var path = Resolve(n);
        var (inodeBlock, inodeOffset, partition) = _alloc.Locate(ino);
        int slotField = inodeOffset + DiskInode.PointerFieldOffset(path.Slot);
        if (path.Depth == 0) return new Site(inodeBlock, partition, slotField, path.Slot);
        ulong cur = inode.Ptr[path.Slot];
        if (cur == 0)
        {
            if (!create) return (Site?)null;
            var r = AllocChild(inodeBlock, partition, slotField, KindAt(path.Depth, 0, FileMode.IsDir(inode.Mode)),
                TopHint(path.Depth, hint), inode, inodeOffset, path.Slot);
            if (!r.Ok) return r.Error;
            cur = r.Value;
            inode.Ptr[path.Slot] = cur;
            inode.Blocks++;
        }
        for (int level = 0; level < path.Depth - 1; level++)
        {
            int idx = path.Index(level);
            ulong next = ReadPointer(cur, idx);
            if (next == 0)
            {
                if (!create) return (Site?)null;
                var counted = CountAhead(ino, inode, 1);
                if (counted != Errno.OK) return counted;
                var r = AllocChild(new BlockNo(cur), idx / FfsUdfs.PointersPerIndirectPartition, idx * 8,
                    KindAt(path.Depth, level + 1, FileMode.IsDir(inode.Mode)), new BlockNo(cur + 1));
                if (!r.Ok) return r.Error;
                next = r.Value;
                inode.Blocks++;
            }
            cur = next;
        }
        int last = path.Index(path.Depth - 1);
        return new Site(new BlockNo(cur), last / FfsUdfs.PointersPerIndirectPartition, last * 8, -1);
    }

    /// <summary>
    /// Moves the data of file block <paramref name="from"/> to the hole at file block <paramref name="to"/>; a
    /// hole at <paramref name="from"/> moves nothing. Crash-safe either way:
    /// - both pointers in one block (direct pointers in the inode, or one indirect block): one XN Move, no data
    ///   copied; the block holding both is written whole, so a crash sees the pointer in one place or the other;
    /// - in two blocks: a Move there could be caught half-written by a crash, the block then named twice, which
    ///   fsck cannot settle. So the data is copied to a new block allocated at <paramref name="to"/> first and the
    ///   old block freed after (XN writes a pointer only after the block it names, and frees a block only once
    ///   the nullified pointer is durable): a crash leaves the data in one place or both, never a pointer shared.
    /// </summary>
    public Errno MoveBlock(ulong ino, DiskInode inode, ulong from, ulong to)
    {
        var src = SiteOf(ino, inode, from, create: false, default);
        if (!src.Ok) return src.Error;
        if (src.Value is not { } s) return Errno.OK;
        ulong child = s.Slot >= 0 ? inode.Ptr[s.Slot] : ReadPointer(s.Parent.Value, s.Field / 8);
        if (child == 0) return Errno.OK;
        // The destination's indirect blocks are allocated first (near the block that moves in).
        var dst = SiteOf(ino, inode, to, create: true, new BlockNo(child));
        if (!dst.Ok) return dst.Error;
        var d = dst.Value!.Value;
        var clear = new[] { FieldEdit.U64(s.Field, 0) };
        if (d.Parent == s.Parent)
        {
            var err = _disk.Move(s.Parent, s.Partition, clear, d.Parent, d.Partition, new[] { FieldEdit.U64(d.Field, child) }, new BlockNo(child));
            if (err != Errno.OK) return err;
            if (s.Slot >= 0) inode.Ptr[s.Slot] = 0;
            if (d.Slot >= 0) inode.Ptr[d.Slot] = child;
            return Errno.OK;
        }
        var data = new byte[FfsLayout.BlockSize];
        var rerr = _disk.Read(new BlockNo(child), 0, data);
        if (rerr != Errno.OK) return rerr;
        if (d.Slot < 0 && CountAhead(ino, inode, 1) is var counted && counted != Errno.OK) return counted;
        var fresh = AllocChild(d.Parent, d.Partition, d.Field, KindAt(0, 0, FileMode.IsDir(inode.Mode)), new BlockNo(child),
            d.Slot >= 0 ? inode : null, d.Slot >= 0 ? d.Field - DiskInode.PointerFieldOffset(d.Slot) : 0, d.Slot);
        if (!fresh.Ok) return fresh.Error;
        if (d.Slot >= 0) inode.Ptr[d.Slot] = fresh.Value;
        inode.Blocks++;
        var werr = _disk.WriteRaw(new BlockNo(fresh.Value), 0, data);
        if (werr != Errno.OK) return werr;
        var ferr = _disk.Free(s.Parent, s.Partition, clear, new BlockNo(child));
        if (ferr != Errno.OK) return ferr;
        if (s.Slot >= 0) inode.Ptr[s.Slot] = 0;
        inode.Blocks--;
        _alloc.BlockChanged(new BlockNo(child));
        return Errno.OK;
    }

    /// <summary>
    /// The first file block at or after <paramref name="n"/> and before <paramref name="limit"/> that is mapped
    /// (<paramref name="mapped"/>) or a hole (not), or <paramref name="limit"/> if none. Holes under a missing
    /// indirect block are skipped whole.
    /// </summary>
    public ulong Next(DiskInode inode, ulong n, ulong limit, bool mapped)
    {
        limit = Math.Min(limit, MaxFileBlocks);
        ulong[] first = { 0, SingleStart, DoubleStart, TripleStart };
        while (n < limit)
        {
            var path = Resolve(n);
            ulong cur = inode.Ptr[path.Slot];
            ulong start = path.Depth == 0 ? n : first[path.Depth];
            ulong span = Span(path.Depth);
            for (int level = 0; level < path.Depth && cur != 0; level++)
            {
                span = Span(path.Depth - 1 - level);
                start += (ulong)path.Index(level) * span;
                cur = ReadPointer(cur, path.Index(level));
            }
            if ((cur != 0) == mapped) return n;
            // Not what is sought: a mapped block moves on by one; a hole spans its whole missing subtree.
            n = cur != 0 ? n + 1 : start + span;
        }
        return limit;
    }

    /// <summary>Allocates the inode's xattr block (zero-filled).</summary>
    public Result<ulong> EnsureXattrBlock(ulong ino, DiskInode inode)
    {
        if (inode.Ptr[DiskInode.XattrSlot] != 0) return inode.Ptr[DiskInode.XattrSlot];
        var (b, off, part) = _alloc.Locate(ino);
        var r = AllocChild(b, part, off + DiskInode.PointerFieldOffset(DiskInode.XattrSlot), BlockKind.Xattr, _alloc.DataGoal(ino), inode, off, DiskInode.XattrSlot);
        if (!r.Ok) return r;
        inode.Ptr[DiskInode.XattrSlot] = r.Value;
        inode.Blocks++;
        return r;
    }

    /// <summary>Frees the inode's xattr block if it has one.</summary>
    public Errno FreeXattrBlock(ulong ino, DiskInode inode)
    {
        ulong x = inode.Ptr[DiskInode.XattrSlot];
        if (x == 0) return Errno.OK;
        var (b, off, part) = _alloc.Locate(ino);
        var err = _disk.Free(b, part, new[] { FieldEdit.U64(off + DiskInode.PointerFieldOffset(DiskInode.XattrSlot), 0) }, new BlockNo(x));
        if (err != Errno.OK) return err;
        inode.Ptr[DiskInode.XattrSlot] = 0;
        if (inode.Blocks > 0) inode.Blocks--;
        _alloc.BlockChanged(new BlockNo(x));
        return Errno.OK;
    }
}
