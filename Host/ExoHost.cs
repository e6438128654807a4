using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.Host;

/// <summary>How a host boots.</summary>
public sealed record HostOptions
{
    /// <summary>Page frames the kernel boots with (null: the kernel's default, enough for tests).</summary>
    public int? PageFrames { get; init; }
    /// <summary>Load the volume read-only: nothing is written, every change any guest tries is refused.</summary>
    public bool ReadOnly { get; init; }
    /// <summary>
    /// How XN restores its free map after an unclean shutdown: by default from its in-flight record, in time
    /// proportional to the blocks in flight (exact: what a scan computes); <see cref="XnRecovery.Scan"/> walks
    /// every root (<c>exofs mount -o recovery=scan</c>); fsck checks by its own full walk either way.
    /// </summary>
    public XnRecovery Recovery { get; init; } = XnRecovery.InFlightRecord;
    /// <summary>Keep going on a damaged free map (fsck): it is rebuilt by reachability instead of refused.</summary>
    public bool TolerateCorruptFreeMap { get; init; }
    /// <summary>
    /// Page frames each guest's environment may hold of its own (the kernel's quota; XN's buffer cache is XN's).
    /// A guest cannot raise it, nor make environments of its own to get around it.
    /// </summary>
    public int GuestFrameQuota { get; init; } = 256;
    /// <summary>Time slices of the kernel's slice vector each guest's environment may claim (a quarter of the default 64).</summary>
    public int GuestSliceQuota { get; init; } = 16;
}

/// <summary>A root to make at mkfs: which libFS, under which name, with which tunables.</summary>
public sealed record RootRequest(string LibFs, string Name, IReadOnlyDictionary<string, string>? Options = null)
{
    /// <summary>
    /// Parses what <c>exofs mkfs --libfs</c> takes: <c>NAME</c>, <c>NAME:ROOT</c>, <c>NAME:key=value,...</c> or
    /// <c>NAME:ROOT,key=value,...</c> (the root defaults to the libFS's name; the libFS checks its keys).
    /// </summary>
    public static RootRequest Parse(string text)
    {
        int colon = text.IndexOf(':');
        if (colon < 0) return new RootRequest(text, text);
        string libFs = text[..colon], root = libFs;
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string item in text[(colon + 1)..].Split(','))
        {
            int eq = item.IndexOf('=');
            if (eq < 0) root = item;
            else options[item[..eq]] = item[(eq + 1)..];
        }
        return new RootRequest(libFs, root, options.Count == 0 ? null : options);
    }
}

/// <summary>One root of the image as the host sees it.</summary>
public sealed record HostRoot(string Name, BlockNo Block, string Type, string? LibFs, string Owner);

/// <summary>What recovery after an unclean shutdown did: XN's part, then each guest libFS's, in their words.</summary>
public sealed record RecoveryReport(bool WasClean, IReadOnlyList<string> Actions)
{
    public override string ToString() => WasClean ? "clean shutdown; no recovery needed"
        : Actions.Count == 0 ? "unclean shutdown; recovery found nothing to do" : string.Join("; ", Actions);
}

/// <summary>The result of a host check: XN's invariants and every libFS root's own checker.</summary>
public sealed record HostCheckReport(IReadOnlyList<XnFinding> Findings, IReadOnlyList<string> Repairs)
{
    public bool Clean => Findings.Count == 0;
}

/// <summary>
/// The exokernel host: the one owner of a device, the kernel booted on it (its capability authority and page
/// frames) and the XN volume with its administrator surface — format, grant, check, repair. Library file
/// systems are guests: <see cref="Attach"/> gives each its own environment and an <see cref="XnSession"/> bound,
/// by a capability the host mints, to the one root its policy allows (the root catalogue's type of the root
/// must be the libFS's root type), with read or read-write rights. Several guests share the host's frames and
/// XN's buffer cache registry: a block two guests read is one page.
/// Thread-safe; <see cref="Dispose"/> detaches every guest (each syncs and unmounts), then closes the volume
/// (clean flag) and the device.
/// </summary>
public sealed partial class ExoHost : IDisposable
{
    /// <summary>
    /// Page frames a host on an image file boots with: room for XN's whole buffer cache
    /// (<see cref="XnOptions.CachePages"/>, 32 MiB by default) plus headroom for every guest.
    /// </summary>
    public const int ImagePageFrames = 8192 + 1024;

