using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs;

/// <summary>What FFS does after a block fails its checksum (as ext4's <c>errors=</c>): the call gets EIO either way.</summary>
public enum FfsErrorsPolicy
{
    /// <summary>The default: the file system turns read-only; every later change is refused with EROFS.</summary>
    RemountReadOnly,
    /// <summary>Keep going: only the accesses that touch a damaged block fail.</summary>
    Continue,
}

/// <summary>
/// <see cref="IFfsDisk"/> over XN: each call is one call of the environment's <see cref="XnClient"/>.
/// Registers the FFS metadata types (idempotent: XN returns the same ids for identical specs). Every
/// metadata type carries an XN checksum (<see cref="FfsLayout"/>); when XN refuses a call because a block
/// failed it, this class logs one line naming the block and applies <see cref="ErrorsPolicy"/>.
/// </summary>
internal sealed class XnFfsDisk : IFfsDisk
{
    private readonly XnClient _xn;
    private readonly TypeId[] _types = new TypeId[Enum.GetValues<BlockKind>().Length];

    private XnFfsDisk(XnClient xn, ulong deviceBlocks)
    {
        _xn = xn;
        DeviceBlocks = deviceBlocks;
    }

    public XnClient Client => _xn;
    public ulong DeviceBlocks { get; }
    public TypeId SuperType { get; private set; }

    private static readonly ByteRange[] WholeBlock = { new(0, FfsLayout.BlockSize) };
    private static readonly ByteRange[] Payload = { new(0, FfsLayout.TailPayloadBytes) };

    /// <summary>A type whose checksum and write sequence are its last 12 bytes (<see cref="FfsLayout.TailSequenceOffset"/>).</summary>
    private static TypeSpec Tail(string name, string owns, ByteRange[] rawWrite, string? acl = null) =>
        new(name, owns, WholeBlock, rawWrite, AclUdf: acl)
        { ChecksumOffset = FfsLayout.TailChecksumOffset, SequenceOffset = FfsLayout.TailSequenceOffset };

    /// <summary>
    /// The FFS types as XN specs, children before parents; each with its checksum field and (format 5) its write
    /// sequence field, so that XN's block-version table refuses a stale copy of any FFS metadata block.
    /// </summary>
    public static IReadOnlyList<TypeSpec> Specs { get; } = new[]
    {
        Tail(FfsUdfs.CsumType, FfsUdfs.CsumOwns, Payload),
        Tail(FfsUdfs.InodeBitmapType, FfsUdfs.InodeBitmapOwns, [new ByteRange(0, CsumBlock.InodeBitmapBytes)]),
        Tail(FfsUdfs.XattrType, FfsUdfs.XattrOwns, Payload),
        Tail(FfsUdfs.Ind1Type, FfsUdfs.Ind1Owns, []),
        Tail(FfsUdfs.Ind2Type, FfsUdfs.Ind2Owns, []),
        Tail(FfsUdfs.Ind3Type, FfsUdfs.Ind3Owns, []),
        Tail(FfsUdfs.DirType, FfsUdfs.DirOwns, Payload, acl: FfsUdfs.DirAcl),
        Tail(FfsUdfs.DInd1Type, FfsUdfs.DInd1Owns, []),
        Tail(FfsUdfs.DInd2Type, FfsUdfs.DInd2Owns, []),
        Tail(FfsUdfs.DInd3Type, FfsUdfs.DInd3Owns, []),
        new TypeSpec(FfsUdfs.InodesType, FfsUdfs.InodesOwns, WholeBlock,
            FfsUdfs.InodesRawWrite().Select(r => new ByteRange(r.Offset, r.Length)).ToArray(), AclUdf: FfsUdfs.InodesAcl, SizeUdf: FfsUdfs.InodesSize)
        { ChecksumOffset = DiskInode.BlockChecksumOffset, SequenceOffset = DiskInode.BlockSequenceOffset },
        new TypeSpec(FfsUdfs.SuperType, FfsUdfs.SuperOwns, WholeBlock,
            FfsUdfs.SuperRawWrite().Select(r => new ByteRange(r.Offset, r.Length)).ToArray())
        { ChecksumOffset = Superblock.ChecksumOffset, SequenceOffset = Superblock.SequenceOffset },
    };

