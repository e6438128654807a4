using System.Numerics;
using System.Runtime.InteropServices;
using ExoFS.Xn;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs.Log;

/// <summary>
/// The CRC-32C of a run of 4 KiB blocks from the blocks' own CRCs, so a summary's data checksum (over every block
/// it describes, in order) costs no second pass over the bytes: the log computes each block's CRC once, for its
/// summary entry, and folds it in here. CRC-32C is linear over GF(2): crc(A‖B) = x^(8·|B|)·crc(A) ⊕ crc(B) on the
/// finished values (zlib's crc32_combine), and for |B| = 4096 the shift is one fixed 32×32 bit matrix, applied a
/// byte at a time through four 256-entry tables built once from it.
///
/// <see cref="OfBlock"/> computes one block's CRC (the same value as <see cref="XnCrc32C.Compute"/>) in four
/// interleaved lanes of 1 KiB joined by the same kind of shift: the CPU's CRC32 instruction takes three cycles
/// before its result can feed the next, so one chain over a block waits most of the time and four keep it busy.
/// </summary>
internal static class Crc32CBlocks
{
    private static readonly uint[] Table = Build();
    private const int Lane = LfsLayout.BlockSize / 4;
    private static readonly uint[] LaneShift = BuildLaneShift();

    /// <summary>The CRC-32C of one 4 KiB block (<paramref name="block"/>'s first 4096 bytes): <c>XnCrc32C.Compute(block[..4096])</c>, faster.</summary>
    public static uint OfBlock(ReadOnlySpan<byte> block)
    {
        block = block[..LfsLayout.BlockSize];
        if (!BitConverter.IsLittleEndian) return XnCrc32C.Compute(block);
        var q = MemoryMarshal.Cast<byte, ulong>(block);
        var q0 = q[..(Lane / 8)];
        var q1 = q.Slice(Lane / 8, Lane / 8);
        var q2 = q.Slice(2 * Lane / 8, Lane / 8);
        var q3 = q.Slice(3 * Lane / 8, Lane / 8);
        // Raw CRC registers (no inversions): lane 0 starts from the CRC's initial ~0, the others from 0.
        uint a = ~0u, b = 0, c = 0, d = 0;
        for (int i = 0; i < q0.Length; i++)
        {
            a = BitOperations.Crc32C(a, q0[i]);
            b = BitOperations.Crc32C(b, q1[i]);
            c = BitOperations.Crc32C(c, q2[i]);
            d = BitOperations.Crc32C(d, q3[i]);
        }
        // R(r, X‖Y) = Z(R(r, X)) ⊕ R(0, Y) with Z the register fed 1 KiB of zeros, linear in the register.
        uint r = ShiftLane(ShiftLane(ShiftLane(a) ^ b) ^ c) ^ d;
        return ~r;
    }

    private static uint ShiftLane(uint r) =>
        LaneShift[r & 0xFF] ^ LaneShift[256 + ((r >> 8) & 0xFF)] ^ LaneShift[512 + ((r >> 16) & 0xFF)] ^ LaneShift[768 + (r >> 24)];

    private static uint[] BuildLaneShift()
    {
        // Z(v) on raw registers: Compute(z, c) = ~R(~c, z), so R(v, zeros) = ~Compute(zeros, ~v).
        var zeros = new byte[Lane];
        var basis = new uint[32];
        for (int i = 0; i < 32; i++) basis[i] = ~XnCrc32C.Compute(zeros, ~(1u << i));
        return Tables(basis);
    }

    /// <summary>crc(A‖B) for a run A with CRC <paramref name="run"/> (0 for an empty run) and one block B with CRC <paramref name="block"/>.</summary>
    public static uint Append(uint run, uint block) =>
        Table[run & 0xFF] ^ Table[256 + ((run >> 8) & 0xFF)] ^ Table[512 + ((run >> 16) & 0xFF)] ^ Table[768 + (run >> 24)] ^ block;

    private static uint[] Build()
    {
        // The shift of each basis bit: for finished CRCs, shift(c) = crc(zeros, from c) ⊕ crc(zeros, from 0).
        var zeros = new byte[LfsLayout.BlockSize];
        uint fromZero = XnCrc32C.Compute(zeros);
        var basis = new uint[32];
        for (int i = 0; i < 32; i++) basis[i] = XnCrc32C.Compute(zeros, 1u << i) ^ fromZero;
        return Tables(basis);
    }

    /// <summary>The four byte tables of the linear map whose image of bit i is <paramref name="basis"/>[i].</summary>
    private static uint[] Tables(uint[] basis)
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
