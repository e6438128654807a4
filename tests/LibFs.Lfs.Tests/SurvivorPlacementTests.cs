using ExoFS.Kernel.Disk;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>The survivors option: where the cleaner writes what it copies, kept in the superblock, overridable at mount.</summary>
public sealed class SurvivorPlacementTests
{
    [Fact]
    public void The_placement_is_kept_in_the_superblock_and_a_mount_can_override_it()
    {
        var (fs, dev) = LfsTestKit.Fresh(16UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10, Survivors = "log-head" });
        Assert.True(fs.Cleaner.SurvivorsAtLogHead);
        Assert.Contains("survivors at the log head", fs.Info().CleanerPolicy);
        fs.Dispose();

        var again = LfsTestKit.Mount(dev);
        Assert.True(again.Cleaner.SurvivorsAtLogHead);
        again.Dispose();
        var overridden = LfsTestKit.Mount(dev, new LfsMountOptions { Survivors = "own-head" });
        Assert.False(overridden.Cleaner.SurvivorsAtLogHead);
        overridden.Dispose();

        var (plain, _) = LfsTestKit.Fresh(16UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        Assert.False(plain.Cleaner.SurvivorsAtLogHead);
        plain.Dispose();
    }

    [Fact]
    public void An_unknown_placement_is_refused_by_name_at_mkfs_and_at_mount()
    {
        var dev = new MemoryDevice((16UL << 20) / IBlockDevice.BlockSize);
        var made = LfsImage.FormatDevice(dev, out string? error, new LfsFormatOptions { SegmentBytes = 256 << 10, Survivors = "middle" });
        Assert.False(made.Ok);
        Assert.Equal(Errno.EINVAL, made.Error);
        Assert.Contains("'middle'", error);

        var (fs, good) = LfsTestKit.Fresh(16UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        fs.Dispose();
        var mounted = LfsImage.MountDevice(good, out error, new LfsMountOptions { Survivors = "middle" });
        Assert.False(mounted.Ok);
        Assert.Equal(Errno.EINVAL, mounted.Error);
        Assert.Contains("'middle'", error);
    }
}
