using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ExoFS.Cli.Commands;
using ExoFS.Host;
using ExoFS.Mount;

namespace ExoFS.Cli.Mounting;

/// <summary>
/// The mount daemon's core: one <see cref="ExoHost"/> per image, serving every mounted root of it, each root a
/// guest with its own environment and FUSE session. A second <c>exofs mount</c> of the same image reaches it
/// through a Unix socket in the runtime directory (<see cref="SocketPath"/>) and asks it to attach another root;
/// <c>exofs info</c> and <c>exofs fsck</c> (checking only) ask it for what they would otherwise read from the
/// image, whose lock the daemon holds. Unmounting one root detaches its guest and leaves the others serving; the
/// daemon ends when its last mount goes.
/// <para>
/// Protocol: one JSON object per connection, one line (<c>{"op":"attach","mountpoint":..,"root":..,"options":[..]}</c>,
/// <c>{"op":"info","json":false}</c>, <c>{"op":"check"}</c>,
/// <c>{"op":"inspect","root":..,"args":["ls","/"]}</c>, whose output comes back as <c>data BASE64</c> and <c>err TEXT</c> lines); the reply is text lines, the last of which is
/// <c>ok</c>, <c>exit N</c> or <c>error: why</c>. Only root (or the daemon's own uid) can connect: the socket is
/// mode 0600 in a 0755 state directory.
/// </para>
/// </summary>
internal sealed class HostServer : IDisposable
{
    private readonly ExoHost _host;
    private readonly string _image;
    private readonly Action<string> _log;
    private readonly object _gate = new();
    private readonly Dictionary<string, Served> _mounts = new(StringComparer.Ordinal);
    private readonly ManualResetEventSlim _empty = new(false);
    private Socket? _listener;
    private bool _closing;
    private bool _checkedAfterRecovery;

    private sealed record Served(Guest Guest, FuseMount Mount, DaemonRecord Record);

    public HostServer(ExoHost host, string image, Action<string> log)
    {
        _host = host;
        _image = image;
        _log = log;
    }

