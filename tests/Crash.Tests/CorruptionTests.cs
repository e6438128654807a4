using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Testing;
using ExoFS.LibFs.Testing.Corruption;

namespace ExoFS.Crash.Tests;

/// <summary>The images a corruption test damages: built once per process per libFS (a second or two each).</summary>
internal static class CorruptionImages
{
    private static readonly Lazy<CorruptionImage> FfsImage = new(() => Build("ffs"));
    private static readonly Lazy<CorruptionImage> LfsImage = new(() => Build("lfs"));

    public static CorruptionImage Get(string libFs) => libFs == "ffs" ? FfsImage.Value : LfsImage.Value;

    private static CorruptionImage Build(string libFs) =>
        CorruptionImage.Build(libFs, null, out string? error) ?? throw new InvalidOperationException($"{libFs} image: {error}");
}

/// <summary>Each damage kind on its own: what it changes and what it leaves.</summary>
public sealed class DamageKindTests
{
    private static (byte[] Current, byte[] Stale) Blocks()
    {
        var current = new byte[4096];
        var stale = new byte[4096];
        new Random(3).NextBytes(current);
        current.CopyTo(stale, 0);
        stale[1000] ^= 0x55;   // sector 1 differs
        stale[3000] ^= 0x55;   // sector 5 differs
        return (current, stale);
    }

    [Fact]
    public void Random_bytes_change_exactly_the_listed_positions()
    {
        var (current, stale) = Blocks();
        for (int seed = 0; seed < 50; seed++)
        {
            var (bytes, damage) = Damages.Apply(DamageKind.RandomBytes, 9, current, stale, new Random(seed));
            Assert.InRange(damage.Bytes!.Count, 1, 8);
            for (int i = 0; i < 4096; i++)
                Assert.Equal(damage.Bytes.Contains(i), bytes[i] != current[i]);
        }
    }

