using System.Buffers.Binary;

namespace ExoFS.LibFs.Ffs.Format;

/// <summary>
/// Data checksums (mkfs <c>--data-checksums</c>, <see cref="Superblock.FeatureDataChecksums"/>). Each group has a
/// contiguous run of <see cref="BlocksPerGroup"/> ffs.csum blocks, owned through XN by the group's inode bitmap
/// (ffs.ibitmap: u64 first block at <see cref="RunOffset"/>, u32 count at <see cref="RunOffset"/>+8; the bits
/// use bytes below <see cref="InodeBitmapBytes"/>). A csum block holds <see cref="SlotsPerBlock"/> u32 slots;
/// group block k has slot k % 1021 of csum block k / 1021 (33 × 1021 = 33693 ≥ 32736, one group; format 5). A slot is
/// <see cref="Of"/> the block's bytes: CRC-32C over the block number (u64 LE) and the 4096 bytes, with 0 kept
/// for "none recorded" (a computed 0 is stored as 1). Every csum block is itself checksummed and sequenced by XN
/// (its last twelve bytes). The run is not in FFS's block bitmap: to FFS's allocator its blocks look like another owner's.
/// </summary>
public static class CsumBlock
{
    public const int SlotsPerBlock = FfsLayout.TailPayloadBytes / 4;   // 1021
    public const int BlocksPerGroup = (int)((FfsLayout.BlocksPerGroup + SlotsPerBlock - 1) / SlotsPerBlock);   // 33
    /// <summary>
    /// Bytes of an inode bitmap that hold bits (a group has at most 8000 inodes: 1000 bytes); the run's 12 bytes follow,
    /// then the block's write sequence (<see cref="FfsLayout.TailSequenceOffset"/>) and checksum.
    /// </summary>
    public const int InodeBitmapBytes = FfsLayout.TailSequenceOffset - 12;   // 4072
    public const int RunOffset = InodeBitmapBytes;

    /// <summary>Where group block <paramref name="k"/>'s slot lies: csum block index in the run, byte offset.</summary>
    public static (int Block, int Offset) SlotOf(ulong k) => ((int)(k / SlotsPerBlock), (int)(k % SlotsPerBlock) * 4);

    /// <summary>The slot value for data block <paramref name="block"/> holding <paramref name="bytes"/> (4096 of them).</summary>
    public static uint Of(ulong block, ReadOnlySpan<byte> bytes)
    {
        Span<byte> seed = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(seed, block);
        uint crc = Xn.XnCrc32C.Compute(bytes[..FfsLayout.BlockSize], Xn.XnCrc32C.Compute(seed));
        return crc == 0 ? 1 : crc;
    }

    /// <summary>The slot of <paramref name="csum"/> at <paramref name="offset"/>.</summary>
    public static uint Read(ReadOnlySpan<byte> csum, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(csum[offset..]);
}