    /// <summary>The control socket of the daemon serving <paramref name="image"/> (a full path).</summary>
    public static string SocketPath(string image)
    {
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(image)))[..16].ToLowerInvariant();
        return Path.Combine(DaemonRecord.StateDir, $"image-{hash}.sock");
    }

    /// <summary>What recovery did when the host loaded the image and when each root was first attached.</summary>
    public RecoveryReport Recovery => _host.Recovery;

    /// <summary>
    /// Attaches the root <paramref name="request"/> names (or the image's only mountable one) as a new guest and
    /// mounts it. Null with <paramref name="error"/> on refusal (nothing changes).
    /// </summary>
    public string? Attach(MountRequest request, out string error)
    {
        lock (_gate)
        {
            if (_closing) { error = "the daemon is shutting down"; return null; }
            if (_mounts.ContainsKey(request.MountPoint)) { error = $"{request.MountPoint} is already served by this daemon"; return null; }
            string? root = ChooseRoot(request.Root, out error);
            if (root is null) return null;
            // key=value options the root's libFS takes (-o cleaner=greedy) go to it; the rest to FUSE.
            var keys = LibFs.Runtime.LibFsCatalog.ForRootType(_host.Roots().First(r => r.Name == root).Type)?.MountOptionKeys ?? [];
            var libFsOptions = new Dictionary<string, string>(StringComparer.Ordinal);
            var fuseWords = new List<string>();
            foreach (string word in request.Options.SelectMany(o => o.Split(',')))
            {
                int eq = word.IndexOf('=');
                if (eq > 0 && keys.Contains(word[..eq])) libFsOptions[word[..eq]] = word[(eq + 1)..];
                else fuseWords.Add(word);
            }
            request = request with { Options = fuseWords.Count == 0 ? [] : [string.Join(",", fuseWords)] };
            var options = request.ToFuseOptions(_log, out error);
            if (options is null) return null;
            if (!request.ReadOnly && _host.IsReadOnly)
            {
                error = $"{_image}: image is in use read-only (exofs pid {Environment.ProcessId}); a read-write mount needs its read-only mounts unmounted first";
                return null;
            }
            if (_mounts.Values.FirstOrDefault(m => m.Guest.RootName == root && (!m.Guest.ReadOnly || !request.ReadOnly)) is { } busy)
            {
                error = $"{_image}: image is in use: root '{root}' is already mounted on {busy.Mount.MountPoint} (exofs pid {Environment.ProcessId})";
                return null;
            }
            // After an unclean shutdown, the first read-write mount recovers every root (each libFS's recovery runs
            // as it is attached and detached), then checks the image: what recovery could not repair is named and
            // the mount refused, rather than served as if it were good. A libFS that deferred its walk (FFS: soft
            // updates leave only leaks) has made its cheap checks at attach; the full check, a walk of every root,
            // would cost what the deferral saves and report those leaks, so it is left to fsck.
            if (!_host.WasClean && !request.ReadOnly && !_checkedAfterRecovery)
            {
                if (_host.RunRootRecovery(out string? failed, libFsOptions) != LibFs.Errno.OK)
                {
                    error = $"{_image}: recovery failed: {failed}";
                    return null;
                }
                var left = _host.LeaksPending.Count > 0 ? [] : _host.Check().Findings;
                if (left.Count > 0)
                {
                    error = $"{_image}: damage remains after recovery ({left.Count} problem(s), first: {left[0]}); " +
                            "run 'exofs fsck --repair', or mount with -o ro";
                    return null;
                }
                _checkedAfterRecovery = true;
            }
            var guest = _host.Attach(root, out string? why, readOnly: request.ReadOnly, options: libFsOptions);
            if (!guest.Ok) { error = $"{_image}: {why}"; return null; }
            FuseMount mount;
            try { mount = FuseMount.Start(guest.Value.FileSystem, request.MountPoint, options); }
            catch (MountException e)
            {
                guest.Value.Dispose();
                error = e.Message;
                return null;
            }
            var record = new DaemonRecord(Environment.ProcessId, _image, mount.MountPoint, root);
            try { record.Save(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log($"exofs: cannot record the mount under {DaemonRecord.StateDir}: {e.Message}");
            }
            _mounts[mount.MountPoint] = new Served(guest.Value, mount, record);
            _empty.Reset();
            _log($"exofs: root '{root}' of {_image} mounted on {mount.MountPoint} (guest {guest.Value.EnvironmentName})");
            new Thread(() => ServeUntilUnmounted(mount.MountPoint)) { IsBackground = false, Name = $"exofs-mount:{root}" }.Start();
            error = "";
            return root;
        }
    }

    private void ServeUntilUnmounted(string mountPoint)
    {
        Served served;
        lock (_gate) served = _mounts[mountPoint];
        bool ok = true;
        try { served.Mount.Wait(); }
        catch (MountException e) { _log($"exofs: {e.Message}"); ok = false; }
        try { served.Guest.Dispose(); }
        catch (Exception e) { _log($"exofs: closing root '{served.Guest.RootName}' failed: {e}"); ok = false; }
        // The record goes only after the guest has synced and closed: exofs umount waits for exactly that.
        served.Record.Remove();
        _log(ok ? $"exofs: {mountPoint} unmounted; root '{served.Guest.RootName}' closed clean" : $"exofs: {mountPoint} unmounted with errors");
        lock (_gate)
        {
            _mounts.Remove(mountPoint);
            if (!ok) Failed = true;
            if (_mounts.Count == 0) { _closing = true; _empty.Set(); }
        }
    }

    /// <summary>True when some mount ended with an error (the daemon's exit code says so).</summary>
    public bool Failed { get; private set; }

    /// <summary>Unmounts every root (a signal); <see cref="WaitUntilEmpty"/> returns once all have closed.</summary>
    public void UnmountAll()
    {
        List<Served> all;
        lock (_gate) all = _mounts.Values.ToList();
        foreach (var s in all)
        {
            try { s.Mount.Unmount(); }
            catch (MountException e) { _log($"exofs: {e.Message}"); }
        }
    }

    /// <summary>Blocks until the last mount has gone.</summary>
    public void WaitUntilEmpty() => _empty.Wait();

    private string? ChooseRoot(string? rootName, out string error)
    {
        var roots = _host.Roots();
        string Describe() => roots.Count == 0 ? "none" : string.Join(", ", roots.Select(r => $"{r.Name} ({r.LibFs ?? r.Type})"));
        error = "";
        if (rootName is not null)
        {
            var match = roots.FirstOrDefault(r => r.Name == rootName);
            if (match is null) { error = $"{_image} has no root named '{rootName}' (roots: {Describe()})"; return null; }
            if (match.LibFs is null)
            {
                error = $"{_image}: root '{rootName}' holds {match.Type}, which this build cannot mount (it mounts: {LibFs.Runtime.LibFsCatalog.Names})";
                return null;
            }
            return rootName;
        }
        var candidates = roots.Where(r => r.LibFs is not null).ToList();
        if (candidates.Count == 1) return candidates[0].Name;
        error = candidates.Count == 0
            ? $"{_image} has no root this build can mount (roots: {Describe()})"
            : $"{_image} has several libFS roots: {string.Join(", ", candidates.Select(r => $"{r.Name} ({r.LibFs})"))}; pick one with --libfs NAME";
        return null;
    }

    // ---------------------------------------------------------------- control socket

    /// <summary>Starts answering other exofs processes on <see cref="SocketPath"/>. Not fatal when it fails (logged).</summary>
    public void Listen()
    {
        string path = SocketPath(_image);
        try
        {
            DaemonRecord.EnsureStateDir();
            if (File.Exists(path)) File.Delete(path);   // a dead daemon's; a live one holds the image lock we now hold
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            s.Listen(8);
            _listener = s;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            _log($"exofs: cannot open the control socket {path}: {e.Message}; further roots of this image cannot join this daemon");
            return;
        }
        new Thread(AcceptLoop) { IsBackground = true, Name = "exofs-control" }.Start();
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket client;
            try { client = _listener!.Accept(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            new Thread(() => Answer(client)) { IsBackground = true, Name = "exofs-control-client" }.Start();
        }
    }

    private void Answer(Socket client)
    {
        using var stream = new NetworkStream(client, ownsSocket: true);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        try
        {
            string? line = reader.ReadLine();
            if (line is null) return;
            using var doc = JsonDocument.Parse(line);
            var req = doc.RootElement;
            string op = req.GetProperty("op").GetString() ?? "";
            switch (op)
            {
                case "attach":
                {
                    var options = req.TryGetProperty("options", out var o) ? o.EnumerateArray().Select(x => x.GetString() ?? "").ToList() : [];
                    string? rootName = req.TryGetProperty("root", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                    var request = new MountRequest(_image, req.GetProperty("mountpoint").GetString()!, rootName, options);
                    var root = Attach(request, out string error);
                    if (root is null) { writer.WriteLine("error: " + error); break; }
                    foreach (var a in _host.Recovery.Actions) writer.WriteLine("recovery: " + a);
                    writer.WriteLine($"root {root} pid {Environment.ProcessId}");
                    writer.WriteLine("ok");
                    break;
                }
                case "info":
                {
                    bool json = req.TryGetProperty("json", out var j) && j.GetBoolean();
                    var text = new StringWriter();
                    InfoCommand.Write(text, _image, _host, json, Mounted());
                    writer.Write(text.ToString());
                    writer.WriteLine("ok");
                    break;
                }
                case "check":
                {
                    var text = new StringWriter();
                    int code = FsckCommand.CheckOnly(text, _image, _host, mounted: true);
                    writer.Write(text.ToString());
                    writer.WriteLine($"exit {code}");
                    break;
                }
                case "inspect":
                {
                    var words = req.GetProperty("args").EnumerateArray().Select(x => x.GetString() ?? "").ToList();
                    string? rootName = req.TryGetProperty("root", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                    if (words.Count == 0) { writer.WriteLine("error: inspect needs a verb"); break; }
                    var data = new MemoryStream();
                    var errors = new StringWriter();
                    int code = new Inspector(_host, _image, rootName, OpenForInspect).Run(words, data, errors);
                    // Bytes (cat's may be binary) as base64 lines, then stderr's lines, then the exit code.
                    var bytes = data.ToArray();
                    for (int i = 0; i < bytes.Length; i += 48 * 1024)
                        writer.WriteLine("data " + Convert.ToBase64String(bytes, i, Math.Min(48 * 1024, bytes.Length - i)));
                    foreach (var l in errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)) writer.WriteLine("err " + l);
                    writer.WriteLine($"exit {code}");
                    break;
                }
                default:
                    writer.WriteLine($"error: unknown request '{op}'");
                    break;
            }
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            try { writer.WriteLine($"error: bad request ({e.Message})"); } catch (IOException) { }
        }
    }

    /// <summary>
    /// The file system inspect reads for <paramref name="root"/>: the serving guest's when the root is mounted (the
    /// state its mount shows; nothing to dispose), else a new read-only guest, disposed after.
    /// </summary>
    private (LibFs.IFileSystem? Fs, IDisposable? Lease, string? Error) OpenForInspect(string root)
    {
        lock (_gate)
        {
            if (_mounts.Values.FirstOrDefault(m => m.Guest.RootName == root) is { } served) return (served.Guest.FileSystem, null, null);
            var guest = _host.Attach(root, out string? why, readOnly: true);
            return guest.Ok ? (guest.Value.FileSystem, guest.Value, null) : (null, null, why ?? guest.Error.ToString());
        }
    }

    /// <summary>Mount point → root of every root this daemon serves now.</summary>
    public IReadOnlyList<(string MountPoint, string Root)> Mounted()
    {
        lock (_gate) return _mounts.Select(m => (m.Key, m.Value.Guest.RootName)).OrderBy(m => m.Key, StringComparer.Ordinal).ToList();
    }

    public void Dispose()
    {
        try { _listener?.Dispose(); } catch (SocketException) { }
        try { File.Delete(SocketPath(_image)); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

/// <summary>The other side of <see cref="HostServer"/>'s socket: what <c>exofs mount</c>, <c>info</c> and <c>fsck</c> send to a running daemon.</summary>
internal static class HostClient
{
    /// <summary>
    /// Sends one request to the daemon serving <paramref name="image"/> and returns its reply lines, or null when no
    /// daemon answers there (no socket, or a dead daemon's).
    /// </summary>
    public static List<string>? Ask(string image, object request, TimeSpan? timeout = null)
    {
        string path = HostServer.SocketPath(image);
        if (!File.Exists(path)) return null;
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { s.Connect(new UnixDomainSocketEndPoint(path)); }
        catch (SocketException) { return null; }
        s.ReceiveTimeout = (int)(timeout ?? TimeSpan.FromSeconds(120)).TotalMilliseconds;
        using var stream = new NetworkStream(s, ownsSocket: false);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" };
        using var reader = new StreamReader(stream, Encoding.UTF8);
        try
        {
            writer.WriteLine(JsonSerializer.Serialize(request));
            writer.Flush();
            var lines = new List<string>();
            while (reader.ReadLine() is { } line) lines.Add(line);
            return lines;
        }
        catch (IOException) { return null; }
    }
}