    [Fact]
    public void Random_block_and_zero_block_replace_the_whole_block()
    {
        var (current, stale) = Blocks();
        var (random, _) = Damages.Apply(DamageKind.RandomBlock, 9, current, stale, new Random(1));
        Assert.Equal(4096, random.Length);
        Assert.True(Enumerable.Range(0, 4096).Count(i => random[i] != current[i]) > 4000);
        var (zero, _) = Damages.Apply(DamageKind.ZeroBlock, 9, current, stale, new Random(1));
        Assert.All(zero, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Torn_write_replaces_the_first_k_sectors_with_the_stale_ones_and_changes_one()
    {
        var (current, stale) = Blocks();
        var ks = new HashSet<int>();
        for (int seed = 0; seed < 100; seed++)
        {
            var (bytes, damage) = Damages.Apply(DamageKind.TornWrite, 9, current, stale, new Random(seed));
            int k = damage.Sectors;
            Assert.InRange(k, 2, 7);   // sector 1 is the first that differs, so at least two are replaced
            ks.Add(k);
            Assert.True(bytes.AsSpan(0, k * 512).SequenceEqual(stale.AsSpan(0, k * 512)));
            Assert.True(bytes.AsSpan(k * 512).SequenceEqual(current.AsSpan(k * 512)));
            Assert.False(bytes.AsSpan().SequenceEqual(current));
        }
        Assert.Equal(6, ks.Count);
    }

    [Fact]
    public void Stale_block_is_the_stale_version()
    {
        var (current, stale) = Blocks();
        var (bytes, _) = Damages.Apply(DamageKind.StaleBlock, 9, current, stale, new Random(1));
        Assert.Equal(stale, bytes);
    }

    [Fact]
    public void Can_change_says_when_a_kind_would_be_a_no_op()
    {
        var (current, stale) = Blocks();
        var zero = new byte[4096];
        Assert.False(Damages.CanChange(DamageKind.ZeroBlock, zero, zero));
        Assert.True(Damages.CanChange(DamageKind.ZeroBlock, current, current));
        Assert.False(Damages.CanChange(DamageKind.StaleBlock, current, current));
        Assert.True(Damages.CanChange(DamageKind.StaleBlock, current, stale));
        var lastOnly = current.ToArray();
        lastOnly[4095] ^= 1;   // only the eighth sector differs: no torn write (k < 8) can show it
        Assert.False(Damages.CanChange(DamageKind.TornWrite, current, lastOnly));
        Assert.True(Damages.CanChange(DamageKind.TornWrite, current, stale));
        Assert.Equal(1, Damages.FirstDifferingSector(current, stale));
        Assert.Equal(8, Damages.FirstDifferingSector(current, current));
    }
}

/// <summary>The image a campaign damages, and the classes of its blocks.</summary>
public sealed class CorruptionImageTests
{
    [Theory]
    [InlineData("ffs")]
    [InlineData("lfs")]
    public void The_image_holds_the_known_tree(string libFs)
    {
        var image = CorruptionImages.Get(libFs);
        var e = image.Expected;
        Assert.Equal(200 << 10, e["/big"].Content!.Length);
        Assert.True(e["/sparse"].Size > 4UL << 20);
        Assert.Equal("small.txt", e["/link-short"].Target);
        Assert.True(e["/dir1/link-long"].Target!.Length > 200);
        Assert.Equal(e["/small.txt"].Ino, e["/dir1/hard"].Ino);
        Assert.Equal(2u, e["/small.txt"].Nlink);
        Assert.Equal("changed", System.Text.Encoding.UTF8.GetString(e["/small.txt"].Xattrs["user.note"]));
        Assert.Equal(1500, e["/dir1"].Xattrs["user.big"].Length);
        Assert.Equal(119, e.Keys.Count(k => k.StartsWith("/many/", StringComparison.Ordinal)));
        Assert.True(e.ContainsKey("/b-renamed") && !e.ContainsKey("/dir1/b"));
        // The last round changed blocks after the stale image was taken, so stale damage has something to put back.
        Assert.True(image.Targets(DamageKind.StaleBlock).Values.Sum(l => l.Count) > 5);
    }

    [Fact]
    public void Ffs_blocks_are_classed_by_xn_area_and_type()
    {
        var image = CorruptionImages.Get("ffs");
        var names = image.Classes.Select(c => c.Name).ToHashSet();
        Assert.Equal("xn.superblock", image.Classes[0].Name);
        Assert.Equal("xn.freemap", image.Classes[1].Name);
        foreach (var n in new[] { "xn.catalogue", "xn.catalogue-spare", "ffs.super", "ffs.inodes", "ffs.ind1", "ffs.ind2", "xn.data", "free" })
            Assert.Contains(n, names);
        Assert.True(image.Classes.Single(c => c.Name == "ffs.super").IsMetadata);
        Assert.False(image.Classes.First(c => c.Name == "xn.data").IsMetadata);
        Assert.False(BlockClass.Free.IsMetadata);
        // /big alone has 50 data blocks.
        Assert.True(image.Classes.Count(c => c.Name == "xn.data") >= 50);
    }

    [Fact]
    public void Lfs_segment_bodies_are_classed_by_what_the_segment_claims_not_as_the_head()
    {
        var image = CorruptionImages.Get("lfs");
        var names = image.Classes.Select(c => c.Name).ToList();
        Assert.Contains("lfs.seghead", names);
        Assert.Contains("xn.data", names);
        Assert.Contains("segment-body-untyped", names);
        // A head starts a segment of many blocks: two heads are never neighbours.
        for (int b = 1; b < names.Count; b++)
            Assert.False(names[b] == "lfs.seghead" && names[b - 1] == "lfs.seghead", $"blocks {b - 1} and {b} both classed as segment heads");
    }

    [Fact]
    public void Compare_reports_changed_content_as_a_mismatch_and_a_failed_read_as_an_error()
    {
        var image = CorruptionImages.Get("ffs");
        var dev = image.Device.Clone();
        using (var fs = ExoFS.Host.ExoHost.LoadSolo(dev, "ffs", out _).Value)
            fs.WriteAt(fs.Resolve("/big").Ino, 70000, [1, 2, 3]);
        using (var fs = ExoFS.Host.ExoHost.LoadSolo(dev.Clone(), "ffs", out _).Value)
        {
            var check = TreeView.Compare(fs, image.Expected);
            Assert.Equal(["/big: content differs at byte 70000"], check.Mismatches);
            Assert.Empty(check.Errors);
            var failing = TreeView.Compare(new FailingReads(fs, "/big"), image.Expected);
            Assert.Empty(failing.Mismatches);
            Assert.Contains(failing.Errors, x => x.StartsWith("read /big@", StringComparison.Ordinal) && x.EndsWith("EIO", StringComparison.Ordinal));
        }
    }

    /// <summary>A file system whose reads of one file answer EIO.</summary>
    private sealed class FailingReads(IFileSystem inner, string path) : ForwardingFileSystem<IFileSystem>(inner)
    {
        private readonly ulong _ino = inner.Resolve(path).Ino.Value;
        public override Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer) =>
            ino.Value == _ino ? Errno.EIO : base.Read(ino, fh, offset, buffer);
    }
}

/// <summary>The campaign: reproducible cases, measured outcomes, no crash and no hang on today's stack.</summary>
public sealed class CorruptionCampaignTests
{
    [Fact]
    public void A_case_replays_from_its_seed_and_number()
    {
        var image = CorruptionImages.Get("ffs");
        var options = new CorruptionOptions { Seed = 11 };
        for (int n = 0; n < 20; n++)
        {
            var a = CorruptionCampaign.RunCase(image, options, n);
            var b = CorruptionCampaign.RunCase(image, options, n);
            Assert.Equal(a.ToString(), b.ToString());
            Assert.Equal(a.Damage.ToString(), b.Damage.ToString());
        }
        Assert.NotEqual(CorruptionCampaign.Plan(image, 11, 0).Damage.ToString(), CorruptionCampaign.Plan(image, 12, 0).Damage.ToString());
        // The same in another process: the plan is a function of the seed and the case number alone.
        Assert.Equal("TornWrite at block 0 (first 6 of 8 sectors stale)", CorruptionCampaign.Plan(image, 11, 0).Damage.ToString());
    }

