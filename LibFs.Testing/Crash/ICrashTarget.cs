using ExoFS.Kernel.Disk;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// A file system stack the crash explorer can test: how to make one on an empty device, mount it for the
/// workload, and recover a crash image. Implementations must be stateless between calls (the explorer
/// recovers many images while a workload is mounted, from inside the workload's own barrier or flush), and
/// every device handed to them is a fresh device they may write (a crash image is an
/// <see cref="OverlayDevice"/> on a frozen image: its writes stay in it). <see cref="Recover"/> must depend
/// on the image's bytes alone, since the explorer shares one recovery between the crash states that leave
/// byte-identical images (<see cref="CrashExplorerOptions.ShareRecoveries"/>); the clock it may read is a
/// fixed <see cref="LogicalClock"/>.
/// </summary>
public interface ICrashTarget
{
    /// <summary>The name used by <c>exofs crashtest --libfs</c>.</summary>
    string Name { get; }

    /// <summary>The promises the oracle checks.</summary>
    CrashGuarantees Guarantees { get; }

    /// <summary>
    /// Whether the target's file system can take the step at all (a toy may have no symlinks or xattrs, or no room
    /// for a sparse file megabytes long): a step it cannot take is left out of the workload, on the model as on the
    /// target.
    /// </summary>
    bool Supports(CrashOp op) => true;

    /// <summary>Device size in blocks for a crash run (small keeps each crash image cheap).</summary>
    ulong DeviceBlocks { get; }

    /// <summary>Makes an empty file system on <paramref name="device"/> (all zero) and leaves it durable (flushed).</summary>
    void Format(IBlockDevice device);

    /// <summary>Mounts the formatted, cleanly unmounted file system for the workload.</summary>
    CrashMount Mount(IBlockDevice device);

    /// <summary>
    /// Recovers a crash image as a real mount would (for XN targets: XN load with its recovery, then the
    /// libFS's own mount and recovery), runs the stack's checks (XN invariants, libFS fsck), and returns the
    /// mounted file system for the oracle to read, with one line per problem found. Must not throw for a
    /// damaged image: an unmountable image is a result with a null mount and its reason in the problems.
    /// </summary>
    CrashRecovery Recover(IBlockDevice image);
}

/// <summary>A mounted file system; <see cref="Dispose"/> unmounts it cleanly (syncing everything).</summary>
public sealed class CrashMount(IFileSystem fs, Action? unmount = null) : IDisposable
{
    private Action? _unmount = unmount ?? fs.Dispose;

    /// <summary>The mounted file system.</summary>
    public IFileSystem Fs { get; } = fs;

    public void Dispose()
    {
        var u = _unmount;
        _unmount = null;
        u?.Invoke();
    }
}

/// <summary>The outcome of <see cref="ICrashTarget.Recover"/>: a mount (null when the image would not mount) and problems.</summary>
public sealed record CrashRecovery(CrashMount? Mount, IReadOnlyList<string> Problems)
{
    /// <summary>
    /// What the libFS's recovery found in the crashed image, before repairing it, that is not a leak (one line
    /// each). Not a problem by itself: the oracle reports it when the target promises
    /// <see cref="CrashGuarantees.LeaksOnly"/>.
    /// </summary>
    public IReadOnlyList<string> Damage { get; init; } = [];

    /// <summary>An image that could not be mounted at all.</summary>
    public static CrashRecovery Unmountable(string why) => new(null, [why]);
}