    /// <summary>
    /// Registers the types through <paramref name="xn"/> (or, on a read-only volume, only looks them up) and
    /// returns the disk (EIO if XN refuses a spec, ENOENT if a type is missing).
    /// </summary>
    public static Result<XnFfsDisk> Create(XnClient xn, ulong deviceBlocks, bool lookupOnly = false)
    {
        var disk = new XnFfsDisk(xn, deviceBlocks) { _readOnly = lookupOnly };
        var ids = new List<TypeId>();
        // The types the image already has are checked first (registering an existing name with its spec writes
        // nothing): an image of another FFS format is refused before any type of this format is added to it.
        if (!lookupOnly)
            foreach (var spec in Specs)
                if (xn.FindType(spec.Name).Ok && xn.RegisterType(spec) is { Ok: false } existing) return existing.Error;
        foreach (var spec in Specs)
        {
            var r = lookupOnly ? xn.FindType(spec.Name) : xn.RegisterType(spec);
            if (!r.Ok) return r.Error;
            ids.Add(r.Value);
        }
        disk._types[(int)BlockKind.Data] = XnTypes.Data;
        disk._types[(int)BlockKind.Csum] = ids[0];
        disk._types[(int)BlockKind.InodeBitmap] = ids[1];
        disk._types[(int)BlockKind.Xattr] = ids[2];
        disk._types[(int)BlockKind.Ind1] = ids[3];
        disk._types[(int)BlockKind.Ind2] = ids[4];
        disk._types[(int)BlockKind.Ind3] = ids[5];
        disk._types[(int)BlockKind.Dir] = ids[6];
        disk._types[(int)BlockKind.DInd1] = ids[7];
        disk._types[(int)BlockKind.DInd2] = ids[8];
        disk._types[(int)BlockKind.DInd3] = ids[9];
        disk._types[(int)BlockKind.Inodes] = ids[10];
        disk.SuperType = ids[11];
        return disk;
    }

    /// <summary>
    /// Why the FFS types could not be registered or found, in one line: an image whose stored FFS types are not this
    /// format's (an older FFS format: XN says the type exists with another spec, or a format-3 type is missing) is
    /// named as such; anything else is XN's refusal as it is.
    /// </summary>
    public static string TypesRefused(XnClient xn)
    {
        bool older = xn.LastError == XnError.TypeExists
            || (xn.LastError == XnError.UnknownType && Specs.Any(s => xn.LastRefusal?.Contains($"'{s.Name}'") == true));
        return older
            ? $"an FFS image of an older format (its stored FFS types are not format {Superblock.CurrentVersion}'s: {xn.LastRefusal}); re-make it with exofs mkfs"
            : xn.LastRefusal ?? "XN refused the FFS types";
    }

    // ---------------------------------------------------------------- checksum failures

    /// <summary>What happens after a checksum failure; set from the mount option <c>errors=</c>.</summary>
    public FfsErrorsPolicy ErrorsPolicy { get; set; } = FfsErrorsPolicy.RemountReadOnly;

    /// <summary>Where the one line per damaged block goes (the daemon's stderr unless a host or test says otherwise).</summary>
    public Action<string> Log { get; set; } = line => Console.Error.WriteLine(line);

    /// <summary>Blocks that failed their checksum during this mount, in the order met.</summary>
    public IReadOnlyList<ulong> DamagedBlocks => _damaged;
    private readonly List<ulong> _damaged = new();

    /// <summary>True once a checksum failure turned the file system read-only (errors=remount-ro).</summary>
    public bool RemountedReadOnly { get; private set; }

    /// <summary>
    /// Passes <paramref name="err"/> through; when XN refused because <paramref name="block"/> (or a block the
    /// call needed) failed its checksum, logs it once and applies the errors policy.
    /// </summary>
    private Errno Checked(Errno err, BlockNo block)
    {
        if (err != Errno.EIO || _xn.LastError != XnError.BadChecksum) return err;
        Damaged(block, _xn.LastRefusal ?? $"block {block}: checksum mismatch");
        return err;
    }

