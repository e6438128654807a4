using System.Buffers.Binary;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// <see cref="ILfsDisk"/> over today's XN API: segments are xn.data extents owned by segment-table blocks
/// (one Alloc/Free per segment: the owns check runs once per segment, not per block); blocks inside are
/// written with raw writes. Every block the LFS stores is reachable from its XN root.
/// </summary>
internal sealed class XnLfsDisk : ILfsDisk
{
    private readonly XnClient _xn;
    private readonly BlockNo _root;
    private readonly TypeId _segTabType;
    private readonly ulong[] _segTabBlocks;
    private readonly ulong[] _cpStart = new ulong[2];
    private readonly ulong[] _slotStart;
    private readonly SortedSet<int> _freeSlots = new();

    /// <summary>Segments are XN segments (xnlog API): a typed head whose claims name each partial segment.</summary>
    private readonly bool _xnSegments;
    private readonly TypeId _segHeadType;
    private readonly int[] _claims;
    private readonly ulong[] _claimedEnd;

    private readonly TypeId? _nodesType, _inodesType, _imapType;

    public bool XnSegments => _xnSegments;
    public uint FirstOffset => _xnSegments ? 1u : 0u;

    private XnLfsDisk(XnClient xn, BlockNo root, LfsSuper super, TypeId segTabType, TypeId? segHeadType = null)
    {
        _xnSegments = segHeadType is not null;
        _segHeadType = segHeadType ?? default;
        if (_xnSegments)
        {
            var nodes = xn.FindType(LfsUdfs.NodesType);
            var ino = xn.FindType(LfsUdfs.InodesType);
            var imap = xn.FindType(LfsUdfs.ImapType);
            if (nodes.Ok && ino.Ok && imap.Ok) (_nodesType, _inodesType, _imapType) = (nodes.Value, ino.Value, imap.Value);
        }
        _claims = new int[super.SegmentSlots];
        _claimedEnd = new ulong[super.SegmentSlots];
        _xn = xn;
        _root = root;
        Super = super;
        _segTabType = segTabType;
        _segTabBlocks = new ulong[super.SegTabBlocks];
        _slotStart = new ulong[super.SegmentSlots];
    }

    public LfsSuper Super { get; }
    public XnClient Client => _xn;
    /// <summary>The XN root block, the superblock (tests).</summary>
    public BlockNo Root => _root;

    public static IReadOnlyList<TypeSpec> Specs { get; } = new[]
    {
        new TypeSpec(LfsUdfs.SegTabType, LfsUdfs.SegTabOwns, new[] { new ByteRange(0, LfsLayout.BlockSize) }, Array.Empty<ByteRange>()) { ChecksumOffset = LfsLayout.ChecksumOffset },
        new TypeSpec(LfsUdfs.SuperType, LfsUdfs.SuperOwns, new[] { new ByteRange(0, LfsLayout.BlockSize) }, new[] { new ByteRange(0, LfsSuper.HeaderSize) }) { ChecksumOffset = LfsLayout.ChecksumOffset },
    };

    /// <summary>The types when segments are XN segments: the typed log blocks, head (a segment type), segment table, superblock.</summary>
    public static IReadOnlyList<TypeSpec> XSpecs { get; } = new[]
    {
        new TypeSpec(LfsUdfs.NodesType, LfsUdfs.NodesOwns, Array.Empty<ByteRange>(), Array.Empty<ByteRange>()),
        new TypeSpec(LfsUdfs.InodesType, LfsUdfs.InodesOwns, Array.Empty<ByteRange>(), Array.Empty<ByteRange>()),
        new TypeSpec(LfsUdfs.ImapType, LfsUdfs.ImapOwns, Array.Empty<ByteRange>(), Array.Empty<ByteRange>()),
        new TypeSpec(LfsUdfs.SegHeadType, LfsUdfs.SegHeadOwns, new[] { new ByteRange(0, LfsLayout.BlockSize) }, new[] { new ByteRange(0, SegHead.EntriesOffset) }) { Segment = true, ChecksumOffset = LfsLayout.ChecksumOffset },
        new TypeSpec(LfsUdfs.XSegTabType, LfsUdfs.XSegTabOwns, new[] { new ByteRange(0, LfsLayout.BlockSize) }, Array.Empty<ByteRange>()) { ChecksumOffset = LfsLayout.ChecksumOffset },
        new TypeSpec(LfsUdfs.XSuperType, LfsUdfs.XSuperOwns, new[] { new ByteRange(0, LfsLayout.BlockSize) }, new[] { new ByteRange(0, LfsSuper.HeaderSize) }) { ChecksumOffset = LfsLayout.ChecksumOffset },
    };

