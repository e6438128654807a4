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

/// <summary>The cleaning experiments run, once per policy and access pattern, on a design that says it cleans.</summary>
public sealed class ReproduceCleaningPlumbingTests
{
    [Fact]
    public void Cleaning_experiments_draw_a_series_per_policy_and_access_pattern_beside_two_over_one_minus_u()
    {
        var outcome = LfsPaper.Run([new StandInCleanerDesign(live: 0.55)], seed: 1,
            smallFiles: BuiltinWorkloads.SmallFiles(files: 5), largeFile: BuiltinWorkloads.LargeFile(mib: 1), overwriteMib: 8);
        Assert.Empty(outcome.Errors);
        Assert.Empty(outcome.Unavailable);

        var cost = outcome.Sections.SelectMany(s => s.Charts).Single(c => c.FileStem == "lfs-paper-write-cost");
        Assert.Equal(
            ["stand-in:cleaner=greedy uniform", "stand-in:cleaner=greedy hot-cold", "stand-in:cleaner=cost-benefit uniform",
             "stand-in:cleaner=cost-benefit hot-cold", "2/(1-u)"],
            cost.Series.Select(s => s.Label));
        foreach (var series in cost.Series.SkipLast(1))
        {
            Assert.Equal(LfsPaper.Utilizations, series.X);
            Assert.All(series.Values, v => Assert.Equal(5.0, v, 9));   // (3 + 1 + 1) / 1 per phase
        }
        Assert.Equal(2 / (1 - 0.5), cost.Series[^1].Values[LfsPaper.Utilizations.ToList().IndexOf(0.5)], 9);

        var dist = outcome.Sections.SelectMany(s => s.Charts).Single(c => c.FileStem == "lfs-paper-segment-utilization");
        Assert.Equal(4, dist.Series.Count);
        Assert.All(dist.Series, s => Assert.Equal(1.0, s.Values[11], 9));   // every segment in the 0.55-0.60 bin
        // The progress bar's total: the small sizes here have the default sizes' phases.
        Assert.Equal(LfsPaper.PlannedPhases([new StandInCleanerDesign(0.55)]), outcome.Results.Count);

        // The line charts render, one legend entry per series.
        string dir = Directory.CreateTempSubdirectory("compare-lfs-").FullName;
        try
        {
            ExoFS.Compare.Output.HtmlReport.Write(dir, "lfs-paper", [], outcome.Sections);
            var svg = System.Xml.Linq.XDocument.Load(Path.Combine(dir, "lfs-paper-write-cost.svg"));
            var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(t => t.Value.Trim()).ToList();
            Assert.All(cost.Series, s => Assert.Contains(s.Label, texts));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
