using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Testing.Crash;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>FFS under the shared crash explorer: every crash state recovers to a state fsck finds clean.</summary>
public sealed class FfsCrashTarget : ICrashTarget
{
    public string Name => "ffs";

    /// <summary>Fsync is a whole-volume sync in FFS, so it persists the file, its names and directories.</summary>
    public CrashGuarantees Guarantees { get; } = new()
    {
        SyncPersistsAll = true, FsyncPersistsFile = true, FsyncPersistsNames = true, FsyncDirPersistsEntries = true,
    };

    public ulong DeviceBlocks => 2048;

    public void Format(IBlockDevice device)
    {
        var fs = FfsImage.FormatDevice(device, out string? error);
        if (!fs.Ok) throw new InvalidOperationException(error);
        fs.Value.Dispose();
    }

    public CrashMount Mount(IBlockDevice device)
    {
        var fs = FfsImage.MountDevice(device, out string? error);
        return fs.Ok ? new CrashMount(fs.Value) : throw new InvalidOperationException(error);
    }

    public CrashRecovery Recover(IBlockDevice image)
    {
        var fs = FfsImage.MountDevice(image, out string? error);
        if (!fs.Ok) return CrashRecovery.Unmountable($"ffs mount failed: {error}");
        return new CrashRecovery(new CrashMount(fs.Value), Fsck.Check(fs.Value).Problems);
    }
}

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
