using ExoFS.LibFs.Testing.Corruption;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// A bounded corruption campaign on an LFS image (the long one is <c>exofs crashtest --corrupt N --libfs lfs</c>):
/// with every log block checked against its summary, no damaged image serves wrong bytes, not even a whole older
/// version of a log block (the summary's CRC is of what the log wrote at that address), and fsck reports every
/// damage to a live log block.
/// </summary>
public sealed class CorruptionCampaignTests
{
    [Fact]
    public void No_damaged_lfs_image_serves_wrong_bytes_and_fsck_reports_damage_to_live_log_blocks()
    {
        var report = CorruptionCampaign.Run(new CorruptionOptions { LibFs = "lfs", Seed = 3, Cases = 300, Timeout = TimeSpan.FromSeconds(30) }, out string? error);
        Assert.True(report is not null, error);
        Assert.Equal(300, report.Total.Tried);
        Assert.Empty(report.Cases.Where(c => c.Outcome is CorruptionOutcome.Crash or CorruptionOutcome.Hang or CorruptionOutcome.WrongBytes)
            .Select(c => c + " replay: " + report.Replay(c)));
        // Log blocks are xn.data to XN: damage to one that anything reads is the LFS's to catch, and fsck reads every live one.
        var log = report.Cases.Where(c => c.Target.Name == "xn.data" && c.Changed).ToList();
        Assert.True(log.Count > 20, $"only {log.Count} cases damaged a log block");
        Assert.Empty(log.Where(c => c.Outcome != CorruptionOutcome.Harmless && c.Fsck is null).Select(c => c.ToString()));
        Assert.True(log.Count(c => c.Fsck is not null) * 10 >= log.Count * 8, $"{log.Count(c => c.Fsck is not null)} of {log.Count} log-block damages reported by fsck");
    }
}
