using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.Compare.Workloads;
using ExoFS.Kernel.Disk;

namespace ExoFS.Compare.Tests;

/// <summary>The counters a disk reports, the cleaner write cost formula, and the plan's phase count.</summary>
public sealed class DiskAndDesignTests
{
    [Fact]
    public void Hdd_counts_a_seek_only_when_the_arm_moves()
    {
        using var disk = Runs.Disk("hdd").Create(300_000);
        var block = new byte[IBlockDevice.BlockSize];
        var before = disk.Read();
        disk.Device.Read(new BlockNo(0), block);
        disk.Device.Read(new BlockNo(1), block);            // same track
        disk.Device.Read(new BlockNo(9), block);            // next track, same cylinder: a head switch
        Assert.Equal(0, (disk.Read() - before).Seeks);
        disk.Device.Read(new BlockNo(200_000), block);      // far away
        disk.Device.Read(new BlockNo(2), block);            // and back
        var d = disk.Read() - before;
        Assert.Equal(2, d.Seeks);
        Assert.Equal(5, d.Io.Reads);
        Assert.True(d.Modeled > TimeSpan.Zero);
    }

    [Fact]
    public void Ssd_reports_ftl_pages_and_mem_no_model()
    {
        using var ssd = Runs.Disk("ssd").Create(1024);
        ssd.Device.Write(new BlockNo(3), new byte[2 * IBlockDevice.BlockSize]);
        var d = ssd.Read();
        Assert.Equal(2, d.FtlHostPages);
        Assert.Equal(2, d.FtlPagesProgrammed);
        Assert.Null(d.Seeks);
        using var mem = Runs.Disk("mem").Create(1024);
        mem.Device.Write(new BlockNo(3), new byte[IBlockDevice.BlockSize]);
        Assert.Null(mem.Read().Modeled);
        Assert.Equal(IBlockDevice.BlockSize, mem.Read().Io.BytesWritten);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.8)]
    public void Cleaner_write_cost_of_segments_cleaned_at_u_is_two_over_one_minus_u(double u)
    {
        // Cleaning N segments of live fraction u reads N, writes back uN live, and frees room for (1-u)N new.
        const long segment = 1 << 20, n = 100;
        var counters = new CleanerCounters(n * segment, (long)(u * n * segment), (long)((1 - u) * n * segment));
        Assert.Equal(2 / (1 - u), counters.WriteCost!.Value, 6);
        Assert.Null(new CleanerCounters(5, 5, 0).WriteCost);
    }

    [Fact]
    public void Plan_phase_count_matches_what_a_run_reports()
    {
        var workloads = new[] { BuiltinWorkloads.SmallFiles(files: 10), BuiltinWorkloads.Webserver(files: 10, threads: 2, loops: 1) };
        var plan = new ComparePlan(workloads, [Runs.Ffs], [Runs.Disk("mem")]);
        Assert.Equal(plan.Phases, Comparison.Run(plan).Results.Count);
        Assert.Equal(3 + 2, plan.Phases); // small-files: 3 phases; webserver: setup + run
    }

    [Fact]
    public void Ffs_declares_no_tunables_and_no_cleaner()
    {
        Assert.Empty(FfsDesign.Instance.Tunables);
        Assert.False(FfsDesign.Instance.HasCleaner);
        Assert.Same(FfsDesign.Instance, DesignRegistry.Find("ffs"));
    }
}
