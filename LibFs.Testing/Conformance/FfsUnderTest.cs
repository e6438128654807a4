using System.Runtime.CompilerServices;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;

namespace ExoFS.LibFs.Testing.Conformance;

/// <summary>
/// FFS as the conformance suite runs it: a guest of a host on a fresh memory device (512 MiB, or 8 MiB for
/// the ENOSPC cases) under the real XN; remount detaches the guest, closes the host (sync, clean unmount)
/// and boots a new host on the same device; fsck is the FFS checker plus XN's global check.
/// </summary>
public static class FfsUnderTest
{
    private static readonly ConditionalWeakTable<IFileSystem, ExoHost> Hosts = new();

    public static readonly LibFsUnderTest Entry = new(
        "ffs",
        () => Create(512UL << 20),
        fs => Fsck.Check((FfsFileSystem)fs).Problems.Concat(XnProblems(fs)).ToList())
    {
        Remount = Remount,
        CreateSmall = () => Create(8UL << 20),
    };

    private static IFileSystem Create(ulong bytes)
    {
        var dev = new MemoryDevice(bytes / IBlockDevice.BlockSize);
        var host = ExoHost.Format(dev, [new RootRequest("ffs", FfsFileSystem.DefaultRootName)], out string? error);
        if (!host.Ok) throw new InvalidOperationException($"ffs format failed: {error}");
        return Attach(host.Value);
    }

    private static IFileSystem Attach(ExoHost host)
    {
        var guest = host.Attach(FfsFileSystem.DefaultRootName, out string? error);
        if (!guest.Ok) throw new InvalidOperationException($"ffs mount failed: {error}");
        Hosts.Add(guest.Value.FileSystem, host);
        return guest.Value.FileSystem;
    }

    private static IEnumerable<string> XnProblems(IFileSystem fs) =>
        Hosts.TryGetValue(fs, out var host) ? host.CheckXn().Findings.Select(f => $"xn: {f}") : [];

    private static IFileSystem Remount(IFileSystem old)
    {
        if (!Hosts.TryGetValue(old, out var host)) throw new InvalidOperationException("not an FFS made by FfsUnderTest");
        host.Dispose();   // detaches (unmounts) the guest, then closes the volume clean
        var again = ExoHost.Load(host.Device, out string? error);
        if (!again.Ok) throw new InvalidOperationException($"ffs remount failed: {error}");
        return Attach(again.Value);
    }
}