    /// <summary>Registers (or looks up) the XN-segment variant's types: (head, segtab, super, node, inode and imap blocks).</summary>
    public static Result<(TypeId Head, TypeId SegTab, TypeId Super, TypeId Nodes, TypeId Inodes, TypeId Imap)> XTypes(XnClient xn, bool lookupOnly)
    {
        var ids = new List<TypeId>();
        foreach (var spec in XSpecs)
        {
            var r = lookupOnly ? xn.FindType(spec.Name) : xn.RegisterType(spec);
            if (!r.Ok) return r.Error;
            ids.Add(r.Value);
        }
        return (ids[3], ids[4], ids[5], ids[0], ids[1], ids[2]);
    }

    /// <summary>Registers (or, read-only, looks up) the LFS types; returns (segtab, super) ids.</summary>
    public static Result<(TypeId SegTab, TypeId Super)> Types(XnClient xn, bool lookupOnly)
    {
        var ids = new List<TypeId>();
        foreach (var spec in Specs)
        {
            var r = lookupOnly ? xn.FindType(spec.Name) : xn.RegisterType(spec);
            if (!r.Ok) return r.Error;
            ids.Add(r.Value);
        }
        return (ids[0], ids[1]);
    }

    private static Edit Entry(int offset, ulong start, uint count, uint kind)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, start);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), count);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), kind);
        return new Edit(offset, b);
    }

    /// <summary>Lays out a new LFS under <paramref name="root"/> (a fresh XN root block): header, both checkpoint regions, every segment-table block.</summary>
    public static Result<XnLfsDisk> Format(XnClient xn, BlockNo root, TypeId segTabType, LfsSuper super, TypeId? segHeadType = null)
    {
        var disk = new XnLfsDisk(xn, root, super, segTabType, segHeadType);
        var header = new byte[LfsSuper.HeaderSize];
        super.WriteTo(header);
        var err = xn.WriteRaw(root, 0, header);
        if (err != Errno.OK) return err;
        ulong hint = root.Value + 1;
        for (int r = 0; r < 2; r++)
        {
            var f = xn.FindFree(new BlockNo(hint), super.CheckpointBlocks);
            if (!f.Ok) return f.Error;
            err = xn.Alloc(root, r, new[] { Entry(LfsSuper.EntryOffset(r), f.Value.Value, super.CheckpointBlocks, 0) }, XnTypes.Data,
                new Extent(f.Value, super.CheckpointBlocks));
            if (err != Errno.OK) return err;
            disk._cpStart[r] = f.Value.Value;
            hint = f.Value.Value + super.CheckpointBlocks;
        }
        for (int t = 0; t < super.SegTabBlocks; t++)
        {
            var f = xn.FindFree(new BlockNo(hint), 1);
            if (!f.Ok) return f.Error;
            int entry = LfsSuper.FirstSegTabEntry + t;
            err = xn.Alloc(root, entry, new[] { Entry(LfsSuper.EntryOffset(entry), f.Value.Value, 1, 1) }, segTabType, new Extent(f.Value, 1));
            if (err != Errno.OK) return err;
            disk._segTabBlocks[t] = f.Value.Value;
            hint = f.Value.Value + 1;
        }
        for (int s = 0; s < super.SegmentSlots; s++) disk._freeSlots.Add(s);
        return disk;
    }

    /// <summary>Reads the superblock and the segment tables of the LFS under <paramref name="root"/>; EUCLEAN if they are not an LFS's.</summary>
    public static Result<XnLfsDisk> Open(XnClient xn, BlockNo root, TypeId segTabType, TypeId? segHeadType = null)
    {
        var buf = new byte[LfsLayout.BlockSize];
        var err = xn.Read(root, 0, buf);
        if (err != Errno.OK) return err;
        var super = LfsSuper.ReadFrom(buf);
        if (super is null) return Errno.EUCLEAN;
        var disk = new XnLfsDisk(xn, root, super, segTabType, segHeadType);
        for (int r = 0; r < 2; r++)
        {
            int off = LfsSuper.EntryOffset(r);
            disk._cpStart[r] = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(off));
            if (disk._cpStart[r] == 0 || BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(off + 8)) != super.CheckpointBlocks) return Errno.EUCLEAN;
        }
        for (int t = 0; t < super.SegTabBlocks; t++)
        {
            int off = LfsSuper.EntryOffset(LfsSuper.FirstSegTabEntry + t);
            disk._segTabBlocks[t] = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(off));
            if (disk._segTabBlocks[t] == 0) return Errno.EUCLEAN;
        }
        var tab = new byte[LfsLayout.BlockSize];
        for (int t = 0; t < super.SegTabBlocks; t++)
        {
            if ((err = xn.Read(new BlockNo(disk._segTabBlocks[t]), 0, tab)) != Errno.OK) return err == Errno.EIO ? Errno.EUCLEAN : err;
            for (int e = 0; e < SegTab.Entries; e++)
            {
                int slot = t * SegTab.Entries + e;
                if (slot >= super.SegmentSlots) break;
                ulong start = BinaryPrimitives.ReadUInt64LittleEndian(tab.AsSpan(SegTab.EntryOffset(e)));
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(tab.AsSpan(SegTab.EntryOffset(e) + 8));
                if (start != 0 && count != super.SegmentBlocks) return Errno.EUCLEAN;
                disk._slotStart[slot] = start;
                if (start == 0) disk._freeSlots.Add(slot);
            }
        }
        if (disk._xnSegments)
        {
            // Each head's claims: how many partials XN knows of, and how far they reach.
            var head = new byte[LfsLayout.BlockSize];
            for (int slot = 0; slot < super.SegmentSlots; slot++)
            {
                if (disk._slotStart[slot] == 0) continue;
                if ((err = xn.Read(new BlockNo(disk._slotStart[slot]), 0, head)) != Errno.OK) return err == Errno.EIO ? Errno.EUCLEAN : err;
                var claims = ClaimsIn(head);
                disk._claims[slot] = claims.Count;
                foreach (var c in claims) disk._claimedEnd[slot] = Math.Max(disk._claimedEnd[slot], c.Start + c.Count);
            }
        }
        return disk;
    }

    /// <summary>A head block's claim entries, up to the first unused one.</summary>
    private static List<ClaimEntry> ClaimsIn(ReadOnlySpan<byte> head)
    {
        var list = new List<ClaimEntry>();
        for (int e = 0; e < SegHead.Entries; e++)
        {
            var c = ClaimEntry.ReadFrom(head[SegHead.EntryOffset(e)..]);
            if (c.Start == 0) break;
            list.Add(c);
        }
        return list;
    }

    /// <summary>The claim entries of <paramref name="slot"/>'s head as XN holds them (null for plain-extent segments or an unbound slot).</summary>
    public IReadOnlyList<ClaimEntry>? Claims(int slot)
    {
        if (!_xnSegments || SegmentStart(slot) == 0) return null;
        var head = new byte[LfsLayout.BlockSize];
        return _xn.Read(new BlockNo(_slotStart[slot]), 0, head) == Errno.OK ? ClaimsIn(head) : null;
    }

    /// <summary>First block of checkpoint region 0 or 1 (tests, inspect).</summary>
    public ulong CheckpointStart(int region) => _cpStart[region];

    public ulong SegmentStart(int slot) => slot >= 0 && slot < _slotStart.Length ? _slotStart[slot] : 0;

    // ReadBlocks, not Read: a data block XN holds no page of comes straight from the device into the caller's
    // buffer, taking no page frame (the LFS keeps the blocks it has checked itself: CheckedLfsDisk's cache).
    public Errno Read(ulong block, Span<byte> into) => _xn.ReadBlocks(new BlockNo(block), into[..LfsLayout.BlockSize]);
    public Errno ReadRun(ulong start, Span<byte> into) => _xn.ReadBlocks(new BlockNo(start), into);

    /// <summary>True if XN knows of log blocks in <paramref name="slot"/> at or past <paramref name="offset"/> (a unit a crash tore).</summary>
    public bool WrittenBeyond(int slot, uint offset) =>
        _xnSegments && slot >= 0 && _slotStart[slot] != 0 && _claimedEnd[slot] > _slotStart[slot] + offset;

    private int SlotOfBlock(ulong block)
    {
        for (int s = 0; s < _slotStart.Length; s++)
            if (_slotStart[s] != 0 && block >= _slotStart[s] && block < _slotStart[s] + Super.SegmentBlocks) return s;
        return -1;
    }

    public Errno Write(ulong start, Span<byte> blocks)
    {
        if (_xnSegments && SlotOfBlock(start) >= 0)
        {
            // The run's partials (each opens with its summary; a segment the run enters starts with its head's
            // place), and which of their blocks are node, inode and inode-map blocks: those keep a page in XN's
            // cache for the claim's owns check.
            var partials = Partials(start, blocks);
            var keep = new List<Extent>();
            foreach (var (_, c) in partials)
                if (c.Typed.Nodes + c.Typed.Inodes + c.Typed.Imap is var typed && typed > 0) keep.Add(new Extent(new BlockNo(c.Start + c.Count - typed), typed));
            // One request for the whole run, straight from the log's buffer; then each head claims its partials.
            var w = _xn.Session.WriteBodyThrough(new BlockNo(start), blocks, keep);
            if (!w.Ok) return XnClient.ToErrno(w.Error);
            foreach (var (slot, c) in partials)
            {
                var err = ClaimPartial(slot, c);
                if (err != Errno.OK) return err;
            }
            return Errno.OK;
        }
        return WriteRaw(start, blocks);
    }

    private Errno WriteRaw(ulong start, ReadOnlySpan<byte> blocks)
    {
        for (int i = 0; i * LfsLayout.BlockSize < blocks.Length; i++)
        {
            var err = _xn.WriteRaw(new BlockNo(start + (ulong)i), 0, blocks.Slice(i * LfsLayout.BlockSize, LfsLayout.BlockSize));
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }

    /// <summary>The head claims one partial segment: one claim entry, its node, inode and inode-map tail typed.</summary>
    private Errno ClaimPartial(int slot, ClaimEntry c)
    {
        int e = _claims[slot];
        if (e >= SegHead.Entries) return Errno.EIO;
        var t = c.Typed;
        var typed = new List<(TypeId, Extent)>(4);
        ulong at = c.Start;
        void Next(TypeId? type, uint n)
        {
            if (n > 0) typed.Add((type!.Value, new Extent(new BlockNo(at), n)));
            at += n;
        }
        Next(XnTypes.Data, c.Count - t.Nodes - t.Inodes - t.Imap);
        Next(_nodesType, t.Nodes);
        Next(_inodesType, t.Inodes);
        Next(_imapType, t.Imap);
        var entry = new byte[ClaimEntry.Size];
        c.WriteTo(entry);
        var r = _xn.Session.Claim(new BlockNo(_slotStart[slot]), e, new[] { new Edit(SegHead.EntryOffset(e), entry) }, typed);
        if (!r.Ok) return XnClient.ToErrno(r.Error);
        _claims[slot] = e + 1;
        _claimedEnd[slot] = Math.Max(_claimedEnd[slot], c.Start + c.Count);
        return Errno.OK;
    }

    /// <summary>
    /// The run's partials (<see cref="LogRun.Split"/>) and the claim entry of each: its typed tail from its summary;
    /// an undescribed piece, or any piece when the typed log blocks are not registered, has nothing typed.
    /// </summary>
    private List<(int Slot, ClaimEntry Claim)> Partials(ulong start, ReadOnlySpan<byte> blocks) =>
        LogRun.Split(start, blocks, SlotOfBlock, SegmentStart, Super.SegmentBlocks, FirstOffset).Select(p =>
            (p.Slot, p.Sum is { } sum && _nodesType is not null ? ClaimEntry.For(p.At, sum) : new ClaimEntry(p.At, p.N, default))).ToList();

    public Result<int> AllocSegment(ulong hint)
    {
        if (_freeSlots.Count == 0) return Errno.ENOSPC;
        int slot = _freeSlots.Min;
        uint n = Super.SegmentBlocks;
        var f = _xn.FindFree(new BlockNo(hint), n);
        if (!f.Ok) return f.Error;
        int t = slot / SegTab.Entries, e = slot % SegTab.Entries;
        Errno err;
        if (_xnSegments)
        {
            var r = _xn.Session.AllocSegment(new BlockNo(_segTabBlocks[t]), e, new[] { Entry(SegTab.EntryOffset(e), f.Value.Value, n, 0) }, _segHeadType, new Extent(f.Value, n));
            if (!r.Ok) return XnClient.ToErrno(r.Error);
            var header = new byte[SegHead.EntriesOffset];
            BinaryPrimitives.WriteUInt64LittleEndian(header, 0x4441_4548_4753_464C); // "LFSGHEAD"
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)slot);
            if ((err = _xn.WriteRaw(f.Value, 0, header)) != Errno.OK) return err;
            _claims[slot] = 0;
            _claimedEnd[slot] = 0;
        }
        else
        {
            err = _xn.Alloc(new BlockNo(_segTabBlocks[t]), e, new[] { Entry(SegTab.EntryOffset(e), f.Value.Value, n, 0) }, XnTypes.Data, new Extent(f.Value, n));
            if (err != Errno.OK) return err;
        }
        _freeSlots.Remove(slot);
        _slotStart[slot] = f.Value.Value;
        return slot;
    }

    public Errno FreeSegment(int slot)
    {
        ulong start = SegmentStart(slot);
        if (start == 0) return Errno.EINVAL;
        int t = slot / SegTab.Entries, e = slot % SegTab.Entries;
        var err = _xn.Free(new BlockNo(_segTabBlocks[t]), e, new[] { new Edit(SegTab.EntryOffset(e), new byte[16]) }, new Extent(new BlockNo(start), Super.SegmentBlocks));
        if (err != Errno.OK) return err;
        _slotStart[slot] = 0;
        _freeSlots.Add(slot);
        return Errno.OK;
    }

    public Errno ReadCheckpoint(int region, Span<byte> into)
    {
        for (uint i = 0; i < Super.CheckpointBlocks; i++)
        {
            var err = _xn.Read(new BlockNo(_cpStart[region] + i), 0, into.Slice((int)i * LfsLayout.BlockSize, LfsLayout.BlockSize));
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }

    public Errno WriteCheckpoint(int region, ReadOnlySpan<byte> bytes) => WriteRaw(_cpStart[region], bytes);

    public Errno Sync() => _xn.Sync();

    public ulong FreeBlocks => _xn.FreeBlocks;
}
