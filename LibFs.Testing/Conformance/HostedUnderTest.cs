using System.Runtime.CompilerServices;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Runtime;

namespace ExoFS.LibFs.Testing.Conformance;

/// <summary>
/// Any registered libFS as the conformance suite runs it: a guest of a host on a fresh memory device (512 MiB,
/// or 8 MiB for the ENOSPC cases) under the real XN; remount closes the host (the guest unmounts, the volume is
/// marked clean) and boots a new one on the same device; fsck is the libFS's own check of the live instance
/// (<see cref="ISelfChecking"/>) plus XN's global invariants. A libFS needs nothing but its registration.
/// </summary>
public static class HostedUnderTest
{
    private static readonly ConditionalWeakTable<IFileSystem, ExoHost> Hosts = new();

    /// <summary>The conformance entry for <paramref name="libFs"/>.</summary>
    public static LibFsUnderTest For(ILibFs libFs) => new(
        libFs.Name,
        () => Create(libFs, 512UL << 20),
        fs => Fsck(libFs, fs))
    {
        Remount = old => Remount(libFs, old),
        CreateSmall = () => Create(libFs, 8UL << 20),
        SupportsFallocate = ProbeFallocate(libFs),
    };

    /// <summary>Asks a fresh small instance: does fallocate of one block of a new file answer anything but ENOTSUP?</summary>
    private static bool ProbeFallocate(ILibFs libFs)
    {
        using var fs = Create(libFs, 8UL << 20);
        var made = fs.Create(InodeNo.Root, "probe", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root);
        if (!made.Ok) return false;
        return fs.Fallocate(made.Value.Attr.Ino, made.Value.Handle, FallocateMode.Allocate, 0, 4096) != Errno.ENOTSUP;
    }

    private static IFileSystem Create(ILibFs libFs, ulong bytes)
    {
        var dev = new MemoryDevice(bytes / IBlockDevice.BlockSize);
        var host = ExoHost.Format(dev, [new RootRequest(libFs.Name, libFs.Name)], out string? error, libFses: [libFs]);
        if (!host.Ok) throw new InvalidOperationException($"{libFs.Name} format failed: {error}");
        return Attach(libFs, host.Value);
    }

    private static IFileSystem Attach(ILibFs libFs, ExoHost host)
    {
        var guest = host.Attach(libFs.Name, out string? error, libFs: libFs);
        if (!guest.Ok) throw new InvalidOperationException($"{libFs.Name} mount failed: {error}");
        Hosts.Add(guest.Value.FileSystem, host);
        return guest.Value.FileSystem;
    }

    private static IReadOnlyList<string> Fsck(ILibFs libFs, IFileSystem fs)
    {
        var problems = fs is ISelfChecking self
            ? self.CheckConsistency().ToList()
            : [$"{libFs.Name}: the file system does not implement ISelfChecking, so it cannot be checked"];
        if (Hosts.TryGetValue(fs, out var host)) problems.AddRange(host.CheckXn().Findings.Select(f => $"xn: {f}"));
        return problems;
    }

    private static IFileSystem Remount(ILibFs libFs, IFileSystem old)
    {
        if (!Hosts.TryGetValue(old, out var host)) throw new InvalidOperationException($"not a {libFs.Name} made by HostedUnderTest");
        host.Dispose();   // detaches (unmounts) the guest, then closes the volume clean
        var again = ExoHost.Load(host.Device, out string? error);
        if (!again.Ok) throw new InvalidOperationException($"{libFs.Name} remount failed: {error}");
        return Attach(libFs, again.Value);
    }
}
