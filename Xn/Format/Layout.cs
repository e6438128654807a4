using ExoFS.Kernel.Disk;

namespace ExoFS.Xn.Format;

/// <summary>
/// Where XN's own structures live on the disk (all little-endian, 4096-byte blocks):
/// <code>
///   block 0                         superblock
///   [FreeMapStart, +FreeMapBlocks)  free map: 4092 bytes of bitmap (bit set = allocated) + CRC32C per block
///   [CatalogueStart, +2*Slot)       two catalogue slots (roots + types), written alternately
///   [RecordStart, +2*RecordSlot)    two in-flight record slots (InFlightRecord), written alternately
///   [ReservedEnd, BlockCount)       blocks XN hands out through Alloc
/// </code>
/// </summary>
internal sealed record Layout(ulong BlockCount, ulong FreeMapStart, ulong FreeMapBlocks,
                              ulong CatalogueStart, ulong CatalogueSlotBlocks,
                              ulong RecordStart, ulong RecordSlotBlocks)
{
    public const int BlockSize = IBlockDevice.BlockSize;
    public const int BitsPerMapBlock = (BlockSize - 4) * 8;
    /// <summary>Smallest device XN formats (everything reserved plus a little room).</summary>
    public const ulong MinBlocks = 16;
    public const ulong MaxBlocks = 1UL << 40;

    public ulong ReservedEnd => RecordStart + 2 * RecordSlotBlocks;

    public ulong SlotStart(int slot) => CatalogueStart + (ulong)slot * CatalogueSlotBlocks;

    public ulong RecordSlotStart(int slot) => RecordStart + (ulong)slot * RecordSlotBlocks;

    /// <summary>The layout XN formats a device of <paramref name="blockCount"/> blocks with.</summary>
    public static Layout For(ulong blockCount)
    {
        ulong mapBlocks = (blockCount + BitsPerMapBlock - 1) / BitsPerMapBlock;
        // Catalogue slots scale with the disk: small test disks keep room for data, big ones room for
        // many types with long UDF texts (a slot of 64 blocks holds 256 KiB of catalogue).
        ulong slot = Math.Clamp(blockCount / 64, 2, 64);
        // In-flight record slots: 1 block (169 entries) on test disks, up to 64 (10,921 entries) on big ones.
        ulong record = Math.Clamp(blockCount / 256, 1, 64);
        ulong catalogue = 1 + mapBlocks;
        return new Layout(blockCount, 1, mapBlocks, catalogue, slot, catalogue + 2 * slot, record);
    }

    /// <summary>Whether the fields are mutually consistent (used when decoding a superblock).</summary>
    public bool IsConsistent(out string why)
    {
        var expect = BlockCount is >= MinBlocks and <= MaxBlocks ? For(BlockCount) : null;
        why = expect is null ? $"block count {BlockCount} out of range"
            : expect != this ? "geometry fields do not match the block count" : "";
        return why.Length == 0;
    }
}