    [Fact]
    public void An_undamaged_copy_is_harmless_and_damage_to_a_free_block_changes_nothing_visible()
    {
        var image = CorruptionImages.Get("ffs");
        Assert.Null(CorruptionCampaign.Fsck(image.Device.Clone()));
        var report = CorruptionCampaign.Run(image, new CorruptionOptions { Seed = 3, Cases = 120 });
        var free = report.Cases.Where(c => c.Target == BlockClass.Free).ToList();
        Assert.NotEmpty(free);
        Assert.All(free, c => Assert.Equal(CorruptionOutcome.Harmless, c.Outcome));
    }

    [Fact]
    public void A_case_past_its_timeout_is_reported_as_a_hang_not_waited_for()
    {
        var image = CorruptionImages.Get("ffs");
        var c = CorruptionCampaign.RunCase(image, new CorruptionOptions { Timeout = TimeSpan.Zero }, 0);
        Assert.Equal(CorruptionOutcome.Hang, c.Outcome);
        Assert.True(c.Failed);
        Assert.Contains("no answer within", c.Failure);
    }

    [Theory]
    [InlineData("ffs", 300)]
    [InlineData("lfs", 200)]
    public void A_bounded_campaign_has_no_crash_and_no_hang_and_hits_every_class(string libFs, int cases)
    {
        var image = CorruptionImages.Get(libFs);
        var report = CorruptionCampaign.Run(image, new CorruptionOptions { LibFs = libFs, Seed = 1, Cases = cases, Timeout = TimeSpan.FromSeconds(30) });
        var total = report.Total;
        Assert.Equal(cases, total.Tried);
        Assert.Equal(cases, total.Outcomes.Sum());
        var bad = report.Cases.Where(c => c.Outcome is CorruptionOutcome.Crash or CorruptionOutcome.Hang).Select(c => c + " replay: " + report.Replay(c));
        Assert.Empty(bad);
        Assert.Equal(image.Classes.Select(c => c.Name).Distinct().Order(), report.ByTarget.Select(t => t.Name).Order());
        Assert.Equal(Enum.GetValues<DamageKind>().Length, report.ByKind.Count);
        // Detection is measured: XN's superblock and free map carry CRCs today, so fsck reports damage to them.
        Assert.True(report.ByTarget.Single(t => t.Name == "xn.freemap").FsckDetected > 0);
        Assert.Equal(0, report.Cases.Count(c => c.FreeDamageVisible));
    }

