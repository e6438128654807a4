using ExoFS.LibFs.Testing;
using Xunit.Abstractions;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>The cleaner under load: a small volume filled to 90% and overwritten several times over, per policy.</summary>
public sealed class CleanerTests(ITestOutputHelper output)
{
    private static readonly InodeNo Root = InodeNo.Root;
    private const int FileBytes = 16 << 10;
    private static readonly LfsMountOptions NoTimer = new() { CleanerInterval = TimeSpan.Zero };

    private sealed record Run(string Policy, double WriteCost, ulong Cleaned, double MeanUtilization, ulong Overwritten);

    /// <summary>
    /// Fills a 32 MiB LFS (512 KiB segments) to 90% with 16 KiB files, then rewrites whole files at random
    /// (uniformly, or 90% of writes to 10% of the files) until three times the volume has been written; every
    /// write must succeed, every file must read back as last written, fsck must be clean, and the same after
    /// a remount.
    /// </summary>
    private Run Churn(string policy, bool hotCold, int seed, int fillPercent = 90, LfsMountOptions? mount = null, Action<LfsFileSystem, ulong>? between = null,
        string survivors = "own-head")
    {
        // No background cleaner: a host's mount starts one ticking every 5 s of wall-clock time, and a run longer
        // than that (a loaded machine) had its passes land between overwrites at points that differ run to run.
        // Here the cleaner runs only where the writes call for it (and at each sync), the same on every run.
        var (fs, dev) = LfsTestKit.Fresh(32UL << 20, new LfsFormatOptions { SegmentBytes = 512 << 10, Cleaner = policy, Survivors = survivors }, mount ?? NoTimer);
        var st = fs.StatFs().Ok();
        int files = (int)(st.Blocks * (ulong)fillPercent / 100 / (FileBytes / 4096));
        var rng = new Random(seed);
        var content = new byte[files][];
        var inos = new InodeNo[files];
        for (int i = 0; i < files; i++)
        {
            content[i] = new byte[FileBytes];
            rng.NextBytes(content[i]);
            inos[i] = fs.WriteFile(Root, $"f{i}", content[i]).Ino;
        }
        fs.Sync().Ok();
        ulong cleanedBefore = fs.Cleaner.SegmentsCleaned;
        ulong fresh0 = fs.Log.NewBlocks, read0 = fs.Cleaner.BlocksRead, moved0 = fs.Cleaner.BlocksMoved;
        ulong target = 3 * st.Blocks * 4096, written = 0, ops = 0;
        int hot = Math.Max(1, files / 10);
        while (written < target)
        {
            between?.Invoke(fs, ops);
            int i = hotCold && rng.Next(10) != 0 ? rng.Next(hot) : rng.Next(files);
            rng.NextBytes(content[i]);
            var fh = fs.Open(inos[i], OpenFlags.WriteOnly).Ok();
            var w = fs.Write(inos[i], fh, 0, content[i]);
            fs.Release(inos[i], fh).Ok();
            Assert.True(w.Ok, $"overwrite {ops} of f{i} at {written >> 20} MiB: {w.Error} (free {fs.StatFs().Ok().BlocksFree})");
            Assert.True(FileBytes == w.Value, $"short overwrite {ops} ({fs.BackgroundPasses} timer passes) at {written >> 20} MiB: {w.Value}; free {fs.StatFs().Ok().BlocksFree} immediate {fs.ImmediateBlocks()} pending {fs.PendingBlocks()} reserve {fs.ReserveBlocks} segments {fs.Usage.AllocatedCount} live {fs.Usage.TotalLive} cleaned {fs.Cleaner.SegmentsCleaned} util [{string.Join(",", fs.Usage.AllocatedSlots.Select(x => fs.Usage.Live(x)))}]");
            written += FileBytes;
            if (++ops % 64 == 0) fs.Sync().Ok();
        }
        fs.Sync().Ok();
        for (int i = 0; i < files; i++) Assert.Equal(content[i], fs.ReadFile(inos[i]));
        LfsTestKit.AssertClean(fs);
        ulong fresh = fs.Log.NewBlocks - fresh0, read = fs.Cleaner.BlocksRead - read0, moved = fs.Cleaner.BlocksMoved - moved0;
        ulong cleaned = fs.Cleaner.SegmentsCleaned - cleanedBefore;
        double cost = (double)(fresh + read + moved) / fresh;
        double meanU = cleaned == 0 ? 0 : fs.Cleaner.UtilizationSum / fs.Cleaner.SegmentsCleaned;
        fs.Dispose();
        var again = LfsTestKit.Mount(dev, NoTimer);
        for (int i = 0; i < files; i++) Assert.Equal(content[i], again.ReadFile(inos[i]));
        LfsTestKit.AssertClean(again);
        again.Dispose();
        var run = new Run(policy, cost, cleaned, meanU, written);
        output.WriteLine($"{fillPercent}% {(hotCold ? "hot-and-cold" : "uniform"),-12} {policy,-13} files {files} write cost {cost:F2}, segments cleaned {cleaned}, mean u of cleaned {meanU:F2}");
        return run;
    }

