using ExoFS.Cli;

namespace ExoFS.Cli.Tests;

public sealed class UdfVerifyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("exofs-udf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static (int Code, string Out, string Err) Exofs(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Dispatch(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Accepted_file_prints_accepted_and_exits_0()
    {
        string path = WriteFile("ok.udf", ".udf ok\n.types t\n.read 0 8\n ld64 r2, [r0+0]\n beq r2, 0, done\n emit 0, r2, 1\ndone:\n ret 0\n");
        Assert.Equal((0, "accepted\n", ""), Exofs("udf", "verify", path));
    }

    [Fact]
    public void Rejected_file_prints_the_reason_and_exits_1()
    {
        string path = WriteFile("bad.udf", ".udf bad\n li r2, 0\n st r2, [r2+0]\n ret 0\n");
        Assert.Equal((1, "rejected: not allowed: st (UDFs may not store / call out / read the clock) at line 3\n", ""),
            Exofs("udf", "verify", path));
    }

    [Fact]
    public void Rejection_of_an_unbounded_program_names_the_line()
    {
        string path = WriteFile("spin.udf", ".udf spin\ntop:\n add r2, r2, 1\n jmp top\n ret 0\n");
        var (code, output, _) = Exofs("udf", "verify", path);
        Assert.Equal(1, code);
        Assert.Equal("rejected: unbounded: backward jump at line 4 (only loop may jump back)\n", output);
    }

    [Fact]
    public void Missing_file_is_a_one_line_error_with_exit_2()
    {
        var (code, output, error) = Exofs("udf", "verify", Path.Combine(_dir, "absent.udf"));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("exofs udf: cannot read ", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Directory_instead_of_file_is_a_one_line_error_with_exit_2()
    {
        var (code, _, error) = Exofs("udf", "verify", _dir);
        Assert.Equal(2, code);
        Assert.StartsWith("exofs udf: cannot read ", error);
    }

    [Fact]
    public void Oversized_input_is_a_one_line_error_not_a_hang()
    {
        var (code, _, error) = Exofs("udf", "verify", "/dev/zero");
        Assert.Equal(2, code);
        Assert.Equal("exofs udf: /dev/zero is larger than 1048576 bytes, too large for a UDF\n", error);
    }

    [Theory]
    [InlineData()]
    [InlineData("verify")]
    [InlineData("check", "x.udf")]
    [InlineData("verify", "a.udf", "b.udf")]
    public void Wrong_arguments_print_usage_and_exit_2(params string[] rest)
    {
        var (code, output, error) = Exofs(["udf", .. rest]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        // One line naming what is wrong and the usage (System.CommandLine's parse, since issue 16).
        Assert.StartsWith("exofs udf: ", error);
        Assert.Contains("usage: exofs udf verify FILE", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Help_lists_the_udf_command() =>
        Assert.Contains("udf verify FILE", Exofs("--help").Out);
}
