using ExoFS.Kernel.Disk;
using ExoFS.LibFs;

namespace ExoFS.Compare.Designs;

/// <summary>
/// One library file system as <c>exofs compare</c> sees it: a name, the tunables it declares, and how to make
/// a fresh instance on a device and mount it again. A design is stateless; every run gets its own device and
/// file system. Register a new design with one line in <see cref="DesignRegistry.All"/>.
/// </summary>
public interface IDesign
{
    /// <summary>The name used in <c>--libfs</c> ("ffs", "lfs").</summary>
    string Name { get; }

    /// <summary>One line for <c>exofs compare --help</c> and the report.</summary>
    string Description { get; }

    /// <summary>The tunables a configuration may set (<c>NAME:key=value,...</c>); empty when there are none.</summary>
    IReadOnlyList<Tunable> Tunables { get; }

    /// <summary>
    /// Formats <paramref name="device"/> and returns the mounted file system, or an error line. The file system
    /// does not own the device: the caller disposes it after the file system.
    /// </summary>
    /// <param name="settings">Validated tunable values, every declared key present (defaults filled in).</param>
    Result<IFileSystem> Format(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error);

    /// <summary>
    /// Mounts the file system already on <paramref name="device"/> (after the previous instance was disposed),
    /// so the next phase starts with a cold cache.
    /// </summary>
    Result<IFileSystem> Mount(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error);

    /// <summary>
    /// Whether the design cleans (a log-structured design): the cleaning experiments run only on designs that do,
    /// with each value of their <c>cleaner</c> tunable, if they declare one.
    /// </summary>
    bool HasCleaner { get; }

    /// <summary>
    /// The cleaner's counters so far, for the cleaner write cost of a phase; null when the design has no
    /// cleaner (FFS), and the report then shows no write cost rather than a made-up one.
    /// </summary>
    CleanerCounters? ReadCleaner(IFileSystem fs);

    /// <summary>
    /// The live fraction (0..1) of every segment the cleaner has cleaned since <paramref name="fs"/> was mounted,
    /// in cleaning order, for the paper's distribution of segment utilizations at cleaning; null without a cleaner.
    /// </summary>
    IReadOnlyList<double>? CleanedSegmentUtilizations(IFileSystem fs);
}

/// <summary>A tunable a design declares: its key, the values it accepts, the default, and what it changes.</summary>
public sealed record Tunable(string Key, IReadOnlyList<string> AllowedValues, string Default, string Doc)
{
    /// <summary>True if <paramref name="value"/> is one of <see cref="AllowedValues"/> (ordinal).</summary>
    public bool Accepts(string value) => AllowedValues.Contains(value, StringComparer.Ordinal);
}

/// <summary>
/// A cleaner's cumulative work: bytes it read from segments it cleaned, live bytes it wrote back, and new
/// bytes the file system wrote for the workload. Subtract two snapshots to measure a phase.
/// </summary>
public readonly record struct CleanerCounters(long BytesRead, long LiveBytesWritten, long NewBytesWritten)
{
    /// <summary>The LFS paper's write cost: (bytes read + written) / new bytes written; null before any new data.</summary>
    public double? WriteCost => NewBytesWritten == 0 ? null
        : (double)(BytesRead + LiveBytesWritten + NewBytesWritten) / NewBytesWritten;

    public static CleanerCounters operator -(CleanerCounters after, CleanerCounters before) => new(
        after.BytesRead - before.BytesRead, after.LiveBytesWritten - before.LiveBytesWritten,
        after.NewBytesWritten - before.NewBytesWritten);
}
