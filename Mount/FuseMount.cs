using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ExoFS.LibFs;
using FileMode = ExoFS.LibFs.FileMode;
using ExoFS.Mount.Native;

namespace ExoFS.Mount;

/// <summary>
/// A libFS mounted through FUSE. <see cref="Start"/> returns once the kernel has the mount and libfuse has
/// answered INIT; requests are then served by libfuse's worker threads until <see cref="Unmount"/> (or an
/// external umount). Whoever unmounts, the session is torn down on the loop thread and the libFS is synced
/// once; the libFS itself stays owned (and disposed) by the caller.
///
/// Unmount order matters: the kernel umount comes first, while workers still serve requests, so dirty pages
/// of the writeback cache reach the libFS; only then does the loop end and the session close.
/// </summary>
public sealed unsafe class FuseMount : IDisposable
{
    private const int ENOENT = 2, ENOTDIR = 20, EACCES = 13, ENOTCONN = 107;

    private readonly IFileSystem _fs;
    private readonly FuseMountOptions _options;
    private readonly Action<string> _log;
    private readonly GCHandle _adapterHandle;
    private readonly nint _session;
    private readonly Thread _loopThread;
    private readonly ManualResetEventSlim _stopped = new(false);
    private readonly object _unmountGate = new();
    private uint _kernelDev;
    private string? _syncFailure;

    private FuseMount(IFileSystem fs, FuseMountOptions options, Action<string> log, GCHandle adapterHandle, nint session, string mountPoint)
    {
        _fs = fs;
        _options = options;
        _log = log;
        _adapterHandle = adapterHandle;
        _session = session;
        MountPoint = mountPoint;
        _loopThread = new Thread(RunLoop) { IsBackground = true, Name = "exofs-fuse-loop" };
    }

    /// <summary>The absolute, symlink-free path the file system is mounted on.</summary>
    public string MountPoint { get; }

    /// <summary>False once the session has ended (unmounted by us or by someone else).</summary>
    public bool IsMounted => !_stopped.IsSet;

    /// <summary>
    /// Mounts <paramref name="fs"/> on <paramref name="mountPoint"/> and serves it on background threads.
    /// Throws <see cref="MountException"/> (one-line message) when the mount point is missing, not a
    /// directory, already a mount point, /dev/fuse is unavailable, libfuse rejects the options, or the
    /// kernel does not complete the mount within <see cref="FuseMountOptions.MountTimeout"/>.
    /// </summary>
    public static FuseMount Start(IFileSystem fs, string mountPoint, FuseMountOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fs);
        options ??= new FuseMountOptions();
        string optionString = BuildOptionString(options);
        string path = CheckMountPoint(mountPoint);
        if (!File.Exists("/dev/fuse"))
        {
            throw new MountException("/dev/fuse is missing: load the fuse module (or give the container --device /dev/fuse)");
        }

        Action<string> log = options.Log ?? (m => Console.Error.WriteLine(m));
        LibFuseLog.Install(log);
        var adapter = new FuseAdapter(fs, options, log);
        var handle = GCHandle.Alloc(adapter);
        nint session = 0;
        var captured = new List<string>();
        try
        {
            using (LibFuseLog.Capture(captured))
            {
                session = NewSession(optionString, options.Debug, GCHandle.ToIntPtr(handle));
                if (session == 0)
                {
                    throw new MountException($"libfuse rejected the mount options \"{optionString}\": {Describe(captured)}");
                }
                byte[] mp = Libc.Utf8Z(path);
                int rc;
                fixed (byte* p = mp) rc = LibFuse.fuse_session_mount(session, p);
                if (rc != 0)
                {
                    throw new MountException($"cannot mount on {path}: {Describe(captured)}");
                }
            }
        }
        catch
        {
            if (session != 0) LibFuse.fuse_session_destroy(session);
            handle.Free();
            throw;
        }
        foreach (string line in captured) log(line);

