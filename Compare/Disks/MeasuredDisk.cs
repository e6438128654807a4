using ExoFS.Kernel.Disk;

namespace ExoFS.Compare.Disks;

/// <summary>
/// A fresh in-memory device, wrapped in a <see cref="TimedDevice"/> when its kind has a model, with the counters
/// a comparison reports. Counts come from the outermost device's <see cref="IoStats"/> (what the libFS issued);
/// seeks from the HDD model's breakdown of each request. Owns both devices.
/// </summary>
public sealed class MeasuredDisk : IDisposable
{
    private readonly MemoryDevice _memory;
    private readonly TimedDevice? _timed;
    private readonly SeekCountingModel? _seeks;

    internal MeasuredDisk(DiskKind kind, ulong blocks)
    {
        Kind = kind;
        _memory = new MemoryDevice(blocks);
        if (kind.NewModel is { } newModel)
        {
            var model = newModel(blocks);
            if (model is HddModel hdd) model = _seeks = new SeekCountingModel(hdd);
            _timed = new TimedDevice(_memory, model);
        }
    }

    /// <summary>Which disk this is.</summary>
    public DiskKind Kind { get; }

    /// <summary>The device to give the libFS.</summary>
    public IBlockDevice Device => (IBlockDevice?)_timed ?? _memory;

    /// <summary>The SSD model's FTL, for its own write amplification; null on other disks.</summary>
    public SsdModel? Ssd => _timed?.Model as SsdModel;

    /// <summary>Everything counted so far; subtract two to measure a phase.</summary>
    public DiskCounters Read() => new(
        ((BlockDeviceBase)Device).Stats.Snapshot(),
        _timed?.ModeledTime,
        _seeks?.Seeks,
        Ssd?.PagesProgrammed,
        Ssd?.HostPagesWritten);

    public void Dispose()
    {
        _timed?.Dispose();
        _memory.Dispose();
    }

    /// <summary>
    /// Passes requests to the HDD model and counts those that moved the arm (a seek of at least one cylinder).
    /// Head switches on one cylinder are not seeks; read-ahead hits cost no positioning and are not either.
    /// </summary>
    private sealed class SeekCountingModel(HddModel inner) : IDiskTimeModel
    {
        public long Seeks { get; private set; }

        public TimeSpan Elapsed => inner.Elapsed;

        public TimeSpan Service(DiskRequest request)
        {
            int before = inner.CurrentCylinder;
            var time = inner.Service(request);
            // A request's sectors are consecutive, so the arm only moves forward within one: it seeked iff it
            // ended on another cylinder (a sequential transfer crossing a cylinder boundary counts as one seek).
            if (inner.CurrentCylinder != before) Seeks++;
            return time;
        }

        public void Reset() { inner.Reset(); Seeks = 0; }
    }
}

/// <summary>A disk's counters at one instant (or, subtracted, over a phase). Null members: the disk has no such model.</summary>
public readonly record struct DiskCounters(
    IoStatsSnapshot Io, TimeSpan? Modeled, long? Seeks, long? FtlPagesProgrammed, long? FtlHostPages)
{
    public static DiskCounters operator -(DiskCounters after, DiskCounters before) => new(
        after.Io - before.Io,
        after.Modeled - before.Modeled,
        after.Seeks - before.Seeks,
        after.FtlPagesProgrammed - before.FtlPagesProgrammed,
        after.FtlHostPages - before.FtlHostPages);
}
