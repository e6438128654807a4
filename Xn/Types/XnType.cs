using ExoFS.Kernel.Udf;

namespace ExoFS.Xn.Types;

/// <summary>
/// A registered type with everything XN precomputed to check updates cheaply: the verified UDFs, the
/// child type of each <c>.types</c> index, and a per-byte map saying which partition's read set (or the
/// raw-write area) each byte belongs to. Immutable after construction, so safe to share.
/// </summary>
internal sealed class XnType
{
    public const short NoOwner = -1, RawWriteOwner = -2;
    private const int BlockSize = UdfLimits.BlockSize;

    private readonly short[] _byteOwner;   // partition index, RawWriteOwner, or NoOwner
    private readonly bool[] _rawRead;
    private readonly int[][] _checkedBytes;   // per partition: the bytes its update checks read

    private readonly int[][] _aclRanges = [], _sizeRanges = [];   // per acl / size partition: merged read set
    private readonly bool[] _sizedIndex = [];                      // per owns .types index: counted by the size check

    /// <param name="sizedTypes">The types whose blocks the size check counts (the size-UDF's <c>.types</c>; xn.data by default).</param>
    public XnType(TypeId id, TypeSpec spec, VerifiedUdf? owns, TypeId[] childTypes, VerifiedUdf? acl, VerifiedUdf? size,
                  TypeId[]? sizedTypes = null)
    {
        Id = id;
        Spec = spec;
        Owns = owns;
        ChildTypes = childTypes;
        Acl = acl;
        Size = size;
        SizedTypes = size is null ? [] : sizedTypes ?? [XnTypes.Data];
        if (acl is not null) _aclRanges = Enumerable.Range(0, acl.Partitions).Select(p => Merge(new List<UdfByteRange>(acl.ReadSet(p)))).ToArray();
        if (size is not null)
        {
            _sizeRanges = Enumerable.Range(0, size.Partitions).Select(p => Merge(new List<UdfByteRange>(size.ReadSet(p)))).ToArray();
            _sizedIndex = childTypes.Select(c => SizedTypes.Contains(c)).ToArray();
        }
        _byteOwner = new short[BlockSize];
        _rawRead = new bool[BlockSize];
        if (owns is null)
        {
            // xn.data: no partitions, every byte raw.
            Array.Fill(_byteOwner, RawWriteOwner);
            Array.Fill(_rawRead, true);
            _checkedBytes = [];
            return;
        }
        Array.Fill(_byteOwner, NoOwner);
        for (int p = 0; p < owns.Partitions; p++)
            foreach (var r in owns.ReadSet(p))
                _byteOwner.AsSpan(r.Offset, r.Length).Fill((short)p);
        foreach (var r in spec.RawWrite) _byteOwner.AsSpan(r.Offset, r.Length).Fill(RawWriteOwner);
        foreach (var r in spec.RawRead) _rawRead.AsSpan(r.Offset, r.Length).Fill(true);
        _checkedBytes = new int[owns.Partitions][];
        for (int p = 0; p < owns.Partitions; p++)
        {
            var ranges = new List<UdfByteRange>(owns.ReadSet(p));
            int ap = acl is null ? -1 : acl.Partitions == 1 ? 0 : p;
            if (ap >= 0 && ap < acl!.Partitions) ranges.AddRange(acl.ReadSet(ap));
            if (size is not null && p < size.Partitions) ranges.AddRange(size.ReadSet(p));
            _checkedBytes[p] = Merge(ranges);
        }
    }

    /// <summary>
    /// The bytes the checks of an update to partition <paramref name="partition"/> read: owns' read set
    /// for that partition, the acl's (for its partition: 0 if it has one, else the same) and the size-UDF's, as sorted,
    /// merged [start, end) pairs. The verifier confines every load of a run to the read set of the run's
    /// partition, so a proposal whose bytes are right in these ranges gives the checks exactly the results
    /// they would give on the whole proposed block.
    /// </summary>
    public ReadOnlySpan<int> CheckedBytes(int partition) => _checkedBytes[partition];

    private static int[] Merge(List<UdfByteRange> ranges)
    {
        ranges.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        var merged = new List<int>();
        foreach (var r in ranges)
        {
            if (merged.Count > 0 && r.Offset <= merged[^1]) merged[^1] = Math.Max(merged[^1], r.End);
            else { merged.Add(r.Offset); merged.Add(r.End); }
        }
        return merged.ToArray();
    }

