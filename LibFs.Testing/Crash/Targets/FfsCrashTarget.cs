using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.Xn;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// FFS on XN as a crash target. The stack is built here (kernel, XN volume, environment, FFS), acting as the
/// host does, rather than through <see cref="Host.ExoHost"/> so that the workload's volume can be configured
/// (tests switch XN rules off) and recovery can run XN's global check itself. Recovery is exactly what a
/// host's mount does: XN load with the host's options (its free map settled from the in-flight record after an
/// unclean shutdown), then FFS mount in a guest environment (its recovery scan with repair). Problems are FFS's fsck of the recovered file system and XN's invariants; XN leaks are not
/// problems (XN's persisted free map may over-approximate by design).
/// </summary>
/// <param name="name">The target's name ("ffs", or a name for a deliberately broken stack).</param>
/// <param name="configureWorkloadVolume">Applied to the workload's volume only (never to recovered ones).</param>
/// <param name="configureWorkloadFs">Applied to the workload's FFS only.</param>
/// <param name="recovery">
/// How XN recovers a crash image; null (the default): as a mount does. <see cref="XnRecovery.PersistedMap"/>
/// trusts the free map on disk, so a map that names a reachable block free shows as a problem: a test of XN's
/// free-map ordering needs that, since the mount's scan rebuilds the map and makes such a state harmless.
/// </param>
public sealed class FfsCrashTarget(string name = "ffs", Action<XnVolume>? configureWorkloadVolume = null,
    Action<FfsFileSystem>? configureWorkloadFs = null, XnRecovery? recovery = null) : ICrashTarget
{
    /// <summary>
    /// What FFS promises after a crash, in one place. fsync, fsyncdir and sync all make everything durable
    /// (FFS implements each as an XN sync). Leaks only (soft updates' guarantee): FFS orders its namespace
    /// writes by soft updates' three rules, so recovery finds at most leaks, and a rename never loses the file.
    /// Namespace steps are not promised atomic: a rename of a file between two directory blocks (another
    /// directory, or a full block) leaves it under both names if a crash falls between the two writes (its
    /// link count raised to match), as soft updates does; a rename within one block, and a directory's move
    /// (whose ".." decides), are atomic. That one exception is what <see cref="CrashGuarantees.RenameMayLeaveBothNames"/>
    /// states, so the oracle still refuses any other extra name. A RENAME_EXCHANGE is atomic: within one directory
    /// block it is one write, and between two blocks an intent record in the superblock, forced out before the first
    /// entry changes, lets the next mount complete it, so no crash leaves either inode under no name (so not
    /// <see cref="CrashGuarantees.ExchangeMayOrphanOne"/>). Writes are not atomic: the weaker per-byte
    /// content rule applies. Attributes (mode, owner, mtime, xattrs) persist with every sync and fsync.
    /// </summary>
    public static CrashGuarantees FfsGuarantees { get; } = new()
    {
        SyncPersistsAll = true, FsyncPersistsFile = true, FsyncPersistsNames = true, FsyncDirPersistsEntries = true,
        FsyncPersistsAttributes = true, Attributes = CrashAttributes.All,
        NamespaceOpsAtomic = false, RenameMayLeaveBothNames = true, ExchangeMayOrphanOne = false, LeaksOnly = true, WritesAtomic = false,
    };

    public string Name { get; } = name;

    public CrashGuarantees Guarantees => FfsGuarantees;

    /// <summary>
    /// 3 MiB in three allocation groups of 256 blocks (<see cref="SmallFormat"/>): small enough that a crash image costs
    /// little to build and recover, with groups enough that directories spread (root in group 0, /A and /B in the
    /// others) and a file's blocks follow its directory's group.
    /// </summary>
    public ulong DeviceBlocks => 768;

    /// <summary>mkfs settings of the crash images: groups of 256 blocks (64 inodes each) instead of 32736.</summary>
    public static IReadOnlyDictionary<string, string> SmallFormat { get; } = new Dictionary<string, string>
    {
        ["blocks-per-group"] = "256",
    };

    public void Format(IBlockDevice device)
    {
        var host = Host.ExoHost.Format(device, [new Host.RootRequest("ffs", FfsFileSystem.DefaultRootName, SmallFormat)], out var error,
            libFses: [new FfsLibFs()]);
        if (!host.Ok) throw new IOException($"ffs format: {error}");
        host.Value.Dispose();
    }

    public CrashMount Mount(IBlockDevice device)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(device, kernel);
        if (!vol.Ok) throw new IOException($"xn load: {vol}");
        configureWorkloadVolume?.Invoke(vol.Value);
        var fs = MountGuest(vol.Value, kernel, out var error);
        if (!fs.Ok)
        {
            vol.Value.Dispose();
            throw new IOException($"ffs mount: {error}");
        }
        configureWorkloadFs?.Invoke(fs.Value);
        return new CrashMount(fs.Value, () => { fs.Value.Dispose(); vol.Value.Dispose(); });
    }

    public CrashRecovery Recover(IBlockDevice image)
    {
        var kernel = new ExoKernel();
        var options = new XnOptions { Recovery = new Host.HostOptions().Recovery };
        if (recovery is { } r) options = options with { Recovery = r };
        var loaded = XnVolume.Load(image, kernel, options);
        if (!loaded.Ok) return CrashRecovery.Unmountable($"xn load: {loaded}");
        var vol = loaded.Value;
        var fs = MountGuest(vol, kernel, out var error);
        if (!fs.Ok)
        {
            vol.Dispose();
            return CrashRecovery.Unmountable($"ffs mount: {fs.Error}: {error}");
        }
        // A recovery walk that found nothing to repair was this check, on these same structures: a second walk
        // would find nothing either. After a repair (or with no walk: a clean image) the check runs.
        var problems = fs.Value.RecoveryReport is { Clean: true }
            ? new List<string>()
            : Fsck.Check(fs.Value).Problems.Select(p => $"ffs fsck: {p}").ToList();
        problems.AddRange(vol.Check().Errors.Select(f => $"xn: {f}"));
        // What FFS's recovery found before repairing, beyond leaks (the oracle's LeaksOnly judges it): an entry
        // naming a free inode, a link count too low, a directory named twice... Repair would hide it.
        var damage = fs.Value.RecoveryReport is { } rec ? rec.Damage.Select(f => $"ffs: {f.What}").ToList() : [];
        // Only read from here on: dropping the volume without unmounting writes nothing more.
        return new CrashRecovery(new CrashMount(fs.Value, () => { }), problems) { Damage = damage };
    }

    /// <summary>FFS as a host mounts it: a guest environment granted the root, mounting through its session.</summary>
    private static Result<FfsFileSystem> MountGuest(XnVolume vol, ExoKernel kernel, out string? error)
    {
        var env = kernel.CreateEnvironment("ffs");
        var cap = vol.GrantRoot(FfsFileSystem.DefaultRootName, env);
        if (!cap.Ok) { error = cap.ToString(); return Errno.ENOENT; }
        return FfsFileSystem.Mount(vol.Attach(env, mayInstallRoots: false), cap.Value, vol.BlockCount, out error);
    }
}
