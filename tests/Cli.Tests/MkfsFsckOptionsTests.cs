using System.Text.Json;
using ExoFS.Cli;
using ExoFS.Cli.Commands;

namespace ExoFS.Cli.Tests;

/// <summary>mkfs's label, UUID, dry run and libFS tunables; fsck's -n/-y/-p and --json.</summary>
public sealed class MkfsFsckOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("exofs-opts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Exofs(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Dispatch(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Info_shows_an_lfs_roots_segments_checkpoint_and_cleaner_and_mkfs_keeps_the_survivor_placement()
    {
        string image = Path.Combine(_dir, "lfs.img");
        Assert.Equal(0, Exofs("mkfs", image, "--size", "64M", "--libfs", "ffs", "--libfs", "lfs:logs,survivors=log-head,cleaner=greedy").Code);
        var (code, output, err) = Exofs("info", image);
        Assert.True(code == 0, err);
        string[] lines = output.Split('\n');
        int at = Array.FindIndex(lines, l => l.TrimStart().StartsWith("logs ", StringComparison.Ordinal));
        Assert.True(at >= 0, output);
        Assert.Matches(@"^\s+segments:\s+\d+ bound of \d+ slots \(\d+ clean, \d+ dirty\), 1024 KiB each$", lines[at + 1]);
        Assert.StartsWith("    utilization:", lines[at + 2]);
        Assert.Matches(@"^\s+checkpoint:\s+#\d+, written \d+ s ago$", lines[at + 3]);
        Assert.Equal("    cleaner:      greedy, survivors at the log head; 0 segments cleaned, write cost 1.00", lines[at + 4]);
        Assert.StartsWith("    space:", lines[at + 5]);
        // FFS reports nothing of its own: its root line is followed by the next root's.
        int ffs = Array.FindIndex(lines, l => l.TrimStart().StartsWith("ffs ", StringComparison.Ordinal));
        Assert.True(ffs >= 0 && !lines[ffs + 1].StartsWith("    ", StringComparison.Ordinal), output);

        using var json = JsonDocument.Parse(Exofs("info", image, "--json").Out);
        var logs = json.RootElement.GetProperty("roots").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "logs");
        Assert.StartsWith("greedy, survivors at the log head", logs.GetProperty("info").GetProperty("cleaner").GetString());
        var plain = json.RootElement.GetProperty("roots").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "ffs");
        Assert.False(plain.TryGetProperty("info", out _));

        var bad = Exofs("mkfs", Path.Combine(_dir, "bad.img"), "--size", "64M", "--libfs", "lfs:survivors=middle");
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("unknown survivor placement 'middle'", bad.Err);
    }

    [Fact]
    public void Dry_run_writes_nothing()
    {
        string image = Path.Combine(_dir, "dry.img");
        var (code, output, _) = Exofs("mkfs", image, "--size", "64M", "--dry-run", "--libfs", "ffs", "--libfs", "ffs:home");
        Assert.Equal(0, code);
        Assert.Contains("would make ffs, home (ffs) (64 MiB, 16384 blocks", output);
        Assert.False(File.Exists(image));
    }

    [Fact]
    public void Label_and_uuid_are_kept_on_every_root_and_shown_by_inspect_roots()
    {
        string image = Path.Combine(_dir, "l.img");
        const string uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        Assert.Equal(0, Exofs("mkfs", image, "--size", "32M", "-L", "backup", "-U", uuid, "--libfs", "ffs", "--libfs", "ffs:home").Code);
        var roots = Exofs("inspect", image, "roots").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, roots.Length);
        Assert.All(roots, r => Assert.Contains($"label backup uuid {uuid}", r));
        Assert.Contains($"xattr:  user.exofs.label = backup", Exofs("inspect", image, "--libfs", "home", "stat", "/").Out);
        Assert.Equal(0, Exofs("fsck", image).Code);
    }

    [Theory]
    [InlineData("--uuid", "not-a-uuid", "bad UUID 'not-a-uuid'")]
    [InlineData("-L", "", "bad label ''")]
    [InlineData("--libfs", "ffs:home,x", "the root name comes first, once")]
    [InlineData("--libfs", "ffs:home,=1", "bad or repeated tunable '=1'")]
    public void Bad_mkfs_values_are_one_line_and_make_no_file(string option, string value, string message)
    {
        string image = Path.Combine(_dir, "bad.img");
        var (code, _, err) = Exofs("mkfs", image, "--size", "16M", option, value);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.False(File.Exists(image));
    }

    [Fact]
    public void Libfs_tunables_reach_the_libfs_as_root_options()
    {
        var root = MkfsCommand.ParseRoot("lfs:home,segment=1M,cleaner=greedy", out string? error);
        Assert.Null(error);
        Assert.Equal(("lfs", "home"), (root!.LibFs, root.Name));
        Assert.Equal("1M", root.Options!["segment"]);
        Assert.Equal("greedy", root.Options["cleaner"]);
        var unnamed = MkfsCommand.ParseRoot("lfs:segment=1M", out _);
        Assert.Equal("lfs", unnamed!.Name);
        // FFS takes only data-checksums and blocks-per-group, and refuses others in one line (the libFS's own refusal);
        // no image is left behind.
        string image = Path.Combine(_dir, "t.img");
        var (code, _, err) = Exofs("mkfs", image, "--size", "16M", "--libfs", "ffs:x=1");
        Assert.NotEqual(0, code);
        Assert.Contains("ffs: unknown option 'x' (ffs takes: data-checksums, blocks-per-group)", err);
        Assert.False(File.Exists(image));
        (code, _, err) = Exofs("mkfs", image, "--size", "16M", "--libfs", "ffs:blocks-per-group=100");
        Assert.NotEqual(0, code);
        Assert.Contains("ffs: blocks-per-group takes a multiple of 8 from 64 to 32736, not '100'", err);
        Assert.False(File.Exists(image));
        // Small groups: a 16 MiB image in 16 groups of 256 blocks, mounted and checked clean.
        Assert.Equal(0, Exofs("mkfs", image, "--size", "16M", "--libfs", "ffs:blocks-per-group=256").Code);
        Assert.Equal(0, Exofs("fsck", "-n", image).Code);
    }

    [Fact]
    public void Fsck_n_changes_nothing_y_and_p_repair_and_json_reports_it()
    {
        string image = Path.Combine(_dir, "f.img");
        Assert.Equal(0, Exofs("mkfs", image, "--size", "16M").Code);
        using (var fs = File.OpenWrite(image)) { fs.Position = 4096 + 10; fs.Write(new byte[] { 0xAA, 0x55 }); }
        byte[] damaged = File.ReadAllBytes(image);
        var (code, output, _) = Exofs("fsck", "-n", image, "--json");
        Assert.Equal(4, code);
        Assert.Equal(damaged, File.ReadAllBytes(image));
        using (var doc = JsonDocument.Parse(output))
        {
            Assert.Equal(4, doc.RootElement.GetProperty("exit").GetInt32());
            Assert.Equal("errors left", doc.RootElement.GetProperty("verdict").GetString());
            Assert.Contains(doc.RootElement.GetProperty("report").EnumerateArray(), l => l.GetString()!.Contains("free map"));
        }
        Assert.Equal(1, Exofs("fsck", "-p", image).Code);
        Assert.Equal(0, Exofs("fsck", "-n", image).Code);
        using (var fs = File.OpenWrite(image)) { fs.Position = 4096 + 10; fs.Write(new byte[] { 0xAA, 0x55 }); }
        Assert.Equal(1, Exofs("fsck", "-y", image).Code);
        using var clean = JsonDocument.Parse(Exofs("fsck", image, "--json").Out);
        Assert.Equal("clean", clean.RootElement.GetProperty("verdict").GetString());
    }

    [Fact]
    public void An_at_sign_argument_is_a_path_not_a_response_file()
    {
        var (code, _, err) = Exofs("info", "@" + Path.Combine(_dir, "none"));
        Assert.Equal(1, code);
        Assert.Contains("no such image file", err);
    }
}
