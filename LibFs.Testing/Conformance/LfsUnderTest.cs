using System.Runtime.CompilerServices;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Lfs;

namespace ExoFS.LibFs.Testing.Conformance;

/// <summary>
/// The LFS as the conformance suite runs it: formatted on a fresh memory device (512 MiB with 1 MiB segments,
/// or 8 MiB with 256 KiB segments for the ENOSPC cases) under the real XN; remount disposes (checkpoint,
/// clean unmount) and mounts the same device; fsck is the LFS checker (after a checkpoint).
/// </summary>
public static class LfsUnderTest
{
    private static readonly ConditionalWeakTable<IFileSystem, IBlockDevice> Devices = new();

    public static readonly LibFsUnderTest Entry = new(
        "lfs",
        () => Create(512UL << 20, new LfsFormatOptions()),
        fs => LfsFsck.Check((LfsFileSystem)fs).Problems)
    {
        Remount = Remount,
        CreateSmall = () => Create(8UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 }),
    };

    private static IFileSystem Create(ulong bytes, LfsFormatOptions options)
    {
        var dev = new MemoryDevice(bytes / IBlockDevice.BlockSize);
        var fs = LfsImage.FormatDevice(dev, out string? error, options);
        if (!fs.Ok) throw new InvalidOperationException($"lfs format failed: {error}");
        Devices.Add(fs.Value, dev);
        return fs.Value;
    }

    private static IFileSystem Remount(IFileSystem old)
    {
        if (!Devices.TryGetValue(old, out var dev)) throw new InvalidOperationException("not an LFS made by LfsUnderTest");
        old.Dispose();
        var fs = LfsImage.MountDevice(dev, out string? error);
        if (!fs.Ok) throw new InvalidOperationException($"lfs remount failed: {error}");
        Devices.Add(fs.Value, dev);
        return fs.Value;
    }
}
