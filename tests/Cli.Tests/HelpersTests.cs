using ExoFS.Cli;

namespace ExoFS.Cli.Tests;

/// <summary>What ships beside the binary: the exofs(8) page and the fsck(8) helper.</summary>
public sealed class HelpersTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("exofs-helpers-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_man_page_renders_without_warnings_and_names_every_verb()
    {
        string page = Path.Combine(Repo.Root, "docs", "exofs.8");
        var o = Shell.Run($"groff -ww -man -Tutf8 {Shell.Quote(page)}");
        Assert.True(o.Exit == 0, o.ToString());
        Assert.Equal("", o.Err);
        // Bold and underline come as SGR sequences or overstrikes: strip them to read the text.
        string text = System.Text.RegularExpressions.Regex.Replace(o.Out, "\x1b\\[[0-9;]*m|.\b", "");
        text = System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");
        foreach (var verb in Program.Commands.Select(c => c.Name))
            Assert.Contains($"exofs {verb}", text);
    }

    [Fact]
    public void Fsck_t_exofs_runs_the_helper_with_fsck8s_options_and_exit_codes()
    {
        string image = Path.Combine(_dir, "fs.img");
        var made = new StringWriter();
        Assert.Equal(0, Program.Dispatch(["mkfs", image, "--size", "16M"], made, made));
        string bin = Path.Combine(_dir, "bin");
        Directory.CreateDirectory(bin);
        string helper = Path.Combine(bin, "fsck.exofs");
        File.WriteAllText(helper, File.ReadAllText(Path.Combine(Repo.Root, "scripts", "fsck.exofs"))
            .Replace("@EXOFS@", Path.Combine(AppContext.BaseDirectory, "exofs")));
        Shell.Ok($"chmod 755 {Shell.Quote(helper)}");
        string path = $"PATH={Shell.Quote(bin)}:$PATH";

        var clean = Shell.Run($"{path} fsck -t exofs {Shell.Quote(image)}");
        Assert.True(clean.Exit == 0, clean.ToString());
        Assert.Contains("clean", clean.Out);
        Assert.Equal(0, Shell.Run($"{path} fsck -t exofs -a {Shell.Quote(image)}").Exit);
        Assert.Equal(0, Shell.Run($"{path} fsck -t exofs -n {Shell.Quote(image)}").Exit);
        // A damaged free map: -n reports it (4), -y repairs it (1), then it is clean.
        using (var fs = File.OpenWrite(image)) { fs.Position = 4096 + 10; fs.Write(new byte[] { 0xAA, 0x55 }); }
        Assert.Equal(4, Shell.Run($"{path} fsck -t exofs -n {Shell.Quote(image)}").Exit);
        Assert.Equal(1, Shell.Run($"{path} fsck -t exofs -y {Shell.Quote(image)}").Exit);
        Assert.Equal(0, Shell.Run($"{path} fsck -t exofs {Shell.Quote(image)}").Exit);
        var missing = Shell.Run($"{path} fsck -t exofs {Shell.Quote(Path.Combine(_dir, "none.img"))}");
        Assert.Equal(8, missing.Exit);
        Assert.Contains("no such image file", missing.Err);
    }
}
