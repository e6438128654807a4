using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.Compare.Workloads;

namespace ExoFS.Compare.Tests;

/// <summary>The LFS as a design: its cleaner's write cost obeys Sprite's formula under uniform traffic.</summary>
public sealed class CleaningTests
{
    /// <summary>
    /// Sprite's write cost is 2/(1−u), u the live fraction of the segments cleaned: reading a whole segment (1),
    /// rewriting its live part (u) and filling the freed part (1−u) with new data. Measured on the LFS with greedy
    /// cleaning under uniform overwrites, against the mean u of the segments it actually cleaned.
    /// </summary>
    [Theory]
    [InlineData(0.5)]
    [InlineData(0.8)]
    public void Greedy_write_cost_under_uniform_traffic_is_within_ten_percent_of_2_over_1_minus_u(double diskUtilization)
    {
        var greedy = DesignRegistry.Configure(LfsDesign.Instance, [("cleaner", "greedy")], out string? error);
        Assert.NotNull(greedy);
        var outcome = WorkloadRunner.Run(BuiltinWorkloads.Uniform(passes: 3), greedy, DiskRegistry.All.Single(d => d.Name == "mem"),
            new RunOptions { Seed = 1, Utilization = diskUtilization });
        Assert.Null(outcome.Error);
        // The last pass: the cleaner is in its steady state.
        var last = outcome.Results.Last();
        var cleaned = last.CleanedSegmentUtilizations;
        Assert.NotNull(cleaned);
        Assert.True(cleaned.Count >= 10, $"only {cleaned.Count} segment(s) cleaned in {last.Phase}");
        double u = cleaned.Average();
        double expected = 2 / (1 - u);
        Assert.NotNull(last.CleanerWriteCost);
        double measured = last.CleanerWriteCost.Value;
        Assert.True(Math.Abs(measured - expected) <= 0.10 * expected,
            $"at disk utilization {diskUtilization}: cleaned segments {u:F3} live, write cost {measured:F3}, 2/(1-u) = {expected:F3}");
    }
}
