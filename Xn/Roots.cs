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
    /// <summary>After an unclean shutdown: settle the blocks in flight from the record (exact, no scan; the
    /// default), trust the persisted free map as it is (leaks), or rebuild it by scanning every root.</summary>
    public XnRecovery Recovery { get; init; } = XnRecovery.InFlightRecord;
    /// <summary>
    /// Load even if a free-map block fails its checksum, rebuilding the map by reachability. Read-only:
    /// the rebuilt map stays in memory and Check reports the damage (fsck). Read-write: the rebuilt map is
    /// written back (fsck --repair). Off by default: a damaged image is refused.
    /// </summary>
    public bool TolerateCorruptFreeMap { get; init; }
    /// <summary>Most cached pages XN keeps before it evicts clean ones (cache pressure).</summary>
    public int CachePages { get; init; } = 8192;
    /// <summary>
    /// Most pages one session may hold bound with <see cref="XnSession.View"/> at once. A bound page cannot be
    /// evicted, so without a cap one guest could pin the whole cache and starve every other guest; a View
    /// past it is refused with <see cref="XnError.NoSpace"/> until the session unbinds some.
    /// </summary>
    public int SessionViews { get; init; } = DefaultSessionViews;
    /// <summary>The default <see cref="SessionViews"/>: 256 pages (1 MiB).</summary>
    public const int DefaultSessionViews = 256;
}

/// <summary>How the free map is restored after an unclean shutdown.</summary>
public enum XnRecovery
{
    /// <summary>
    /// The persisted map, with each block of the in-flight record settled by its parent's owns-UDF over the
    /// parent's durable bytes: exact (what a scan would compute), in time proportional to the blocks in flight.
    /// Falls back to a scan when the record overflowed or no copy of it is valid.
    /// </summary>
    InFlightRecord,
    /// <summary>Use the persisted map as it is: ordered writes make it conservative (it may only leak, never lose).</summary>
    PersistedMap,
    /// <summary>Rebuild it from reachability through the owns-UDFs of every root (fixes leaks).</summary>
    Scan,
}
