using ExoFS.Kernel.Capabilities;
using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Lfs;

/// <summary>mkfs choices: segment size, cleaner policy and thresholds, inode count (derived from the size if null).</summary>
public sealed record LfsFormatOptions
{
    public int SegmentBytes { get; init; } = LfsLayout.DefaultSegmentBytes;
    public string Cleaner { get; init; } = "cost-benefit";
    public uint CleanStartPercent { get; init; } = 10;
    public uint CleanStopPercent { get; init; } = 20;
    public uint? MaxInodes { get; init; }
    /// <summary>Where the cleaner writes the live blocks it copies: "own-head" (a head of its own, apart from new data) or "log-head" (with new data, as Sprite LFS did).</summary>
    public string Survivors { get; init; } = "own-head";
    /// <summary>
    /// Bind segments as XN segments (the xnlog API): XN writes a partial segment as one request, skips
    /// zero-filling, and knows every log block through the segment head's claims. False: segments are plain
    /// xn.data extents.
    /// </summary>
    public bool XnSegments { get; init; } = true;
}

/// <summary>Mount-time overrides (<c>-o cleaner=greedy</c>).</summary>
public sealed record LfsMountOptions
{
    public string? Cleaner { get; init; }
    /// <summary>Overrides the image's survivor placement ("own-head" or "log-head", see <see cref="LfsFormatOptions.Survivors"/>).</summary>
    public string? Survivors { get; init; }
    /// <summary>Serve read-only (a root the host granted read rights only): every change is EROFS, nothing is written.</summary>
    public bool ReadOnly { get; init; }
    /// <summary>
    /// How often the mounted file system looks at its free segments and cleans in the background when they are
    /// under the start threshold (null or zero: never; the cleaner then runs at sync and on demand only). A
    /// host's mount (<see cref="LfsLibFs"/>) sets <see cref="LfsLibFs.DefaultCleanerInterval"/> unless
    /// <c>-o cleaner-interval=0</c>.
    /// </summary>
    public TimeSpan? CleanerInterval { get; init; }
    /// <summary>Crash tests only: skip roll-forward (the "roll-forward off" mutant).</summary>
    internal bool NoRollForward { get; init; }
}

// Making and mounting the LFS on an XN session: the LFS reaches nothing but its session and root capability.
public sealed partial class LfsFileSystem
{
    public const string DefaultRootName = "lfs";

    /// <summary>
    /// Makes a new LFS under a new XN root <paramref name="rootName"/> of the session's volume (registering the
    /// LFS types, installing the root, binding the checkpoint regions and segment tables, writing the root
    /// directory and a first checkpoint) and returns it mounted. The root capability goes into
    /// <paramref name="wallet"/> (a fresh one if null).
    /// </summary>
    public static Result<LfsFileSystem> Format(XnSession session, ulong deviceBlocks, out string? error, LfsFormatOptions? options = null,
        string rootName = DefaultRootName, CapabilityWallet? wallet = null)
    {
        options ??= new LfsFormatOptions();
        if (options.SegmentBytes is < LfsLayout.MinSegmentBytes or > LfsLayout.MaxSegmentBytes || options.SegmentBytes % LfsLayout.BlockSize != 0)
        {
            error = $"segment size {options.SegmentBytes} is not a multiple of 4 KiB between 256 KiB and 4 MiB";
            return Errno.EINVAL;
        }
        var policy = CleanerPolicies.ByName(options.Cleaner);
        if (policy is null) { error = $"unknown cleaner policy '{options.Cleaner}'"; return Errno.EINVAL; }
        if (SurvivorsByName(options.Survivors) is not { } survivors) { error = UnknownPlacement(options.Survivors); return Errno.EINVAL; }
        uint segBlocks = (uint)(options.SegmentBytes / LfsLayout.BlockSize);
        ulong slots = deviceBlocks / segBlocks + 1;
        ulong segTabBlocks = (slots + SegTab.Entries - 1) / SegTab.Entries;
        if (deviceBlocks < 4UL * segBlocks || segTabBlocks > LfsSuper.MaxSegTabBlocks)
        {
            error = $"a device of {deviceBlocks} blocks cannot hold an LFS with {options.SegmentBytes / 1024} KiB segments";
            return Errno.EINVAL;
        }
        uint maxInodes = options.MaxInodes ?? (uint)Math.Clamp(deviceBlocks, 1024, 1 << 22);
        var super = new LfsSuper(segBlocks, (uint)slots, (uint)segTabBlocks, CheckpointRecord.BlocksFor(maxInodes, (uint)slots), maxInodes,
            DateTimeOffset.UtcNow.ToUnixTimeSeconds(), CleanerPolicies.IdOf(policy), options.CleanStartPercent, options.CleanStopPercent, survivors);
        var xn = new XnClient(session, wallet);
        TypeId superType, segTabType;
        TypeId? headType = null;
        if (options.XnSegments)
        {
            var x = XnLfsDisk.XTypes(xn, lookupOnly: false);
            if (!x.Ok) { error = $"registering the LFS types: {xn.LastRefusal}"; return x.Error; }
            (headType, segTabType, superType) = (x.Value.Head, x.Value.SegTab, x.Value.Super);
        }
        else
        {
            var types = XnLfsDisk.Types(xn, lookupOnly: false);
            if (!types.Ok) { error = $"registering the LFS types: {xn.LastRefusal}"; return types.Error; }
            (segTabType, superType) = (types.Value.SegTab, types.Value.Super);
        }
        var root = xn.InstallRoot(rootName, superType);
        if (!root.Ok) { error = $"installing root '{rootName}': {xn.LastRefusal}"; return root.Error; }
        var disk = XnLfsDisk.Format(xn, root.Value.Block, segTabType, super, headType);
        if (!disk.Ok) { error = $"laying out the LFS: {disk.Error} {xn.LastRefusal}".TrimEnd(); return disk.Error; }
        var fs = FormatOn(disk.Value);
        error = fs.Ok ? null : $"writing the first checkpoint: {fs.Error} {xn.LastRefusal}".TrimEnd();
        return fs;
    }

