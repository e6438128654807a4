using System.Buffers.Binary;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ExoFS.Xn.Format;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). Every XN on-disk structure carries one so that
/// random bytes over it are detected rather than trusted, and so does every block of a type that declares
/// <see cref="TypeSpec.ChecksumOffset"/> (<see cref="BlockChecksum"/>). Uses the CPU's CRC32C instruction
/// (SSE4.2 on x64, the CRC extension on Arm64) eight bytes at a time where there is one, the table
/// otherwise; both give the same value. (The System.IO.Hashing package the repository references,
/// 10.0.x, offers only the IEEE CRC-32, not this polynomial.)
/// </summary>
internal static class Crc32C
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }

    /// <summary>Continues a running CRC (start with <c>0</c>); returns the finished value.</summary>
    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0) => ~Update(~crc, data);

    /// <summary>The raw (not inverted) CRC register after <paramref name="data"/>.</summary>
    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        if (Sse42.X64.IsSupported)
        {
            ulong c = crc;
            while (data.Length >= 8)
            {
                c = Sse42.X64.Crc32(c, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }
            crc = (uint)c;
            foreach (byte b in data) crc = Sse42.Crc32(crc, b);
            return crc;
        }
        if (Crc32.Arm64.IsSupported)
        {
            while (data.Length >= 8)
            {
                crc = Crc32.Arm64.ComputeCrc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }
            foreach (byte b in data) crc = Crc32.ComputeCrc32C(crc, b);
            return crc;
        }
        return UpdateTable(crc, data);
    }

    /// <summary>The table-driven form, one byte at a time (also what tests compare the fast path with).</summary>
    internal static uint UpdateTable(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
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
