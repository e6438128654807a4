using ExoFS.Cli;

namespace ExoFS.Cli.Tests;

/// <summary>The command line itself: one-line errors with exit 2 (16 for fsck), help for every verb, typo suggestions, --version, completion.</summary>
public sealed class ParserTests
{
    private static (int Code, string Out, string Err) Exofs(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Dispatch(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Every_verb_has_help_that_describes_every_option()
    {
        foreach (var verb in Program.Commands.Select(c => c.Name))
        {
            var (code, output, err) = Exofs(verb, "--help");
            Assert.True(code == 0, $"{verb} --help exited {code}: {err}");
            // The usage line starts with the executable's name ("exofs"; the test host's in process), then the verb.
            Assert.Matches($@"Usage:\n\s+\S+ {verb}\b", output);
            Assert.Contains("Options:", output);
        }
        var mkfs = Exofs("mkfs", "--help").Out;
        foreach (var option in new[] { "--size", "--libfs", "--force", "--label", "--uuid", "--dry-run" }) Assert.Contains(option, mkfs);
        var fsck = Exofs("fsck", "--help").Out;
        foreach (var option in new[] { "--repair", "-y", "-p", "-n", "--json" }) Assert.Contains(option, fsck);
        Assert.DoesNotContain("--daemon-child", Exofs("mount", "--help").Out);
    }

    [Theory]
    [InlineData(new[] { "mkfz", "x.img" }, "exofs: unknown command 'mkfz' (did you mean 'mkfs'?)")]
    [InlineData(new[] { "info", "x.img", "--jsn" }, "exofs info: unknown option '--jsn' (did you mean '--json'?)")]
    [InlineData(new[] { "mkfs" }, "exofs mkfs: missing IMAGE")]
    [InlineData(new[] { "mkfs", "a.img", "--size" }, "exofs mkfs: --size needs a value")]
    [InlineData(new[] { "mount", "a.img" }, "exofs mount: missing MOUNTPOINT")]
    [InlineData(new[] { "umount", "a", "b" }, "exofs umount: unexpected argument 'b'")]
    [InlineData(new[] { "crashtest", "--seed", "x" }, "exofs crashtest: --seed: 'x' is not an integer")]
    [InlineData(new[] { "inspect", "a.img", "lss" }, "exofs inspect: unknown command 'lss' (did you mean 'ls'?)")]
    public void A_bad_command_line_is_one_line_on_stderr_and_exit_2(string[] args, string start)
    {
        var (code, output, err) = Exofs(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith(start, err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.Contains("--help'", err);
    }

    [Fact]
    public void Fsck_usage_errors_keep_fsck8s_exit_16()
    {
        var (code, _, err) = Exofs("fsck", "a.img", "-n", "-y");
        Assert.Equal(16, code);
        Assert.StartsWith("exofs fsck: -n (no changes) cannot be combined", err);
        Assert.Equal(16, Exofs("fsck", "a.img", "--repiar").Code);
    }

    [Fact]
    public void Version_names_the_version_and_the_git_commit()
    {
        var (code, output, _) = Exofs("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^exofs \d+\.\d+\.\d+ \(commit [0-9a-f]{7,12}\)\n$", output);
    }

    [Fact]
    public void Suggest_directive_offers_verbs_and_options()
    {
        Assert.Contains("mkfs", Exofs("[suggest:8]", "exofs mk").Out.Split('\n'));
        var options = Exofs("[suggest:14]", "exofs fsck --r").Out.Split('\n');
        Assert.Contains("--repair", options);
        Assert.Contains("ffs", Exofs("[suggest:19]", "exofs mkfs --libfs ").Out.Split('\n'));
    }

    [Fact]
    public void The_bash_completion_script_completes_a_partial_command_line()
    {
        string script = Path.Combine(Repo.Root, "scripts", "exofs-completion.bash");
        string exofs = Path.Combine(AppContext.BaseDirectory, "exofs");
        // bash itself sources the script and calls its completion function as bash would for the partial line.
        string Complete(string line)
        {
            string driver = Path.Combine(Path.GetTempPath(), $"exofs-complete-{Guid.NewGuid():N}.bash");
            File.WriteAllText(driver,
                $". '{script}'\nCOMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; read -ra COMP_WORDS <<< \"$COMP_LINE\"\n" +
                "[ \"${COMP_LINE: -1}\" = ' ' ] && COMP_WORDS+=('')\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
                $"EXOFS_COMPLETION_EXOFS='{exofs}' _exofs_complete\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n");
            try { return Shell.Ok($"bash '{driver}'"); }
            finally { File.Delete(driver); }
        }
        Assert.Equal(["mkfs", "mount"], Complete("exofs m").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        Assert.Contains("--dry-run", Complete("exofs mkfs --d").Split('\n'));
        Assert.Contains("stat", Complete("exofs inspect img s").Split('\n'));
    }
}

/// <summary>The repository's root, found from the test assembly's directory.</summary>
internal static class Repo
{
    public static string Root
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "ExoFS.sln"))) return d.FullName;
            throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
        }
    }
}
