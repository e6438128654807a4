namespace ExoFS.Kernel.Disk;

/// <summary>A block number on a device (4 KiB blocks). Not an <c>int</c>: arithmetic is explicit.</summary>
public readonly record struct BlockNo(ulong Value) : IComparable<BlockNo>
{
    public static readonly BlockNo Zero = new(0);

    public BlockNo Offset(ulong delta) => new(Value + delta);
    public int CompareTo(BlockNo other) => Value.CompareTo(other.Value);
    public static bool operator <(BlockNo a, BlockNo b) => a.Value < b.Value;
    public static bool operator >(BlockNo a, BlockNo b) => a.Value > b.Value;
    public static bool operator <=(BlockNo a, BlockNo b) => a.Value <= b.Value;
    public static bool operator >=(BlockNo a, BlockNo b) => a.Value >= b.Value;
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A run of <see cref="Count"/> consecutive blocks starting at <see cref="Start"/>.</summary>
public readonly record struct Extent(BlockNo Start, ulong Count)
{
    public BlockNo End => Start.Offset(Count);
    public bool Contains(BlockNo b) => b >= Start && b.Value < Start.Value + Count;
    public bool Overlaps(Extent o) => Start.Value < o.Start.Value + o.Count && o.Start.Value < Start.Value + Count;
    public override string ToString() => $"[{Start}+{Count}]";
}
