using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Lfs;

namespace ExoFS.Compare.Designs;

/// <summary>
/// The LFS-like libFS (LibFs.Lfs), run as a guest of a host of its own on the comparison's device. Tunables are
/// its mkfs options: segment size and cleaner policy. Its cleaner's counters give Sprite's write cost
/// ((read + rewritten + new) / new blocks) and the utilization of each segment it cleaned.
/// </summary>
public sealed class LfsDesign : IDesign
{
    public static readonly LfsDesign Instance = new();

    private LfsDesign() { }

    public string Name => "lfs";

    public string Description => "LFS-like: a log of segments, inode map, checkpoints, roll-forward, a cleaner";

    public IReadOnlyList<Tunable> Tunables { get; } =
    [
        new("segment", ["256K", "512K", "1M", "2M", "4M"], "1M", "segment size"),
        new("cleaner", ["greedy", "cost-benefit", "age-sort"], "cost-benefit", "cleaner policy (which segments it cleans first)"),
        new("survivors", ["own-head", "log-head"], "own-head", "where the cleaner writes what it copies: a head of its own, or the log's head with new data (Sprite)"),
    ];

    public Result<IFileSystem> Format(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error)
    {
        var options = settings.Where(kv => Tunables.Any(t => t.Key == kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        return ExoHost.FormatSolo(device, new RootRequest("lfs", LfsFileSystem.DefaultRootName, options), out error, libFses: [new LfsLibFs()]);
    }

    public Result<IFileSystem> Mount(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error) =>
        ExoHost.LoadSolo(device, LfsFileSystem.DefaultRootName, out error);

    public bool HasCleaner => true;

    public CleanerCounters? ReadCleaner(IFileSystem fs)
    {
        if (fs is not LfsFileSystem lfs) return null;
        var c = lfs.Cleaner;
        const long bs = LibFs.Lfs.Format.LfsLayout.BlockSize;
        return new CleanerCounters((long)c.BlocksRead * bs, (long)c.BlocksMoved * bs, (long)c.NewBlocks * bs);
    }

    public IReadOnlyList<double>? CleanedSegmentUtilizations(IFileSystem fs) =>
        fs is LfsFileSystem lfs ? lfs.Cleaner.CleanedUtilizations : null;
}
