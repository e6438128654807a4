using ExoFS.LibFs.Testing.Crash;
using ExoFS.Xn;
using Xunit.Abstractions;

namespace ExoFS.Crash.Tests;

/// <summary>
/// XN under the crash explorer, through the toy on XN (<see cref="XnToyTarget"/>): XN's ordering and
/// recovery pass; each XN rule switched off is caught.
/// </summary>
public sealed class XnCrashTests(ITestOutputHelper output)
{
    private static readonly CrashOp[] ReplaceTwice =
        [CrashOp.Write("/bar", 0, 5000, 9), CrashOp.Sync(), CrashOp.Write("/bar", 0, 9000, 10), CrashOp.Fsync("/bar")];

    [Fact]
    public void Xn_ordering_and_recovery_pass_when_images_are_replaced()
    {
        var r = Explore.Run(new XnToyTarget(), ReplaceTwice);
        Assert.True(r.Passed, r.Failure?.ToString());
        Assert.True(r.StatesChecked >= 8, $"only {r.StatesChecked} states");
    }

    [Fact]
    public void Xn_passes_the_exhaustive_length_1_set()
    {
        var target = new XnToyTarget();
        foreach (var w in CrashWorkloads.Exhaustive(1))
        {
            var r = CrashExplorer.Run(target, w, Explore.Options);
            Assert.True(r.Passed, $"{w}\n{r.Failure}");
        }
    }

    // The intact XN passes ReplaceTwice (the first test), so a failure here is the switch being caught.
    [Fact]
    public void Xn_with_rule_1_off_is_caught_persisting_a_pointer_before_its_block()
    {
        var r = Explore.Run(new XnToyTarget("toy-xn-no-rule1", vol => vol.OrderingEnabled = false), ReplaceTwice);
        output.WriteLine(r.Failure?.ToString() ?? "passed");
        Assert.False(r.Passed);
        Assert.Contains(r.Failure!.Problems, p => p.Contains("checksum mismatch"));
    }

    [Fact]
    public void Xn_with_rule_2_off_is_caught_reusing_a_block_a_durable_pointer_still_names()
    {
        var r = Explore.Run(new XnToyTarget("toy-xn-no-rule2", vol => vol.DeferFreesEnabled = false), ReplaceTwice);
        output.WriteLine(r.Failure?.ToString() ?? "passed");
        Assert.False(r.Passed);
        Assert.Contains(r.Failure!.Problems, p => p.Contains("checksum mismatch"));
    }
}
