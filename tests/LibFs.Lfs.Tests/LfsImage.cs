using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

using ExoFS.LibFs.Lfs;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// The glue that boots a kernel and XN on a device and hands the LFS a session (tests, benchmarks, until the
/// host owns this): the one place the LFS project touches XnVolume. The returned file system owns the volume
/// (and the device, if asked): disposing it unmounts the LFS, then the volume, then closes the device.
/// </summary>
internal static class LfsImage
{
    /// <summary>Page frames for an image file mount: room for XN's cache plus headroom (as FFS's).</summary>
    public const int ImagePageFrames = 8192 + 1024;

    /// <summary>Formats <paramref name="dev"/> as an XN volume holding one LFS and returns it mounted.</summary>
    public static Result<LfsFileSystem> FormatDevice(IBlockDevice dev, out string? error, LfsFormatOptions? options = null,
        bool ownsDevice = false, string rootName = LfsFileSystem.DefaultRootName)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Format(dev, kernel);
        if (!vol.Ok) { error = $"XN format: {vol}"; return Errno.EINVAL; }
        var env = kernel.CreateEnvironment("lfs");
        var fs = LfsFileSystem.Format(vol.Value.Attach(env), vol.Value.BlockCount, out error, options, rootName);
        return Finish(fs, vol.Value, dev, ownsDevice);
    }

    /// <summary>Mounts the LFS on an XN volume already on <paramref name="dev"/> (XN recovery by reachability first).</summary>
    public static Result<LfsFileSystem> MountDevice(IBlockDevice dev, out string? error, LfsMountOptions? options = null, bool ownsDevice = false,
        string rootName = LfsFileSystem.DefaultRootName, int? pageFrames = null, bool readOnly = false)
    {
        var kernel = pageFrames is { } n ? new ExoKernel(new KernelOptions { PageFrames = n }) : new ExoKernel();
        var vol = XnVolume.Load(dev, kernel, LoadOptions(readOnly));
        if (!vol.Ok) { error = $"XN load: {vol}"; return Errno.EUCLEAN; }
        var env = kernel.CreateEnvironment("lfs");
        var cap = vol.Value.GrantRoot(rootName, env);
        if (!cap.Ok)
        {
            vol.Value.Dispose();
            if (ownsDevice) dev.Dispose();
            error = $"granting root '{rootName}': {cap}";
            return cap.Error == XnError.UnknownRoot ? Errno.ENOENT : Errno.EACCES;
        }
        var fs = LfsFileSystem.Mount(vol.Value.Attach(env), cap.Value, out error, rootName, options);
        return Finish(fs, vol.Value, dev, ownsDevice);
    }

    public static XnOptions LoadOptions(bool readOnly = false) => new() { Recovery = XnRecovery.Scan, ReadOnly = readOnly };

    /// <summary>Creates image file <paramref name="path"/> of <paramref name="bytes"/> holding a new LFS.</summary>
    public static Result<LfsFileSystem> Create(string path, ulong bytes, out string? error, LfsFormatOptions? options = null, bool overwrite = false)
    {
        ImageFileDevice dev;
        try { dev = ImageFileDevice.Create(path, bytes / IBlockDevice.BlockSize, overwrite); }
        catch (IOException e) { error = e.Message; return Errno.EIO; }
        catch (UnauthorizedAccessException e) { error = e.Message; return Errno.EACCES; }
        return FormatDevice(dev, out error, options, ownsDevice: true);
    }

    /// <summary>Opens image file <paramref name="path"/> and mounts its LFS.</summary>
    public static Result<LfsFileSystem> Open(string path, out string? error, LfsMountOptions? options = null, bool readOnly = false,
        string rootName = LfsFileSystem.DefaultRootName)
    {
        ImageFileDevice dev;
        try { dev = ImageFileDevice.Open(path, readOnly ? ImageOpenMode.ReadOnly : ImageOpenMode.ReadWrite); }
        catch (ImageBusyException e) { error = e.Message; return Errno.EBUSY; }
        catch (IOException e) { error = e.Message; return Errno.EIO; }
        catch (UnauthorizedAccessException e) { error = e.Message; return Errno.EACCES; }
        return MountDevice(dev, out error, options, ownsDevice: true, rootName, ImagePageFrames, readOnly);
    }

    private static Result<LfsFileSystem> Finish(Result<LfsFileSystem> fs, XnVolume vol, IBlockDevice dev, bool ownsDevice)
    {
        if (!fs.Ok)
        {
            vol.Dispose();
            if (ownsDevice) dev.Dispose();
            return fs;
        }
        // This harness is the LFS's host: closing the file system closes the volume, then the device.
        fs.Value.OnClosed = () => { vol.Dispose(); if (ownsDevice) dev.Dispose(); };
        return fs;
    }
}
