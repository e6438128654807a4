using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// One LFS root served by a host of its own on a device, for these tests: the host formats or loads the device and
/// attaches the LFS as a guest (with settings the tests choose); closing the file system closes the host.
/// </summary>
internal static class LfsImage
{
    public static Result<LfsFileSystem> FormatDevice(IBlockDevice dev, out string? error, LfsFormatOptions? options = null,
        bool ownsDevice = false, string rootName = LfsFileSystem.DefaultRootName, LfsMountOptions? mount = null) =>
        Cast(ExoHost.FormatSolo(dev, new RootRequest("lfs", rootName), out error, ownsDevice: ownsDevice,
            libFses: [new LfsLibFs(options ?? new LfsFormatOptions(), mount)]));

    public static Result<LfsFileSystem> MountDevice(IBlockDevice dev, out string? error, LfsMountOptions? options = null, bool ownsDevice = false,
        string rootName = LfsFileSystem.DefaultRootName, int? pageFrames = null, bool readOnly = false) =>
        Cast(ExoHost.LoadSolo(dev, rootName, out error, new HostOptions { PageFrames = pageFrames, ReadOnly = readOnly }, ownsDevice,
            new LfsLibFs(null, options)));

    /// <summary>How a host loads XN under the LFS (its free map rebuilt by a scan after an unclean shutdown).</summary>
    public static XnOptions LoadOptions() => new() { Recovery = new HostOptions().Recovery };

    private static Result<LfsFileSystem> Cast(Result<IFileSystem> fs) =>
        !fs.Ok ? fs.Error : fs.Value is LfsFileSystem lfs ? lfs : Errno.EUCLEAN;
}
