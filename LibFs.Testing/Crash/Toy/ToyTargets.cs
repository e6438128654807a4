using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// The toy on a raw device as a crash target. Its guarantees are the strongest there are (every fsync
/// writes everything, as one atomic image), so the oracle checks the most it can; each <see cref="ToyBug"/>
/// breaks one of them.
/// </summary>
public sealed class ShadowToyTarget(ToyBug bug = ToyBug.None) : ICrashTarget
{
    public string Name => Bug == ToyBug.None ? "toy" : "toy-" + Bug.ToString().ToLowerInvariant();

    /// <summary>The deliberate bug this instance carries.</summary>
    public ToyBug Bug { get; } = bug;

    /// <summary>Everything: what a file system that writes one atomic image at every fsync provides.</summary>
    public static CrashGuarantees Strongest { get; } = new()
    {
        SyncPersistsAll = true, FsyncPersistsFile = true, FsyncPersistsNames = true, FsyncDirPersistsEntries = true,
        FsyncPersistsAttributes = true, Attributes = CrashAttributes.Mode, // the toy keeps no owner, times or xattrs
        NamespaceOpsAtomic = true, WritesAtomic = true,
    };

    public CrashGuarantees Guarantees => Strongest;

    /// <summary>The toy has no symlinks and no xattrs, and its one serialized image holds no file past 64 KiB.</summary>
    public bool Supports(CrashOp op) => ToyTargetLimits.Supports(op);

    public ulong DeviceBlocks => 64;

    public void Format(IBlockDevice device) => ShadowToyFileSystem.Format(new ToyBlockStore(device));

    public CrashMount Mount(IBlockDevice device) =>
        new(ShadowToyFileSystem.TryMount(new ToyBlockStore(device, Bug), Bug == ToyBug.LazyFsync, out var why)
            ?? throw new InvalidOperationException(why));

    public CrashRecovery Recover(IBlockDevice image)
    {
        var fs = ShadowToyFileSystem.TryMount(new ToyBlockStore(image, Bug), Bug == ToyBug.LazyFsync, out var why);
        // The recovered image is only read; unmounting need not write it back.
        return fs is null ? CrashRecovery.Unmountable(why) : new CrashRecovery(new CrashMount(fs, () => { }), fs.Check());
    }
}

/// <summary>
/// The toy on XN (<see cref="ToyXnStore"/>): tests XN's ordering and recovery. Recovery is XN's load
/// (with its recovery after an unclean shutdown) and XN's global invariant check (leaks are allowed: the
/// persisted free map may over-approximate), then the toy's mount and fsck.
/// </summary>
/// <param name="name">The target's name ("toy-xn", or a name for a deliberately broken XN).</param>
/// <param name="configureWorkloadVolume">
/// Applied to the volume the workload runs on (never to recovered ones): how tests switch off an XN rule
/// through XN's internal hooks to show the explorer catches the result.
/// </param>
public sealed class XnToyTarget(string name = "toy-xn", Action<XnVolume>? configureWorkloadVolume = null) : ICrashTarget
{
    public string Name { get; } = name;

    public CrashGuarantees Guarantees => ShadowToyTarget.Strongest;

    /// <summary>The toy has no symlinks and no xattrs, and its one serialized image holds no file past 64 KiB.</summary>
    public bool Supports(CrashOp op) => ToyTargetLimits.Supports(op);

    public ulong DeviceBlocks => 128;

    public void Format(IBlockDevice device)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Format(device, kernel);
        if (!vol.Ok) throw new IOException($"xn format: {vol}");
        using var v = vol.Value;
        var store = ToyXnStore.Install(v, v.Attach(kernel.CreateEnvironment("toy")));
        ShadowToyFileSystem.Format(store);
    }

    public CrashMount Mount(IBlockDevice device)
    {
        var (vol, env) = LoadVolume(device);
        configureWorkloadVolume?.Invoke(vol);
        var store = ToyXnStore.Open(vol, env, out var why) ?? throw new InvalidOperationException(why);
        var fs = ShadowToyFileSystem.TryMount(store, false, out why, vol.Dispose) ?? throw new InvalidOperationException(why);
        return new CrashMount(fs);
    }

    public CrashRecovery Recover(IBlockDevice image)
    {
        var kernel = new ExoKernel();
        var loaded = XnVolume.Load(image, kernel);
        if (!loaded.Ok) return CrashRecovery.Unmountable($"xn load: {loaded}");
        var vol = loaded.Value;
        var problems = vol.Check().Errors.Select(f => $"xn: {f}").ToList();
        var store = ToyXnStore.Open(vol, kernel.CreateEnvironment("toy"), out var why);
        var fs = store is null ? null : ShadowToyFileSystem.TryMount(store, false, out why);
        if (fs is null)
        {
            vol.Dispose();
            problems.Add(why);
            return new CrashRecovery(null, problems);
        }
        problems.AddRange(fs.Check());
        // The recovered image is only read; closing XN is enough, the toy need not write its image back.
        return new CrashRecovery(new CrashMount(fs, vol.Dispose), problems);
    }

    private static (XnVolume, ExoEnvironment) LoadVolume(IBlockDevice device)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(device, kernel);
        if (!vol.Ok) throw new IOException($"xn load: {vol}");
        return (vol.Value, kernel.CreateEnvironment("toy"));
    }
}

internal static class ToyTargetLimits
{
    public static bool Supports(CrashOp op) =>
        op.Kind is not (CrashOpKind.Symlink or CrashOpKind.SetXattr or CrashOpKind.RemoveXattr or CrashOpKind.Exchange)
        && !(op.Kind is CrashOpKind.Write or CrashOpKind.Truncate && op.Offset + op.Length > 64 * 1024);
}
