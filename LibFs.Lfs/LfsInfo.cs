namespace ExoFS.LibFs.Lfs;

/// <summary>
/// What <c>exofs info</c> shows for an LFS: segments (bound, clean = no live block, dirty), a utilization
/// histogram (10 buckets of live fraction over the bound segments), the checkpoint's sequence and age, the
/// cleaner's policy and figures.
/// </summary>
public sealed record LfsInfo(uint SegmentBlocks, int SegmentSlots, int BoundSegments, int CleanSegments, int DirtySegments,
    int[] UtilizationHistogram, ulong CheckpointSeq, TimeSpan CheckpointAge, string CleanerPolicy, ulong SegmentsCleaned,
    double WriteCost, ulong LiveBlocks, ulong FreeBlocks);

public sealed partial class LfsFileSystem
{
    private DateTime _checkpointTime = DateTime.UtcNow;

    /// <summary>The figures for <c>exofs info</c>.</summary>
    public LfsInfo Info()
    {
        lock (_lock)
        {
            var hist = new int[10];
            int clean = 0, dirty = 0;
            foreach (int s in _usage.AllocatedSlots)
            {
                uint live = _usage.Live(s);
                if (live == 0) clean++; else dirty++;
                hist[Math.Min(9, (int)(live * 10 / SegBlocks))]++;
            }
            return new LfsInfo((uint)SegBlocks, _usage.Slots, _usage.AllocatedCount, clean, dirty, hist, _cpSeq, DateTime.UtcNow - _checkpointTime,
                Cleaner.Policy.Name, Cleaner.SegmentsCleaned, Cleaner.WriteCost, _usage.TotalLive, FreeBlocksHonest());
        }
    }
}
