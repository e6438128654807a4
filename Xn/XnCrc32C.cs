namespace ExoFS.Xn;

/// <summary>
/// XN's CRC-32C (the one its on-disk structures and checksummed types use), offered to libFSes that keep
/// checksums of their own in their own metadata (FFS's data checksums). A pure function: no authority.
/// </summary>
public static class XnCrc32C
{
    /// <summary>Continues a running CRC-32C (start with 0) over <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0) => Format.Crc32C.Compute(data, crc);

    /// <summary>The CRC-32C of a run (CRC <paramref name="run"/>, 0 when empty) followed by one 4 KiB block of CRC <paramref name="block"/>, without the block's bytes.</summary>
    public static uint AppendBlock(uint run, uint block) => Format.Crc32C.AppendBlock(run, block);
}