    /// <summary>A block failed a checksum (XN's, or a data checksum): logs it once and applies the errors policy.</summary>
    public void Damaged(BlockNo block, string detail)
    {
        if (!_damaged.Contains(block.Value))
        {
            _damaged.Add(block.Value);
            Log($"ffs: {detail}; access to block {block} returns EIO"
                + (ErrorsPolicy == FfsErrorsPolicy.RemountReadOnly && !_readOnly ? "; file system now read-only (errors=remount-ro)" : ""));
        }
        if (ErrorsPolicy == FfsErrorsPolicy.RemountReadOnly && !_readOnly)
        {
            _readOnly = true;
            RemountedReadOnly = true;
        }
    }

    /// <summary>The data checksums of a file system made with them (null otherwise); kept up to date on every raw write and data Alloc.</summary>
    public DataChecksums? Sums { get; set; }

    private Errno AfterWrite(Errno err, BlockNo block, int offset, ReadOnlySpan<byte> bytes)
    {
        if (err != Errno.OK || Sums is not { } sums || !sums.Covers(block.Value)) return err;
        return sums.Record(block.Value, offset == 0 && bytes.Length == FfsLayout.BlockSize ? bytes : default);
    }

    public Errno Read(BlockNo block, int offset, Span<byte> into) => Checked(_xn.Read(block, offset, into), block);

    // A read-only mount (a read-only volume, or a root granted read rights only) answers EROFS for a change, as a
    // kernel file system mounted ro does, rather than the EACCES XN's refusal of the capability would map to.
    private bool _readOnly;

    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes) =>
        _readOnly ? Errno.EROFS : AfterWrite(Checked(_xn.WriteRaw(block, offset, bytes), block), block, offset, bytes);

    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after) =>
        _readOnly ? Errno.EROFS : AfterWrite(Checked(_xn.WriteRaw(block, offset, bytes, after), block), block, offset, bytes);

    public Errno Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockKind kind, BlockNo child)
    {
        if (_readOnly) return Errno.EROFS;
        var err = Checked(_xn.Alloc(parent, partition, edits, _types[(int)kind], new Extent(child, 1)), parent);
        return err == Errno.OK && kind == BlockKind.Data && Sums is { } sums ? sums.Allocated(child.Value) : err;
    }

    public Errno AllocDataRun(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo first, int count)
    {
        if (_readOnly) return Errno.EROFS;
        // One extent per pointer: FFS's owns-UDFs emit each pointer as its own one-block extent.
        var extents = new Extent[count];
        for (int k = 0; k < count; k++) extents[k] = new Extent(first.Offset((ulong)k), 1);
        var err = Checked(_xn.Alloc(parent, partition, edits, XnTypes.Data, extents), parent);
        if (err != Errno.OK || Sums is not { } sums) return err;
        for (int k = 0; k < count && err == Errno.OK; k++) err = sums.Allocated(first.Value + (ulong)k);
        return err;
    }

    public Errno WriteDataBlocks(BlockNo first, ReadOnlySpan<byte> blocks)
    {
        if (_readOnly) return Errno.EROFS;
        var err = Checked(_xn.WriteThrough(first, blocks), first);
        if (err != Errno.OK || Sums is not { } sums) return err;
        for (int k = 0; k < blocks.Length / FfsLayout.BlockSize && err == Errno.OK; k++)
        {
            ulong b = first.Value + (ulong)k;
            if (sums.Covers(b)) err = sums.Record(b, blocks.Slice(k * FfsLayout.BlockSize, FfsLayout.BlockSize));
        }
        return err;
    }

    public Errno ReadDataBlocks(BlockNo first, Span<byte> into) => Checked(_xn.ReadBlocks(first, into), first);

    public Errno Free(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo child) =>
        _readOnly ? Errno.EROFS : Checked(_xn.Free(parent, partition, edits, new Extent(child, 1)), parent);

    public Errno Move(BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits, BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, BlockNo child) =>
        _readOnly ? Errno.EROFS : Checked(_xn.Move(from, fromPartition, fromEdits, to, toPartition, toEdits, new Extent(child, 1)), from);

    public Result<BlockNo> FindFree(BlockNo hint, ulong count) => _xn.FindFree(hint, count);

    public Result<XnFreeCount> CountFree(BlockNo start, ulong count) => _xn.CountFree(start, count);

    public IDisposable? ActAs(uint uid, uint gid) => _xn.Session.ActAs(uid, gid);

    public ulong FreeBlocks => _xn.FreeBlocks;

    public Errno WriteBack(BlockNo block) => Checked(_xn.WriteBack(block), block);

    public Errno Sync() => _xn.Sync();
}
