using System.Diagnostics;
using System.Runtime.InteropServices;
using ExoFS.Cli.Commands;
using ExoFS.Host;
using ExoFS.LibFs;
using ExoFS.Mount;

namespace ExoFS.Cli.Mounting;

/// <summary>
/// Serves one mount until it is unmounted, and starts such a server in the background.
/// <para>
/// Background mounts re-run this exofs binary as <c>exofs mount ... --foreground</c> plus a hidden flag that
/// makes it a daemon child: it starts a new session (no controlling terminal, so a closing shell does not
/// hang it up), reports exactly one line on its standard output — "ready" or "error: why" — and then points
/// its standard streams at /dev/null and its log file. The parent returns only after reading that line, so
/// when <c>exofs mount</c> exits 0 the mount is up.
/// </para>
/// <para>
/// Stopping: SIGINT, SIGTERM and SIGHUP unmount; an external umount or <c>fusermount3 -u</c> ends the
/// session the same way. Either way the server then syncs and disposes the libFS, which marks the FFS and the
/// XN volume clean and releases the image's lock, and only then exits — <c>exofs umount</c> waits for that
/// exit, so a check of the image afterwards finds it clean.
/// </para>
/// </summary>
internal static class MountDaemon
{
    public const string ReadyLine = "ready";
    public const string ErrorPrefix = "error: ";
    /// <summary>A line the daemon sends before "ready" for each thing recovery did; the parent prints it.</summary>
    public const string RecoveryPrefix = "recovery: ";

    /// <summary>How long the parent waits for the daemon's one line (startup of .NET plus loading the image).</summary>
    public static TimeSpan ReadyTimeout { get; set; } = TimeSpan.FromSeconds(60);

    // ---------------------------------------------------------------- foreground

    /// <summary>Mounts and serves in this process until unmounted. Returns the exit code.</summary>
    public static int Serve(MountRequest request, bool daemonChild, TextWriter stdout, TextWriter stderr)
    {
        Logger? logger = null;
        if (daemonChild)
        {
            // Detach from the caller's session and terminal; the parent is waiting on our stdout pipe.
            Posix.setsid();
            try { logger = Logger.Open(DaemonRecord.LogFile(request.MountPoint)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stdout.WriteLine($"{ErrorPrefix}cannot write the log under {DaemonRecord.StateDir}: {e.Message}");
                stdout.Flush();
                return 1;
            }
        }
        Action<string> log = logger is not null ? logger.Write : line => stderr.WriteLine(line);
        int Refuse(string message)
        {
            if (daemonChild)
            {
                stdout.WriteLine(ErrorPrefix + message);
                stdout.Flush();
                logger!.Write("refused: " + message);
                logger.Dispose();
            }
            else
            {
                stderr.WriteLine("exofs mount: " + message);
            }
            return 1;
        }

        if (request.ToFuseOptions(log, out string optionError) is null) return Refuse(optionError);

        using var stopper = new Stopper();
        var host = ExoHost.OpenImage(request.Image, out string? why, new HostOptions { ReadOnly = request.ReadOnly, Recovery = request.Recovery });
        if (!host.Ok) return Refuse(host.Error == Errno.EBUSY ? XnImage.InUse(request.Image) : $"{request.Image}: {why}");
        log($"exofs: host for {request.Image} up (pid {Environment.ProcessId}); {host.Value.Recovery}");
        var server = new HostServer(host.Value, request.Image, log);
        string? root = server.Attach(request, out string error);
        if (root is null)
        {
            host.Value.Dispose();
            return Refuse(error);
        }
        server.Listen();
        var recovery = server.Recovery;
        if (!recovery.WasClean) log($"exofs: recovery after an unclean shutdown: {recovery}");

        if (daemonChild)
        {
            foreach (var a in recovery.Actions) stdout.WriteLine(RecoveryPrefix + a);
            stdout.WriteLine(ReadyLine);
            stdout.Flush();
            logger!.RedirectStandardStreams();
        }
        else
        {
            foreach (var a in recovery.Actions) stdout.WriteLine($"{request.Image}: recovery: {a}");
            stdout.WriteLine($"{request.Image} ({root}) mounted on {request.MountPoint}; Ctrl-C or 'exofs umount {request.MountPoint}' unmounts");
        }

        stopper.Arm(() =>
        {
            log($"exofs: signal received, unmounting every root of {request.Image}");
            server.UnmountAll();
        });

        server.WaitUntilEmpty();
        server.Dispose();
        int code = server.Failed ? 1 : 0;
        // Every guest has synced and closed; now XN's volume (clean flag) and the image (its lock).
        try { host.Value.Dispose(); }
        catch (Exception e)
        {
            log($"exofs: closing the image failed: {e}");
            code = 1;
        }
        log(code == 0 ? $"exofs: last mount gone; {request.Image} closed clean" : $"exofs: {request.Image} closed after errors");
        logger?.Dispose();
        return code;
    }

    /// <summary>
    /// Turns SIGINT/SIGTERM/SIGHUP into one call of the stop action. A signal that arrives before the mount is
    /// up is remembered and acted on as soon as it is (the handler keeps the process alive meanwhile; the mount
    /// is then taken down cleanly instead of leaving a dead mount point).
    /// </summary>
    private sealed class Stopper : IDisposable
    {
        private readonly List<PosixSignalRegistration> _registrations = [];
        private readonly object _gate = new();
        private Action? _stop;
        private bool _requested, _started;

        public Stopper()
        {
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
                _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
        }

        public void Arm(Action stop)
        {
            lock (_gate)
            {
                _stop = stop;
                if (_requested) StartLocked();
            }
        }

        private void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            lock (_gate)
            {
                _requested = true;
                if (_stop is not null) StartLocked();
            }
        }

        // Unmount blocks until the session ends; the signal handler must not.
        private void StartLocked()
        {
            if (_started) return;
            _started = true;
            new Thread(() => _stop!()) { IsBackground = true, Name = "exofs-unmount" }.Start();
        }

        public void Dispose()
        {
            foreach (var r in _registrations) r.Dispose();
        }
    }