    /// <summary>
    /// Mounts the LFS under root <paramref name="rootName"/>, binding it with <paramref name="rootCap"/>: newest
    /// valid checkpoint, roll-forward, orphans freed. EUCLEAN when the root does not hold a valid LFS.
    /// </summary>
    public static Result<LfsFileSystem> Mount(XnSession session, Capability rootCap, out string? error, string rootName = DefaultRootName,
        LfsMountOptions? options = null)
    {
        ICleanerPolicy? policy = null;
        if (options?.Cleaner is { } name && (policy = CleanerPolicies.ByName(name)) is null)
        {
            error = $"unknown cleaner policy '{name}'";
            return Errno.EINVAL;
        }
        uint? survivorsAt = null;
        if (options?.Survivors is { } placement && (survivorsAt = SurvivorsByName(placement)) is null)
        {
            error = UnknownPlacement(placement);
            return Errno.EINVAL;
        }
        var wallet = new CapabilityWallet();
        wallet.Put(rootName, rootCap);
        var xn = new XnClient(session, wallet);
        var root = xn.MountRoot(rootName);
        if (!root.Ok) { error = $"mounting root '{rootName}': {xn.LastRefusal}"; return root.Error; }
        bool readOnly = session.IsReadOnly || options?.ReadOnly == true;
        var disk = OpenDisk(xn, root.Value, readOnly, out error);
        if (!disk.Ok) return disk.Error;
        var checkedDisk = ExoFS.LibFs.Lfs.Log.CheckedLfsDisk.Wrap(disk.Value);
        var fs = MountOn(checkedDisk, readOnly, policy, rollForward: options?.NoRollForward != true);
        if (fs.Ok && survivorsAt is { } at) fs.Value.Cleaner.SurvivorsAtLogHead = at == LfsSuper.SurvivorsLogHead;
        if (fs.Ok && !readOnly && options?.CleanerInterval is { } every && every > TimeSpan.Zero) fs.Value.StartBackgroundCleaner(every);
        error = fs.Ok ? null : fs.Error == Errno.EUCLEAN ? $"root '{rootName}' does not hold a valid LFS"
            : checkedDisk.FirstProblem is { } bad ? $"mount: {fs.Error}: {bad}" : $"mount: {fs.Error} {xn.LastRefusal}".TrimEnd();
        return fs;
    }

    /// <summary>The superblock's code for a survivor placement's name (null if it names none).</summary>
    internal static uint? SurvivorsByName(string name) => name switch
    {
        "own-head" => LfsSuper.SurvivorsOwnHead,
        "log-head" => LfsSuper.SurvivorsLogHead,
        _ => null,
    };

    private static string UnknownPlacement(string name) => $"unknown survivor placement '{name}' (own-head, log-head)";

    /// <summary>The one-line refusal of an intact LFS superblock of another format version (null if that is not why it failed).</summary>
    private static string? OlderFormat(XnClient xn, RootInfo root)
    {
        var buf = new byte[LfsLayout.BlockSize];
        if (xn.Read(root.Block, 0, buf) != Errno.OK || LfsSuper.VersionOf(buf) is not { } v || v == LfsSuper.Version) return null;
        return $"root '{root.Name}' holds an LFS of format version {v}; this exofs reads version {LfsSuper.Version} only (make a new image)";
    }

    /// <summary>The LFS disk under <paramref name="root"/>, either variant (by the root's type); EUCLEAN if the root is not an LFS.</summary>
    internal static Result<XnLfsDisk> OpenDisk(XnClient xn, RootInfo root, bool lookupOnly, out string? error)
    {
        // Before the types: an older image's catalogue holds older LFS types, which registering today's would refuse
        // (or add to).
        if (OlderFormat(xn, root) is { } older) { error = older; return Errno.EUCLEAN; }
        var x = XnLfsDisk.XTypes(xn, lookupOnly);
        if (x.Ok && root.Type == x.Value.Super)
        {
            var d = XnLfsDisk.Open(xn, root.Block, x.Value.SegTab, x.Value.Head);
            error = d.Ok ? null : OlderFormat(xn, root) ?? $"root '{root.Name}' does not hold a valid LFS ({d.Error})";
            return d;
        }
        var types = XnLfsDisk.Types(xn, lookupOnly);
        if (types.Ok && root.Type == types.Value.Super)
        {
            var d = XnLfsDisk.Open(xn, root.Block, types.Value.SegTab);
            error = d.Ok ? null : OlderFormat(xn, root) ?? $"root '{root.Name}' does not hold a valid LFS ({d.Error})";
            return d;
        }
        error = $"root '{root.Name}' is not an LFS superblock";
        return Errno.EUCLEAN;
    }
}
