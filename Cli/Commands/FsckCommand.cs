using System.CommandLine;
using ExoFS.Host;
using ExoFS.Xn;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs fsck IMAGE [--repair|-y|-p|-n] [--json]</c>: XN's global invariants, then every libFS root checker registered
/// for a root's type. Exit codes as fsck(8): 0 clean, 1 errors corrected, 4 errors left uncorrected,
/// 8 operational error (missing or busy file), 16 usage error.
/// </summary>
public sealed class FsckCommand : ICommand
{
    public const int Clean = 0, Corrected = 1, ErrorsLeft = 4, Operational = 8, UsageError = 16;

    public string Name => "fsck";

    public int UsageExit => UsageError;

    public Command Build()
    {
        var image = Cli.Argument<string>("IMAGE", "An ExoFS image file (a mounted one is checked read-only by its daemon)");
        var repair = Cli.Option<bool>("--repair", "Fix what can be fixed: XN's free map and ownership, then each libFS's own structures");
        var yes = Cli.Option<bool>("-y", "As fsck(8) passes it: answer yes to every repair (the same as --repair)");
        var preen = Cli.Option<bool>("-p", "As fsck(8) passes it (preen): repair automatically what is safe (the same as --repair)", "-a");
        var no = Cli.Option<bool>("-n", "As fsck(8) passes it: change nothing, only report (the default)");
        var force = Cli.Option<bool>("-f", "Check even if clean (accepted for fsck(8); ExoFS always checks fully)");
        var json = Cli.Option<bool>("--json", "Print one JSON object: image, exit code, verdict and the report's lines");
        var command = new Command(Name, "Check XN's invariants and each libFS root (exit 0 clean, 1 corrected, 4 left, 8 operational, 16 usage)")
        {
            image, repair, yes, preen, no, force, json,
        };
        command.Validators.Add(r =>
        {
            if (r.GetValue(no) && (r.GetValue(repair) || r.GetValue(yes) || r.GetValue(preen)))
                r.AddError("-n (no changes) cannot be combined with --repair, -y or -p");
        });
        command.SetAction(r =>
        {
            string path = r.GetValue(image)!;
            bool fix = r.GetValue(repair) || r.GetValue(yes) || r.GetValue(preen);
            if (!r.GetValue(json)) return WithSpinner(Cli.Out(r), $"checking {path}", o => Run(path, fix, o, Cli.Err(r)));
            var text = new StringWriter();
            var errors = new StringWriter();
            int code = Run(path, fix, text, errors);
            WriteJson(Cli.Out(r), path, code, text.ToString(), errors.ToString());
            return code;
        });
        return command;
    }

    /// <summary>On a terminal, a spinner while <paramref name="work"/> runs (its output shown when done); otherwise just the work.</summary>
    internal static int WithSpinner(TextWriter stdout, string what, Func<TextWriter, int> work)
    {
        if (!Cli.IsTerminal(stdout)) return work(stdout);
        var buffered = new StringWriter();
        int code = 0;
        Spectre.Console.AnsiConsole.Status().Start(what + " ...", _ => code = work(buffered));
        stdout.Write(buffered.ToString());
        return code;
    }

