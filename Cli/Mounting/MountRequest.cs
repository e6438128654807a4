using ExoFS.Host;
using ExoFS.Mount;
using ExoFS.Xn;

namespace ExoFS.Cli.Mounting;

/// <summary>
/// A parsed <c>exofs mount</c> command line. <see cref="Arguments"/> renders it back for the daemon, which is
/// the same exofs binary run with <c>--foreground</c>.
/// </summary>
internal sealed record MountRequest(string Image, string MountPoint, string? Root, IReadOnlyList<string> Options)
{
    /// <summary>
    /// mount(8) and fstab pass these; they are about when and by whom to mount, not for the file system
    /// (mount.fuse drops them the same way).
    /// </summary>
    private static readonly HashSet<string> FstabOnly = new(StringComparer.Ordinal)
    {
        "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "_netdev", "nofail", "rw",
    };

    /// <summary>"ro" among the options (a later "rw" undoes it): the image is opened read-only and never written.</summary>
    public bool ReadOnly =>
        Options.SelectMany(o => o.Split(',')).Select(o => o.Trim()).LastOrDefault(o => o is "ro" or "rw") == "ro";

    /// <summary>
    /// How XN recovers after an unclean shutdown: <c>recovery=record</c> (the default: settle the blocks in flight
    /// from XN's record, no scan), <c>recovery=scan</c> (rebuild the free map by walking every root) or
    /// <c>recovery=map</c> (trust the persisted map as it is; may leak). The last one given wins.
    /// </summary>
    public XnRecovery Recovery =>
        Options.SelectMany(o => o.Split(',')).Select(o => o.Trim()).LastOrDefault(o => o.StartsWith(RecoveryOption, StringComparison.Ordinal))
            is { } r && ParseRecovery(r[RecoveryOption.Length..]) is { } mode ? mode : new HostOptions().Recovery;

    private const string RecoveryOption = "recovery=";

    private static XnRecovery? ParseRecovery(string value) => value switch
    {
        "record" => XnRecovery.InFlightRecord,
        "scan" => XnRecovery.Scan,
        "map" => XnRecovery.PersistedMap,
        _ => null,
    };

    /// <summary>
    /// Turns the -o list into mount options: allow_other, private, fsname=, spin= and debug map to their fields,
    /// fstab-only words are dropped, everything else (ro, noatime, nosuid, nodev, noexec, max_read=, ...) goes
    /// to libfuse, which refuses what it does not know. Null with <paramref name="error"/> on a malformed list.
    /// Sharing: a mount is open to every user (allow_other; the kernel checks modes and owners, as for a
    /// kernel file system) whenever <paramref name="mayAllowOther"/> (default: <see cref="FuseMountOptions.MayAllowOther"/>:
    /// root, or user_allow_other in /etc/fuse.conf), unless <c>private</c> keeps it to the mounting user; an
    /// explicit allow_other that may not be granted is an error rather than a mount fusermount3 would refuse.
    /// </summary>
    public FuseMountOptions? ToFuseOptions(Action<string> log, out string error, bool? mayAllowOther = null)
    {
        error = "";
        var extra = new List<string>();
        bool? share = null;
        bool debug = false;
        TimeSpan? spin = null;
        string fsName = Image;
        foreach (string raw in Options.SelectMany(o => o.Split(',')))
        {
            string opt = raw.Trim();
            if (opt.Length == 0) { error = $"empty mount option in '{string.Join(",", Options)}'"; return null; }
            if (FstabOnly.Contains(opt) || opt.StartsWith("x-", StringComparison.Ordinal) || opt.StartsWith("comment=", StringComparison.Ordinal)) continue;
            switch (opt)
            {
                case "allow_other": share = true; break;
                case "private": share = false; break;
                case "debug": debug = true; break;
                default:
                    if (opt.StartsWith("fsname=", StringComparison.Ordinal)) fsName = opt["fsname=".Length..];
                    else if (opt.StartsWith("spin=", StringComparison.Ordinal))
                    {
                        // How long the daemon looks for the next request before sleeping (see FuseMountOptions.Spin).
                        if (!int.TryParse(opt["spin=".Length..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int us) || us > 100_000)
                        {
                            error = $"spin= takes microseconds from 0 to 100000, not '{opt["spin=".Length..]}'";
                            return null;
                        }
                        spin = TimeSpan.FromMicroseconds(us);
                    }
                    else if (opt.StartsWith(RecoveryOption, StringComparison.Ordinal))
                    {
                        if (ParseRecovery(opt[RecoveryOption.Length..]) is null)
                        {
                            error = $"recovery= takes record, scan or map, not '{opt[RecoveryOption.Length..]}'";
                            return null;
                        }
                    }
                    else if (opt.StartsWith("subtype=", StringComparison.Ordinal)) { error = "the subtype is always exofs (mounts show as fuse.exofs)"; return null; }
                    else extra.Add(opt);
                    break;
            }
        }
        if (fsName.Length == 0) { error = "fsname= needs a value"; return null; }
        bool may = mayAllowOther ?? FuseMountOptions.MayAllowOther;
        if (share == true && !may)
        {
            error = "allow_other needs root, or a user_allow_other line in /etc/fuse.conf";
            return null;
        }
        var defaults = new FuseMountOptions();
        return new FuseMountOptions
        {
            Spin = spin ?? defaults.Spin,
            FsName = fsName,
            Subtype = "exofs",
            AllowOther = share ?? may,
            Debug = debug,
            ExtraOptions = extra,
            Log = log,
            // A loaded machine may take a while to answer INIT and to drain the writeback cache on unmount.
            MountTimeout = TimeSpan.FromSeconds(30),
            UnmountTimeout = TimeSpan.FromSeconds(30),
        };
    }

    /// <summary>The command line that serves this request in the foreground (without the program name).</summary>
    public List<string> Arguments(bool daemonChild)
    {
        var args = new List<string> { "mount", Image, MountPoint, "--foreground" };
        if (Root is not null) args.AddRange(["--libfs", Root]);
        foreach (string o in Options) args.AddRange(["-o", o]);
        if (daemonChild) args.Add(Commands.MountCommand.DaemonChildFlag);
        return args;
    }
}
