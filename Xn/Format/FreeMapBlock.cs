using System.Buffers.Binary;

namespace ExoFS.Xn.Format;

/// <summary>
/// One free-map block: bits for <see cref="Layout.BitsPerMapBlock"/> consecutive disk blocks (bit i of
/// byte j covers block base + 8j + i; set = allocated), then a CRC32C of the bitmap at offset 4092.
/// </summary>
internal static class FreeMapBlock
{
    public const int BitmapBytes = Layout.BlockSize - 4;

    public static void Seal(Span<byte> block) =>
        BinaryPrimitives.WriteUInt32LittleEndian(block[BitmapBytes..], Crc32C.Compute(block[..BitmapBytes]));

    public static bool IsValid(ReadOnlySpan<byte> block) =>
        BinaryPrimitives.ReadUInt32LittleEndian(block[BitmapBytes..]) == Crc32C.Compute(block[..BitmapBytes]);
}
