using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs;

// Making and mounting FFS on an XN volume.
public sealed partial class FfsFileSystem
{
    /// <summary>The XN root name FFS uses unless told otherwise.</summary>
    public const string DefaultRootName = "ffs";

    /// <summary>
    /// Makes a new FFS under a new XN root <paramref name="rootName"/> of the session's volume (registering
    /// the FFS types, installing the root, laying out the groups) and returns it mounted. The root's
    /// capability goes into <paramref name="wallet"/> (a fresh one if null). <paramref name="error"/> says
    /// why on failure.
    /// </summary>
    public static Result<FfsFileSystem> Format(XnSession session, ulong deviceBlocks, out string? error,
        string rootName = DefaultRootName, CapabilityWallet? wallet = null)
    {
        var xn = new XnClient(session, wallet);
        var disk = XnFfsDisk.Create(xn, deviceBlocks);
        if (!disk.Ok) { error = $"registering the FFS types: {xn.LastRefusal}"; return disk.Error; }
        var root = xn.InstallRoot(rootName, disk.Value.SuperType);
        if (!root.Ok) { error = $"installing root '{rootName}': {xn.LastRefusal}"; return root.Error; }
        var fs = FormatOn(disk.Value, root.Value.Block, deviceBlocks);
        error = fs.Ok ? null : $"laying out FFS: {fs.Error} {xn.LastRefusal}".TrimEnd();
        return fs;
    }

    /// <summary>
    /// Mounts the FFS under root <paramref name="rootName"/>, binding it with <paramref name="rootCap"/>.
    /// If the last session did not unmount cleanly, recovery runs first (see <see cref="RecoveryReport"/>).
    /// EUCLEAN when the root does not hold an FFS; <paramref name="error"/> says why on failure.
    /// </summary>
    public static Result<FfsFileSystem> Mount(XnSession session, Capability rootCap, ulong deviceBlocks, out string? error,
        string rootName = DefaultRootName)
    {
        var wallet = new CapabilityWallet();
        wallet.Put(rootName, rootCap);
        var xn = new XnClient(session, wallet);
        var root = xn.MountRoot(rootName);
        if (!root.Ok) { error = $"mounting root '{rootName}': {xn.LastRefusal}"; return root.Error; }
        // A read-only volume takes no registrations: the types must already be there (EUCLEAN otherwise).
        bool readOnly = session.IsReadOnly;
        var disk = XnFfsDisk.Create(xn, deviceBlocks, lookupOnly: readOnly);
        if (!disk.Ok) { error = $"registering the FFS types: {xn.LastRefusal}"; return readOnly ? Errno.EUCLEAN : disk.Error; }
        if (root.Value.Type != disk.Value.SuperType) { error = $"root '{rootName}' is not an FFS superblock"; return Errno.EUCLEAN; }
        var fs = MountOn(disk.Value, root.Value.Block, recover: !readOnly, readOnly: readOnly);
        error = fs.Ok ? null : fs.Error == Errno.EUCLEAN ? $"root '{rootName}' does not hold a valid FFS" : $"mount: {fs.Error} {xn.LastRefusal}".TrimEnd();
        return fs;
    }

    /// <summary>
    /// The administrator's convenience (mount tool, tests): grants <paramref name="env"/> the capability for
    /// <paramref name="rootName"/>, attaches it to <paramref name="volume"/> and mounts. The volume stays the
    /// caller's to dispose (after this file system).
    /// </summary>
    public static Result<FfsFileSystem> Mount(XnVolume volume, ExoEnvironment env, out string? error, string rootName = DefaultRootName)
    {
        var cap = volume.GrantRoot(rootName, env);
        if (!cap.Ok)
        {
            error = $"granting root '{rootName}': {cap}";
            return cap.Error == XnError.UnknownRoot ? Errno.ENOENT : XnClient.ToErrno(cap.Error);
        }
        return Mount(volume.Attach(env), cap.Value, volume.BlockCount, out error, rootName);
    }

    /// <summary>The administrator's convenience: formats FFS under <paramref name="rootName"/> of <paramref name="volume"/> for <paramref name="env"/>.</summary>
    public static Result<FfsFileSystem> Format(XnVolume volume, ExoEnvironment env, out string? error, string rootName = DefaultRootName) =>
        Format(volume.Attach(env), volume.BlockCount, out error, rootName);

    /// <summary>Ties the lifetime of <paramref name="resource"/> (volume, device) to this file system's Dispose.</summary>
    internal FfsFileSystem Owning(IDisposable resource)
    {
        lock (_lock)
        {
            _ownedExtra.Add(resource);
            if (resource is XnVolume v) Volume = v;
        }
        return this;
    }

    /// <summary>The XN volume this file system owns (opened through <see cref="FfsImage"/>), or null.</summary>
    internal XnVolume? Volume { get; private set; }

    private readonly List<IDisposable> _ownedExtra = new();
}