        var mount = new FuseMount(fs, options, log, handle, session, path);
        mount._loopThread.Start();
        mount.AwaitReady(adapter);
        return mount;
    }

    /// <summary>
    /// Unmounts (waiting up to <see cref="FuseMountOptions.UnmountTimeout"/> for files still open on the mount
    /// to close, then aborting the connection), waits for the session to end and the libFS sync to finish.
    /// Idempotent. Throws <see cref="MountException"/> if the final sync failed or the session would not stop.
    /// </summary>
    public void Unmount()
    {
        lock (_unmountGate)
        {
            if (!_stopped.IsSet)
            {
                RequestKernelUnmount();
                if (!_stopped.Wait(_options.UnmountTimeout))
                {
                    _log($"exofs: {MountPoint} is still in use {_options.UnmountTimeout.TotalSeconds:0} s after unmount; aborting the FUSE connection");
                    AbortConnection();
                    if (!_stopped.Wait(TimeSpan.FromSeconds(10)))
                    {
                        throw new MountException($"the FUSE session for {MountPoint} did not stop after its connection was aborted");
                    }
                }
            }
        }
        ThrowIfSyncFailed();
    }

    /// <summary>Blocks until the file system is unmounted (by <see cref="Unmount"/> or externally); for foreground mounts.</summary>
    public void Wait()
    {
        _stopped.Wait();
        ThrowIfSyncFailed();
    }

    /// <summary>Like <see cref="Wait()"/> with a limit; false if still mounted when it expires.</summary>
    public bool Wait(TimeSpan timeout)
    {
        if (!_stopped.Wait(timeout)) return false;
        ThrowIfSyncFailed();
        return true;
    }

    /// <summary>Same as <see cref="Unmount"/>.</summary>
    public void Dispose() => Unmount();

    // ---------------------------------------------------------------- starting

    /// <summary>
    /// Checks that <paramref name="mountPoint"/> can take a mount (an existing directory nothing is mounted on)
    /// and returns its canonical path; <see cref="MountException"/> with the reason in one line otherwise.
    /// </summary>
    public static string CheckMountPoint(string mountPoint)
    {
        if (string.IsNullOrWhiteSpace(mountPoint)) throw new MountException("no mount point given");
        string full = Path.GetFullPath(mountPoint);
        byte[] p = Libc.Utf8Z(full);
        NativeStat st;
        int rc;
        fixed (byte* pp = p) rc = Libc.stat(pp, &st);
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new MountException(errno switch
            {
                ENOENT => $"mount point {full} does not exist",
                ENOTDIR => $"mount point {full}: a component of the path is not a directory",
                EACCES => $"mount point {full}: permission denied",
                ENOTCONN => $"mount point {full} is a dead FUSE mount (transport endpoint is not connected); run: fusermount3 -u {full}",
                _ => $"mount point {full}: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }
        if (!FileMode.IsDir(st.Mode)) throw new MountException($"mount point {full} is not a directory");

        string real = RealPath(full);
        if (MountTable.Find(real) is { } existing)
        {
            throw new MountException($"mount point {real} is busy: {existing.Source} ({existing.FsType}) is already mounted there");
        }
        return real;
    }

    /// <summary>The canonical, symlink-free form of <paramref name="path"/>; the absolute path as given when it
    /// cannot be resolved (missing, or a dead FUSE mount).</summary>
    public static string RealPath(string path)
    {
        path = Path.GetFullPath(path);
        byte[] p = Libc.Utf8Z(path);
        fixed (byte* pp = p)
        {
            byte* resolved = Libc.realpath(pp, null);
            if (resolved == null) return path;
            try { return Marshal.PtrToStringUTF8((nint)resolved) ?? path; }
            finally { Libc.free(resolved); }
        }
    }

    /// <summary>Checks the options and renders libfuse's -o list.</summary>
    internal static string BuildOptionString(FuseMountOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.FsName)) throw new MountException("the fsname option is empty");
        if (string.IsNullOrWhiteSpace(o.Subtype) || o.Subtype.Any(c => c is ',' or '\\' or ' ' or '/'))
        {
            throw new MountException($"bad subtype \"{o.Subtype}\": it must be a plain word");
        }
        if (o.MaxThreads < 1) throw new MountException($"max threads must be at least 1, not {o.MaxThreads}");
        if (o.Spin < TimeSpan.Zero || o.Spin > TimeSpan.FromMilliseconds(100)) throw new MountException($"the spin must be between 0 and 100 ms, not {o.Spin}");
        foreach (var (name, value) in new[] { ("entry timeout", o.EntryTimeout), ("attribute timeout", o.AttrTimeout),
            ("negative timeout", o.NegativeTimeout), ("mount timeout", o.MountTimeout), ("unmount timeout", o.UnmountTimeout) })
        {
            if (value < TimeSpan.Zero || value > TimeSpan.FromDays(1)) throw new MountException($"the {name} must be between 0 and 1 day, not {value}");
        }
        var opts = new List<string> { "fsname=" + EscapeOption(o.FsName), "subtype=" + o.Subtype };
        if (o.DefaultPermissions) opts.Add("default_permissions");
        if (o.AllowOther) opts.Add("allow_other");
        foreach (string extra in o.ExtraOptions)
        {
            if (string.IsNullOrWhiteSpace(extra) || extra.Split(',').Any(string.IsNullOrWhiteSpace))
            {
                throw new MountException($"bad mount option \"{extra}\"");
            }
            opts.Add(extra.Trim());
        }
        return string.Join(',', opts);
    }

    // libfuse splits -o lists on commas; a backslash escapes the next character.
    private static string EscapeOption(string value) => value.Replace("\\", "\\\\").Replace(",", "\\,");

    private static nint NewSession(string optionString, bool debug, nint userdata)
    {
        var argv = new List<string> { "exofs", "-o", optionString };
        if (debug) argv.Add("-d");
        var strings = new nint[argv.Count];
        byte** vector = (byte**)NativeMemory.AllocZeroed((nuint)(argv.Count + 1), (nuint)sizeof(byte*));
        try
        {
            for (int i = 0; i < argv.Count; i++)
            {
                strings[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
                vector[i] = (byte*)strings[i];
            }
            var args = new FuseArgs { Argc = argv.Count, Argv = vector, Allocated = 0 };
            FuseLowLevelOps ops = FuseAdapter.BuildOps();
            nint session = LibFuse.fuse_session_new(&args, &ops, (nuint)sizeof(FuseLowLevelOps), userdata);
            // Option parsing may have replaced args.argv with libfuse-owned copies; this frees only those.
            LibFuse.fuse_opt_free_args(&args);
            return session;
        }
        finally
        {
            foreach (nint s in strings) Marshal.FreeCoTaskMem(s);
            NativeMemory.Free(vector);
        }
    }

    /// <summary>Waits for INIT (the kernel queues it at mount time), then confirms the kernel's mount table.</summary>
    private void AwaitReady(FuseAdapter adapter)
    {
        int which = WaitHandle.WaitAny([adapter.Initialized, _stopped.WaitHandle], _options.MountTimeout);
        string? problem = which switch
        {
            0 => null,
            1 => $"the FUSE session for {MountPoint} ended before the mount was ready",
            _ => $"the kernel did not complete the mount on {MountPoint} within {_options.MountTimeout.TotalSeconds:0} s",
        };
        if (problem is null)
        {
            if (MountTable.Find(MountPoint) is { } entry && entry.FsType.StartsWith("fuse", StringComparison.Ordinal))
            {
                // The name of the connection's directory under /sys/fs/fuse/connections is the kernel's dev_t.
                _kernelDev = entry.Dev;
                return;
            }
            problem = $"{MountPoint} does not appear in the mount table after mounting";
        }
        StopForcibly();
        throw new MountException(problem);
    }

    // ---------------------------------------------------------------- running and stopping

    private void RunLoop()
    {
        int rc = -1;
        try
        {
            rc = new FuseLoop(_session, _options.MaxThreads, _options.Spin, helpOnBacklog: _fs.ServesInParallel, _log).Run();
            if (rc != 0) _log($"exofs: the FUSE session loop for {MountPoint} ended with error {rc}");
        }
        catch (Exception e)
        {
            _log($"exofs: the FUSE session loop for {MountPoint} failed: {e}");
        }
        finally
        {
            Finish();
        }
    }

    /// <summary>Runs once, on the loop thread, after the loop has returned.</summary>
    private void Finish()
    {
        try
        {
            // A no-op when the kernel already closed the connection (the usual case: somebody unmounted).
            LibFuse.fuse_session_unmount(_session);
            LibFuse.fuse_session_destroy(_session);
        }
        catch (Exception e)
        {
            _log($"exofs: closing the FUSE session for {MountPoint} failed: {e}");
        }
        _adapterHandle.Free();
        try
        {
            Errno err = _fs.Sync();
            if (err != Errno.OK) _syncFailure = $"syncing {_fs.Name} after unmounting {MountPoint} failed: {err}";
        }
        catch (Exception e)
        {
            _syncFailure = $"syncing {_fs.Name} after unmounting {MountPoint} failed: {e.Message}";
            _log($"exofs: {e}");
        }
        _stopped.Set();
    }

    private void ThrowIfSyncFailed()
    {
        if (_syncFailure is { } failure) throw new MountException(failure);
    }

    private void RequestKernelUnmount()
    {
        if (UnmountPath(MountPoint) is not { } why) return;
        _log($"exofs: unmounting {MountPoint}: {why}; detaching it lazily");
        if (UnmountPath(MountPoint, lazy: true) is { } still) _log($"exofs: lazy unmount of {MountPoint} failed: {still}");
    }

    /// <summary>
    /// Asks the kernel to unmount <paramref name="mountPoint"/> (<paramref name="lazy"/>: detach it now and let
    /// open files finish): umount2(2) as root, fusermount3 otherwise. Null once it is unmounted, or was no
    /// longer mounted; otherwise why not, in one line.
    /// </summary>
    public static string? UnmountPath(string mountPoint, bool lazy = false)
    {
        if (Libc.geteuid() == 0)
        {
            byte[] p = Libc.Utf8Z(mountPoint);
            int rc;
            fixed (byte* pp = p) rc = Libc.umount2(pp, lazy ? Libc.MNT_DETACH : 0);
            if (rc == 0) return null;
            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                Libc.EINVAL => null,   // not a mount point (any more): someone else unmounted it
                Libc.EBUSY => $"{mountPoint} is busy (a process has a file open or its working directory there; see fuser -vm {mountPoint})",
                _ => $"unmounting {mountPoint}: {Marshal.GetPInvokeErrorMessage(errno)}",
            };
        }
        var psi = new ProcessStartInfo("fusermount3") { RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-u");
        if (lazy) psi.ArgumentList.Add("-z");
        psi.ArgumentList.Add(mountPoint);
        try
        {
            using var proc = Process.Start(psi)!;
            var err = proc.StandardError.ReadToEndAsync();
            if (!proc.WaitForExit(30_000))
            {
                proc.Kill(entireProcessTree: true);
                return $"fusermount3 -u {mountPoint} did not finish";
            }
            if (proc.ExitCode == 0) return null;
            string line = err.Result.Split('\n')[0].Trim();
            return line.Length > 0 ? line : $"fusermount3 -u {mountPoint} failed";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            return $"cannot run fusermount3: {e.Message}";
        }
    }

    /// <summary>
    /// Last resort when the mount will not go away: detach it from the namespace, then abort the kernel
    /// connection so every pending request fails and the workers leave the loop. Data still in the kernel's
    /// writeback cache is lost; callers log that before getting here.
    /// </summary>
    private void AbortConnection()
    {
        if (_kernelDev == 0)
        {
            _log($"exofs: cannot abort the FUSE connection of {MountPoint}: its device number is unknown");
            return;
        }
        const string connections = "/sys/fs/fuse/connections";
        try
        {
            if (Directory.Exists($"{connections}/{_kernelDev}"))
            {
                File.WriteAllText($"{connections}/{_kernelDev}/abort", "1");
                return;
            }
            if (Libc.geteuid() != 0)
            {
                _log($"exofs: cannot abort the FUSE connection of {MountPoint}: fusectl is not mounted on {connections}");
                return;
            }
            // fusectl is often not mounted in containers; it is a single instance, so a private mount of it
            // shows the same connections.
            string dir = Path.Combine(Path.GetTempPath(), "exofs-fusectl-" + Environment.ProcessId + "-" + _kernelDev);
            Directory.CreateDirectory(dir);
            byte[] d = Libc.Utf8Z(dir);
            try
            {
                int rc;
                fixed (byte* pd = d) fixed (byte* type = "fusectl\0"u8) rc = Libc.mount(type, pd, type, 0, null);
                if (rc != 0)
                {
                    _log($"exofs: cannot mount fusectl to abort {MountPoint}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                    return;
                }
                try
                {
                    File.WriteAllText(Path.Combine(dir, _kernelDev.ToString(System.Globalization.CultureInfo.InvariantCulture), "abort"), "1");
                }
                finally
                {
                    fixed (byte* pd = d) Libc.umount2(pd, Libc.MNT_DETACH);
                }
            }
            finally
            {
                Directory.Delete(dir);
            }
        }
        catch (Exception e)
        {
            _log($"exofs: aborting the FUSE connection of {MountPoint} failed: {e.Message}");
        }
    }

    private void StopForcibly()
    {
        if (_stopped.IsSet) return;
        if (_kernelDev == 0 && MountTable.Find(MountPoint) is { } entry) _kernelDev = entry.Dev;
        if (UnmountPath(MountPoint, lazy: true) is { } why) _log($"exofs: detaching {MountPoint}: {why}");
        if (!_stopped.Wait(TimeSpan.FromSeconds(2))) AbortConnection();
        if (!_stopped.Wait(TimeSpan.FromSeconds(10))) _log($"exofs: the FUSE session for {MountPoint} did not stop");
    }

    private static string Describe(List<string> captured) =>
        captured.Count == 0 ? "libfuse gave no reason (see standard error)" : string.Join("; ", captured.Select(l => l.Trim()));
}

/// <summary>
/// Routes libfuse's own messages (fuse_log) to a mount's log. libfuse's log function is process-wide, so a
/// message goes, in order of preference: to the capture of a thread that is starting a mount (a refusal is
/// reported in the exception's one line); to the log of the mount whose request this worker thread served
/// last (each session has its own workers); else to the log of the mount started last.
/// </summary>
internal static unsafe class LibFuseLog
{
    [ThreadStatic] private static List<string>? t_capture;
    [ThreadStatic] private static Action<string>? t_workerSink;

    /// <summary>Marks the calling libfuse worker thread as serving the mount that logs to <paramref name="sink"/>.</summary>
    public static void ServingFor(Action<string> sink) => t_workerSink = sink;
    private static volatile Action<string> s_sink = m => Console.Error.WriteLine(m);
    private static int s_installed;

    public static void Install(Action<string> sink)
    {
        s_sink = sink;
        if (Interlocked.Exchange(ref s_installed, 1) == 0) LibFuse.fuse_set_log_func(&OnLog);
    }

    public static IDisposable Capture(List<string> into)
    {
        t_capture = into;
        return new EndCapture();
    }

    private sealed class EndCapture : IDisposable
    {
        public void Dispose() => t_capture = null;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(int level, byte* format, nint args)
    {
        try
        {
            const int size = 2048;
            byte* buf = stackalloc byte[size];
            int n = Libc.vsnprintf(buf, size, format, args);
            if (n < 0) return;
            string message = Encoding.UTF8.GetString(buf, Math.Min(n, size - 1)).TrimEnd('\n');
            if (t_capture is { } capture) capture.Add(message);
            else (t_workerSink ?? s_sink)(message);
        }
        catch
        {
            // A log line is not worth crashing the daemon for.
        }
    }
}
