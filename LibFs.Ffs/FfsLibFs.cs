using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

[assembly: ExoFS.LibFs.Runtime.LibFsRegistration(typeof(ExoFS.LibFs.Ffs.FfsLibFs))]

namespace ExoFS.LibFs.Ffs;

/// <summary>FFS's registration: how a host makes, mounts and checks an FFS root, through the guest's session only.</summary>
public sealed class FfsLibFs : ILibFs
{
    public string Name => FfsFileSystem.DefaultRootName;
    public string RootType => FfsUdfs.SuperType;
    public IXnRootChecker Checker { get; } = new FfsRootChecker();

    public IReadOnlyDictionary<string, string> FormatOptions { get; } = new Dictionary<string, string>
    {
        ["data-checksums"] = "a CRC-32C per data block, verified on every read (on or off; default off; also exofs mkfs --data-checksums)",
        ["blocks-per-group"] = "allocation group size in blocks, a multiple of 8 from 64 to 32736 (default 32736; small groups put several on a small image)",
    };

    /// <summary>
    /// <c>-o errors=remount-ro</c> (default) or <c>errors=continue</c>: what a checksum failure does, as ext4's.
    /// <c>-o ffs-recovery=defer</c> (default) or <c>ffs-recovery=walk</c>: after a crash, serve at once and leave the
    /// leaks to fsck --repair, or walk the whole root (and reclaim them, and any left from before) first.
    /// <c>-o ffs-readahead=KIB</c>: how far FFS reads past a sequential reader's request (a multiple of 4, at most
    /// 16384; default 1024; 0 turns read-ahead off).
    /// </summary>
    public IReadOnlyCollection<string> MountOptionKeys { get; } = ["errors", RecoveryOption, ReadAheadOption];

    /// <summary>The mount option setting <see cref="FfsFileSystem.ReadAheadBlocks"/> (in KiB).</summary>
    public const string ReadAheadOption = "ffs-readahead";

    /// <summary>The mount option choosing <see cref="FfsRecovery"/>.</summary>
    public const string RecoveryOption = "ffs-recovery";

    public Result<IFileSystem> Format(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        bool dataChecksums = false;
        uint blocksPerGroup = (uint)FfsLayout.BlocksPerGroup;
        foreach (var (key, value) in guest.Options)
        {
            if (key == "blocks-per-group")
            {
                if (!uint.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out blocksPerGroup)
                    || blocksPerGroup < Superblock.MinBlocksPerGroup || blocksPerGroup > FfsLayout.BlocksPerGroup || blocksPerGroup % 8 != 0)
                {
                    error = $"ffs: blocks-per-group takes a multiple of 8 from {Superblock.MinBlocksPerGroup} to {FfsLayout.BlocksPerGroup}, not '{value}'";
                    return Errno.EINVAL;
                }
                continue;
            }
            if (key != "data-checksums") { error = $"ffs: unknown option '{key}' (ffs takes: {string.Join(", ", FormatOptions.Keys)})"; return Errno.EINVAL; }
            if (value is not ("on" or "off" or "1" or "0" or "true" or "false" or "")) { error = $"ffs: data-checksums takes on or off, not '{value}'"; return Errno.EINVAL; }
            dataChecksums = value is "on" or "1" or "true" or "";
        }
        ulong maxBlocks = FfsLayout.MaxGroups * (ulong)blocksPerGroup;
        if (guest.DeviceBlocks > maxBlocks) { error = $"ffs supports at most {maxBlocks} blocks ({FfsLayout.MaxGroups} groups of {blocksPerGroup})"; return Errno.EFBIG; }
        var fs = FfsFileSystem.Format(guest.Session, guest.DeviceBlocks, out error, guest.RootName, guest.Wallet, dataChecksums, blocksPerGroup);
        return fs.Ok ? new Result<IFileSystem>(fs.Value) : fs.Error;
    }

    public Result<IFileSystem> Mount(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        if (guest.Wallet.Get(guest.RootName) is not { } cap) { error = $"no capability for root '{guest.RootName}'"; return Errno.EACCES; }
        var errors = FfsErrorsPolicy.RemountReadOnly;
        var recovery = FfsRecovery.Defer;
        int readAheadKiB = -1;
        foreach (var (key, value) in guest.Options)
        {
            if (key == ReadAheadOption)
            {
                if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out readAheadKiB)
                    || readAheadKiB % 4 != 0 || readAheadKiB > 16384)
                {
                    error = $"ffs: ffs-readahead= takes KiB, a multiple of 4 from 0 (off) to 16384, not '{value}'";
                    return Errno.EINVAL;
                }
                continue;
            }
            if (key == RecoveryOption)
            {
                if (value is not ("walk" or "defer")) { error = $"ffs: ffs-recovery= takes walk or defer, not '{value}'"; return Errno.EINVAL; }
                recovery = value == "walk" ? FfsRecovery.Walk : FfsRecovery.Defer;
                continue;
            }
            if (key != "errors") { error = $"ffs: unknown mount option '{key}' (ffs takes: errors=remount-ro|continue, ffs-recovery=walk|defer, ffs-readahead=KIB)"; return Errno.EINVAL; }
            errors = value switch
            {
                "remount-ro" => FfsErrorsPolicy.RemountReadOnly,
                "continue" => FfsErrorsPolicy.Continue,
                _ => (FfsErrorsPolicy)(-1),
            };
            if (errors < 0) { error = $"ffs: errors= takes remount-ro or continue, not '{value}'"; return Errno.EINVAL; }
        }
        var fs = FfsFileSystem.Mount(guest.Session, cap, guest.DeviceBlocks, out error, guest.RootName, guest.ReadOnly, errors, recovery);
        if (fs.Ok) fs.Value.OnClosed = guest.NotifyClosed;
        if (fs.Ok && readAheadKiB >= 0) fs.Value.ReadAheadBlocks = readAheadKiB / 4;
        return fs.Ok ? new Result<IFileSystem>(fs.Value) : fs.Error;
    }
}
