using ExoFS.LibFs.Testing.Crash;
using Xunit.Abstractions;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>The LFS on the real XN under the shared crash explorer, with the LFS's prefix guarantees.</summary>
public sealed class XnCrashTests(ITestOutputHelper output)
{
    [Fact]
    public void Random_workloads_recover_clean_at_every_crash_state()
    {
        var options = new CrashCampaignOptions { Seed = 1, Cases = 20, MaxOps = 8, Explorer = new CrashExplorerOptions { MaxStatesPerPoint = 64 } };
        var report = CrashCampaign.Run(new LfsCrashTarget(), options);
        output.WriteLine($"{report.StatesChecked} crash states checked, {report.Failed} failed");
        Assert.True(report.Failed == 0, string.Join("\n", report.Failures.Select(f => f.ToString())));
        Assert.True(report.StatesChecked > 0);
    }

    [Fact]
    public void Fsynced_file_survives_every_crash_state_and_needs_roll_forward()
    {
        var w = new Workload([], [CrashOp.Create("/a"), CrashOp.Write("/a", 0, 5000, 3), CrashOp.Fsync("/a"), CrashOp.Create("/b"), CrashOp.Rename("/b", "/c")]);
        var good = CrashExplorer.Run(new LfsCrashTarget(), w);
        output.WriteLine($"lfs: {good.CrashPoints} points, {good.StatesChecked} states, {good.Failure}");
        Assert.True(good.Passed, good.Failure?.ToString());
        var bad = CrashExplorer.Run(new LfsCrashTarget("lfs-no-roll-forward", recoverOptions: new LfsMountOptions { NoRollForward = true }), w);
        output.WriteLine($"no roll-forward: {bad.CrashPoints} points, {bad.StatesChecked} states, {bad.Failure}");
        Assert.False(bad.Passed, "dropping roll-forward went unnoticed");
    }
}
