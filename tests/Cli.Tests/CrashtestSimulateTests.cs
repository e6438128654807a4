using System.Text.Json;
using ExoFS.Cli.Commands;
using ExoFS.LibFs;

namespace ExoFS.Cli.Tests;

/// <summary><c>exofs crashtest --simulate</c>: the multi-guest simulation from the command line.</summary>
public sealed class CrashtestSimulateTests
{
    private static (int Code, string Out, string Err) Exofs(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Dispatch(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Simulate_runs_two_ffs_roots_and_the_hostile_guest_and_ends_with_the_tally()
    {
        var r = Exofs("crashtest", "--simulate", "--guests", "ffs,ffs:home,hostile", "--seed", "3", "--cases", "2", "--max-ops", "12", "--states", "1");
        Assert.True(r.Code == 0, r.Out + r.Err);
        var lines = r.Out.TrimEnd().Split('\n');
        Assert.StartsWith("crashtest --simulate: guests ffs, ffs:home, hostile (and the auditor); 2 case(s) from seed 3; 12 steps per guest; 1 crash state(s) per point", lines[0]);
        Assert.Contains("[2/2] 0 failed, ", r.Out);
        Assert.Matches(@"checked \d+ crash states at \d+ crash points in [\d.]+ s; the hostile guest made 24 attacks, 24 refused with XN's expected error", r.Out);
        Assert.Equal("2 passed, 0 failed", lines[^1]);
        // The same seed gives the same run: the JSON figures (all but the time) agree.
        var a = Json("--json");
        var b = Json("--json");
        Assert.Equal(2, a.GetProperty("passed").GetInt32());
        Assert.Equal(a.GetProperty("crashStates").GetInt64(), b.GetProperty("crashStates").GetInt64());
        Assert.True(a.GetProperty("crashStates").GetInt64() > 0);
        Assert.Equal(24, a.GetProperty("attacksRefused").GetInt32());
        Assert.Equal(0, a.GetProperty("failures").GetArrayLength());

        JsonElement Json(string flag)
        {
            var j = Exofs("crashtest", "--simulate", "--seed", "3", "--cases", "2", "--max-ops", "12", "--states", "1", flag);
            Assert.Equal(0, j.Code);
            return JsonDocument.Parse(j.Out).RootElement.Clone();
        }
    }

    [Fact]
    public void A_failing_case_prints_its_problems_and_a_replay_line_and_exits_1()
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CrashtestSimulate.Run("ffs,ffs:home", 9, 2, 8, 0, json: false, o, e,
            interpose: (root, fs) => root == "home" ? new FlipsWrites(fs) : fs);
        string text = o.ToString();
        Assert.True(code == 1, text + e);
        Assert.Contains("FAILED seed 9: ", text);
        Assert.Contains("root 'home' step", text);
        Assert.Contains("replay: exofs crashtest --simulate --guests ffs,ffs:home --seed 9 --cases 1 --max-ops 8 --states 0", text);
        Assert.EndsWith("0 passed, 2 failed", text.TrimEnd());
    }

    [Theory]
    [InlineData("--guests", "lfs", "exofs crashtest: --guests: unknown guest 'lfs' (guests: ffs, ffs:ROOT, hostile)")]
    [InlineData("--guests", "hostile", "exofs crashtest: --guests: at least one FFS root (ffs or ffs:ROOT)")]
    [InlineData("--guests", "ffs,ffs", "exofs crashtest: --guests: root 'ffs' given twice")]
    [InlineData("--libfs", "ffs", "exofs crashtest: --libfs does not apply to --simulate")]
    public void Bad_simulate_arguments_get_one_line_and_exit_2(string option, string value, string message)
    {
        var r = Exofs("crashtest", "--simulate", option, value);
        Assert.Equal(2, r.Code);
        Assert.Equal(message, r.Err.Trim());
    }

    [Fact]
    public void Guests_without_simulate_is_refused()
    {
        var r = Exofs("crashtest", "--guests", "ffs");
        Assert.Equal(2, r.Code);
        Assert.Equal("exofs crashtest: --guests needs --simulate", r.Err.Trim());
    }

    /// <summary>Writes every byte flipped: the root's tree stops matching its model at the first write.</summary>
    private sealed class FlipsWrites(IFileSystem inner) : LibFs.Testing.ForwardingFileSystem<IFileSystem>(inner)
    {
        public override Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
        {
            var flipped = data.ToArray();
            for (int i = 0; i < flipped.Length; i++) flipped[i] ^= 0xFF;
            return base.Write(ino, fh, offset, flipped);
        }
    }
}
