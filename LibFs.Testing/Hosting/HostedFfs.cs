using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;

namespace ExoFS.LibFs.Testing;

/// <summary>
/// One FFS root served by a host of its own, for tests and benchmarks that work with one file system: the host
/// formats or loads the device and attaches FFS as a guest; closing the file system closes the host (volume,
/// then the device when it was opened here). Everything goes through <see cref="ExoHost"/>; FFS itself only
/// ever sees its session.
/// </summary>
public static class HostedFfs
{
    /// <summary>Formats <paramref name="dev"/> as an XN volume holding one FFS root and returns it mounted.</summary>
    public static Result<FfsFileSystem> FormatDevice(IBlockDevice dev, out string? error, bool ownsDevice = false,
        string rootName = FfsFileSystem.DefaultRootName, int? pageFrames = null) =>
        Cast(ExoHost.FormatSolo(dev, new RootRequest("ffs", rootName), out error, new HostOptions { PageFrames = pageFrames }, ownsDevice,
            [new FfsLibFs()]));

    /// <summary>Mounts the FFS root on the XN volume already on <paramref name="dev"/>.</summary>
    public static Result<FfsFileSystem> MountDevice(IBlockDevice dev, out string? error, bool ownsDevice = false,
        string rootName = FfsFileSystem.DefaultRootName, int? pageFrames = null, bool readOnly = false) =>
        Cast(ExoHost.LoadSolo(dev, rootName, out error, new HostOptions { PageFrames = pageFrames, ReadOnly = readOnly }, ownsDevice));

    /// <summary>Creates image file <paramref name="path"/> of <paramref name="bytes"/> holding one FFS root, mounted.</summary>
    public static Result<FfsFileSystem> Create(string path, ulong bytes, out string? error, bool overwrite = false)
    {
        ImageFileDevice dev;
        try { dev = ImageFileDevice.Create(path, bytes / IBlockDevice.BlockSize, overwrite); }
        catch (IOException e) { error = e.Message; return Errno.EIO; }
        return FormatDevice(dev, out error, ownsDevice: true, pageFrames: ExoHost.ImagePageFrames);
    }

    /// <summary>Opens image file <paramref name="path"/> and mounts its FFS root (read-only: a shared lock, nothing written).</summary>
    public static Result<FfsFileSystem> Open(string path, out string? error, string rootName = FfsFileSystem.DefaultRootName, bool readOnly = false) =>
        Cast(ExoHost.OpenImageSolo(path, rootName, out error, new HostOptions { ReadOnly = readOnly }));

    private static Result<FfsFileSystem> Cast(Result<IFileSystem> fs) =>
        !fs.Ok ? fs.Error : fs.Value is FfsFileSystem ffs ? ffs : Errno.EUCLEAN;
}
