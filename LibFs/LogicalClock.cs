namespace ExoFS.LibFs;

/// <summary>
/// A deterministic clock for reproducible runs: the first reading is the start time and each reading after
/// it is one 100-ns tick later, so the same sequence of calls reads the same times on every run. While
/// installed with <see cref="Use"/>, <see cref="Timespec.Now"/> reads it instead of the wall clock for the
/// calling flow (an <see cref="AsyncLocal{T}"/>: this thread and the tasks it starts; other threads keep
/// the wall clock). The crash explorer runs each workload and each recovery under one, so a crash image is
/// a function of the workload alone and identical images can share their recovery. Thread-safe.
/// </summary>
public sealed class LogicalClock(Timespec start)
{
    private static readonly AsyncLocal<LogicalClock?> Installed = new();
    private readonly long _startTicks = start.Sec * TimeSpan.TicksPerSecond + start.Nsec / 100;
    private long _readings;

    /// <summary>The clock installed for the calling flow, or null (the wall clock).</summary>
    public static LogicalClock? Current => Installed.Value;

    /// <summary>Advances the clock one tick and returns the time before the advance.</summary>
    public Timespec Next() => Timespec.FromTicks(_startTicks + Interlocked.Increment(ref _readings) - 1);

    /// <summary>Installs <paramref name="clock"/> (null: the wall clock) for the calling flow until the scope is disposed.</summary>
    public static Scope Use(LogicalClock? clock)
    {
        var previous = Installed.Value;
        Installed.Value = clock;
        return new Scope(previous);
    }

    /// <summary>Puts back the clock that was installed before <see cref="Use"/>.</summary>
    public readonly struct Scope(LogicalClock? previous) : IDisposable
    {
        public void Dispose() => Installed.Value = previous;
    }
}
