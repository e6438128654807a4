using ExoFS.Kernel.Disk;

namespace ExoFS.Xn.Format;

/// <summary>
/// Where XN's own structures live on the disk (all little-endian, 4096-byte blocks):
/// <code>
///   block 0                         superblock
///   [FreeMapStart, +FreeMapBlocks)  free map: 4092 bytes of bitmap (bit set = allocated) + CRC32C per block
///   [CatalogueStart, +2*Slot)       two catalogue slots (roots + types), written alternately
///   [ReservedEnd, BlockCount)       blocks XN hands out through Alloc
/// </code>
/// </summary>
internal sealed record Layout(ulong BlockCount, ulong FreeMapStart, ulong FreeMapBlocks,
                              ulong CatalogueStart, ulong CatalogueSlotBlocks)
{
    public const int BlockSize = IBlockDevice.BlockSize;
    public const int BitsPerMapBlock = (BlockSize - 4) * 8;
    /// <summary>Smallest device XN formats (everything reserved plus a little room).</summary>
    public const ulong MinBlocks = 16;
    public const ulong MaxBlocks = 1UL << 40;

    public ulong ReservedEnd => CatalogueStart + 2 * CatalogueSlotBlocks;

    public ulong SlotStart(int slot) => CatalogueStart + (ulong)slot * CatalogueSlotBlocks;

    /// <summary>The layout XN formats a device of <paramref name="blockCount"/> blocks with.</summary>
    public static Layout For(ulong blockCount)
    {
        ulong mapBlocks = (blockCount + BitsPerMapBlock - 1) / BitsPerMapBlock;
        // Catalogue slots scale with the disk: small test disks keep room for data, big ones room for
        // many types with long UDF texts (a slot of 64 blocks holds 256 KiB of catalogue).
        ulong slot = Math.Clamp(blockCount / 64, 2, 64);
        return new Layout(blockCount, 1, mapBlocks, 1 + mapBlocks, slot);
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
