using System.Buffers.Binary;

namespace ExoFS.Xn.Format;

/// <summary>
/// XN's superblock (block 0). Offsets: 0 magic "EXOFS-XN", 8 version u32, 12 block size u32,
/// 16 block count u64, 24 free map start u64, 32 free map blocks u64, 40 catalogue start u64,
/// 48 catalogue slot blocks u64, 56 clean flag u32, 64 mount count u64, 72 in-flight record start u64,
/// 80 in-flight record slot blocks u64, 88 catalogue generation u64, 96 in-flight record sequence u64, 104 their
/// flag u32 (1: recorded; see <see cref="Written"/>), [1024,4092) the host's area (opaque to XN, kept as it is),
/// 4092 CRC32C of bytes [0,4092). Version 2 added the record; the generation came later within version 2
/// (older superblocks hold zeros there: no generation recorded, nothing checked).
/// </summary>
internal sealed record Superblock(Layout Layout, bool Clean, ulong MountCount)
{
    public const int HostAreaOffset = 1024, HostAreaBytes = 4092 - HostAreaOffset;

    /// <summary>
    /// Bytes the host that owns the volume keeps here (its last-recovery record); XN writes them back unchanged
    /// with every superblock write. Null: zeros. No guest can reach block 0.
    /// </summary>
    public byte[]? HostArea { get; init; }

    /// <summary>
    /// What was durable when this superblock was written: the catalogue's generation and the in-flight record's
    /// sequence (null: an image written before these fields). Both are flushed (or barriered) before the
    /// superblock that names them, so a loaded catalogue or record is never older than this; and after a clean
    /// unmount nothing writes either, so a clean superblock naming older ones than those on the disk is itself an
    /// older copy of block 0. That is how a lost or rolled-back write of either is told from the current one,
    /// whose CRCs are both valid.
    /// </summary>
    public (ulong CatalogueGeneration, ulong RecordSequence)? Written { get; init; }

    public static ReadOnlySpan<byte> Magic => "EXOFS-XN"u8;
    public const uint Version = 2;

    public void WriteTo(Span<byte> block)
    {
        block[..Layout.BlockSize].Clear();
        Magic.CopyTo(block);
        BinaryPrimitives.WriteUInt32LittleEndian(block[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(block[12..], Layout.BlockSize);
        BinaryPrimitives.WriteUInt64LittleEndian(block[16..], Layout.BlockCount);
        BinaryPrimitives.WriteUInt64LittleEndian(block[24..], Layout.FreeMapStart);
        BinaryPrimitives.WriteUInt64LittleEndian(block[32..], Layout.FreeMapBlocks);
        BinaryPrimitives.WriteUInt64LittleEndian(block[40..], Layout.CatalogueStart);
        BinaryPrimitives.WriteUInt64LittleEndian(block[48..], Layout.CatalogueSlotBlocks);
        BinaryPrimitives.WriteUInt32LittleEndian(block[56..], Clean ? 1u : 0u);
        BinaryPrimitives.WriteUInt64LittleEndian(block[64..], MountCount);
        BinaryPrimitives.WriteUInt64LittleEndian(block[72..], Layout.RecordStart);
        BinaryPrimitives.WriteUInt64LittleEndian(block[80..], Layout.RecordSlotBlocks);
        if (Written is { } written)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(block[88..], written.CatalogueGeneration);
            BinaryPrimitives.WriteUInt64LittleEndian(block[96..], written.RecordSequence);
            BinaryPrimitives.WriteUInt32LittleEndian(block[104..], 1);
        }
        HostArea?.CopyTo(block[HostAreaOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4092..], Crc32C.Compute(block[..4092]));
    }

    /// <summary>Decodes and validates; on failure <paramref name="why"/> names what is wrong.</summary>
    public static Superblock? ReadFrom(ReadOnlySpan<byte> block, out string why)
    {
        if (!block[..8].SequenceEqual(Magic)) { why = "superblock: bad magic (not an ExoFS XN image)"; return null; }
        if (BinaryPrimitives.ReadUInt32LittleEndian(block[4092..]) != Crc32C.Compute(block[..4092]))
        { why = "superblock: checksum mismatch"; return null; }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(block[8..]);
        if (version != Version) { why = $"superblock: unsupported version {version}"; return null; }
        if (BinaryPrimitives.ReadUInt32LittleEndian(block[12..]) != Layout.BlockSize)
        { why = "superblock: block size is not 4096"; return null; }
        var layout = new Layout(
            BinaryPrimitives.ReadUInt64LittleEndian(block[16..]), BinaryPrimitives.ReadUInt64LittleEndian(block[24..]),
            BinaryPrimitives.ReadUInt64LittleEndian(block[32..]), BinaryPrimitives.ReadUInt64LittleEndian(block[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(block[48..]),
            BinaryPrimitives.ReadUInt64LittleEndian(block[72..]), BinaryPrimitives.ReadUInt64LittleEndian(block[80..]));
        if (!layout.IsConsistent(out var geo)) { why = "superblock: " + geo; return null; }
        uint clean = BinaryPrimitives.ReadUInt32LittleEndian(block[56..]);
        if (clean > 1) { why = "superblock: bad clean flag"; return null; }
        uint recorded = BinaryPrimitives.ReadUInt32LittleEndian(block[104..]);
        if (recorded > 1 || (recorded == 0 && block[88..104].IndexOfAnyExcept((byte)0) >= 0))
        { why = "superblock: bad field at 88..108 (what was durable when it was written)"; return null; }
        why = "";
        return new Superblock(layout, clean == 1, BinaryPrimitives.ReadUInt64LittleEndian(block[64..]))
        {
            Written = recorded == 1
                ? (BinaryPrimitives.ReadUInt64LittleEndian(block[88..]), BinaryPrimitives.ReadUInt64LittleEndian(block[96..]))
                : null,
            HostArea = block.Slice(HostAreaOffset, HostAreaBytes).ToArray(),
        };
    }
}