    private readonly object _gate = new();
    private readonly ExoKernel _kernel;
    private readonly XnVolume _volume;
    private readonly IBlockDevice _device;
    private readonly bool _ownsDevice;
    private readonly List<Guest> _guests = new();
    private readonly List<string> _recovery = new();
    private bool _disposed;

    private readonly HostOptions _options;

    private ExoHost(ExoKernel kernel, XnVolume volume, IBlockDevice device, bool ownsDevice, HostOptions options)
    {
        _options = options;
        _kernel = kernel;
        _volume = volume;
        _device = device;
        _ownsDevice = ownsDevice;
        WasClean = volume.WasClean;
        _recovery.AddRange(volume.RecoveryActions.Select(a => $"xn: {a}"));
        if (!WasClean) RecordRecovery(RecoveryRecord.AfterCrash, _recovery);
    }

    /// <summary>
    /// The host's record of the last recovery (or repair that changed something) on this image, as the superblock
    /// holds it; null when none was ever written (or it does not decode).
    /// </summary>
    public RecoveryRecord? LastRecovery => RecoveryRecord.Decode(_volume.HostArea, out _);

    /// <summary>Writes the last-recovery record (durable at once); nothing on a read-only volume. A failure is not fatal: it is a report.</summary>
    private void RecordRecovery(string kind, IReadOnlyList<string> lines)
    {
        if (_volume.IsReadOnly) return;
        var record = RecoveryRecord.From(kind, _volume.Geometry.MountCount, lines.ToList());
        _volume.WriteHostArea(record.Encode(Xn.Format.Superblock.HostAreaBytes));
    }

    /// <summary>The device, for test harnesses that reboot a host on it (internal: a guest never sees it).</summary>
    internal IBlockDevice Device => _device;
    /// <summary>The XN volume, for test harnesses that look at XN's state (internal: a guest never sees it).</summary>
    internal XnVolume Volume => _volume;

    /// <summary>Whether the image was cleanly shut down before this host loaded it.</summary>
    public bool WasClean { get; }
    /// <summary>Blocks on the device.</summary>
    public ulong BlockCount => _volume.BlockCount;
    /// <summary>Blocks XN could hand out now.</summary>
    public ulong FreeBlocks => _volume.FreeBlocks;
    /// <summary>True when the volume was loaded read-only.</summary>
    public bool IsReadOnly => _volume.IsReadOnly;
    /// <summary>XN's layout and superblock state.</summary>
    public XnGeometry Geometry => _volume.Geometry;
    /// <summary>Every registered type.</summary>
    public IReadOnlyList<(TypeId Id, TypeSpec Spec, int Partitions)> Types => _volume.Types();
    /// <summary>Problems a read-only load found and tolerated (a damaged free map rebuilt in memory).</summary>
    public IReadOnlyList<string> LoadFindings => _volume.LoadFindings;
    /// <summary>What the load repaired (a damaged free map rewritten).</summary>
    public IReadOnlyList<string> LoadRepairs => _volume.LoadRepairs;

    /// <summary>What recovery did so far: XN's at load, then each guest's at its first attach.</summary>
    public RecoveryReport Recovery { get { lock (_gate) return new RecoveryReport(WasClean, _recovery.ToList()); } }

    /// <summary>
    /// Roots whose libFS, attached in this host, deferred its recovery and may hold leaks (never damage) until
    /// <c>exofs fsck --repair</c> (see <see cref="IReportsRecovery.LeaksPending"/>).
    /// </summary>
    public IReadOnlyList<string> LeaksPending { get { lock (_gate) return _leaksPending.ToList(); } }
    private readonly SortedSet<string> _leaksPending = new(StringComparer.Ordinal);

    /// <summary>The roots of the image, with the libFS (of those this process knows) that serves each.</summary>
    public IReadOnlyList<HostRoot> Roots() =>
        _volume.Roots().Select(r => new HostRoot(r.Name, r.Block, r.Type, LibFsCatalog.ForRootType(r.Type)?.Name, r.Owner)).ToList();

    /// <summary>The guests attached now.</summary>
    public IReadOnlyList<Guest> Guests { get { lock (_gate) return _guests.ToList(); } }

    // ------------------------------------------------------------------ boot