    public TypeId Id { get; }
    public TypeSpec Spec { get; }
    public string Name => Spec.Name;
    /// <summary>Null only for xn.data, which owns nothing.</summary>
    public VerifiedUdf? Owns { get; }
    public TypeId[] ChildTypes { get; }
    public VerifiedUdf? Acl { get; }
    public VerifiedUdf? Size { get; }
    /// <summary>The types whose blocks an owns partition's size check counts (empty without a size-UDF).</summary>
    public TypeId[] SizedTypes { get; }
    /// <summary>True when a raw write may need the acl or size check (types with neither pay nothing).</summary>
    public bool GuardsRawWrites => Acl is not null || Size is not null;

    /// <summary>The acl partition that rules on a change to owns partition <paramref name="partition"/>.</summary>
    public int AclPartition(int partition) => Acl!.Partitions == 1 ? 0 : partition;
    /// <summary>Merged [start, end) pairs of acl partition <paramref name="p"/>'s read set.</summary>
    public ReadOnlySpan<int> AclRanges(int p) => _aclRanges[p];
    /// <summary>Merged [start, end) pairs of size partition <paramref name="p"/>'s read set.</summary>
    public ReadOnlySpan<int> SizeRanges(int p) => _sizeRanges[p];
    /// <summary>Whether the size check counts blocks emitted with owns <c>.types</c> index <paramref name="typeIndex"/>.</summary>
    public bool IsSized(int typeIndex) => _sizedIndex[typeIndex];

    /// <summary>Whether bytes [offset, offset+length) meet any of the merged ranges.</summary>
    public static bool Touches(ReadOnlySpan<int> ranges, int offset, int length)
    {
        for (int i = 0; i < ranges.Length; i += 2)
            if (offset < ranges[i + 1] && ranges[i] < offset + length) return true;
        return false;
    }
    public bool IsData => Owns is null;
    /// <summary>Offset of the type's CRC-32C field in each block, or -1 when the type has none.</summary>
    public int ChecksumOffset => Spec.ChecksumOffset ?? -1;
    public bool HasChecksum => Spec.ChecksumOffset is not null;
    public int SequenceOffset => Spec.SequenceOffset ?? -1;
    /// <summary>Whether XN stamps a write sequence into this type's blocks and checks it against the block-version table.</summary>
    public bool HasSequence => Spec.SequenceOffset is not null;
    public int Partitions => Owns?.Partitions ?? 0;

    /// <summary>Whether every byte of [offset, offset+length) may be written raw.</summary>
    public bool IsRawWritable(int offset, int length) =>
        IsData ? InBlock(offset, length) : AllOwnedBy(offset, length, RawWriteOwner);

    /// <summary>Whether every byte of [offset, offset+length) may be read raw.</summary>
    public bool IsRawReadable(int offset, int length)
    {
        if (!InBlock(offset, length)) return false;
        if (IsData) return true;   // xn.data: every byte raw (the common case: file data)
        // Vectorized: whole-block raw reads and writes are on every data I/O's path.
        return !_rawRead.AsSpan(offset, length).Contains(false);
    }

    /// <summary>
    /// Checks that an edit to partition <paramref name="partition"/> touches only that partition's read
    /// set or raw-write bytes. Returns None, BadPartition (touches another partition) or NotRawRange.
    /// </summary>
    public XnError CheckEdit(int partition, int offset, int length)
    {
        if (!InBlock(offset, length)) return XnError.NotRawRange;
        var error = XnError.None;
        foreach (short o in _byteOwner.AsSpan(offset, length))
        {
            if (o == partition || o == RawWriteOwner) continue;
            if (o >= 0) return XnError.BadPartition;
            error = XnError.NotRawRange;
        }
        return error;
    }

    private bool AllOwnedBy(int offset, int length, short owner)
    {
        if (!InBlock(offset, length)) return false;
        return _byteOwner.AsSpan(offset, length).IndexOfAnyExcept(owner) < 0;
    }

    private static bool InBlock(int offset, int length) => offset >= 0 && length >= 0 && offset <= BlockSize - length;

    public override string ToString() => $"{Name}#{Id}";
}
