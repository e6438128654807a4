using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.Compare.Workloads;

namespace ExoFS.Compare.Tests;

/// <summary>A run is a function of its seed: every figure but wall time repeats; another seed changes the random choices.</summary>
public sealed class DeterminismTests
{
    private static readonly WorkloadSpec[] Workloads =
    [
        BuiltinWorkloads.Postmark(files: 40, transactions: 80),
        BuiltinWorkloads.Varmail(files: 20, threads: 3, loops: 4),
        BuiltinWorkloads.HotCold(deviceMib: 16, passes: 1, fileKib: 32),
    ];

    private static IReadOnlyList<PhaseResult> RunAll(int seed) =>
        Comparison.Run(new ComparePlan(Workloads, [Runs.Ffs], [Runs.Disk("hdd"), Runs.Disk("ssd")], seed, 0.4)).Results
            .Select(r => r with { WallSeconds = 0 }).ToList();

    [Fact]
    public void Same_seed_gives_identical_results_on_the_modeled_disks()
    {
        var first = RunAll(seed: 7);
        var second = RunAll(seed: 7);
        Assert.Equal(first.Count, second.Count);
        Assert.NotEmpty(first);
        for (int i = 0; i < first.Count; i++) Assert.Equal(first[i], second[i]);
        Assert.All(first, r => Assert.True(r.ModeledSeconds > 0, $"{r.Workload}/{r.Phase} on {r.Disk} has no modeled time"));
    }

    [Fact]
    public void Another_seed_changes_the_random_choices()
    {
        var a = RunAll(seed: 1).Where(r => r.Workload == "postmark" && r.Phase == "transactions").Select(r => r.DeviceBytesWritten);
        var b = RunAll(seed: 2).Where(r => r.Workload == "postmark" && r.Phase == "transactions").Select(r => r.DeviceBytesWritten);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Disks_see_the_same_requests_and_only_modeled_disks_report_time()
    {
        var results = Comparison.Run(new ComparePlan([BuiltinWorkloads.SmallFiles(files: 30)], [Runs.Ffs],
            DiskRegistry.All, Seed: 3)).Results;
        foreach (var phase in results.GroupBy(r => r.Phase))
        {
            Assert.Single(phase.Select(r => (r.DeviceReads, r.DeviceWrites, r.DeviceBytesWritten)).Distinct());
            Assert.Null(phase.Single(r => r.Disk == "mem").ModeledSeconds);
            Assert.NotNull(phase.Single(r => r.Disk == "hdd").Seeks);
            Assert.Null(phase.Single(r => r.Disk == "ssd").Seeks);
        }
        Assert.Null(results.First().CleanerWriteCost); // FFS has no cleaner: no made-up write cost
        Assert.NotNull(results.First(r => r.Disk == "ssd").FtlWriteAmplification);
    }
}
