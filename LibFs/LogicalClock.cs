namespace ExoFS.LibFs;

/// <summary>
/// A deterministic clock for reproducible runs: it reads its start time until <see cref="Tick"/> moves it one
/// 100-ns tick on, like a coarse clock that a caller advances between steps, so the same sequence of steps
/// reads the same times on every run. While installed with <see cref="Use"/>, <see cref="Timespec.Now"/>
/// reads it instead of the wall clock for the calling flow (an <see cref="AsyncLocal{T}"/>: this thread and
/// the tasks it starts; other threads keep the wall clock). The crash explorer runs each workload under one
/// that ticks once per step, and each recovery under a fixed one, so a crash image is a function of the
/// workload alone and identical images can share their recovery. Thread-safe.
/// </summary>
public sealed class LogicalClock(Timespec start)
{
    private static readonly AsyncLocal<LogicalClock?> Installed = new();
    private readonly long _startTicks = start.Sec * TimeSpan.TicksPerSecond + start.Nsec / 100;
    private long _ticks;

    /// <summary>The clock installed for the calling flow, or null (the wall clock).</summary>
    public static LogicalClock? Current => Installed.Value;

    /// <summary>The time now: the start plus one 100-ns tick per <see cref="Tick"/> so far.</summary>
    public Timespec Read() => Timespec.FromTicks(_startTicks + Interlocked.Read(ref _ticks));

    /// <summary>Moves the clock one tick on.</summary>
    public void Tick() => Interlocked.Increment(ref _ticks);

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
