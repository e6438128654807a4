using System.Buffers.Binary;
using System.Numerics;

namespace ExoFS.Xn.Format;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). Every XN on-disk structure carries one so that
/// random bytes over it are detected rather than trusted, and so does every block of a type that declares
/// <see cref="TypeSpec.ChecksumOffset"/> (<see cref="BlockChecksum"/>). The framework's
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> does the work, eight bytes at a time (the CPU's CRC32C
/// instruction where there is one, its own software form otherwise). (The System.IO.Hashing package the
/// repository references, 10.0.x, offers only the IEEE CRC-32, not this polynomial.)
/// </summary>
internal static class Crc32C
{
    /// <summary>Continues a running CRC (start with <c>0</c>); returns the finished value.</summary>
    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0)
    {
        crc = ~crc;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }
}

/// <summary>
/// The checksum XN keeps in a block of a checksummed type: CRC-32C over the block number (u64 LE), the
/// type id (u16 LE) and the 4096 bytes with the 4-byte checksum field read as zeros, so a block written
/// to the wrong place, or read as another type, fails as surely as a damaged one. Stored little-endian
/// at the type's <see cref="TypeSpec.ChecksumOffset"/>.
/// </summary>
internal static class BlockChecksum
{
    public const int Bytes = 4;
    private static readonly byte[] ZeroField = new byte[Bytes];

    public static uint Compute(ulong block, TypeId type, ReadOnlySpan<byte> bytes, int offset)
    {
        Span<byte> seed = stackalloc byte[10];
        BinaryPrimitives.WriteUInt64LittleEndian(seed, block);
        BinaryPrimitives.WriteUInt16LittleEndian(seed[8..], type.Value);
        uint crc = Crc32C.Compute(seed);
        crc = Crc32C.Compute(bytes[..offset], crc);
        crc = Crc32C.Compute(ZeroField, crc);
        return Crc32C.Compute(bytes[(offset + Bytes)..Layout.BlockSize], crc);
    }

    /// <summary>Writes the checksum of <paramref name="bytes"/> into its field.</summary>
    public static void Stamp(ulong block, TypeId type, Span<byte> bytes, int offset) =>
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[offset..], Compute(block, type, bytes, offset));

    public static bool IsValid(ulong block, TypeId type, ReadOnlySpan<byte> bytes, int offset) =>
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[offset..]) == Compute(block, type, bytes, offset);
}