    /// <summary>Timestamped lines appended to the daemon's log file.</summary>
    private sealed class Logger : IDisposable
    {
        private readonly StreamWriter _writer;
        private readonly string _path;

        private Logger(string path, StreamWriter writer)
        {
            _path = path;
            _writer = writer;
        }

        public static Logger Open(string path)
        {
            DaemonRecord.EnsureStateDir();
            var stream = new FileStream(path, System.IO.FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            return new Logger(path, new StreamWriter(stream) { AutoFlush = true });
        }

        public void Write(string line)
        {
            lock (_writer)
            {
                try { _writer.WriteLine($"{DateTime.Now:yyyy-MM-dd HH:mm:ss.fff} [{Environment.ProcessId}] {line}"); }
                catch (Exception e) when (e is IOException or ObjectDisposedException) { /* a full disk must not stop the daemon */ }
            }
        }

        /// <summary>
        /// After "ready": stdin and stdout to /dev/null, stderr to the log, so the parent's pipes close (it sees
        /// EOF) and anything native code prints lands in the log.
        /// </summary>
        public void RedirectStandardStreams()
        {
            int devNull = Posix.open("/dev/null", Posix.O_RDWR, 0);
            int logFd = Posix.open(_path, Posix.O_WRONLY | Posix.O_APPEND | Posix.O_CREAT, 0x1a4 /* 0644 */);
            if (devNull >= 0)
            {
                Posix.dup2(devNull, 0);
                Posix.dup2(devNull, 1);
                Posix.close(devNull);
            }
            if (logFd >= 0)
            {
                Posix.dup2(logFd, 2);
                Posix.close(logFd);
            }
        }

        public void Dispose()
        {
            lock (_writer) _writer.Dispose();
        }
    }

    // ---------------------------------------------------------------- background

