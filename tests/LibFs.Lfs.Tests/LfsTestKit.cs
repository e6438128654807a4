using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Lfs;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>Makes LFS instances on memory devices and remounts them.</summary>
internal static class LfsTestKit
{
    public static (LfsFileSystem Fs, MemoryDevice Dev) Fresh(ulong bytes = 64UL << 20, LfsFormatOptions? options = null, LfsMountOptions? mount = null)
    {
        var dev = new MemoryDevice(bytes / IBlockDevice.BlockSize);
        var fs = LfsImage.FormatDevice(dev, out string? error, options, mount: mount);
        Assert.True(fs.Ok, $"format: {error}");
        return (fs.Value, dev);
    }

    public static LfsFileSystem Mount(MemoryDevice dev, LfsMountOptions? options = null)
    {
        var fs = LfsImage.MountDevice(dev, out string? error, options);
        Assert.True(fs.Ok, $"mount: {fs.Error} {error}");
        return fs.Value;
    }

    public static void AssertClean(LfsFileSystem fs)
    {
        var r = LfsFsck.Check(fs);
        Assert.True(r.Clean, "fsck:\n  " + string.Join("\n  ", r.Problems));
    }
}
