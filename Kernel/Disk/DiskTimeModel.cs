namespace ExoFS.Kernel.Disk;

/// <summary>What a disk request does.</summary>
public enum DiskRequestKind { Read, Write, Flush }

/// <summary>One request as a time model sees it: <see cref="Blocks"/> 4 KiB blocks from <see cref="Start"/> (ignored for Flush).</summary>
public readonly record struct DiskRequest(DiskRequestKind Kind, BlockNo Start, ulong Blocks)
{
    public static DiskRequest Read(BlockNo start, ulong blocks) => new(DiskRequestKind.Read, start, blocks);
    public static DiskRequest Write(BlockNo start, ulong blocks) => new(DiskRequestKind.Write, start, blocks);
    public static DiskRequest Flush() => new(DiskRequestKind.Flush, BlockNo.Zero, 0);
}

/// <summary>
/// Turns a stream of requests into modeled service time, to compare designs (FFS vs LFS, allocation
/// policies) on a disk with realistic mechanics. Modeled time is unrelated to wall-clock time: the model's
/// clock advances only by the service time of each request (plus any idle time the model is told about).
/// Requests are served one at a time in arrival order. Implementations are not thread-safe; a
/// <see cref="TimedDevice"/> serializes calls.
/// </summary>
public interface IDiskTimeModel
{
    /// <summary>Serves <paramref name="request"/> from the model's current state and returns its service time.</summary>
    TimeSpan Service(DiskRequest request);

    /// <summary>Sum of service times since construction or <see cref="Reset"/>.</summary>
    TimeSpan Elapsed { get; }

    /// <summary>Returns the model to its initial state (arm, clock, mapping) and zeroes <see cref="Elapsed"/>.</summary>
    void Reset();
}

/// <summary>Conversion of model milliseconds to <see cref="TimeSpan"/>, rounding to the nearest tick (TimeSpan.FromMilliseconds truncates).</summary>
internal static class ModelTime
{
    public static TimeSpan FromMs(double ms) => TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
}
