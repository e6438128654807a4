using ExoFS.Kernel;
using ExoFS.Xn;

namespace ExoFS.LibFs.Runtime;

/// <summary>
/// Everything a host hands a guest libFS: the environment it runs as, the one <see cref="XnSession"/> it
/// reaches XN through, and the capabilities the host's policy granted it (in <see cref="Wallet"/>, under the
/// root's name). A guest gets nothing else — no volume, no device, no kernel authority — so whatever it does,
/// it does through checked XN calls carrying its own environment's capabilities.
/// </summary>
public sealed class GuestContext
{
    private readonly Action? _closed;

    internal GuestContext(ExoEnvironment environment, XnSession session, CapabilityWallet wallet, string rootName,
        ulong deviceBlocks, bool readOnly, IReadOnlyDictionary<string, string> options, Action? closed)
    {
        _closed = closed;
        Environment = environment;
        Session = session;
        Wallet = wallet;
        RootName = rootName;
        DeviceBlocks = deviceBlocks;
        ReadOnly = readOnly;
        Options = options;
    }

    /// <summary>
    /// Made by a host (the only code holding an <see cref="XnSession"/> it did not get from a context). Public so
    /// a host assembly can call it; a guest gains nothing by calling it, since it needs a session to begin with.
    /// </summary>
    public static GuestContext Create(XnSession session, CapabilityWallet wallet, string rootName, ulong deviceBlocks,
        bool readOnly, IReadOnlyDictionary<string, string>? options = null, Action? closed = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(wallet);
        ArgumentException.ThrowIfNullOrEmpty(rootName);
        return new GuestContext(session.Environment, session, wallet, rootName, deviceBlocks, readOnly || session.IsReadOnly,
            options ?? new Dictionary<string, string>(), closed);
    }

    /// <summary>
    /// A libFS calls this once, at the end of its Dispose: the host then ends the guest's environment (and a host
    /// that exists only for this guest closes the volume and device). Calling it early only ends the guest's own
    /// access.
    /// </summary>
    public void NotifyClosed() => _closed?.Invoke();

    /// <summary>The environment every call of <see cref="Session"/> acts for.</summary>
    public ExoEnvironment Environment { get; }
    /// <summary>The guest's only way to XN.</summary>
    public XnSession Session { get; }
    /// <summary>The capabilities granted to this guest, by root name.</summary>
    public CapabilityWallet Wallet { get; }
    /// <summary>The XN root this guest serves.</summary>
    public string RootName { get; }
    /// <summary>Blocks on the device (disk information the exokernel exposes; not a right to any of them).</summary>
    public ulong DeviceBlocks { get; }
    /// <summary>True when the guest was granted read rights only, or the volume is read-only.</summary>
    public bool ReadOnly { get; }
    /// <summary>libFS-specific mount options (<c>-o key=value</c> the host did not consume), e.g. a cleaner policy.</summary>
    public IReadOnlyDictionary<string, string> Options { get; }

    /// <summary>An <see cref="XnClient"/> over this guest's session and wallet.</summary>
    public XnClient Client() => new(Session, Wallet);
}

/// <summary>A mounted file system that can check its own consistency (its fsck on the live instance).</summary>
public interface ISelfChecking
{
    /// <summary>One line per problem found in the libFS's own structures; empty when consistent. Changes nothing.</summary>
    IReadOnlyList<string> CheckConsistency();
}

/// <summary>What a libFS's own recovery did at mount, in its words, for the host's recovery report.</summary>
public interface IReportsRecovery
{
    /// <summary>One line per repair done at the last mount (empty when the root was clean).</summary>
    IReadOnlyList<string> RecoveryActions { get; }

    /// <summary>
    /// The libFS deferred part of its recovery: what is left is leaks only (space, never correctness), reclaimed by
    /// <c>exofs fsck --repair</c>. A host then serves without a full check (which would report those leaks).
    /// </summary>
    bool LeaksPending => false;
}

/// <summary>
/// A libFS as a host sees it: how to make, mount and check a root of it. Each libFS assembly registers one
/// with <see cref="LibFsRegistrationAttribute"/>; hosts, the CLI and the shared test library find it through
/// <see cref="LibFsCatalog"/> instead of referencing every libFS.
/// </summary>
public interface ILibFs
{
    /// <summary>The libFS's name on the command line (<c>--libfs ffs</c>) and the default root name.</summary>
    string Name { get; }
    /// <summary>The XN type name of its root block; the host's policy lets this libFS bind roots of this type.</summary>
    string RootType { get; }
    /// <summary>Tunables a user may set at mkfs (<c>--libfs lfs:segment=1M</c>), key → one-line description.</summary>
    IReadOnlyDictionary<string, string> FormatOptions => new Dictionary<string, string>();

    /// <summary>Mount options this libFS takes itself (<c>-o cleaner=greedy</c>); the rest go to FUSE.</summary>
    IReadOnlyCollection<string> MountOptionKeys => [];

    /// <summary>Makes a new root named <see cref="GuestContext.RootName"/> through the guest's session and returns it mounted.</summary>
    Result<IFileSystem> Format(GuestContext guest, out string? error);

    /// <summary>Mounts the existing root, running the libFS's own recovery if its last session was not clean.</summary>
    Result<IFileSystem> Mount(GuestContext guest, out string? error);

    /// <summary>The libFS's checker for <c>exofs fsck</c> (run through a read-only, or for repair a full, session).</summary>
    IXnRootChecker Checker { get; }

    /// <summary>Its file systems report figures of their own (<see cref="IReportsInfo"/>): <c>exofs info</c> attaches a root read-only to ask.</summary>
    bool ReportsInfo => false;
}

/// <summary>Names the <see cref="ILibFs"/> implementation an assembly provides (it needs a public parameterless constructor).</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class LibFsRegistrationAttribute(Type libFs) : Attribute
{
    public Type LibFs { get; } = libFs;
}
