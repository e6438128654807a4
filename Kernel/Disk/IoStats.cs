namespace ExoFS.Kernel.Disk;

/// <summary>
/// I/O counters of one device layer. Counts are per call (a 16-block read is one read of 65,536 bytes).
/// Thread-safe: every counter is updated with <see cref="Interlocked"/>; <see cref="Snapshot"/> reads each
/// counter atomically but not all of them at one instant, which is fine for reporting.
/// </summary>
public sealed class IoStats
{
    private long _reads, _writes, _bytesRead, _bytesWritten, _flushes, _barriers;

    internal void CountRead(int bytes) { Interlocked.Increment(ref _reads); Interlocked.Add(ref _bytesRead, bytes); }
    internal void CountWrite(int bytes) { Interlocked.Increment(ref _writes); Interlocked.Add(ref _bytesWritten, bytes); }
    internal void CountFlush() => Interlocked.Increment(ref _flushes);
    internal void CountBarrier() => Interlocked.Increment(ref _barriers);

    /// <summary>The counters now. Subtract two snapshots to measure an interval.</summary>
    public IoStatsSnapshot Snapshot() => new(
        Interlocked.Read(ref _reads), Interlocked.Read(ref _writes),
        Interlocked.Read(ref _bytesRead), Interlocked.Read(ref _bytesWritten),
        Interlocked.Read(ref _flushes), Interlocked.Read(ref _barriers));
}

/// <summary>A point-in-time copy of <see cref="IoStats"/>.</summary>
public readonly record struct IoStatsSnapshot(
    long Reads, long Writes, long BytesRead, long BytesWritten, long Flushes, long Barriers)
{
    /// <summary>Blocks read (bytes / 4096).</summary>
    public long BlocksRead => BytesRead / IBlockDevice.BlockSize;

    /// <summary>Blocks written (bytes / 4096).</summary>
    public long BlocksWritten => BytesWritten / IBlockDevice.BlockSize;

    /// <summary>The activity between <paramref name="before"/> and <paramref name="after"/>.</summary>
    public static IoStatsSnapshot operator -(IoStatsSnapshot after, IoStatsSnapshot before) => new(
        after.Reads - before.Reads, after.Writes - before.Writes,
        after.BytesRead - before.BytesRead, after.BytesWritten - before.BytesWritten,
        after.Flushes - before.Flushes, after.Barriers - before.Barriers);
}
