using ExoFS.LibFs.Testing.Crash;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Abstractions;

namespace ExoFS.Crash.Tests;

/// <summary>The explorer on the shadow-paging toy: the correct toy passes, each deliberate bug is caught.</summary>
public sealed class ToyTargetTests(ITestOutputHelper output)
{
    private static readonly ShadowToyTarget Correct = new();

    [Fact]
    public void Correct_toy_passes_a_workload_touching_every_step_kind()
    {
        var r = Explore.Run(Correct,
            CrashOp.Create("/foo"), CrashOp.Write("/foo", 4000, 5000, 3), CrashOp.Fsync("/foo"),
            CrashOp.Rename("/bar", "/A/foo"), CrashOp.Link("/A/foo", "/B/bar"), CrashOp.Truncate("/B/bar", 10),
            CrashOp.Unlink("/foo"), CrashOp.Mkdir("/B/foo"), CrashOp.Rmdir("/B/foo"), CrashOp.Fsync("/B"), CrashOp.Sync());
        Assert.True(r.Passed, r.Failure?.ToString());
        Assert.True(r.StatesChecked > 10, $"only {r.StatesChecked} states checked");
    }

    [Fact]
    public void Correct_toy_passes_the_exhaustive_length_1_set()
    {
        foreach (var w in CrashWorkloads.Exhaustive(1))
        {
            var r = CrashExplorer.Run(Correct, w, Explore.Options);
            Assert.True(r.Passed, $"{w}\n{r.Failure}");
        }
    }

    [Fact]
    public void Correct_toy_satisfies_the_crash_property_on_random_workloads()
    {
        var prop = Prop.ForAll(CrashWorkloads.Arbitrary(), w => CrashExplorer.Run(Correct, w, Explore.Options).Passed);
        Check.One(Config.Quick.WithMaxTest(40).WithRunner(new XunitRunner(output)), prop);
    }

    [Theory]
    [InlineData(ToyBug.MissingBarrier)]
    [InlineData(ToyBug.InPlace)]
    public void Ordering_bug_is_caught_by_a_single_sync(ToyBug bug)
    {
        var r = Explore.Run(new ShadowToyTarget(bug), CrashOp.Write("/bar", 0, 5000, 9), CrashOp.Sync());
        Assert.False(r.Passed);
        output.WriteLine(r.Failure!.ToString());
        Assert.Contains(r.Failure!.Problems, p => p.Contains("checksum mismatch"));
    }

    [Fact]
    public void Lazy_fsync_is_caught_as_lost_durable_data()
    {
        var r = Explore.Run(new ShadowToyTarget(ToyBug.LazyFsync), CrashOp.Write("/bar", 0, 5000, 9), CrashOp.Fsync("/bar"));
        Assert.False(r.Passed);
        output.WriteLine(r.Failure!.ToString());
        Assert.Contains("after step 2", r.Failure!.Point);
        Assert.Contains(r.Failure.Problems, p => p.StartsWith("/bar:"));
    }

    [Theory]
    [InlineData(ToyBug.MissingBarrier)]
    [InlineData(ToyBug.InPlace)]
    [InlineData(ToyBug.LazyFsync)]
    public void Every_toy_bug_fails_the_property_and_shrinks_to_at_most_three_steps(ToyBug bug)
    {
        var target = new ShadowToyTarget(bug);
        var prop = Prop.ForAll(CrashWorkloads.Arbitrary(), w => CrashExplorer.Run(target, w, Explore.Options).Passed);
        var e = Assert.Throws<PropertyFailedException>(() =>
            Check.One(Config.Quick.WithMaxTest(300).WithRunner(new XunitRunner(output)), prop));
        // FsCheck prints "Shrunk:" only when some shrink step succeeded; otherwise the original is minimal.
        int at = e.Message.IndexOf("Shrunk:", StringComparison.Ordinal);
        string minimal = e.Message[(at >= 0 ? at : e.Message.IndexOf("Original:", StringComparison.Ordinal))..];
        Assert.Contains("1. ", minimal);
        // Greedy shrinking usually reaches two steps (the fewest any of these bugs needs); allow a local minimum of three.
        Assert.DoesNotContain("4. ", minimal);
    }

    [Theory]
    [InlineData(ToyBug.MissingBarrier)]
    [InlineData(ToyBug.InPlace)]
    [InlineData(ToyBug.LazyFsync)]
    public void Campaign_reports_a_minimal_workload_and_a_seed_that_replays_the_failure(ToyBug bug)
    {
        var target = new ShadowToyTarget(bug);
        var report = CrashCampaign.Run(target, new CrashCampaignOptions { Seed = 1, Cases = 60, Explorer = Explore.Options });
        Assert.NotEqual(0, report.Failed);
        var f = report.Failures[0];
        output.WriteLine(f.ToString());
        Assert.True(f.Minimal.Ops.Count <= 2, $"not shrunk:\n{f.Minimal}");
        Assert.True(f.Minimal.Ops.Count + f.Minimal.Setup.Count < f.Original.Ops.Count + f.Original.Setup.Count);

        // The printed replay names a seed whose single case fails again.
        int seed = int.Parse(f.Replay.Split("--seed ")[1].Split(' ')[0]);
        var again = CrashCampaign.Run(target, new CrashCampaignOptions { Seed = seed, Cases = 1, Explorer = Explore.Options, ShrinkBudget = 0 });
        Assert.Equal(1, again.Failed);
        Assert.Equal(f.Original, again.Failures[0].Original);
    }
}
