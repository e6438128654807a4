using System.Globalization;
using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

[assembly: ExoFS.LibFs.Runtime.LibFsRegistration(typeof(ExoFS.LibFs.Lfs.LfsLibFs))]

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// The LFS's registration: how a host makes, mounts and checks an LFS root, through the guest's session only.
/// Tunables (<c>exofs mkfs --libfs lfs:segment=512K,cleaner=greedy</c>): segment, cleaner, clean-start,
/// clean-stop, inodes, survivors; at mount (<c>-o cleaner=greedy,cleaner-interval=5</c>): cleaner, survivors,
/// cleaner-interval (seconds between background cleaner checks, 0 for none).
/// </summary>
public sealed class LfsLibFs : ILibFs
{
    private readonly LfsFormatOptions? _format;
    private readonly LfsMountOptions? _mount;

    /// <summary>The registered LFS: its mkfs and mount settings come from the host's key=value options.</summary>
    public LfsLibFs() { }

    /// <summary>
    /// An LFS with settings no option string spells (tests: the plain-extent layout, the roll-forward-off mutant);
    /// key=value options still apply on top.
    /// </summary>
    internal LfsLibFs(LfsFormatOptions? format, LfsMountOptions? mount)
    {
        _format = format;
        _mount = mount;
    }

    public string Name => LfsFileSystem.DefaultRootName;
    public string RootType => LfsUdfs.XSuperType;
    public IXnRootChecker Checker { get; } = new LfsSegmentRootChecker();
    public bool ReportsInfo => true;

    public IReadOnlyDictionary<string, string> FormatOptions { get; } = new Dictionary<string, string>
    {
        ["segment"] = "segment size, 256K..4M in 4 KiB steps (default 1M; 256K on devices under 64 MiB)",
        ["cleaner"] = "cleaner policy: greedy, cost-benefit (default) or age-sort",
        ["clean-start"] = "start cleaning when clean segments fall below this percentage (default 10)",
        ["clean-stop"] = "stop cleaning once clean segments reach this percentage (default 20)",
        ["inodes"] = "most inodes the file system may hold (default: from the device size)",
        ["survivors"] = "where the cleaner writes the live blocks it copies: own-head (default: a head of its own) or log-head (with new data, as Sprite LFS)",
    };

    public IReadOnlyCollection<string> MountOptionKeys { get; } = ["cleaner", "cleaner-interval", "survivors"];

    /// <summary>How often a mount checks whether to clean in the background, unless <c>-o cleaner-interval=</c> says otherwise.</summary>
    public static readonly TimeSpan DefaultCleanerInterval = TimeSpan.FromSeconds(5);

    public Result<IFileSystem> Format(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var options = _format ?? new LfsFormatOptions
        {
            SegmentBytes = guest.DeviceBlocks < (64UL << 20) / LfsLayout.BlockSize ? LfsLayout.MinSegmentBytes : LfsLayout.DefaultSegmentBytes,
        };
        foreach (var (key, value) in guest.Options)
        {
            switch (key)
            {
                case "segment":
                    if (ByteSize.Parse(value) is not { } bytes || bytes > int.MaxValue) { error = $"lfs: bad segment size '{value}'"; return Errno.EINVAL; }
                    options = options with { SegmentBytes = (int)bytes };
                    break;
                case "cleaner":
                    if (CleanerPolicies.ByName(value) is null) { error = $"lfs: unknown cleaner policy '{value}' (greedy, cost-benefit, age-sort)"; return Errno.EINVAL; }
                    options = options with { Cleaner = value };
                    break;
                case "survivors": // LfsFileSystem.Format refuses a name it does not know
                    options = options with { Survivors = value };
                    break;
                case "clean-start" or "clean-stop" or "inodes":
                    if (!uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint n)) { error = $"lfs: {key} takes a number, not '{value}'"; return Errno.EINVAL; }
                    options = key switch
                    {
                        "clean-start" => options with { CleanStartPercent = n },
                        "clean-stop" => options with { CleanStopPercent = n },
                        _ => options with { MaxInodes = n },
                    };
                    break;
                default:
                    error = $"lfs: unknown option '{key}' (lfs takes: {string.Join(", ", FormatOptions.Keys)})";
                    return Errno.EINVAL;
            }
        }
        var fs = LfsFileSystem.Format(guest.Session, guest.DeviceBlocks, out error, options, guest.RootName, guest.Wallet);
        if (fs.Ok) fs.Value.OnClosed = guest.NotifyClosed;
        return fs.Ok ? new Result<IFileSystem>(fs.Value) : fs.Error;
    }

    public Result<IFileSystem> Mount(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        if (guest.Wallet.Get(guest.RootName) is not { } cap) { error = $"no capability for root '{guest.RootName}'"; return Errno.EACCES; }
        foreach (var key in guest.Options.Keys)
            if (!MountOptionKeys.Contains(key)) { error = $"lfs: unknown mount option '{key}' (lfs takes: {string.Join(", ", MountOptionKeys)})"; return Errno.EINVAL; }
        var mount = (_mount ?? new LfsMountOptions()) with { ReadOnly = guest.ReadOnly };
        if (guest.Options.GetValueOrDefault("cleaner") is { } cleaner) mount = mount with { Cleaner = cleaner };
        if (guest.Options.GetValueOrDefault("survivors") is { } survivors) mount = mount with { Survivors = survivors };
        if (guest.Options.GetValueOrDefault("cleaner-interval") is { } every)
        {
            if (!double.TryParse(every, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) || seconds > 86400)
            {
                error = $"lfs: cleaner-interval takes seconds (0 for none), not '{every}'";
                return Errno.EINVAL;
            }
            mount = mount with { CleanerInterval = TimeSpan.FromSeconds(seconds) };
        }
        else if (mount.CleanerInterval is null) mount = mount with { CleanerInterval = DefaultCleanerInterval };
        var fs = LfsFileSystem.Mount(guest.Session, cap, out error, guest.RootName, mount);
        if (fs.Ok) fs.Value.OnClosed = guest.NotifyClosed;
        return fs.Ok ? new Result<IFileSystem>(fs.Value) : fs.Error;
    }
}
