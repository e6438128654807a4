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

    public XnType(TypeId id, TypeSpec spec, VerifiedUdf? owns, TypeId[] childTypes, VerifiedUdf? acl, VerifiedUdf? size)
    {
        Id = id;
        Spec = spec;
        Owns = owns;
        ChildTypes = childTypes;
        Acl = acl;
        Size = size;
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
            _checkedBytes[p] = Merge(ranges);
        }
    }

    /// <summary>
    /// The bytes the checks of an update to partition <paramref name="partition"/> read: owns' read set
    /// for that partition and the acl's (for its partition: 0 if it has one, else the same), as sorted,
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
    public bool IsData => Owns is null;
    /// <summary>Offset of the type's CRC-32C field in each block, or -1 when the type has none.</summary>
    public int ChecksumOffset => Spec.ChecksumOffset ?? -1;
    public bool HasChecksum => Spec.ChecksumOffset is not null;
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
