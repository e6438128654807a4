using ExoFS.Kernel.Capabilities;
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
    /// why on failure. <paramref name="blocksPerGroup"/>: the allocation group size (0: the largest, one bitmap block's).
    /// </summary>
    public static Result<FfsFileSystem> Format(XnSession session, ulong deviceBlocks, out string? error,
        string rootName = DefaultRootName, CapabilityWallet? wallet = null, bool dataChecksums = false, uint blocksPerGroup = 0)
    {
        var xn = new XnClient(session, wallet);
        var disk = XnFfsDisk.Create(xn, deviceBlocks);
        if (!disk.Ok) { error = $"registering the FFS types: {XnFfsDisk.TypesRefused(xn)}"; return disk.Error; }
        var root = xn.InstallRoot(rootName, disk.Value.SuperType);
        if (!root.Ok) { error = $"installing root '{rootName}': {xn.LastRefusal}"; return root.Error; }
        var fs = FormatOn(disk.Value, root.Value.Block, deviceBlocks, dataChecksums, blocksPerGroup);
        error = fs.Ok ? null : $"laying out FFS: {fs.Error} {xn.LastRefusal}".TrimEnd();
        return fs;
    }

    /// <summary>
    /// Mounts the FFS under root <paramref name="rootName"/>, binding it with <paramref name="rootCap"/>.
    /// If the last session did not unmount cleanly, recovery runs first (see <see cref="RecoveryReport"/>), or is
    /// deferred with <paramref name="recovery"/> = <see cref="FfsRecovery.Defer"/> (see <see cref="LeaksPending"/>).
    /// EUCLEAN when the root does not hold an FFS; <paramref name="error"/> says why on failure.
    /// </summary>
    public static Result<FfsFileSystem> Mount(XnSession session, Capability rootCap, ulong deviceBlocks, out string? error,
        string rootName = DefaultRootName, bool readOnly = false, FfsErrorsPolicy errors = FfsErrorsPolicy.RemountReadOnly,
        FfsRecovery recovery = FfsRecovery.Walk)
    {
        var wallet = new CapabilityWallet();
        wallet.Put(rootName, rootCap);
        var xn = new XnClient(session, wallet);
        var root = xn.MountRoot(rootName);
        if (!root.Ok) { error = $"mounting root '{rootName}': {xn.LastRefusal}"; return root.Error; }
        // A read-only volume takes no registrations: the types must already be there (EUCLEAN otherwise).
        readOnly |= session.IsReadOnly;
        var disk = XnFfsDisk.Create(xn, deviceBlocks, lookupOnly: readOnly);
        if (!disk.Ok) { error = $"registering the FFS types: {XnFfsDisk.TypesRefused(xn)}"; return readOnly ? Errno.EUCLEAN : disk.Error; }
        disk.Value.ErrorsPolicy = errors;
        if (root.Value.Type != disk.Value.SuperType) { error = $"root '{rootName}' is not an FFS superblock"; return Errno.EUCLEAN; }
        var fs = MountOn(disk.Value, root.Value.Block, recover: !readOnly, readOnly: readOnly, recovery);
        error = fs.Ok ? null : fs.Error == Errno.EUCLEAN ? $"root '{rootName}' {WhyNotValid(disk.Value, root.Value.Block)}" : $"mount: {fs.Error} {xn.LastRefusal}".TrimEnd();
        return fs;
    }

    /// <summary>Why the superblock at <paramref name="superBlock"/> does not mount: an older FFS format named as such, else "not valid".</summary>
    internal static string WhyNotValid(IFfsDisk disk, ExoFS.Kernel.Disk.BlockNo superBlock)
    {
        var buf = new byte[FfsLayout.BlockSize];
        if (disk.Read(superBlock, 0, buf) == Errno.OK
            && System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(Superblock.MagicOffset)) == Superblock.MagicValue
            && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(Superblock.VersionOffset)) is var v && v != Superblock.CurrentVersion)
            return $"holds an FFS of format {v}; this build reads format {Superblock.CurrentVersion} only: re-make it with exofs mkfs";
        return "does not hold a valid FFS";
    }
}

/// <summary>
/// What a mount after an unclean shutdown does about FFS's own structures (<c>-o ffs-recovery=</c>).
/// </summary>
public enum FfsRecovery
{
    /// <summary>Walk every inode and directory and repair (reclaim leaks) before serving: time grows with the files.</summary>
    Walk,
    /// <summary>
    /// Serve at once and leave the leaks a crash may have left (soft updates' allowance) to <c>exofs fsck --repair</c>,
    /// as FreeBSD mounts a soft-updates FFS after a crash; the superblock records that leaks may be pending.
    /// </summary>
    Defer,
}
