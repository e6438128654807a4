namespace ExoFS.Kernel.Scheduling;

/// <summary>
/// The scheduler's seeded generator: SplitMix64, written out here rather than taken from
/// <see cref="System.Random"/> so that a schedule replays from its seed on any runtime version.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A value in 0..<paramref name="bound"/>-1 (Lemire's multiply-shift: no modulo bias worth the name).</summary>
    public int Below(int bound) => (int)(((UInt128)Next() * (uint)bound) >> 64);
}
