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

    public Result<IFileSystem> Format(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        if (guest.Options.Count > 0) { error = $"ffs takes no options (got '{guest.Options.Keys.First()}')"; return Errno.EINVAL; }
        if (guest.DeviceBlocks > FfsLayout.MaxBlocks) { error = $"ffs supports at most {FfsLayout.MaxBlocks} blocks"; return Errno.EFBIG; }
        var fs = FfsFileSystem.Format(guest.Session, guest.DeviceBlocks, out error, guest.RootName, guest.Wallet);
        return fs.Ok ? new Result<IFileSystem>(fs.Value) : fs.Error;
    }

    public Result<IFileSystem> Mount(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        if (guest.Wallet.Get(guest.RootName) is not { } cap) { error = $"no capability for root '{guest.RootName}'"; return Errno.EACCES; }
        var fs = FfsFileSystem.Mount(guest.Session, cap, guest.DeviceBlocks, out error, guest.RootName, guest.ReadOnly);
        if (fs.Ok) fs.Value.OnClosed = guest.NotifyClosed;
        return fs.Ok ? new Result<IFileSystem>(fs.Value) : fs.Error;
    }
}
