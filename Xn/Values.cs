using ExoFS.Kernel.Disk;

namespace ExoFS.Xn;

/// <summary>A registered metadata type. Id 0 is the built-in <see cref="XnTypes.Data"/>.</summary>
public readonly record struct TypeId(ushort Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Built-in types.</summary>
public static class XnTypes
{
    /// <summary>"xn.data": a raw block; owns nothing, every byte may be read and written raw.</summary>
    public static readonly TypeId Data = new(0);
    public const string DataName = "xn.data";
}

/// <summary>Bytes [Offset, Offset+Length) of a block.</summary>
public readonly record struct ByteRange(int Offset, int Length)
{
    public int End => Offset + Length;
    public bool Overlaps(ByteRange o) => Offset < o.End && o.Offset < End;
    public override string ToString() => $"[{Offset},{End})";
}

/// <summary>One byte-range replacement in a block: bytes [Offset, Offset+Bytes.Length) become <see cref="Bytes"/>.</summary>
public readonly record struct Edit(int Offset, ReadOnlyMemory<byte> Bytes);

/// <summary>The caller a libFS names for a request (<see cref="XnSession.ActAs"/>): the uid and gid it claims.</summary>
public readonly record struct XnCaller(uint Uid, uint Gid);

/// <summary>
/// A metadata type as a libFS describes it. <see cref="OwnsUdf"/> is UDF text (UDF-SPEC.md); its
/// <c>.types</c> list names child types: "xn.data", an already-registered type, or this type itself.
/// <see cref="RawWrite"/> ranges are the bytes <c>WriteRaw</c> may change; pointer fields lie outside them.
/// <see cref="AclUdf"/> runs on the proposed bytes of every change to a block of this type (updates and raw
/// writes) and must return nonzero; with <c>.inputs 4</c> it sees the principal in r2..r5 (environment id, uid,
/// gid, 1 when the libFS named a caller). <see cref="SizeUdf"/> returns, per owns partition, the byte size S of
/// the object the partition describes; after every change the partition may own at most ceil(S/4096) blocks of
/// the size-UDF's <c>.types</c> (xn.data when it names none). Xn/README.md, "acl and size".
/// </summary>
public sealed record TypeSpec(string Name, string OwnsUdf, IReadOnlyList<ByteRange> RawRead,
                              IReadOnlyList<ByteRange> RawWrite, string? AclUdf = null, string? SizeUdf = null)
{
    /// <summary>
    /// A segment type (Xn/README.md, "Segments"): an extent of this type emitted by a parent is one
    /// segment — its first block (the head, e.g. a segment summary) has this type and runs its owns-UDF;
    /// the other blocks are the segment's body, held by the segment, typed only by emissions of blocks
    /// inside it, and never by anything outside it. A segment type may not be a root or lie inside a segment.
    /// </summary>
    public bool Segment { get; init; }

    /// <summary>
    /// Where XN keeps this type's 4-byte CRC-32C in each block (null: no checksum). The CRC covers the block
    /// number, the type id and the block with the field read as zeros (Xn/README.md, "Checksums"). XN stamps
    /// it when it writes the block back and verifies it when it reads the block from the device; a mismatch
    /// is <see cref="XnError.BadChecksum"/> and the block is never served. The four bytes are XN's: they may
    /// not lie in a raw-write range or in any UDF's read set (checked at registration).
    /// </summary>
    public int? ChecksumOffset { get; init; }

    /// <summary>
    /// Where XN keeps this type's 8-byte write sequence (u64 LE) in each block (null: none; needs a
    /// <see cref="ChecksumOffset"/>, whose CRC covers it). XN stamps it at write-back from a volume-wide counter
    /// and remembers the sequence of each block's last write it knows is durable (the block-version table);
    /// a block read from the device with an older sequence is a stale copy (a lost write, a rollback) and fails
    /// like a checksum mismatch (Xn/README.md, "Block versions"). XN's bytes, as the CRC field's.
    /// </summary>
    public int? SequenceOffset { get; init; }

    /// <summary>Same name, UDF texts, ranges, kind and checksum field (records compare lists by reference, so this is explicit).</summary>
    public bool SameAs(TypeSpec o) =>
        Name == o.Name && OwnsUdf == o.OwnsUdf && AclUdf == o.AclUdf && SizeUdf == o.SizeUdf && Segment == o.Segment
        && ChecksumOffset == o.ChecksumOffset && SequenceOffset == o.SequenceOffset
        && RawRead.SequenceEqual(o.RawRead) && RawWrite.SequenceEqual(o.RawWrite);
}
