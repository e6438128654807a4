using System.Diagnostics;

namespace ExoFS.Mount.Tests;

/// <summary>
/// Runs external tools against a mount, always with a time limit (a hung daemon hangs its clients). Also
/// compiled into Cli.Tests, whose harness runs the exofs binary through <see cref="Wait"/>.
/// </summary>
internal static class Shell
{
    public readonly record struct Outcome(int Exit, string Out, string Err)
    {
        public override string ToString() => $"exit {Exit}\nstdout: {Out}\nstderr: {Err}";
    }

    /// <summary>A /bin/sh -c <paramref name="script"/> with output captured and a fixed locale, time zone and git setup.</summary>
    public static ProcessStartInfo Script(string script, string? cwd = null)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = cwd ?? "/",
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.Environment["LC_ALL"] = "C";
        psi.Environment["TZ"] = "UTC";
        psi.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        psi.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        return psi;
    }

    public static Outcome Run(string script, string? cwd = null, int timeoutMs = 30_000) =>
        Wait(Process.Start(Script(script, cwd))!, timeoutMs, script);

    /// <summary>
    /// Waits for <paramref name="p"/> (started with its standard streams redirected) to exit, killing it and
    /// its children after <paramref name="timeoutMs"/>; <paramref name="what"/> names it in the timeout.
    /// </summary>
    public static Outcome Wait(Process p, int timeoutMs, string what)
    {
        using (p)
        {
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs))
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw new TimeoutException($"`{what}` did not finish within {timeoutMs} ms");
            }
            p.WaitForExit();
            // A daemon started by `exofs mount` closes the inherited pipes once ready; never wait on it forever.
            Task.WaitAll([stdout, stderr], 10_000);
            return new Outcome(p.ExitCode, stdout.IsCompleted ? stdout.Result : "", stderr.IsCompleted ? stderr.Result : "");
        }
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
