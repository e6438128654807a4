using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// What <c>exofs info</c> shows for an LFS: segments (bound, clean = no live block, dirty), a utilization
/// histogram (10 buckets of live fraction over the bound segments), the checkpoint's sequence and age, the
/// cleaner's policy and figures.
/// </summary>
public sealed record LfsInfo(uint SegmentBlocks, int SegmentSlots, int BoundSegments, int CleanSegments, int DirtySegments,
    int[] UtilizationHistogram, ulong CheckpointSeq, TimeSpan CheckpointAge, string CleanerPolicy, ulong SegmentsCleaned,
    double WriteCost, ulong LiveBlocks, ulong FreeBlocks);

public sealed partial class LfsFileSystem : IReportsInfo
{
    // When the newest checkpoint was written (from its record at mount, then at each checkpoint).
    private DateTime _checkpointTime = DateTime.UtcNow;

    /// <summary><c>exofs info</c>'s lines for this root: segments and their utilization, the checkpoint, the cleaner, space.</summary>
    public IReadOnlyList<(string Name, string Value)> InfoLines()
    {
        var i = Info();
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string age = i.CheckpointAge < TimeSpan.Zero ? "in the future (clock skew)"
            : i.CheckpointAge.TotalSeconds < 120 ? string.Create(inv, $"{i.CheckpointAge.TotalSeconds:F0} s ago")
            : i.CheckpointAge.TotalHours < 48 ? string.Create(inv, $"{i.CheckpointAge.TotalMinutes:F0} min ago")
            : string.Create(inv, $"{i.CheckpointAge.TotalDays:F0} days ago");
        return
        [
            ("segments", string.Create(inv, $"{i.BoundSegments} bound of {i.SegmentSlots} slots ({i.CleanSegments} clean, {i.DirtySegments} dirty), {i.SegmentBlocks * LfsLayout.BlockSize / 1024} KiB each")),
            ("utilization", "bound segments by live tenths 0-10%..90-100%: " + string.Join(" ", i.UtilizationHistogram)),
            ("checkpoint", string.Create(inv, $"#{i.CheckpointSeq}, written {age}")),
            ("cleaner", string.Create(inv, $"{i.CleanerPolicy}; {i.SegmentsCleaned} segments cleaned, write cost {i.WriteCost:F2}")),
            ("space", string.Create(inv, $"{i.LiveBlocks} live blocks, {i.FreeBlocks} free (statfs)")),
        ];
    }

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
                Cleaner.SurvivorsAtLogHead ? $"{Cleaner.Policy.Name}, survivors at the log head" : Cleaner.Policy.Name, Cleaner.SegmentsCleaned, Cleaner.WriteCost, _usage.TotalLive, FreeBlocksHonest());
        }
    }
}