    /// <summary>
    /// The survivor placement chosen at mkfs: with the cleaner's own head (the default) the copies go to a segment
    /// of their own; at the log's head (Sprite's single log) no cleaner head is ever bound. Either way the churn
    /// keeps every file intact and fsck clean. At 70% full the passes at each sync find the free segments
    /// a head of the cleaner's own needs; nearer full (80% of this 64-segment volume) the segments a background pass
    /// may take are rare, cleaning on demand has one free segment or none, and survivors go to the main head.
    /// </summary>
    [Theory]
    [InlineData("own-head")]
    [InlineData("log-head")]
    public void Survivors_go_where_the_format_says(string survivors)
    {
        bool cleanerHeadBound = false;
        var run = Churn("greedy", hotCold: true, seed: 5, fillPercent: 70, survivors: survivors,
            between: (fs, _) => cleanerHeadBound |= fs.CleanerHeadSlot >= 0);
        AssertSensible(run);
        Assert.Equal(survivors == "own-head", cleanerHeadBound);
    }

    /// <summary>Sprite's write cost for cleaning segments of mean utilization u is 2/(1−u); ours also pays summaries and rewritten inodes.</summary>
    private static void AssertSensible(Run run)
    {
        Assert.True(run.Cleaned > 0, "the cleaner never ran");
        double sprite = 2 / (1 - Math.Min(run.MeanUtilization, 0.97));
        Assert.InRange(run.WriteCost, 1.0, 1.5 * sprite + 1);
    }

    [Theory]
    [InlineData("greedy")]
    [InlineData("cost-benefit")]
    [InlineData("age-sort")]
    public void Overwriting_a_90_percent_full_volume_never_runs_out_of_space(string policy) =>
        AssertSensible(Churn(policy, hotCold: false, seed: 7));

    [Theory]
    [InlineData("greedy")]
    [InlineData("cost-benefit")]
    public void Hot_and_cold_overwrites_at_90_percent_keep_data_intact(string policy) =>
        AssertSensible(Churn(policy, hotCold: true, seed: 11));

    [Fact]
    public void Hot_and_cold_at_75_percent_reports_each_policys_write_cost()
    {
        var greedy = Churn("greedy", hotCold: true, seed: 13, fillPercent: 75);
        var cb = Churn("cost-benefit", hotCold: true, seed: 13, fillPercent: 75);
        AssertSensible(greedy);
        AssertSensible(cb);
        output.WriteLine($"75% hot-and-cold: cost-benefit/greedy write cost = {cb.WriteCost / greedy.WriteCost:F2}");
    }

    /// <summary>
    /// Background passes between the foreground's writes (driven by hand, at fixed points, so the interleaving is the
    /// same on every run; a mount's timer does this at wall-clock points) never leave a write short or failing:
    /// passes spread dead blocks thin over nearly full segments, and the foreground must still win back room,
    /// the cleaner head's unwritten tail included. Data, fsck and a remount are checked by the churn itself.
    /// </summary>
    [Theory]
    [InlineData("greedy", 2)]
    [InlineData("greedy", 16)]
    [InlineData("cost-benefit", 7)]
    [InlineData("age-sort", 5)]
    public void Background_passes_between_writes_never_leave_a_write_short(string policy, int every)
    {
        var run = Churn(policy, hotCold: true, seed: 11,
            between: (fs, op) => { if (op % (ulong)every == 0) lock (fs.Lock) fs.Cleaner.Background(maxPasses: 4); });
        Assert.True(run.Cleaned > 0, "the cleaner never ran");
    }
}