    private static void WriteJson(TextWriter o, string path, int code, string report, string errors)
    {
        using var ms = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(ms, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("image", path);
            w.WriteNumber("exit", code);
            w.WriteString("verdict", code switch { Clean => "clean", Corrected => "corrected", ErrorsLeft => "errors left", Operational => "operational error", _ => "usage error" });
            w.WriteStartArray("report");
            foreach (var line in report.Split('\n', StringSplitOptions.RemoveEmptyEntries)) w.WriteStringValue(line.StartsWith(path + ": ", StringComparison.Ordinal) ? line[(path.Length + 2)..] : line);
            w.WriteEndArray();
            w.WriteStartArray("errors");
            foreach (var line in errors.Split('\n', StringSplitOptions.RemoveEmptyEntries)) w.WriteStringValue(line);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }

    private static int Run(string path, bool repair, TextWriter stdout, TextWriter stderr)
    {
        // A damaged free map is reported (read-only) or rebuilt (--repair) instead of refusing to check.
        var opened = XnImage.Open(path, new HostOptions { ReadOnly = !repair, TolerateCorruptFreeMap = true }, out var error, out bool operational);
        if (opened is null)
        {
            if (Mounting.DaemonRecord.Running().Any(r => r.Image == Path.GetFullPath(path)))
            {
                if (repair) return Fail(stderr, $"{path} is mounted; unmount it before 'fsck --repair'", Operational);
                // Checking only, as e2fsck -n on a mounted ext4: the image's host checks its live state.
                if (Mounting.HostClient.Ask(Path.GetFullPath(path), new { op = "check" }) is { } reply
                    && reply.LastOrDefault() is { } last && last.StartsWith("exit ", StringComparison.Ordinal))
                {
                    foreach (var line in reply.SkipLast(1)) stdout.WriteLine(line);
                    return int.Parse(last["exit ".Length..], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
            return Fail(stderr, error, operational ? Operational : ErrorsLeft);
        }
        using var host = opened;
        if (!host.WasClean)
        {
            stdout.WriteLine($"{path}: was not cleanly unmounted");
            if (!repair) return CheckAfterRecovery(stdout, stderr, path);
            // --repair: the recovery a mount does, for real, with each libFS's full walk, then the check.
            if (host.RunRootRecovery(out string? failed, WalkRoots) != LibFs.Errno.OK)
                return Fail(stderr, $"{path}: recovery failed: {failed}", ErrorsLeft);
            foreach (var a in host.Recovery.Actions) stdout.WriteLine($"{path}: recovered: {a}");
        }
        foreach (var r in host.LoadRepairs) stdout.WriteLine($"{path}: repaired: {r}");
        var findings = host.Check().Findings;
        if (findings.Count == 0)
        {
            bool changed = host.LoadRepairs.Count > 0 || (!host.WasClean && repair);
            Summary(stdout, path, host, changed ? "repaired" : "clean");
            return changed ? Corrected : Clean;
        }
        foreach (var f in findings) stdout.WriteLine($"{path}: {f}");
        if (!repair)
        {
            Summary(stdout, path, host, $"{findings.Count} problem(s) found; run with --repair to fix what XN can");
            return ErrorsLeft;
        }
        // XN's repair first (free map, ownership), then each libFS repairs its own structures.
        var repaired = host.Repair(out string? why);
        if (!repaired.Ok) return Fail(stderr, $"{path}: repair failed: {why}", repaired.Error == LibFs.Errno.EIO ? Operational : ErrorsLeft);
        foreach (var fix in repaired.Value.Repairs) stdout.WriteLine($"{path}: {fix}");
        var left = repaired.Value.Findings;
        foreach (var f in left) stdout.WriteLine($"{path}: left: {f}");
        Summary(stdout, path, host, left.Count == 0 ? "repaired" : $"{left.Count} problem(s) left after repair");
        return left.Count == 0 ? Corrected : ErrorsLeft;
    }

    /// <summary>
    /// An image not cleanly unmounted, checked without --repair: the recovery a mount would do runs in memory
    /// (the image is not written), what it would do is printed, and the recovered state is checked. Exit 0 when
    /// that recovery leaves it consistent, 4 when damage beyond it remains.
    /// </summary>
    private static int CheckAfterRecovery(TextWriter stdout, TextWriter stderr, string path)
    {
        ExoFS.Kernel.Disk.ImageFileDevice dev;
        try { dev = ExoFS.Kernel.Disk.ImageFileDevice.Open(path, ExoFS.Kernel.Disk.ImageOpenMode.ReadOnly); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Fail(stderr, $"{path}: {e.Message.Split('\n')[0]}", Operational); }
        var recovered = ExoHost.RecoverInMemory(dev, out string? error, ownsDevice: true,
            new HostOptions { PageFrames = ExoHost.ImagePageFrames, TolerateCorruptFreeMap = true }, WalkRoots);
        if (!recovered.Ok) return Fail(stderr, $"{path}: the recovery a mount would do fails: {error}", ErrorsLeft);
        using var host = recovered.Value;
        var actions = host.Recovery.Actions;
        if (actions.Count == 0) stdout.WriteLine($"{path}: a mount's recovery finds nothing to do");
        // XN's part is what every mount does; a libFS's walk is what fsck --repair (or a mount that walks) does:
        // a default mount defers FFS's, which after a crash finds leaks only.
        foreach (var a in actions)
            stdout.WriteLine(a.StartsWith("xn: ", StringComparison.Ordinal) ? $"{path}: a mount's recovery will do: {a}"
                : $"{path}: recovery (fsck --repair; a mount defers leaks) will do: {a}");
        var findings = host.Check().Findings;
        foreach (var f in findings) stdout.WriteLine($"{path}: after recovery: {f}");
        Summary(stdout, path, host, findings.Count == 0
            ? "consistent once recovered (a read-write mount or 'fsck --repair' does it)"
            : $"{findings.Count} problem(s) remain after the recovery a mount would do; run with --repair to fix what XN can");
        return findings.Count == 0 ? Clean : ErrorsLeft;
    }

    /// <summary>Mount options that make each libFS walk its whole root after a crash instead of deferring (FFS's -o ffs-recovery=walk).</summary>
    private static readonly Dictionary<string, string> WalkRoots = new(StringComparer.Ordinal) { [ExoFS.LibFs.Ffs.FfsLibFs.RecoveryOption] = "walk" };

    /// <summary>
    /// The check of an image a running host holds (its daemon answers <c>exofs fsck</c> with this): XN's
    /// invariants and each root's checker on the live state; never a change.
    /// </summary>
    internal static int CheckOnly(TextWriter stdout, string path, ExoHost host, bool mounted)
    {
        var findings = host.Check().Findings;
        if (mounted) stdout.WriteLine($"{path}: mounted: checking the live state read-only");
        foreach (var f in findings) stdout.WriteLine($"{path}: {f}");
        Summary(stdout, path, host, findings.Count == 0 ? "clean" : $"{findings.Count} problem(s) found; unmount and run with --repair to fix what XN can");
        return findings.Count == 0 ? Clean : ErrorsLeft;
    }

    private static void Summary(TextWriter stdout, string path, ExoHost host, string verdict)
    {
        var g = host.Geometry;
        ulong used = g.BlockCount - host.FreeBlocks;
        stdout.WriteLine($"{path}: {verdict}; {host.Roots().Count} root(s), {used}/{g.BlockCount} blocks used");
    }

    private static int Fail(TextWriter stderr, string message, int code)
    {
        stderr.WriteLine($"exofs fsck: {message}");
        return code;
    }
}
