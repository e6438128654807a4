using System.Buffers.Binary;
using System.Text;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Memory;

namespace ExoFS.Kernel.Capabilities;

/// <summary>
/// The thing a capability names. A closed hierarchy (the constructor is private to the Kernel assembly):
/// a disk extent, a page frame, an XN root name, or a generic named resource that layers above the
/// kernel (XN) can use for resources of their own. Each kind has one canonical byte encoding, which is
/// what the seal covers.
/// </summary>
public abstract record Resource
{
    private protected Resource() { }

    /// <summary>
    /// Does a capability for this resource let its holder bind <paramref name="wanted"/>? Equality for
    /// most kinds; a disk extent covers any extent inside it (bind at large granularity).
    /// </summary>
    public abstract bool Covers(Resource wanted);

    /// <summary>Appends the canonical encoding (a tag byte, then the fields, little-endian).</summary>
    internal abstract void Encode(List<byte> into);

    internal const byte TagDiskExtent = 1, TagPageFrame = 2, TagRoot = 3, TagNamed = 4;

    internal static void PutU64(List<byte> into, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        foreach (var x in b) into.Add(x);
    }

    internal static void PutU32(List<byte> into, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        foreach (var x in b) into.Add(x);
    }

    // Length-prefixed so that ("ab","c") and ("a","bc") encode differently.
    internal static void PutString(List<byte> into, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        PutU32(into, (uint)bytes.Length);
        into.AddRange(bytes);
    }
}

/// <summary>A run of disk blocks. Covers every extent that lies wholly inside it.</summary>
public sealed record DiskExtentResource(Extent Extent) : Resource
{
    public override bool Covers(Resource wanted) =>
        wanted is DiskExtentResource d
        && d.Extent.Start >= Extent.Start
        && d.Extent.Start.Value + d.Extent.Count <= Extent.Start.Value + Extent.Count;

    internal override void Encode(List<byte> into)
    {
        into.Add(TagDiskExtent);
        PutU64(into, Extent.Start.Value);
        PutU64(into, Extent.Count);
    }

    public override string ToString() => $"disk{Extent}";
}

/// <summary>
/// One physical page frame. <see cref="Generation"/> counts allocations of that frame, so a capability
/// minted for one allocation does not bind after the frame was freed and given to someone else.
/// </summary>
public sealed record PageFrameResource(PageFrameNo Frame, ulong Generation) : Resource
{
    public override bool Covers(Resource wanted) => wanted == this;

    internal override void Encode(List<byte> into)
    {
        into.Add(TagPageFrame);
        PutU32(into, (uint)Frame.Value);
        PutU64(into, Generation);
    }

    public override string ToString() => $"frame{Frame.Value}@{Generation}";
}

/// <summary>A named XN root (e.g. "ffs").</summary>
public sealed record RootResource(string Name) : Resource
{
    public override bool Covers(Resource wanted) => wanted is RootResource r && string.Equals(r.Name, Name, StringComparison.Ordinal);

    internal override void Encode(List<byte> into)
    {
        into.Add(TagRoot);
        PutString(into, Name);
    }

    public override string ToString() => $"root:{Name}";
}

/// <summary>
/// A resource the kernel knows nothing about except its name: <see cref="Kind"/> says which layer's
/// namespace (e.g. "xn.type"), <see cref="Name"/> which instance. Lets XN mint for its own resources.
/// </summary>
public sealed record NamedResource(string Kind, string Name) : Resource
{
    public override bool Covers(Resource wanted) =>
        wanted is NamedResource n && string.Equals(n.Kind, Kind, StringComparison.Ordinal) && string.Equals(n.Name, Name, StringComparison.Ordinal);

    internal override void Encode(List<byte> into)
    {
        into.Add(TagNamed);
        PutString(into, Kind);
        PutString(into, Name);
    }

    public override string ToString() => $"{Kind}:{Name}";
}
