using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;

namespace ExoFS.Xn;

/// <summary>
/// A named root as a session sees it. <see cref="Capability"/> guards it: XN mints it (through the kernel)
/// for the environment that installs the root, or that the volume's owner grants it to; another
/// environment must get it delegated by the kernel. Capabilities do not survive a reboot.
/// </summary>
public sealed record RootInfo(string Name, BlockNo Block, TypeId Type, Capability Capability);

/// <summary>How <see cref="XnVolume.Load(IBlockDevice, ExoFS.Kernel.ExoKernel, XnOptions)"/> treats a volume.</summary>
public sealed record XnOptions
{
    /// <summary>Refuse every change; nothing is written (fsck, info).</summary>
    public bool ReadOnly { get; init; }
    /// <summary>After an unclean shutdown: trust the persisted free map (fast) or rebuild it by scanning.</summary>
    public XnRecovery Recovery { get; init; } = XnRecovery.PersistedMap;
    /// <summary>
    /// Read-only only: load even if the free map is corrupt, rebuilding it in memory by reachability (so
    /// that a checker can still report everything else). The result is still reported by Check.
    /// </summary>
    public bool TolerateCorruptFreeMap { get; init; }
    /// <summary>Most cached pages XN keeps before it evicts clean ones (cache pressure).</summary>
    public int CachePages { get; init; } = 8192;
}

/// <summary>How the free map is restored after an unclean shutdown.</summary>
public enum XnRecovery
{
    /// <summary>Use the persisted map: ordered writes make it conservative (it may only leak, never lose).</summary>
    PersistedMap,
    /// <summary>Rebuild it from reachability through the owns-UDFs of every root (fixes leaks).</summary>
    Scan,
}
