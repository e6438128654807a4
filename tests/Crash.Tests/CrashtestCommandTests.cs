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
    [InlineData("--seed")]
    [InlineData("--frobnicate", "1")]
    public void Bad_arguments_exit_2_with_one_line(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("exofs crashtest: ", err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
    }
}
