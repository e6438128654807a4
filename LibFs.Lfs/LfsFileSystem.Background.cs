namespace ExoFS.LibFs.Lfs;

// Background cleaning in a mount: a timer looks at the free segments every CleanerInterval and, when they are
// under the start threshold, runs the cleaner (Cleaner.Background) until they are over the stop threshold.
// A tick takes the file system's one lock like any call, so it runs between calls, never inside one: every
// call still lands in one write unit, and a pass ends, as at sync, with a checkpoint written only after the
// copies it names are durable and releases victims only after that (the crash guarantees of a sync). A tick
// never waits for a busy file system: if a call holds the lock it tries again at the next tick (the foreground
// cleans on demand anyway when it needs room), and it does at most a few passes before letting calls in.
public sealed partial class LfsFileSystem
{
    private Timer? _cleanerTimer;
    private int _ticking;

    /// <summary>Timer ticks that cleaned something since mount.</summary>
    public ulong BackgroundPasses => Volatile.Read(ref _backgroundPasses);
    private ulong _backgroundPasses;

    internal void StartBackgroundCleaner(TimeSpan every)
    {
        _cleanerTimer = new Timer(_ => Tick(), null, every, every);
    }

    private void StopBackgroundCleaner()
    {
        var t = Interlocked.Exchange(ref _cleanerTimer, null);
        if (t is null) return;
        using var done = new ManualResetEvent(false);
        // Waits for a tick in progress to finish, so none runs after the unmount's checkpoint.
        if (t.Dispose(done)) done.WaitOne();
    }

    private void Tick()
    {
        if (Interlocked.Exchange(ref _ticking, 1) == 1) return; // the previous tick is still running
        try
        {
            if (!Monitor.TryEnter(_lock)) return;
            try
            {
                if (_disposed || _readOnly) return;
                ulong before = Cleaner.SegmentsCleaned;
                Cleaner.Background(maxPasses: 4);
                if (Cleaner.SegmentsCleaned != before) Interlocked.Increment(ref _backgroundPasses);
            }
            finally { Monitor.Exit(_lock); }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A failed pass leaves the state a crash would (the checkpoint is the commit point); the next
            // foreground sync reports any disk error. A timer thread must not take the process down.
            _backgroundError = e.Message;
        }
        finally { Volatile.Write(ref _ticking, 0); }
    }

    private string? _backgroundError;

    /// <summary>The last exception a background pass ended with (null: none).</summary>
    public string? BackgroundError => _backgroundError;
}
