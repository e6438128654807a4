using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Lfs;
using ExoFS.Xn;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// The LFS on XN as a crash target (<c>exofs crashtest --libfs lfs</c>). Like <see cref="FfsCrashTarget"/>,
/// the stack is built here, acting as the host does, so that the workload's file system can be configured
/// (the tests' mutants) and recovery can run XN's global check itself. Recovery is what a host's mount does:
/// XN load with the host's options (a reachability scan after an unclean shutdown), then the LFS mount in a
/// guest environment (newest valid checkpoint, roll-forward, orphans). Problems are the LFS's fsck of the
/// recovered file system and XN's invariants.
/// </summary>
/// <param name="name">The target's name ("lfs", or a name for a deliberately broken stack).</param>
/// <param name="configureWorkloadFs">Applied to the workload's LFS only (crash mutants).</param>
/// <param name="recoverOptions">How recovered images are mounted (the roll-forward-off mutant); null: as a mount does.</param>
public sealed class LfsCrashTarget(string name = "lfs", Action<LfsFileSystem>? configureWorkloadFs = null, LfsMountOptions? recoverOptions = null)
    : ICrashTarget
{
    /// <summary>
    /// Prefix semantics: fsync, fsyncdir and sync make the whole log durable (a write unit roll-forward
    /// finds), every call is applied all or nothing (one write unit), and units are recovered in log order, so
    /// a crash leaves the state after some prefix of the calls. A single write larger than the dirty budget
    /// (4 MiB) is the exception: it may be flushed in pieces (the crash workloads write far less).
    /// </summary>
    public static CrashGuarantees LfsGuarantees { get; } = new()
    {
        SyncPersistsAll = true, FsyncPersistsFile = true, FsyncPersistsNames = true, FsyncDirPersistsEntries = true,
        FsyncPersistsAttributes = true, Attributes = CrashAttributes.All,
        NamespaceOpsAtomic = true, WritesAtomic = true, PrefixSemantics = true,
    };

    /// <summary>mkfs settings of the crash images: the smallest segments, few inodes (small checkpoint regions).</summary>
    public static IReadOnlyDictionary<string, string> SmallFormat { get; } = new Dictionary<string, string>
    {
        ["segment"] = "256K", ["inodes"] = "1024",
    };

    public string Name { get; } = name;
    public CrashGuarantees Guarantees => LfsGuarantees;

    /// <summary>4 MiB: a dozen 256 KiB segments.</summary>
    public ulong DeviceBlocks => 1024;

    public void Format(IBlockDevice device)
    {
        var host = Host.ExoHost.Format(device, [new Host.RootRequest("lfs", LfsFileSystem.DefaultRootName, SmallFormat)], out var error,
            libFses: [new LfsLibFs()]);
        if (!host.Ok) throw new IOException($"lfs format: {error}");
        host.Value.Dispose();
    }

    public CrashMount Mount(IBlockDevice device)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(device, kernel);
        if (!vol.Ok) throw new IOException($"xn load: {vol}");
        var fs = MountGuest(vol.Value, kernel, null, out var error);
        if (!fs.Ok)
        {
            vol.Value.Dispose();
            throw new IOException($"lfs mount: {error}");
        }
        configureWorkloadFs?.Invoke(fs.Value);
        return new CrashMount(fs.Value, () => { fs.Value.Dispose(); vol.Value.Dispose(); });
    }

    public CrashRecovery Recover(IBlockDevice image)
    {
        var kernel = new ExoKernel();
        var loaded = XnVolume.Load(image, kernel, new XnOptions { Recovery = new Host.HostOptions().Recovery });
        if (!loaded.Ok) return CrashRecovery.Unmountable($"xn load: {loaded}");
        var vol = loaded.Value;
        var fs = MountGuest(vol, kernel, recoverOptions, out var error);
        if (!fs.Ok)
        {
            vol.Dispose();
            return CrashRecovery.Unmountable($"lfs mount: {fs.Error}: {error}");
        }
        var problems = LfsFsck.Check(fs.Value).Problems.Select(p => $"lfs fsck: {p}").ToList();
        problems.AddRange(vol.Check().Errors.Select(f => $"xn: {f}"));
        return new CrashRecovery(new CrashMount(fs.Value, () => { }), problems);
    }

    /// <summary>The LFS as a host mounts it: a guest environment granted the root, mounting through its session.</summary>
    private static Result<LfsFileSystem> MountGuest(XnVolume vol, ExoKernel kernel, LfsMountOptions? options, out string? error)
    {
        var env = kernel.CreateEnvironment("lfs");
        var cap = vol.GrantRoot(LfsFileSystem.DefaultRootName, env);
        if (!cap.Ok) { error = cap.ToString(); return Errno.ENOENT; }
        return LfsFileSystem.Mount(vol.Attach(env, mayInstallRoots: false), cap.Value, out error, options: options);
    }
}
