using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// FFS on a whole device or image file, for callers that do not manage the stack themselves (the CLI,
/// benchmarks, tests): boots a kernel, loads (or formats) the XN volume, creates an environment, grants it
/// the root and mounts. The returned file system owns the volume (and the device, when it opened it):
/// disposing it unmounts FFS, then the volume, then closes the device.
/// </summary>
public static class FfsImage
{
    /// <summary>
    /// Page frames the kernel boots with for a mounted image file: room for XN's whole buffer cache
    /// (<see cref="XnOptions.CachePages"/>, 32 MiB by default) plus headroom. Devices mounted in-process
    /// (tests, crash exploration) keep the kernel's small default pool.
    /// </summary>
    public const int ImagePageFrames = 8192 + 1024;

    /// <summary>Formats <paramref name="dev"/> as an XN volume holding one FFS and returns it mounted.</summary>
    public static Result<FfsFileSystem> FormatDevice(IBlockDevice dev, out string? error, bool ownsDevice = false,
        string rootName = FfsFileSystem.DefaultRootName)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Format(dev, kernel);
        if (!vol.Ok) { error = $"XN format: {vol}"; return Errno.EINVAL; }
        var env = kernel.CreateEnvironment("ffs");
        var fs = FfsFileSystem.Format(vol.Value, env, out error, rootName);
        return Finish(fs, vol.Value, dev, ownsDevice);
    }

    /// <summary>Mounts the FFS on an XN volume already on <paramref name="dev"/>.</summary>
    /// <remarks>
    /// <paramref name="readOnly"/>: nothing is ever written (no recovery, no clean-flag update); every change is
    /// refused with EROFS. An image not cleanly unmounted is served as it is on disk.
    /// </remarks>
    public static Result<FfsFileSystem> MountDevice(IBlockDevice dev, out string? error, bool ownsDevice = false,
        string rootName = FfsFileSystem.DefaultRootName, int? pageFrames = null, bool readOnly = false)
    {
        var kernel = pageFrames is { } n ? new ExoKernel(new KernelOptions { PageFrames = n }) : new ExoKernel();
        var vol = XnVolume.Load(dev, kernel, LoadOptions(readOnly));
        if (!vol.Ok) { error = $"XN load: {vol}"; return Errno.EUCLEAN; }
        var env = kernel.CreateEnvironment("ffs");
        var fs = FfsFileSystem.Mount(vol.Value, env, out error, rootName);
        return Finish(fs, vol.Value, dev, ownsDevice);
    }

    /// <summary>
    /// How a mount loads the XN volume under FFS. After an unclean shutdown XN rebuilds its free map by
    /// reachability: the persisted map may only leak, but a scan gives FFS back every block it lost track of.
    /// Crash testing recovers with these same options.
    /// </summary>
    public static XnOptions LoadOptions(bool readOnly = false) => new() { Recovery = XnRecovery.Scan, ReadOnly = readOnly };

    /// <summary>Creates image file <paramref name="path"/> of <paramref name="bytes"/> (rounded down to 4 KiB) holding a new FFS.</summary>
    public static Result<FfsFileSystem> Create(string path, ulong bytes, out string? error, bool overwrite = false)
    {
        ImageFileDevice dev;
        try { dev = ImageFileDevice.Create(path, bytes / IBlockDevice.BlockSize, overwrite); }
        catch (IOException e) { error = e.Message; return Errno.EIO; }
        catch (UnauthorizedAccessException e) { error = e.Message; return Errno.EACCES; }
        return FormatDevice(dev, out error, ownsDevice: true);
    }

    /// <summary>
    /// Opens image file <paramref name="path"/> and mounts its FFS; with <paramref name="readOnly"/> the file is
    /// opened read-only under a shared lock (other read-only opens may coexist) and never written.
    /// </summary>
    public static Result<FfsFileSystem> Open(string path, out string? error, string rootName = FfsFileSystem.DefaultRootName,
        bool readOnly = false)
    {
        ImageFileDevice dev;
        try { dev = ImageFileDevice.Open(path, readOnly ? ImageOpenMode.ReadOnly : ImageOpenMode.ReadWrite); }
        catch (ImageBusyException e) { error = e.Message; return Errno.EBUSY; }   // another process holds its lock
        catch (IOException e) { error = e.Message; return Errno.EIO; }
        catch (UnauthorizedAccessException e) { error = e.Message; return Errno.EACCES; }
        return MountDevice(dev, out error, ownsDevice: true, rootName, ImagePageFrames, readOnly);
    }

    private static Result<FfsFileSystem> Finish(Result<FfsFileSystem> fs, XnVolume vol, IBlockDevice dev, bool ownsDevice)
    {
        if (!fs.Ok)
        {
            vol.Dispose();
            if (ownsDevice) dev.Dispose();
            return fs;
        }
        fs.Value.Owning(vol);
        if (ownsDevice) fs.Value.Owning(dev);
        return fs;
    }
}
