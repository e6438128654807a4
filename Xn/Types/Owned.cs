using ExoFS.Kernel.Disk;

namespace ExoFS.Xn.Types;

/// <summary>One extent an owns-UDF emitted, with the child type resolved to a <see cref="TypeId"/>.</summary>
internal readonly record struct Owned(TypeId Type, ulong Start, ulong Count) : IComparable<Owned>
{
    public Extent Extent => new(new BlockNo(Start), Count);

    // Explicit field compares: this runs on every update check, and the generated record equality goes
    // through EqualityComparer<T>.Default per field.
    public bool Equals(Owned o) => Start == o.Start && Count == o.Count && Type.Value == o.Type.Value;
    public override int GetHashCode() => HashCode.Combine(Start, Count, Type.Value);

    public int CompareTo(Owned o)
    {
        int c = Start.CompareTo(o.Start);
        if (c != 0) return c;
        c = Count.CompareTo(o.Count);
        return c != 0 ? c : Type.Value.CompareTo(o.Type.Value);
    }
}
