using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Testing.Crash;
using ExoFS.Xn;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// The LFS on XN as a crash target for the shared explorer (it lives with the LFS tests because the LFS may
/// not change LibFs.Testing; it can move beside FfsCrashTarget as is). Recovery is what a mount does: XN
/// load with a reachability scan, then the LFS mount (newest valid checkpoint, roll-forward, orphans).
/// </summary>
public sealed class LfsCrashTarget(string name = "lfs", Action<LfsFileSystem>? configureWorkloadFs = null, LfsMountOptions? recoverOptions = null)
    : ICrashTarget
{
    /// <summary>
    /// Prefix semantics: fsync, fsyncdir and sync make the whole log durable (a write unit roll-forward
    /// finds), every call is applied all or nothing (one write unit), so namespace steps and writes are atomic.
    /// A single write larger than the dirty budget (4 MiB) is the exception: it may be flushed in pieces.
    /// </summary>
    public static CrashGuarantees LfsGuarantees { get; } = new()
    {
        SyncPersistsAll = true, FsyncPersistsFile = true, FsyncPersistsNames = true, FsyncDirPersistsEntries = true,
        NamespaceOpsAtomic = true, WritesAtomic = true,
    };

    public static LfsFormatOptions SmallFormat { get; } = new() { SegmentBytes = 256 << 10, MaxInodes = 1024 };

    public string Name { get; } = name;
    public CrashGuarantees Guarantees => LfsGuarantees;
    /// <summary>4 MiB: a dozen 256 KiB segments.</summary>
    public ulong DeviceBlocks => 1024;

    public void Format(IBlockDevice device)
    {
        var fs = LfsImage.FormatDevice(device, out var error, SmallFormat);
        if (!fs.Ok) throw new IOException($"lfs format: {error}");
        fs.Value.Dispose();
    }

    public CrashMount Mount(IBlockDevice device)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(device, kernel);
        if (!vol.Ok) throw new IOException($"xn load: {vol}");
        var env = kernel.CreateEnvironment("lfs");
        var cap = vol.Value.GrantRoot(LfsFileSystem.DefaultRootName, env);
        var fs = LfsFileSystem.Mount(vol.Value.Attach(env), cap.Value, out var error);
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
        var loaded = XnVolume.Load(image, kernel, LfsImage.LoadOptions());
        if (!loaded.Ok) return CrashRecovery.Unmountable($"xn load: {loaded}");
        var vol = loaded.Value;
        var env = kernel.CreateEnvironment("lfs");
        var cap = vol.GrantRoot(LfsFileSystem.DefaultRootName, env);
        if (!cap.Ok) { vol.Dispose(); return CrashRecovery.Unmountable($"grant: {cap}"); }
        var fs = LfsFileSystem.Mount(vol.Attach(env), cap.Value, out var error, options: recoverOptions);
        if (!fs.Ok)
        {
            vol.Dispose();
            return CrashRecovery.Unmountable($"lfs mount: {fs.Error}: {error}");
        }
        var problems = LfsFsck.Check(fs.Value).Problems.Select(p => $"lfs fsck: {p}").ToList();
        problems.AddRange(vol.Check().Errors.Select(f => $"xn: {f}"));
        return new CrashRecovery(new CrashMount(fs.Value, () => { }), problems);
    }
}
