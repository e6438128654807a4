using System.Globalization;
using System.Text;

namespace ExoFS.Cli.Mounting;

/// <summary>
/// What a running mount daemon leaves behind so <c>exofs umount</c> can wait for it: its pid, the image it
/// holds and the mount point, in <c>&lt;state dir&gt;/&lt;escaped mount point&gt;.pid</c>; its log sits next to it
/// as <c>.log</c>. The state directory is /run/exofs for root, else $XDG_RUNTIME_DIR/exofs, else
/// /tmp/exofs-&lt;uid&gt;.
/// </summary>
internal sealed record DaemonRecord(int Pid, string Image, string MountPoint, string Root)
{
    /// <summary>The directory holding pid and log files (created on demand by <see cref="EnsureStateDir"/>).</summary>
    public static string StateDir
    {
        get
        {
            if (Environment.GetEnvironmentVariable("EXOFS_RUN_DIR") is { Length: > 0 } overridden) return overridden;
            if (Posix.geteuid() == 0) return "/run/exofs";
            if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg) return Path.Combine(xdg, "exofs");
            return $"/tmp/exofs-{Posix.geteuid()}";
        }
    }

    public static string EnsureStateDir()
    {
        string dir = StateDir;
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// A file name for <paramref name="mountPoint"/> that differs for different paths: letters, digits and
    /// dots are kept, '/' becomes '-', every other byte becomes '_' and two hex digits ('-' and '_' too).
    /// </summary>
    public static string Escape(string mountPoint)
    {
        var sb = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(mountPoint.TrimStart('/')))
        {
            if (b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'.')
                sb.Append((char)b);
            else if (b == '/') sb.Append('-');
            else sb.Append('_').Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }
        return sb.Length == 0 ? "-" : sb.ToString();
    }

    public static string PidFile(string mountPoint) => Path.Combine(StateDir, Escape(mountPoint) + ".pid");

    public static string LogFile(string mountPoint) => Path.Combine(StateDir, Escape(mountPoint) + ".log");

    /// <summary>Writes the record atomically (write a temporary file, rename it over).</summary>
    public void Save()
    {
        EnsureStateDir();
        string path = PidFile(MountPoint), tmp = path + ".tmp";
        File.WriteAllText(tmp, $"pid={Pid}\nimage={Image}\nmountpoint={MountPoint}\nroot={Root}\n");
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Removes this daemon's record, unless another daemon has already replaced it.</summary>
    public void Remove()
    {
        string path = PidFile(MountPoint);
        if (Load(path) is { } current && current.Pid == Pid) File.Delete(path);
    }

    /// <summary>The record for <paramref name="mountPoint"/> if its daemon is still running.</summary>
    public static DaemonRecord? ForMountPoint(string mountPoint) =>
        Load(PidFile(mountPoint)) is { } r && r.MountPoint == mountPoint && r.IsRunning ? r : null;

    /// <summary>Every record whose daemon is still running.</summary>
    public static IEnumerable<DaemonRecord> Running()
    {
        if (!Directory.Exists(StateDir)) yield break;
        foreach (string f in Directory.EnumerateFiles(StateDir, "*.pid"))
            if (Load(f) is { IsRunning: true } r) yield return r;
    }

    /// <summary>True while the process is alive and is an exofs (guards against a reused pid).</summary>
    public bool IsRunning
    {
        get
        {
            if (!Posix.ProcessExists(Pid)) return false;
            try
            {
                // Arguments are NUL-separated; the daemon runs "exofs mount ..." (apphost or "dotnet exofs.dll").
                string cmdline = File.ReadAllText($"/proc/{Pid}/cmdline");
                return cmdline.Contains("exofs", StringComparison.Ordinal) && cmdline.Contains("\0mount\0", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false; // gone between the two checks
            }
        }
    }

    private static DaemonRecord? Load(string path)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        var kv = new Dictionary<string, string>();
        foreach (string line in lines)
        {
            int eq = line.IndexOf('=');
            if (eq > 0) kv[line[..eq]] = line[(eq + 1)..];
        }
        if (!kv.TryGetValue("pid", out var pidText) || !int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            || !kv.TryGetValue("image", out var image) || !kv.TryGetValue("mountpoint", out var mp))
        {
            return null;
        }
        return new DaemonRecord(pid, image, mp, kv.GetValueOrDefault("root", ""));
    }
}
