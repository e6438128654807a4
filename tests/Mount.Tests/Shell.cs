using System.Diagnostics;

namespace ExoFS.Mount.Tests;

/// <summary>Runs external tools against a mount, always with a time limit (a hung daemon hangs its clients).</summary>
internal static class Shell
{
    public readonly record struct Outcome(int Exit, string Out, string Err);

    public static Outcome Run(string script, string? cwd = null, int timeoutMs = 30_000)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = cwd ?? "/",
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.Environment["LC_ALL"] = "C";
        psi.Environment["TZ"] = "UTC";
        psi.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        psi.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"`{script}` did not finish within {timeoutMs} ms");
        }
        p.WaitForExit();
        return new Outcome(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs <paramref name="script"/> and fails the test unless it exits 0; returns its standard output.</summary>
    public static string Ok(string script, string? cwd = null, int timeoutMs = 30_000)
    {
        var o = Run(script, cwd, timeoutMs);
        Assert.True(o.Exit == 0, $"`{script}` exited {o.Exit}\nstdout: {o.Out}\nstderr: {o.Err}");
        return o.Out;
    }

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
