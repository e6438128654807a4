using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs;

namespace ExoFS.Compare.Designs;

/// <summary>
/// The FFS-like libFS (LibFs.Ffs), run as a guest of a host of its own on the comparison's device (closing the
/// file system closes the host). Every call that makes or mounts an FFS for a comparison is in this file.
/// <para>
/// Tunables: none. FFS's allocation policy (groups, placement) is fixed in its code and its mkfs
/// takes no option that changes behaviour; a tunable is declared here when FFS grows one (clustering,
/// allocation groups on/off), not before, so a user cannot set a key that does nothing.
/// </para>
/// </summary>
public sealed class FfsDesign : IDesign
{
    public static readonly FfsDesign Instance = new();

    private FfsDesign() { }

    /// <inheritdoc />
    public string Name => "ffs";

    /// <inheritdoc />
    public string Description => "FFS-like: inodes, 12 direct + indirect pointers, 128 MiB allocation groups, update in place";

    /// <inheritdoc />
    public IReadOnlyList<Tunable> Tunables { get; } = [];

    /// <inheritdoc />
    public Result<IFileSystem> Format(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error)
    {
        return ExoHost.FormatSolo(device, new RootRequest("ffs", FfsFileSystem.DefaultRootName), out error, libFses: [new FfsLibFs()]);
    }

    /// <inheritdoc />
    public Result<IFileSystem> Mount(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error)
    {
        return ExoHost.LoadSolo(device, FfsFileSystem.DefaultRootName, out error);
    }

    /// <inheritdoc />
    public bool HasCleaner => false;

    /// <inheritdoc />
    public CleanerCounters? ReadCleaner(IFileSystem fs) => null; // update in place: nothing to clean

    /// <inheritdoc />
    public IReadOnlyList<double>? CleanedSegmentUtilizations(IFileSystem fs) => null;
}