    /// <summary>
    /// Formats <paramref name="device"/> as an XN volume and makes each root in <paramref name="roots"/>, each by
    /// its libFS in an environment of its own whose session may install that one root; returns the host with
    /// no guest attached (every new root synced and unmounted clean).
    /// </summary>
    public static Result<ExoHost> Format(IBlockDevice device, IReadOnlyList<RootRequest> roots, out string? error,
        HostOptions? options = null, bool ownsDevice = false, IReadOnlyList<ILibFs>? libFses = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(roots);
        if (roots.Count == 0) { error = "no root to make"; return Errno.EINVAL; }
        if (roots.Select(r => r.Name).Distinct(StringComparer.Ordinal).Count() != roots.Count) { error = "two roots with one name"; return Errno.EINVAL; }
        var kinds = new List<ILibFs>();
        foreach (var r in roots)
        {
            var libFs = Find(r.LibFs, libFses);
            if (libFs is null) { error = $"no libFS named '{r.LibFs}' in this build (available: {LibFsCatalog.Names})"; return Errno.EINVAL; }
            kinds.Add(libFs);
        }
        var kernel = Boot(options);
        var vol = XnVolume.Format(device, kernel);
        if (!vol.Ok)
        {
            if (ownsDevice) device.Dispose();
            error = $"XN format: {vol}";
            return Errno.EINVAL;
        }
        var host = new ExoHost(kernel, vol.Value, device, ownsDevice, options ?? new HostOptions());
        for (int i = 0; i < roots.Count; i++)
        {
            var made = host.MakeRoot(roots[i], kinds[i], out error);
            if (!made.Ok) { host.Dispose(); return made.Error; }
        }
        error = null;
        return host;
    }

    /// <summary>
    /// Loads the XN volume on <paramref name="device"/>. After an unclean shutdown XN's recovery runs now (its
    /// actions are in <see cref="Recovery"/>); each libFS's own runs when its root is first attached.
    /// </summary>
    public static Result<ExoHost> Load(IBlockDevice device, out string? error, HostOptions? options = null, bool ownsDevice = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        options ??= new HostOptions();
        var kernel = Boot(options);
        var vol = XnVolume.Load(device, kernel, new XnOptions
        {
            ReadOnly = options.ReadOnly, Recovery = options.Recovery, TolerateCorruptFreeMap = options.TolerateCorruptFreeMap,
        });
        if (!vol.Ok)
        {
            if (ownsDevice) device.Dispose();
            error = vol.Error == XnError.Corrupt ? $"not an ExoFS image, or a damaged one (corrupt XN volume: {vol.Detail})" : vol.Detail;
            return vol.Error == XnError.Io ? Errno.EIO : Errno.EUCLEAN;
        }
        error = null;
        return new ExoHost(kernel, vol.Value, device, ownsDevice, options);
    }

    /// <summary>Creates image file <paramref name="path"/> of <paramref name="bytes"/> (rounded down to 4 KiB) and formats it with <paramref name="roots"/>.</summary>
    public static Result<ExoHost> CreateImage(string path, ulong bytes, IReadOnlyList<RootRequest> roots, out string? error,
        bool overwrite = false, IReadOnlyList<ILibFs>? libFses = null)
    {
        ImageFileDevice dev;
        try { dev = ImageFileDevice.Create(path, bytes / IBlockDevice.BlockSize, overwrite); }
        catch (IOException e) { error = e.Message; return Errno.EIO; }
        catch (UnauthorizedAccessException e) { error = e.Message; return Errno.EACCES; }
        return Format(dev, roots, out error, new HostOptions { PageFrames = ImagePageFrames }, ownsDevice: true, libFses);
    }

