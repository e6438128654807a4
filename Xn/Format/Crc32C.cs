using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace ExoFS.Xn.Format;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). Every XN on-disk structure carries one so that
/// random bytes over it are detected rather than trusted, and so does every block of a type that declares
/// <see cref="TypeSpec.ChecksumOffset"/> (<see cref="BlockChecksum"/>); libFSes use it through
/// <see cref="XnCrc32C"/> (FFS's data checksums, the LFS's per-block CRCs). The framework's
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> does the work, eight bytes at a time (the CPU's CRC32C
/// instruction where there is one, its own software form otherwise). (The System.IO.Hashing package the
/// repository references, 10.0.x, offers only the IEEE CRC-32, not this polynomial.)
/// <para>
/// A whole 4 KiB block runs in four interleaved lanes of 1 KiB: the CRC32 instruction takes three cycles before
/// its result can feed the next, so one chain over a block waits most of the time and four keep it busy. The
/// lanes are joined by linearity over GF(2): R(r, X‖Y) = Z(R(r, X)) ⊕ R(0, Y) on raw registers, Z being the
/// register fed 1 KiB of zeros, a fixed 32×32 bit matrix applied a byte at a time through four 256-entry tables.
/// </para>
/// </summary>
internal static class Crc32C
{
    private const int Chunk = Layout.BlockSize, Lane = Chunk / 4;
    private static readonly uint[] LaneShift = BuildLaneShift(), BlockShift = BuildBlockShift();

    /// <summary>Continues a running CRC (start with <c>0</c>); returns the finished value.</summary>
    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0)
    {
        crc = ~crc;
        if (BitConverter.IsLittleEndian)
            for (; data.Length >= Chunk; data = data[Chunk..]) crc = Block(crc, data[..Chunk]);
        return ~Plain(data, crc);
    }

    /// <summary>The raw register after <paramref name="data"/>, one chain.</summary>
    private static uint Plain(ReadOnlySpan<byte> data, uint crc)
    {
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return crc;
    }

    /// <summary>The raw register after one 4 KiB block, in four lanes (lane 0 from <paramref name="crc"/>, the others from 0).</summary>
    private static uint Block(uint crc, ReadOnlySpan<byte> block)
    {
        var q = MemoryMarshal.Cast<byte, ulong>(block);
        var q0 = q[..(Lane / 8)];
        var q1 = q.Slice(Lane / 8, Lane / 8);
        var q2 = q.Slice(2 * Lane / 8, Lane / 8);
        var q3 = q.Slice(3 * Lane / 8, Lane / 8);
        uint a = crc, b = 0, c = 0, d = 0;
        for (int i = 0; i < q0.Length; i++)
        {
            a = BitOperations.Crc32C(a, q0[i]);
            b = BitOperations.Crc32C(b, q1[i]);
            c = BitOperations.Crc32C(c, q2[i]);
            d = BitOperations.Crc32C(d, q3[i]);
        }
        return ShiftLane(ShiftLane(ShiftLane(a) ^ b) ^ c) ^ d;
    }

    private static uint ShiftLane(uint r) =>
        LaneShift[r & 0xFF] ^ LaneShift[256 + ((r >> 8) & 0xFF)] ^ LaneShift[512 + ((r >> 16) & 0xFF)] ^ LaneShift[768 + (r >> 24)];

    /// <summary>
    /// crc(A‖B) for a run A with finished CRC <paramref name="run"/> (0 for an empty run) and one 4 KiB block B with
    /// finished CRC <paramref name="block"/>, without B's bytes: crc(A‖B) = x^(8·4096)·crc(A) ⊕ crc(B) (zlib's
    /// crc32_combine), the shift a fixed matrix.
    /// </summary>
    public static uint AppendBlock(uint run, uint block) =>
        BlockShift[run & 0xFF] ^ BlockShift[256 + ((run >> 8) & 0xFF)] ^ BlockShift[512 + ((run >> 16) & 0xFF)] ^ BlockShift[768 + (run >> 24)] ^ block;

    private static uint[] BuildBlockShift()
    {
        // For finished CRCs: shift(c) = crc(zeros, from c) ⊕ crc(zeros, from 0). One chain: the lane tables may not exist yet.
        var zeros = new byte[Chunk];
        uint fromZero = ~Plain(zeros, ~0u);
        var basis = new uint[32];
        for (int i = 0; i < 32; i++) basis[i] = ~Plain(zeros, ~(1u << i)) ^ fromZero;
        return ShiftTables(basis);
    }

    private static uint[] BuildLaneShift()
    {
        var zeros = new byte[Lane];
        var basis = new uint[32];
        for (int i = 0; i < 32; i++) basis[i] = Plain(zeros, 1u << i);
        return ShiftTables(basis);
    }

    /// <summary>The four byte tables of the linear map whose image of bit i is <paramref name="basis"/>[i].</summary>
    private static uint[] ShiftTables(uint[] basis)
    {
        var table = new uint[4 * 256];
        for (int k = 0; k < 4; k++)
            for (int b = 0; b < 256; b++)
            {
                uint v = 0;
                for (int bit = 0; bit < 8; bit++)
                    if ((b & (1 << bit)) != 0) v ^= basis[8 * k + bit];
                table[256 * k + b] = v;
            }
        return table;
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
