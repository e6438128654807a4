using ExoFS.LibFs.Testing.Crash;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>FFS under the shared crash explorer (the shared <see cref="FfsCrashTarget"/> and its oracle).</summary>
public class CrashTests
{
    [Fact]
    public void Random_workloads_recover_clean_at_every_crash_state()
    {
        var options = new CrashCampaignOptions { Seed = 1, Cases = 20, MaxOps = 8, Explorer = new CrashExplorerOptions { MaxStatesPerPoint = 64 } };
        var report = CrashCampaign.Run(new FfsCrashTarget(), options);
        Assert.True(report.Failed == 0, string.Join("\n", report.Failures.Select(f => f.ToString())));
        Assert.True(report.StatesChecked > 0);
    }
}
