namespace ExoFS.LibFs.Testing.Corruption;

/// <summary>The ways a campaign damages one block of an image.</summary>
public enum DamageKind
{
    /// <summary>A few bytes of the block (1–8 positions) changed to other values.</summary>
    RandomBytes,
    /// <summary>The whole block replaced by random bytes.</summary>
    RandomBlock,
    /// <summary>The whole block zeroed.</summary>
    ZeroBlock,
    /// <summary>A torn write: only the first k of the block's eight 512-byte sectors replaced by the stale image's.</summary>
    TornWrite,
    /// <summary>The whole block replaced by its stale (older) version.</summary>
    StaleBlock,
}

/// <summary>
/// One damage to one block, as applied: what was done and where. <see cref="Sectors"/> is the number of
/// sectors a torn write replaced; <see cref="Bytes"/> the positions <see cref="DamageKind.RandomBytes"/> changed.
/// </summary>
public sealed record Damage(DamageKind Kind, ulong Block, int Sectors = 0, IReadOnlyList<int>? Bytes = null)
{
    public const int SectorSize = 512, SectorsPerBlock = Kernel.Disk.IBlockDevice.BlockSize / SectorSize;

    public override string ToString() => Kind switch
    {
        DamageKind.RandomBytes => $"{Kind} at block {Block} (byte(s) {string.Join(",", Bytes ?? [])})",
        DamageKind.TornWrite => $"{Kind} at block {Block} (first {Sectors} of {SectorsPerBlock} sectors stale)",
        _ => $"{Kind} at block {Block}",
    };
}

/// <summary>
/// The damage functions, pure: each takes the block's current bytes (and its stale version) and a random
/// source, and returns the damaged bytes. Which block and which kind is the campaign's choice.
/// </summary>
public static class Damages
{
    private const int BlockSize = Kernel.Disk.IBlockDevice.BlockSize;

    /// <summary>
    /// The damaged bytes of a block: <paramref name="current"/> is the block in the image, <paramref name="stale"/>
    /// the same block in the older image (needed by the torn and stale kinds). Every kind but a torn or stale one
    /// that meets identical bytes changes something: random bytes XOR a non-zero value into each chosen position.
    /// </summary>
    public static (byte[] Bytes, Damage Damage) Apply(DamageKind kind, ulong block, ReadOnlySpan<byte> current, ReadOnlySpan<byte> stale, Random rng)
    {
        if (current.Length != BlockSize || stale.Length != BlockSize) throw new ArgumentException("blocks are 4096 bytes");
        var bytes = current.ToArray();
        switch (kind)
        {
            case DamageKind.RandomBytes:
                {
                    int n = rng.Next(1, 9);
                    var positions = new SortedSet<int>();
                    while (positions.Count < n) positions.Add(rng.Next(BlockSize));
                    foreach (int p in positions) bytes[p] ^= (byte)rng.Next(1, 256);
                    return (bytes, new Damage(kind, block, Bytes: positions.ToList()));
                }
            case DamageKind.RandomBlock:
                rng.NextBytes(bytes);
                if (bytes.AsSpan().SequenceEqual(current)) bytes[0] ^= 1;   // 2^-32768, but never a no-op
                return (bytes, new Damage(kind, block));
            case DamageKind.ZeroBlock:
                Array.Clear(bytes);
                return (bytes, new Damage(kind, block));
            case DamageKind.TornWrite:
                {
                    // k sectors from the stale version, k chosen so that at least one replaced sector differs
                    // when any of the first seven does (a torn write replaces fewer than all eight).
                    int first = FirstDifferingSector(current, stale);
                    int k = first < SectorsPerBlockMinusOne ? rng.Next(first + 1, Damage.SectorsPerBlock) : rng.Next(1, Damage.SectorsPerBlock);
                    stale[..(k * Damage.SectorSize)].CopyTo(bytes);
                    return (bytes, new Damage(kind, block, Sectors: k));
                }
            case DamageKind.StaleBlock:
                stale.CopyTo(bytes);
                return (bytes, new Damage(kind, block));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private const int SectorsPerBlockMinusOne = Damage.SectorsPerBlock - 1;

    /// <summary>The first 512-byte sector in which the two blocks differ; 8 when they are identical.</summary>
    public static int FirstDifferingSector(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        for (int s = 0; s < Damage.SectorsPerBlock; s++)
            if (!a.Slice(s * Damage.SectorSize, Damage.SectorSize).SequenceEqual(b.Slice(s * Damage.SectorSize, Damage.SectorSize)))
                return s;
        return Damage.SectorsPerBlock;
    }

    /// <summary>
    /// Whether <paramref name="kind"/> can change this block at all: a zeroed block must not already be zero, a
    /// stale block must differ from the stale version, a torn write in one of its first seven sectors.
    /// </summary>
    public static bool CanChange(DamageKind kind, ReadOnlySpan<byte> current, ReadOnlySpan<byte> stale) => kind switch
    {
        DamageKind.ZeroBlock => current.ContainsAnyExcept((byte)0),
        DamageKind.StaleBlock => !current.SequenceEqual(stale),
        DamageKind.TornWrite => FirstDifferingSector(current, stale) < SectorsPerBlockMinusOne,
        _ => true,
    };
}