    /// <summary>
    /// Opens image file <paramref name="path"/> and loads it. Read-only opens take a shared lock (other read-only
    /// opens may coexist) and write nothing; read-write opens take the image's exclusive lock (EBUSY if held).
    /// </summary>
    public static Result<ExoHost> OpenImage(string path, out string? error, HostOptions? options = null)
    {
        options ??= new HostOptions();
        options = options with { PageFrames = options.PageFrames ?? ImagePageFrames };
        if (System.IO.Directory.Exists(path)) { error = $"{path} is a directory, not an image file"; return Errno.EISDIR; }
        ImageFileDevice dev;
        try { dev = ImageFileDevice.Open(path, options.ReadOnly ? ImageOpenMode.ReadOnly : ImageOpenMode.ReadWrite); }
        catch (ImageBusyException e) { error = e.Message; return Errno.EBUSY; }
        catch (ImageFileException e) when (e.Error == ImageError.NotFound) { error = $"{path}: no such image file"; return Errno.ENOENT; }
        catch (ImageFileException e) when (e.Error is ImageError.TooSmall or ImageError.NotBlockMultiple)
        {
            error = $"not an ExoFS image ({FirstLine(e.Message)})";
            return Errno.EUCLEAN;
        }
        catch (ImageFileException e) { error = FirstLine(e.Message); return Errno.EIO; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { error = FirstLine(e.Message); return Errno.EIO; }
        return Load(dev, out error, options, ownsDevice: true);
    }

    private static ExoKernel Boot(HostOptions? options) =>
        options?.PageFrames is { } n ? new ExoKernel(new KernelOptions { PageFrames = n }) : new ExoKernel();

    private static ILibFs? Find(string name, IReadOnlyList<ILibFs>? extra) =>
        extra?.FirstOrDefault(l => l.Name == name) ?? LibFsCatalog.Find(name);

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();

    // ------------------------------------------------------------------ guests

    /// <summary>
    /// Adds a root to a loaded volume (mkfs of one more libFS): its libFS formats it in an environment of its own,
    /// then it is synced and unmounted.
    /// </summary>
    public Errno AddRoot(RootRequest request, out string? error, IReadOnlyList<ILibFs>? libFses = null)
    {
        var libFs = Find(request.LibFs, libFses);
        if (libFs is null) { error = $"no libFS named '{request.LibFs}' in this build (available: {LibFsCatalog.Names})"; return Errno.EINVAL; }
        var made = MakeRoot(request, libFs, out error);
        return made.Ok ? Errno.OK : made.Error;
    }

    private Result<bool> MakeRoot(RootRequest request, ILibFs libFs, out string? error)
    {
        lock (_gate)
        {
            if (_disposed) { error = "the host is closed"; return Errno.EIO; }
            if (_volume.RootNames().Contains(request.Name)) { error = $"root '{request.Name}' exists"; return Errno.EEXIST; }
            var env = _kernel.CreateEnvironment($"{libFs.Name}:{request.Name}:mkfs");
            try
            {
                var session = _volume.Attach(env, mayInstallRoots: true);
                var guest = GuestContext.Create(session, new CapabilityWallet(), request.Name, _volume.BlockCount, readOnly: false,
                    request.Options);
                var fs = libFs.Format(guest, out error);
                if (!fs.Ok) { error = $"making {libFs.Name} root '{request.Name}': {error ?? fs.Error.ToString()}"; return fs.Error; }
                fs.Value.Dispose();
                return true;
            }
            finally
            {
                _kernel.DestroyEnvironment(env);
            }
        }
    }

    /// <summary>
    /// Attaches a guest serving root <paramref name="rootName"/>: a new environment, a session that may not
    /// install roots, and a capability for that root alone — read-only when <paramref name="readOnly"/> or the
    /// volume is. The policy: the root's type must be the root type of the libFS that serves it
    /// (<paramref name="libFs"/>, or the registered one for that type). The libFS mounts (running its own
    /// recovery after an unclean shutdown, reported in <see cref="Recovery"/>).
    /// </summary>
    public Result<Guest> Attach(string rootName, out string? error, bool readOnly = false,
        IReadOnlyDictionary<string, string>? options = null, ILibFs? libFs = null) =>
        Attach(rootName, out error, readOnly, options, libFs, solo: false);

    private Result<Guest> Attach(string rootName, out string? error, bool readOnly,
        IReadOnlyDictionary<string, string>? options, ILibFs? libFs, bool solo)
    {
        lock (_gate)
        {
            if (_disposed) { error = "the host is closed"; return Errno.EIO; }
            var root = Roots().FirstOrDefault(r => r.Name == rootName);
            if (root is null)
            {
                error = $"no root named '{rootName}' (roots: {DescribeRoots()})";
                return Errno.ENOENT;
            }
            libFs ??= LibFsCatalog.ForRootType(root.Type);
            if (libFs is null)
            {
                error = $"root '{rootName}' holds {root.Type}, which this build cannot mount (it mounts: {LibFsCatalog.Names})";
                return Errno.ENOTSUP;
            }
            if (libFs.RootType != root.Type)
            {
                error = $"root '{rootName}' holds {root.Type}, not a {libFs.Name} root ({libFs.RootType})";
                return Errno.EACCES;
            }
            if (_guests.Any(g => g.RootName == rootName && !g.ReadOnly) || (!readOnly && _guests.Any(g => g.RootName == rootName)))
            {
                error = $"root '{rootName}' is already attached";
                return Errno.EBUSY;
            }
            readOnly |= _volume.IsReadOnly;
            var env = _kernel.CreateEnvironment($"{libFs.Name}:{rootName}");
            _kernel.Memory.SetQuota(env, _options.GuestFrameQuota);
            _kernel.Scheduler.SetSliceQuota(env, _options.GuestSliceQuota);
            var cap = _volume.GrantRoot(rootName, env, readOnly ? Rights.Read : Rights.All);
            if (!cap.Ok)
            {
                _kernel.DestroyEnvironment(env);
                error = $"granting root '{rootName}': {cap}";
                return Errno.EACCES;
            }
            var wallet = new CapabilityWallet();
            wallet.Put(rootName, cap.Value);
            Guest? guest = null;
            var session = _volume.Attach(env, mayInstallRoots: false);
            var context = GuestContext.Create(session, wallet, rootName, _volume.BlockCount, readOnly, options,
                closed: () => guest?.Closed());
            var fs = libFs.Mount(context, out error);
            if (!fs.Ok)
            {
                _kernel.DestroyEnvironment(env);
                error = $"cannot mount root '{rootName}': {error ?? fs.Error.ToString()}";
                return fs.Error;
            }
            if (fs.Value is IReportsRecovery r)
            {
                _recovery.AddRange(r.RecoveryActions.Select(a => $"{libFs.Name} root '{rootName}': {a}"));
                if (r.LeaksPending) _leaksPending.Add(rootName);
                else if (!readOnly) _leaksPending.Remove(rootName);
                // After a crash, the record grows with each root's first attach (its recovery ran in it).
                if (!WasClean && r.RecoveryActions.Count > 0) RecordRecovery(RecoveryRecord.AfterCrash, _recovery);
            }
            guest = new Guest(this, env, session, libFs, rootName, readOnly, fs.Value, solo);
            _guests.Add(guest);
            error = null;
            return guest;
        }
    }

    private string DescribeRoots()
    {
        var roots = Roots();
        return roots.Count == 0 ? "none" : string.Join(", ", roots.Select(r => $"{r.Name} ({r.LibFs ?? r.Type})"));
    }

    /// <summary>Called once a guest's file system is closed: the environment ends (its capabilities stop binding).</summary>
    internal void Detached(Guest guest)
    {
        lock (_gate)
        {
            _guests.Remove(guest);
            // The environment ends, so its capabilities stop binding and its session refuses every call;
            // the pages its session had bound are released (a dead guest must not pin XN's cache).
            _kernel.DestroyEnvironment(guest.Environment);
            guest.Session.UnbindAll();
        }
        if (guest.Solo) Dispose();
    }

    // ------------------------------------------------------------------ recovery, in memory

    /// <summary>
    /// What a mount's recovery would do to <paramref name="device"/>, done on a scratch overlay so the device is
    /// never written: XN's load-time recovery, then each root of a registered libFS attached (its own recovery)
    /// and detached. Returns the recovered host, on the overlay, read-write in memory: check it to see whether
    /// damage beyond what recovery repairs remains. Disposing it drops the overlay (and the device if owned).
    /// </summary>
    public static Result<ExoHost> RecoverInMemory(IBlockDevice device, out string? error, bool ownsDevice = false, HostOptions? options = null,
        IReadOnlyDictionary<string, string>? rootOptions = null)
    {
        var overlay = new OverlayDevice(device);   // reads through to the image, keeps every write in memory
        var host = Load(overlay, out error, (options ?? new HostOptions()) with { ReadOnly = false }, ownsDevice: true);
        if (!host.Ok)
        {
            if (ownsDevice) device.Dispose();
            return host.Error;
        }
        if (ownsDevice) host.Value._alsoOwned = device;
        if (host.Value.RunRootRecovery(out error, rootOptions) is { } failed && failed != Errno.OK)
        {
            host.Value.Dispose();
            return failed;
        }
        return host;
    }

    /// <summary>
    /// Attaches and detaches every root a registered libFS serves, so each runs its own recovery (recorded in
    /// <see cref="Recovery"/>). Nothing to do after a clean shutdown. Each root gets those of
    /// <paramref name="options"/> its libFS takes (<see cref="ILibFs.MountOptionKeys"/>), e.g. how to recover.
    /// </summary>
    public Errno RunRootRecovery(out string? error, IReadOnlyDictionary<string, string>? options = null)
    {
        error = null;
        if (WasClean || IsReadOnly) return Errno.OK;
        foreach (var root in Roots().Where(r => r.LibFs is not null))
        {
            var keys = LibFsCatalog.ForRootType(root.Type)?.MountOptionKeys ?? [];
            var mine = options?.Where(o => keys.Contains(o.Key)).ToDictionary(o => o.Key, o => o.Value);
            var guest = Attach(root.Name, out error, options: mine);
            if (!guest.Ok) return guest.Error;
            guest.Value.Dispose();
        }
        return Errno.OK;
    }

    private IDisposable? _alsoOwned;

    // ------------------------------------------------------------------ one root, one host

    /// <summary>
    /// For tools and tests that serve one root: formats <paramref name="device"/> with that one root and returns its
    /// file system mounted, in a host that lives exactly as long as it (closing the file system closes the volume,
    /// then the device when <paramref name="ownsDevice"/>).
    /// </summary>
    public static Result<IFileSystem> FormatSolo(IBlockDevice device, RootRequest root, out string? error,
        HostOptions? options = null, bool ownsDevice = false, IReadOnlyList<ILibFs>? libFses = null)
    {
        var host = Format(device, [root], out error, options, ownsDevice, libFses);
        return host.Ok ? host.Value.AttachSolo(root.Name, readOnly: false, Find(root.LibFs, libFses), out error) : host.Error;
    }

    /// <summary>Loads <paramref name="device"/> and mounts root <paramref name="rootName"/> in a host that lives as long as the file system.</summary>
    public static Result<IFileSystem> LoadSolo(IBlockDevice device, string rootName, out string? error,
        HostOptions? options = null, bool ownsDevice = false, ILibFs? libFs = null)
    {
        var host = Load(device, out error, options, ownsDevice);
        return host.Ok ? host.Value.AttachSolo(rootName, options?.ReadOnly ?? false, libFs, out error) : host.Error;
    }

    /// <summary>Opens image file <paramref name="path"/> and mounts root <paramref name="rootName"/> in a host that lives as long as the file system.</summary>
    public static Result<IFileSystem> OpenImageSolo(string path, string rootName, out string? error, HostOptions? options = null)
    {
        var host = OpenImage(path, out error, options);
        return host.Ok ? host.Value.AttachSolo(rootName, options?.ReadOnly ?? false, null, out error) : host.Error;
    }

    private Result<IFileSystem> AttachSolo(string rootName, bool readOnly, ILibFs? libFs, out string? error)
    {
        var guest = Attach(rootName, out error, readOnly, null, libFs, solo: true);
        if (guest.Ok) return new Result<IFileSystem>(guest.Value.FileSystem);
        Dispose();
        return guest.Error;
    }

    // ------------------------------------------------------------------ administration

    /// <summary>
    /// XN's global invariants, then every libFS checker on each root of its type, through a read-only
    /// environment (the checkers of <see cref="LibFsCatalog"/> plus <paramref name="extraCheckers"/>).
    /// </summary>
    public HostCheckReport Check(IEnumerable<IXnRootChecker>? extraCheckers = null)
    {
        lock (_gate)
        {
            var findings = _volume.Check().Findings.ToList();
            findings.AddRange(_volume.CheckRoots(Checkers(extraCheckers)));
            return new HostCheckReport(findings, []);
        }
    }

    /// <summary>XN's global invariants alone (no libFS checker): what a test asserts after every step.</summary>
    public HostCheckReport CheckXn()
    {
        lock (_gate) return new HostCheckReport(_volume.Check().Findings.ToList(), []);
    }

    /// <summary>
    /// Repairs what can be repaired with no guest attached: XN rebuilds its free map, then each libFS repairs
    /// its roots; returns what is left and what was done. Refused (EBUSY) while a guest is attached.
    /// </summary>
    public Result<HostCheckReport> Repair(out string? error, IEnumerable<IXnRootChecker>? extraCheckers = null)
    {
        lock (_gate)
        {
            if (_guests.Count > 0) { error = "a root is mounted: unmount it before repairing"; return Errno.EBUSY; }
            var repaired = _volume.Repair();
            if (!repaired.Ok) { error = repaired.Detail; return repaired.Error == XnError.Io ? Errno.EIO : Errno.EROFS; }
            var checkers = Checkers(extraCheckers);
            var fixed_ = _volume.RepairRoots(checkers);
            var fixes = fixed_.Select(f => f.ToString()).ToList();
            if (fixes.Count > 0) RecordRecovery(RecoveryRecord.Repair, fixed_.Select(f => f.Detail).ToList());
            var left = _volume.Check().Findings.ToList();
            left.AddRange(_volume.CheckRoots(checkers));
            error = null;
            return new HostCheckReport(left, fixes);
        }
    }

    /// <summary>
    /// The checkers to run. A checker is handed a session on every root of its <see cref="IXnRootChecker.RootType"/>
    /// (full rights for a repair), so a root type that a registered libFS serves is checked by that libFS's
    /// checker alone: a checker anyone registered in <see cref="XnRootCheckers"/>, or another libFS provides, for
    /// that type would otherwise read — or repair — roots that are not its libFS's. Other types take any checker.
    /// </summary>
    private static List<IXnRootChecker> Checkers(IEnumerable<IXnRootChecker>? extra)
    {
        var list = new List<IXnRootChecker>();
        foreach (var c in LibFsCatalog.All.Select(l => l.Checker).Concat(XnRootCheckers.All).Concat(extra ?? []))
        {
            if (LibFsCatalog.ForRootType(c.RootType) is { } owner && owner.Checker.GetType() != c.GetType()) continue;
            if (list.All(k => k.GetType() != c.GetType())) list.Add(c);
        }
        return list;
    }

    /// <summary>Writes everything dirty in a legal order and flushes the device.</summary>
    public Errno Sync()
    {
        var r = _volume.Sync();
        return r.Ok ? Errno.OK : XnClient.ToErrno(r.Error);
    }

    /// <summary>Detaches every guest (each syncs and unmounts), then closes the volume (clean when all went well) and the device.</summary>
    public void Dispose()
    {
        List<Guest> guests;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            guests = _guests.ToList();
        }
        foreach (var g in guests) g.Dispose();
        _volume.Dispose();
        if (_ownsDevice) _device.Dispose();
        _alsoOwned?.Dispose();
    }
}

