using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>The cleaner's timer in a mount: it cleans when free segments fall under the start threshold, with no sync.</summary>
public sealed class BackgroundCleanerTests
{
    private static readonly InodeNo Root = InodeNo.Root;
    private const int B = 4096;

    /// <summary>A 32 MiB LFS (256 KiB segments, cleaning from 50% free up to 60%) holding a 12 MiB file in one copy.</summary>
    private static (MemoryDevice Dev, byte[] Content) HalfDeadVolume()
    {
        var (fs, dev) = LfsTestKit.Fresh(32UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10, CleanStartPercent = 50, CleanStopPercent = 60 });
        var content = new byte[12 << 20];
        new Random(7).NextBytes(content);
        var f = fs.WriteFile(Root, "f", content);
        fs.Sync().Ok();
        fs.Dispose();
        return (dev, content);
    }

    /// <summary>
    /// Overwrites all but every <paramref name="keepEvery"/>-th block of "f" (no sync): the first copy's segments keep
    /// 1/<paramref name="keepEvery"/> of their blocks, and free space falls under 50%. The volume is then some 40% live,
    /// so segments a quarter live are background victims and half-live ones are not.
    /// </summary>
    private static void Overwrite(LfsFileSystem fs, byte[] content, int keepEvery = 4)
    {
        var ino = fs.Get(Root, "f").Ino;
        var fh = fs.Open(ino, OpenFlags.ReadWrite).Ok();
        var blk = new byte[B];
        for (int k = 0; k < content.Length / B; k++)
        {
            if (k % keepEvery == 0) continue;
            new Random(k).NextBytes(blk);
            blk.CopyTo(content, k * B);
            fs.Write(ino, fh, (long)k * B, blk).Ok();
        }
        fs.Release(ino, fh).Ok();
    }

    [Fact]
    public void The_timer_cleans_when_free_segments_fall_under_the_start_threshold()
    {
        var (dev, content) = HalfDeadVolume();
        var fs = LfsTestKit.Mount(dev, new LfsMountOptions { CleanerInterval = TimeSpan.FromMilliseconds(20) });
        Overwrite(fs, content);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (fs.BackgroundPasses == 0 && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.True(fs.BackgroundPasses > 0, "the background cleaner never ran");
        Assert.True(fs.Cleaner.SegmentsCleaned > 0);
        Assert.Null(fs.BackgroundError);
        // Calls keep working while it runs, and see their data.
        Assert.Equal(content, fs.ReadFile(fs.Get(Root, "f").Ino));
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsTestKit.Mount(dev);
        Assert.Equal(content, again.ReadFile(again.Get(Root, "f").Ino));
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }

    [Fact]
    public void Without_the_timer_nothing_cleans_until_a_sync()
    {
        // The test above must be able to fail: the same load with no timer leaves the cleaner idle.
        var (dev, content) = HalfDeadVolume();
        var fs = LfsTestKit.Mount(dev, new LfsMountOptions { CleanerInterval = TimeSpan.Zero });
        Overwrite(fs, content);
        Thread.Sleep(300);
        Assert.Equal(0UL, fs.Cleaner.SegmentsCleaned);
        fs.Sync().Ok();
        Assert.True(fs.Cleaner.SegmentsCleaned > 0, "a sync under the start threshold cleans");
        fs.Dispose();
    }

    [Fact]
    public void A_background_pass_leaves_segments_fuller_than_the_volume_to_the_cleaning_on_demand()
    {
        // Half-live segments on a volume some 40% live: cleaning them ahead of need costs more than waiting.
        var (dev, content) = HalfDeadVolume();
        var fs = LfsTestKit.Mount(dev, new LfsMountOptions { CleanerInterval = TimeSpan.Zero });
        Overwrite(fs, content, keepEvery: 2);
        fs.Sync().Ok();
        Assert.Equal(0UL, fs.Cleaner.SegmentsCleaned);
        // On demand, the same segments are victims.
        Assert.True(fs.Cleaner.CleanOnce(), "cleaning on demand takes a half-live segment");
        Assert.True(fs.Cleaner.SegmentsCleaned > 0);
        fs.Sync().Ok();
        Assert.Equal(content, fs.ReadFile(fs.Get(Root, "f").Ino));
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
    }

    [Fact]
    public void A_host_mount_takes_cleaner_interval_and_refuses_a_bad_one()
    {
        var (fresh, dev) = LfsTestKit.Fresh(16UL << 20);
        fresh.Dispose();
        using var host = ExoFS.Host.ExoHost.Load(dev, out string? error).Value;
        var bad = host.Attach(LfsFileSystem.DefaultRootName, out error, options: new Dictionary<string, string> { ["cleaner-interval"] = "nope" });
        Assert.False(bad.Ok);
        Assert.Contains("cleaner-interval takes seconds", error);
        var off = host.Attach(LfsFileSystem.DefaultRootName, out error, options: new Dictionary<string, string> { ["cleaner-interval"] = "0" });
        Assert.True(off.Ok, error);
        off.Value.Dispose();
    }
}
