using ExoFS.Xn;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs.Log;

/// <summary>
/// The CRC-32C of a run of 4 KiB blocks from the blocks' own CRCs, so a summary's data checksum (over every block
/// it describes, in order) costs no second pass over the bytes: the log computes each block's CRC once, for its
/// summary entry, and folds it in here. CRC-32C is linear over GF(2): crc(A‖B) = x^(8·|B|)·crc(A) ⊕ crc(B) on the
/// finished values (zlib's crc32_combine), and for |B| = 4096 the shift is one fixed 32×32 bit matrix, applied a
/// byte at a time through four 256-entry tables built once from it.
/// </summary>
internal static class Crc32CBlocks
{
    private static readonly uint[] Table = Build();

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
