namespace ExoFS.Kernel.Udf;

/// <summary>
/// The read set of every partition, merged into sorted disjoint byte ranges. Built by the verifier after
/// it has checked that every range lies inside the block, so all values fit an int.
/// </summary>
internal sealed class UdfReadSets
{
    /// <summary>Per partition: start0, end0, start1, end1, ... sorted, disjoint, non-adjacent.</summary>
    private readonly int[][] _ranges;

    /// <summary>
    /// True when every partition reads one contiguous range of at least 8 bytes: compiled code then checks a
    /// load with one unsigned compare against (<see cref="Low"/>, <see cref="Length"/>).
    /// </summary>
    public bool SingleRange { get; }
    public long[] Low { get; }
    public long[] Length { get; }

    public UdfReadSets(IReadOnlyList<UdfReadDirective> reads, int partitions)
    {
        _ranges = new int[partitions][];
        Low = new long[partitions];
        Length = new long[partitions];
        bool single = true;
        var list = new List<(int Start, int End)>(reads.Count);
        for (int p = 0; p < partitions; p++)
        {
            list.Clear();
            foreach (var r in reads)
            {
                int start = r.Offset + p * r.Stride;
                list.Add((start, start + r.Length));
            }
            list.Sort();
            var merged = new List<int>(2 * list.Count);
            foreach (var (s, e) in list)
            {
                if (merged.Count > 0 && s <= merged[^1])
                    merged[^1] = Math.Max(merged[^1], e);
                else
                {
                    merged.Add(s);
                    merged.Add(e);
                }
            }
            _ranges[p] = merged.ToArray();
            if (merged.Count == 2 && merged[1] - merged[0] >= 8)
            {
                Low[p] = merged[0];
                Length[p] = merged[1] - merged[0];
            }
            else single = false;
        }
        SingleRange = single;
    }

    public int[] RangesOf(int partition) => _ranges[partition];

    public IReadOnlyList<UdfByteRange> Of(int partition)
    {
        var r = _ranges[partition];
        var result = new UdfByteRange[r.Length / 2];
        for (int i = 0; i < result.Length; i++)
            result[i] = new UdfByteRange(r[2 * i], r[2 * i + 1] - r[2 * i]);
        return result;
    }

    /// <summary>True when bytes [addr, addr+width) all lie in one merged range of <paramref name="ranges"/>.</summary>
    public static bool Contains(int[] ranges, ulong addr, int width)
    {
        for (int i = 0; i < ranges.Length; i += 2)
        {
            // Written so that no sum can wrap: addr may be any 64-bit value.
            ulong start = (ulong)ranges[i], end = (ulong)ranges[i + 1];
            if (addr >= start && addr < end && end - addr >= (ulong)width)
                return true;
        }
        return false;
    }
}
