using ExoFS.Cli;
using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;

namespace ExoFS.Compare.Tests;

/// <summary>Unknown designs, tunables, disks and workloads are refused with one line.</summary>
public sealed class RefusalTests
{
    private static readonly IReadOnlyList<IDesign> Designs =
    [
        FfsDesign.Instance,
        new TwinDesign("lfs-like",
            new Tunable("cleaner", ["greedy", "cost-benefit"], "greedy", "victim policy"),
            new Tunable("segment", ["512K", "1M"], "1M", "segment size")),
    ];

    [Fact]
    public void Libfs_list_splits_configurations_and_settings_on_commas()
    {
        var configs = DesignRegistry.ParseList("lfs-like:cleaner=cost-benefit,segment=512K,ffs,lfs-like", out string? error, Designs)!;
        Assert.Null(error);
        Assert.Equal(["lfs-like:cleaner=cost-benefit,segment=512K", "ffs", "lfs-like"], configs.Select(c => c.Label));
        Assert.Equal("cost-benefit", configs[0].Settings["cleaner"]);
        Assert.Equal("512K", configs[0].Settings["segment"]);
        Assert.Equal("greedy", configs[2].Settings["cleaner"]); // defaults filled in
        Assert.Empty(configs[1].Settings);
    }

    [Theory]
    [InlineData("zfs", "unknown libFS 'zfs'")]
    [InlineData("ffs:groups=off", "libFS 'ffs' has no tunables")]
    [InlineData("lfs-like:cleaner=random", "does not accept 'random'")]
    [InlineData("lfs-like:policy=greedy", "has no tunable 'policy'")]
    [InlineData("lfs-like:cleaner=greedy,cleaner=greedy", "given twice")]
    [InlineData("ffs,ffs", "given twice")]
    [InlineData("segment=1M", "before any libFS name")]
    [InlineData("ffs:cleaner", "not key=value")]
    [InlineData("ffs,,lfs-like", "empty item")]
    public void Bad_libfs_lists_are_refused(string list, string expected)
    {
        Assert.Null(DesignRegistry.ParseList(list, out string? error, Designs));
        Assert.Contains(expected, error);
        Assert.DoesNotContain('\n', error!);
    }

    [Fact]
    public void Unknown_disk_is_refused()
    {
        Assert.Null(DiskRegistry.ParseList("hdd,floppy", out string? error));
        Assert.Contains("unknown disk 'floppy'", error);
        Assert.Equal(3, DiskRegistry.ParseList("mem,ssd,hdd", out _)!.Count);
    }

    [Theory]
    [InlineData("--libfs", "zfs")]
    [InlineData("--libfs", "ffs:alloc=off")]
    [InlineData("--disk", "tape")]
    [InlineData("--workload", "bonnie")]
    [InlineData("--workload", "/nonexistent/w.json")]
    [InlineData("--utilization", "0.95")]
    [InlineData("--seed", "x")]
    [InlineData("--reproduce", "ffs-paper")]
    [InlineData("--frobnicate", "1")]
    public void Cli_refuses_with_one_line_and_exit_2(string option, string value)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Dispatch(["compare", option, value], stdout, stderr);
        Assert.Equal(2, code);
        var lines = stderr.ToString().TrimEnd('\n').Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("exofs compare: ", lines[0]);
        Assert.Equal("", stdout.ToString());
    }
}
