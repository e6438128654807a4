using System.Diagnostics;
using System.Text.RegularExpressions;
using Outcome = ExoFS.Mount.Tests.Shell.Outcome;

namespace ExoFS.Cli.Tests;

/// <summary>
/// A fact that needs real FUSE mounts, skipped where they cannot run (<see cref="FuseSupport.Why"/>, shared
/// with Mount.Tests). Unlike Mount.Tests' attribute it sets no Timeout: these tests are synchronous and time
/// every child process themselves.
/// </summary>
public sealed class FuseFactAttribute : FactAttribute
{
    public FuseFactAttribute()
    {
        if (FuseSupport.Why() is { } reason) Skip = reason;
    }
}

/// <summary>
/// Runs the built exofs binary (the one next to this test assembly) and shell tools as child processes, each
/// with a time limit, in a scratch directory whose mounts are always taken down at the end. The daemons it
/// starts keep their pid and log files in the scratch directory too (EXOFS_RUN_DIR), not in /run/exofs.
/// </summary>
internal sealed class MountCliHarness : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("exofs-mountcli-").FullName;
    public string RunDir => Path.Combine(Dir, "run");
    private readonly List<string> _mountPoints = [];

    public string NewMountPoint(string name = "mnt")
    {
        string path = Path.Combine(Dir, name);
        Directory.CreateDirectory(path);
        _mountPoints.Add(path);
        return path;
    }

    public Outcome Exofs(params string[] args) => ExofsWithin(60_000, args);

    public Outcome ExofsWithin(int timeoutMs, params string[] args)
    {
        var psi = ExofsStartInfo(args);
        return Shell.Wait(Process.Start(psi)!, timeoutMs, "exofs " + string.Join(' ', args));
    }

    public ProcessStartInfo ExofsStartInfo(params string[] args)
    {
        string dir = AppContext.BaseDirectory;
        string apphost = Path.Combine(dir, "exofs");
        var psi = File.Exists(apphost) ? new ProcessStartInfo(apphost) : new ProcessStartInfo("dotnet") { ArgumentList = { "exec", Path.Combine(dir, "exofs.dll") } };
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        psi.Environment["EXOFS_RUN_DIR"] = RunDir;
        foreach (string a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    public Outcome Sh(string script, int timeoutMs = 60_000)
    {
        var psi = Shell.Script(script, Dir);
        psi.Environment["EXOFS_RUN_DIR"] = RunDir;
        return Shell.Wait(Process.Start(psi)!, timeoutMs, script);
    }

    /// <summary>Runs <paramref name="script"/>, fails the test unless it exits 0, returns its standard output.</summary>
    public string Ok(string script, int timeoutMs = 60_000)
    {
        var o = Sh(script, timeoutMs);
        Assert.True(o.Exit == 0, $"`{script}` failed: {o}");
        return o.Out;
    }

    public string MakeImage(string name = "fs.img", string size = "256M")
    {
        string image = Path.Combine(Dir, name);
        var o = Exofs("mkfs", image, "--size", size);
        Assert.True(o.Exit == 0, o.ToString());
        return image;
    }

    /// <summary>Mounts through the daemon path and returns the daemon's pid (from the command's report).</summary>
    public int Mount(string image, string mountPoint, params string[] extra)
    {
        var o = Exofs(["mount", image, mountPoint, .. extra]);
        Assert.True(o.Exit == 0, o.ToString());
        Assert.True(IsExofsMount(mountPoint), $"{mountPoint} is not in the mount table after exofs mount returned 0");
        var m = Regex.Match(o.Out, @"pid (\d+)");
        Assert.True(m.Success, o.ToString());
        return int.Parse(m.Groups[1].Value);
    }

    public void Umount(string mountPoint)
    {
        var o = Exofs("umount", mountPoint);
        Assert.True(o.Exit == 0, o.ToString());
        Assert.False(IsMounted(mountPoint));
        // A clean unmount leaves no failure in any daemon's log (a loop or callback error is logged, not shown).
        foreach (string log in Directory.Exists(RunDir) ? Directory.GetFiles(RunDir, "*.log") : [])
        {
            var bad = File.ReadLines(log).Where(l => l.Contains("exception", StringComparison.OrdinalIgnoreCase) || l.Contains("failed", StringComparison.Ordinal)).ToList();
            Assert.True(bad.Count == 0, $"{log}:\n{string.Join("\n", bad)}");
        }
    }

    public void AssertFsckClean(string image)
    {
        var o = Exofs("fsck", image);
        Assert.True(o.Exit == 0, "fsck: " + o);
    }

    public static bool IsMounted(string mountPoint) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == mountPoint);

    public static bool IsExofsMount(string mountPoint) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == mountPoint && l.Contains(" - fuse.exofs "));

    public static bool ProcessAlive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ");

    public static void WaitUntil(Func<bool> condition, int timeoutMs, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.ElapsedMilliseconds > timeoutMs) throw new TimeoutException($"{what} within {timeoutMs} ms");
            Thread.Sleep(50);
        }
    }

    public static void AssertOneLineRefusal(Outcome o, string expectedFragment)
    {
        Assert.NotEqual(0, o.Exit);
        string[] lines = o.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr: {o}");
        Assert.Contains(expectedFragment, lines[0]);
        Assert.DoesNotContain("   at ", o.Err);
    }

    public void Dispose()
    {
        foreach (string mp in _mountPoints)
        {
            if (!IsMounted(mp)) continue;
            // Ask the daemon nicely first, then detach whatever is left so no test leaves a mount behind.
            try { Exofs("umount", mp); } catch (TimeoutException) { }
            if (IsMounted(mp)) Sh($"fusermount3 -u -z '{mp}' || umount -l '{mp}'", 20_000);
        }
        foreach (string f in Directory.Exists(RunDir) ? Directory.GetFiles(RunDir, "*.pid") : [])
        {
            // A daemon of ours still running after its mount is gone: stop it.
            var pidLine = File.ReadLines(f).FirstOrDefault(l => l.StartsWith("pid=", StringComparison.Ordinal));
            if (pidLine is not null && int.TryParse(pidLine[4..], out int pid) && ProcessAlive(pid))
            {
                try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
            }
        }
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { /* a lazily detached mount may still pin it */ }
    }
}