    // Whole older versions of a block (stale, or torn where only the stale sectors differ) carry a valid checksum of
    // their own (see CorruptionCase.OlderVersion). FFS's metadata blocks carry XN write sequences since FFS format 5,
    // so XN's block-version table refuses their older versions: for FFS they are included (on format 4 stale
    // ffs.inodes, ffs.dir and ffs.xattr blocks went unreported and ffs.dir ones were served). Older versions of XN's
    // own blocks (its superblock, a whole older catalogue) and of LFS blocks are still left out.
    private static bool OlderVersionExcused(string libFs, CorruptionCase c) =>
        c.OlderVersion && !(libFs == "ffs" && c.Target.Name.StartsWith("ffs.", StringComparison.Ordinal));

    [Theory]
    [InlineData("ffs")]
    [InlineData("lfs")]
    public void Every_metadata_damage_is_reported_by_fsck(string libFs)
    {
        var image = CorruptionImages.Get(libFs);
        var report = CorruptionCampaign.Run(image, new CorruptionOptions { LibFs = libFs, Seed = 2, Cases = 300, Timeout = TimeSpan.FromSeconds(30) });
        Assert.Empty(report.Cases.Where(c => c.MetadataUndetected && !OlderVersionExcused(libFs, c)).Select(c => c + " replay: " + report.Replay(c)));
        Assert.Empty(report.Cases.Where(c => c.Target.IsMetadata && !OlderVersionExcused(libFs, c) && c.Outcome == CorruptionOutcome.WrongBytes).Select(c => c.ToString()));
        if (libFs == "ffs")
            Assert.Contains(report.Cases, c => c.OlderVersion && c.Target.Name.StartsWith("ffs.", StringComparison.Ordinal));
    }

    /// <summary>
    /// FFS format 5: the older version of every FFS metadata block of the image (each block where the stale image
    /// differs, put back whole: a lost or rolled-back write, with the valid CRC it had) is reported by fsck and never
    /// served as current. On format 4 most of these went unreported (their CRC is valid) and stale ffs.dir blocks
    /// dropped or revived names.
    /// </summary>
    [Fact]
    public void Every_older_version_of_an_ffs_metadata_block_is_reported_by_fsck()
    {
        var image = CorruptionImages.Get("ffs");
        var options = new CorruptionOptions { LibFs = "ffs", Timeout = TimeSpan.FromSeconds(30) };
        var blocks = image.Targets(DamageKind.StaleBlock).Where(t => t.Key.StartsWith("ffs.", StringComparison.Ordinal)).SelectMany(t => t.Value).ToList();
        Assert.True(blocks.Count >= 5, $"only {blocks.Count} FFS metadata blocks differ from the stale image");
        var cases = blocks.Select((b, i) => CorruptionCampaign.RunDamage(image, options, i, new Damage(DamageKind.StaleBlock, b), image.StaleBlock(b))).ToList();
        Assert.All(cases, c => Assert.True(c.Changed && c.OlderVersion, c.ToString()));
        Assert.Empty(cases.Where(c => c.Fsck is null || c.Outcome != CorruptionOutcome.DetectedByFsck).Select(c => c.ToString()));
        // Every FFS metadata type the stale image differs in is among them (not only one kind of block).
        Assert.Contains(cases, c => c.Target.Name == "ffs.inodes");
        Assert.Contains(cases, c => c.Target.Name == "ffs.dir");
        Assert.Contains(cases, c => c.Target.Name == "ffs.super");
    }

    [Fact]
    public void With_data_checksums_no_wrong_bytes_are_served_and_data_damage_is_detected_on_read()
    {
        var report = CorruptionCampaign.Run(new CorruptionOptions
        {
            LibFs = "ffs", FormatOptions = new Dictionary<string, string> { ["data-checksums"] = "on" }, Seed = 4, Cases = 300,
            Timeout = TimeSpan.FromSeconds(30),
        }, out string? error);
        Assert.True(report is not null, error);
        // Older versions included: a stale data block fails its data checksum, a stale csum block its write sequence.
        Assert.Empty(report.Cases.Where(c => c.Outcome == CorruptionOutcome.WrongBytes).Select(c => c + " replay: " + report.Replay(c)));
        var data = report.ByTarget.Single(t => t.Name == "xn.data");
        Assert.True(data.Changed > 0);
        Assert.Empty(report.Cases.Where(c => c.Target.Name == "xn.data" && c.Failed).Select(c => c.ToString()));
    }
}
