using System.Runtime.CompilerServices;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;

namespace ExoFS.LibFs.Testing.Conformance;

/// <summary>
/// FFS as the conformance suite runs it: formatted on a fresh memory device (512 MiB, or 8 MiB for the
/// ENOSPC cases) under the real XN; remount disposes (sync, clean unmount) and mounts the same device; fsck
/// is the FFS checker plus XN's global check.
/// </summary>
public static class FfsUnderTest
{
    private static readonly ConditionalWeakTable<IFileSystem, IBlockDevice> Devices = new();

    public static readonly LibFsUnderTest Entry = new(
        "ffs",
        () => Create(512UL << 20),
        fs => Fsck.Check((FfsFileSystem)fs).Problems)
    {
        Remount = Remount,
        CreateSmall = () => Create(8UL << 20),
    };

    private static IFileSystem Create(ulong bytes)
    {
        var dev = new MemoryDevice(bytes / IBlockDevice.BlockSize);
        var fs = FfsImage.FormatDevice(dev, out string? error);
        if (!fs.Ok) throw new InvalidOperationException($"ffs format failed: {error}");
        Devices.Add(fs.Value, dev);
        return fs.Value;
    }

    private static IFileSystem Remount(IFileSystem old)
    {
        if (!Devices.TryGetValue(old, out var dev)) throw new InvalidOperationException("not an FFS made by FfsUnderTest");
        old.Dispose();
        var fs = FfsImage.MountDevice(dev, out string? error);
        if (!fs.Ok) throw new InvalidOperationException($"ffs remount failed: {error}");
        Devices.Add(fs.Value, dev);
        return fs.Value;
    }
}
