using ExoFS.LibFs.Testing;
using System.Diagnostics;
using System.Globalization;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs;

namespace ExoFS.Bench;

/// <summary>
/// What each libFS call of an untar / rm -rf costs in-process (no FUSE): CPU time and bytes allocated per
/// call, operation by operation, for the calls a mount makes per file (create, write, three setattrs,
/// getxattr, release; lookup, getattr; unlink) and per directory (mkdir). On a memory device, so it is the
/// libFS and XN, not I/O.
/// </summary>
public sealed class FfsOpsBench : IBenchmark
{
    public string Name => "ffs-ops";
    public string Help => "FFS per-call CPU time and allocation for untar/rm-style calls [--files N]";

    public int Run(string[] args)
    {
        int files = 20_000;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--files" && i + 1 < args.Length) files = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else { Console.Error.WriteLine($"ffs-ops: unknown argument '{args[i]}'"); return 2; }
        }
        using var dev = new MemoryDevice(262_144);
        var fsr = HostedFfs.FormatDevice(dev, out string? error);
        if (!fsr.Ok) { Console.Error.WriteLine($"ffs-ops: format failed: {error}"); return 1; }
        using var fs = fsr.Value;
        var data = new byte[12 * 1024];
        new Random(1).NextBytes(data);
        var stats = new Dictionary<string, (long Ticks, long Bytes, long Calls)>();

        T Measure<T>(string op, Func<T> call)
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            long t0 = Stopwatch.GetTimestamp();
            var r = call();
            long t1 = Stopwatch.GetTimestamp();
            long a1 = GC.GetAllocatedBytesForCurrentThread();
            var (t, b, c) = stats.GetValueOrDefault(op);
            stats[op] = (t + t1 - t0, b + a1 - a0, c + 1);
            return r;
        }

        void Round(bool record)
        {
            var dir = InodeNo.Root;
            var names = new List<(InodeNo Dir, string Name)>();
            for (int i = 0; i < files; i++)
            {
                if (i % 13 == 0)
                    dir = Measure("mkdir", () => fs.MkDir(InodeNo.Root, $"d{i:D6}", 0x1ED, Caller.Root)).Value.Ino;
                string name = $"f{i:D6}.h";
                var (attr, fh) = Measure("create", () => fs.Create(dir, name, 0x180, OpenFlags.ReadWrite, Caller.Root)).Value;
                Measure("getxattr", () => fs.GetXattr(attr.Ino, "security.capability"));
                Measure("write 12 KiB", () => fs.Write(attr.Ino, fh, 0, data));
                Measure("setattr", () => fs.SetAttr(attr.Ino, new SetAttrRequest { Mtime = new TimeSet(false, new Timespec(1_000_000_000, 0)) }));
                Measure("setattr", () => fs.SetAttr(attr.Ino, new SetAttrRequest { Uid = 0, Gid = 0 }));
                Measure("setattr", () => fs.SetAttr(attr.Ino, new SetAttrRequest { Mode = 0x1A4 }));
                Measure("release", () => fs.Release(attr.Ino, fh));
                Measure("getattr", () => fs.GetAttr(attr.Ino));
                fs.Forget(attr.Ino, 1);
                names.Add((dir, name));
            }
            foreach (var (d, n) in names)
            {
                var a = Measure("lookup", () => fs.Lookup(d, n)).Value;
                fs.Forget(a.Ino, 1);
                Measure("unlink", () => fs.Unlink(d, n));
            }
            for (int i = 0; i < files; i += 13) Measure("rmdir", () => fs.RmDir(InodeNo.Root, $"d{i:D6}"));
            if (fs.Sync() != Errno.OK) throw new InvalidOperationException("sync failed");
            if (!record) stats.Clear();
        }

        Round(record: false);   // warm-up: JIT, caches
        Round(record: true);
        Console.WriteLine($"FFS calls in-process on a memory device, {files} files of 12 KiB in directories of 13 (second round)");
        Console.WriteLine($"{"call",-14} {"calls",8} {"us/call",9} {"B/call",9}");
        foreach (var (op, (ticks, bytes, calls)) in stats.OrderByDescending(kv => kv.Value.Ticks))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{op,-14} {calls,8} {ticks * 1e6 / Stopwatch.Frequency / calls,9:F2} {bytes / calls,9}"));
        return 0;
    }
}