/// <summary>
/// One libFS guest of a host: its environment, the root it serves and the mounted file system. Disposing
/// unmounts the file system (sync, clean flag) and ends the environment; the host keeps serving the others.
/// </summary>
public sealed class Guest : IDisposable
{
    private readonly ExoHost _host;
    private int _disposed;

    internal Guest(ExoHost host, ExoEnvironment environment, XnSession session, ILibFs libFs, string rootName, bool readOnly, IFileSystem fs, bool solo)
    {
        Session = session;
        Solo = solo;
        _host = host;
        Environment = environment;
        LibFs = libFs;
        RootName = rootName;
        ReadOnly = readOnly;
        FileSystem = fs;
    }

    internal ExoEnvironment Environment { get; }
    /// <summary>The session the guest was given.</summary>
    internal XnSession Session { get; }
    /// <summary>The host exists for this guest alone and closes with it.</summary>
    internal bool Solo { get; }
    /// <summary>The libFS serving this root.</summary>
    public ILibFs LibFs { get; }
    /// <summary>The XN root this guest serves.</summary>
    public string RootName { get; }
    /// <summary>True when the guest holds read rights only.</summary>
    public bool ReadOnly { get; }
    /// <summary>The mounted file system (what a FUSE mount serves).</summary>
    public IFileSystem FileSystem { get; }
    /// <summary>The environment's id, for logs.</summary>
    public string EnvironmentName => Environment.ToString();

    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        try { FileSystem.Dispose(); }   // a libFS that tells its context calls Closed from inside
        finally { Closed(); }
    }

    /// <summary>The file system has closed (through <see cref="Dispose"/> or on its own): detach, once.</summary>
    internal void Closed()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _host.Detached(this);
    }
}