    /// <summary>
    /// Starts the daemon for <paramref name="request"/> and waits for its one line. 0 once the mount is up;
    /// otherwise the daemon's reason on <paramref name="stderr"/> and 1.
    /// </summary>
    public static int Spawn(MountRequest request, TextWriter stdout, TextWriter stderr)
    {
        var (program, prefix) = SelfCommand();
        var psi = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A daemon keeps no directory busy.
            WorkingDirectory = "/",
        };
        foreach (string a in prefix) psi.ArgumentList.Add(a);
        foreach (string a in request.Arguments(daemonChild: true)) psi.ArgumentList.Add(a);
        // The daemon is a long-lived server: compiling each method once, fully optimized, costs ~0.15 s at
        // start but keeps tier-0 code and background re-JIT (a third of the daemon's CPU during the first
        // seconds of an untar, on 2 cores) out of the request path. Short commands keep tiered compilation.
        if (Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") is null)
            psi.Environment["DOTNET_TieredCompilation"] = "0";

        Process child;
        try { child = Process.Start(psi)!; }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            stderr.WriteLine($"exofs mount: cannot start the mount daemon ({program}): {e.Message}");
            return 1;
        }
        using (child)
        {
            child.StandardInput.Close();
            var errLines = new List<string>();
            child.ErrorDataReceived += (_, e) => { if (e.Data is { } d) lock (errLines) errLines.Add(d); };
            child.BeginErrorReadLine();

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var line = child.StandardOutput.ReadLineAsync();
            while (line.Wait(ReadyTimeout - clock.Elapsed > TimeSpan.Zero ? ReadyTimeout - clock.Elapsed : TimeSpan.Zero)
                   && line.Result is { } l && l.StartsWith(RecoveryPrefix, StringComparison.Ordinal))
            {
                stdout.WriteLine($"{request.Image}: recovery: {l[RecoveryPrefix.Length..]}");
                line = child.StandardOutput.ReadLineAsync();
            }
            if (!line.IsCompleted)
            {
                try { child.Kill(); } catch (InvalidOperationException) { }
                child.WaitForExit(5000);
                // If it got as far as mounting, do not leave a dead mount point behind.
                if (MountTable.Find(request.MountPoint) is { FsType: MountTable.ExofsType }) FuseMount.UnmountPath(request.MountPoint, lazy: true);
                stderr.WriteLine($"exofs mount: the mount daemon did not report ready within {ReadyTimeout.TotalSeconds:0} s (log: {DaemonRecord.LogFile(request.MountPoint)})");
                return 1;
            }
            string? answer = line.Result;
            if (answer == ReadyLine)
            {
                stdout.WriteLine($"{request.Image} mounted on {request.MountPoint} (exofs daemon pid {child.Id}; log {DaemonRecord.LogFile(request.MountPoint)})");
                return 0;
            }
            child.WaitForExit(5000);
            if (answer is not null && answer.StartsWith(ErrorPrefix, StringComparison.Ordinal))
            {
                stderr.WriteLine("exofs mount: " + answer[ErrorPrefix.Length..]);
                return 1;
            }
            string detail;
            lock (errLines) detail = errLines.LastOrDefault(l => l.Trim().Length > 0) ?? "";
            string exit = child.HasExited ? $"exited with code {child.ExitCode}" : "stopped answering";
            stderr.WriteLine($"exofs mount: the mount daemon {exit} before the mount was ready{(detail.Length > 0 ? ": " + detail.Trim() : "")}");
            return 1;
        }
    }

    /// <summary>
    /// How to run this same exofs again: the apphost when we are it, else the dotnet host with exofs.dll
    /// (covers "dotnet exofs.dll" and callers that load this assembly, such as tests).
    /// </summary>
    internal static (string Program, string[] Prefix) SelfCommand()
    {
        string? process = Environment.ProcessPath;
        string dll = typeof(MountDaemon).Assembly.Location;
        if (process is not null && Path.GetFileName(process) == "exofs") return (process, []);
        string host = process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? process
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        return (host, ["exec", dll]);
    }
}
