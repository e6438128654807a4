using ExoFS.Compare.Designs;
using ExoFS.Compare.Reproduce;
using ExoFS.Compare.Workloads;

namespace ExoFS.Compare.Tests;

/// <summary>The LFS paper reproduction runs what FFS can and names what it cannot, rather than drawing it.</summary>
public sealed class ReproduceTests
{
    [Fact]
    public void Ffs_only_runs_the_small_and_large_file_experiments_and_lists_the_cleaning_ones_as_unavailable()
    {
        var outcome = LfsPaper.Run([FfsDesign.Instance], seed: 1, smallFiles: BuiltinWorkloads.SmallFiles(files: 20), largeFile: BuiltinWorkloads.LargeFile(mib: 1));
        Assert.Empty(outcome.Errors);
        Assert.Equal(2, outcome.Unavailable.Count);
        Assert.Contains(outcome.Unavailable, u => u.StartsWith("write cost vs utilization", StringComparison.Ordinal) && u.Contains("not available"));
        Assert.Contains(outcome.Unavailable, u => u.StartsWith("segment utilization distribution", StringComparison.Ordinal));
        var charts = outcome.Sections.SelectMany(s => s.Charts).Select(c => c.FileStem).ToList();
        Assert.Equal(["lfs-paper-small-files", "lfs-paper-large-file"], charts);
        Assert.All(outcome.Results, r => Assert.Equal("hdd", r.Disk));
        Assert.All(outcome.Results.Where(r => r.Phase != "setup"), r => Assert.True(r.OpsPerSecond > 0));
        var small = outcome.Sections[0].Charts[0];
        Assert.Equal(["create", "read", "delete"], small.Categories);
        Assert.Single(small.Series);
    }
}
