using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// <see cref="IFfsDisk"/> over XN: each call is one call of the environment's <see cref="XnClient"/>.
/// Registers the FFS metadata types (idempotent: XN returns the same ids for identical specs).
/// </summary>
internal sealed class XnFfsDisk : IFfsDisk
{
    private readonly XnClient _xn;
    private readonly TypeId[] _types = new TypeId[5];

    private XnFfsDisk(XnClient xn, ulong deviceBlocks)
    {
        _xn = xn;
        DeviceBlocks = deviceBlocks;
    }

    public XnClient Client => _xn;
    public ulong DeviceBlocks { get; }
    public TypeId SuperType { get; private set; }

    private static readonly ByteRange[] WholeBlock = { new(0, FfsLayout.BlockSize) };

    /// <summary>The FFS types as XN specs, children before parents.</summary>
    public static IReadOnlyList<TypeSpec> Specs { get; } = new[]
    {
        new TypeSpec(FfsUdfs.Ind1Type, FfsUdfs.Ind1Owns, WholeBlock, Array.Empty<ByteRange>()),
        new TypeSpec(FfsUdfs.Ind2Type, FfsUdfs.Ind2Owns, WholeBlock, Array.Empty<ByteRange>()),
        new TypeSpec(FfsUdfs.Ind3Type, FfsUdfs.Ind3Owns, WholeBlock, Array.Empty<ByteRange>()),
        new TypeSpec(FfsUdfs.InodesType, FfsUdfs.InodesOwns, WholeBlock,
            FfsUdfs.InodesRawWrite().Select(r => new ByteRange(r.Offset, r.Length)).ToArray()),
        new TypeSpec(FfsUdfs.SuperType, FfsUdfs.SuperOwns, WholeBlock,
            FfsUdfs.SuperRawWrite().Select(r => new ByteRange(r.Offset, r.Length)).ToArray()),
    };

    /// <summary>
    /// Registers the types through <paramref name="xn"/> (or, on a read-only volume, only looks them up) and
    /// returns the disk (EIO if XN refuses a spec, ENOENT if a type is missing).
    /// </summary>
    public static Result<XnFfsDisk> Create(XnClient xn, ulong deviceBlocks, bool lookupOnly = false)
    {
        var disk = new XnFfsDisk(xn, deviceBlocks) { _readOnly = lookupOnly };
        var ids = new List<TypeId>();
        foreach (var spec in Specs)
        {
            var r = lookupOnly ? xn.FindType(spec.Name) : xn.RegisterType(spec);
            if (!r.Ok) return r.Error;
            ids.Add(r.Value);
        }
        disk._types[(int)BlockKind.Data] = XnTypes.Data;
        disk._types[(int)BlockKind.Ind1] = ids[0];
        disk._types[(int)BlockKind.Ind2] = ids[1];
        disk._types[(int)BlockKind.Ind3] = ids[2];
        disk._types[(int)BlockKind.Inodes] = ids[3];
        disk.SuperType = ids[4];
        return disk;
    }

    public Errno Read(BlockNo block, int offset, Span<byte> into) => _xn.Read(block, offset, into);

    // A read-only mount (a read-only volume, or a root granted read rights only) answers EROFS for a change, as a
    // kernel file system mounted ro does, rather than the EACCES XN's refusal of the capability would map to.
    private bool _readOnly;

    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes) =>
        _readOnly ? Errno.EROFS : _xn.WriteRaw(block, offset, bytes);

    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after) =>
        _readOnly ? Errno.EROFS : _xn.WriteRaw(block, offset, bytes, after);

    public Errno Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockKind kind, BlockNo child) =>
        _readOnly ? Errno.EROFS : _xn.Alloc(parent, partition, edits, _types[(int)kind], new Extent(child, 1));

    public Errno AllocDataRun(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo first, int count)
    {
        if (_readOnly) return Errno.EROFS;
        // One extent per pointer: FFS's owns-UDFs emit each pointer as its own one-block extent.
        var extents = new Extent[count];
        for (int k = 0; k < count; k++) extents[k] = new Extent(first.Offset((ulong)k), 1);
        return _xn.Alloc(parent, partition, edits, XnTypes.Data, extents);
    }

    public Errno WriteDataBlocks(BlockNo first, ReadOnlySpan<byte> blocks) =>
        _readOnly ? Errno.EROFS : _xn.WriteThrough(first, blocks);

    public Errno ReadDataBlocks(BlockNo first, Span<byte> into) => _xn.ReadBlocks(first, into);

    public Errno Free(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo child) =>
        _readOnly ? Errno.EROFS : _xn.Free(parent, partition, edits, new Extent(child, 1));

    public Errno Move(BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits, BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, BlockNo child) =>
        _xn.Move(from, fromPartition, fromEdits, to, toPartition, toEdits, new Extent(child, 1));

    public Result<BlockNo> FindFree(BlockNo hint, ulong count) => _xn.FindFree(hint, count);

    public ulong FreeBlocks => _xn.FreeBlocks;

    public Errno WriteBack(BlockNo block) => _xn.WriteBack(block);

    public Errno Sync() => _xn.Sync();
}
