using ExoFS.Cli.Commands;

namespace ExoFS.Crash.Tests;

/// <summary>The <c>exofs crashtest</c> command's contract: last line, exit codes, replay lines, bad input.</summary>
public sealed class CrashtestCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = ExoFS.Cli.Program.Dispatch(["crashtest", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string LastLine(string text) => text.TrimEnd('\n').Split('\n')[^1];

    [Fact]
    public void Passing_campaign_exits_0_and_ends_with_the_counts()
    {
        var (code, output, err) = Run("--libfs", "toy", "--seed", "5", "--cases", "3", "--states", "64");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Equal("3 passed, 0 failed", LastLine(output));
        Assert.Contains("states/s", output);
    }

    [Fact]
    public void Failing_campaign_exits_1_and_prints_minimal_workload_and_replay_command()
    {
        var (code, output, _) = Run("--libfs", "toy-missingbarrier", "--seed", "7", "--cases", "2", "--states", "64");
        Assert.Equal(1, code);
        Assert.Equal("0 passed, 2 failed", LastLine(output));
        Assert.Contains("minimal workload:", output);
        Assert.Contains("replay: exofs crashtest --libfs toy-missingbarrier --seed 7 --cases 1", output);
        Assert.Contains("replay: exofs crashtest --libfs toy-missingbarrier --seed 8 --cases 1", output);
    }

    [Fact]
    public void Exhaustive_mode_runs_a_slice_by_index_and_replays_by_index()
    {
        var (code, output, _) = Run("--libfs", "toy-inplace", "--exhaustive", "2", "--seed", "58", "--cases", "2", "--states", "64");
        Assert.Equal(1, code);
        Assert.Contains("exofs crashtest --libfs toy-inplace --exhaustive 2 --seed 58 --cases 1", output);
        Assert.EndsWith("failed", LastLine(output));
    }

    [Fact]
    public void Unknown_libfs_is_one_line_listing_the_known_ones_and_exit_2()
    {
        var (code, output, err) = Run("--libfs", "nosuch");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("exofs crashtest: unknown libFS 'nosuch' (known: ", err);
        Assert.Contains("toy", err);
    }

    [Theory]
    [InlineData("--cases", "0")]
    [InlineData("--cases", "x")]
    [InlineData("--exhaustive", "4")]
    [InlineData("--exhaustive", "2", "--full-directory")]
    [InlineData("--seed")]
    [InlineData("--frobnicate", "1")]
    public void Bad_arguments_exit_2_with_one_line(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("exofs crashtest: ", err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
    }

    [Theory]
    [InlineData("--corrupt", "0")]
    [InlineData("--corrupt", "5", "--libfs", "toy")]
    [InlineData("--corrupt", "5", "--options", "nokey")]
    [InlineData("--corrupt", "5", "--timeout", "0")]
    [InlineData("--data-checksums")]
    [InlineData("--first-case", "3")]
    public void Bad_corrupt_arguments_exit_2_with_one_line(params string[] args)
    {
        var (code, output, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("exofs crashtest: ", err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void A_format_option_the_libfs_lacks_is_refused_by_name()
    {
        var (code, _, err) = Run("--corrupt", "5", "--options", "no-such-option=1");
        Assert.Equal(2, code);
        Assert.Contains("ffs has no format option 'no-such-option'", err);
    }

    [Fact]
    public void Corrupt_campaign_prints_its_tables_replays_and_a_summary_whose_failures_set_the_exit_code()
    {
        var (code, output, err) = Run("--corrupt", "40", "--seed", "1");
        Assert.Equal("", err);
        Assert.Contains("by damage", output);
        Assert.Contains("by target", output);
        Assert.Contains("xn.superblock", output);
        var last = System.Text.RegularExpressions.Regex.Match(LastLine(output),
            @"^40 damaged images: \d+ detected \(\d+ by fsck, \d+ refused read-write, \d+ on read\), \d+ harmless, (\d+) wrong bytes, 0 hangs, 0 crashes; \d+ metadata damage\(s\) fsck did not report; (\d+) failed$");
        Assert.True(last.Success, LastLine(output));
        int failed = int.Parse(last.Groups[2].Value);
        Assert.Equal(failed == 0 ? 0 : 1, code);
        if (failed > 0) Assert.Contains("replay: exofs crashtest --corrupt 1 --libfs ffs --seed 1 --first-case ", output);
    }

    [Fact]
    public void Corrupt_campaign_json_is_one_object_with_the_totals()
    {
        var (_, output, _) = Run("--corrupt", "10", "--libfs", "lfs", "--seed", "2", "--json");
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        var total = doc.RootElement.GetProperty("total");
        Assert.Equal(10, total.GetProperty("tried").GetInt32());
        Assert.Equal(0, total.GetProperty("crash").GetInt32());
        Assert.Equal("lfs", doc.RootElement.GetProperty("libfs").GetString());
        Assert.Equal(total.GetProperty("failed").GetInt32(), doc.RootElement.GetProperty("failures").GetArrayLength());
    }
}
