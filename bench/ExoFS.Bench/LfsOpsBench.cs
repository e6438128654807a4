using System.Diagnostics;
using System.Globalization;
using ExoFS.Host;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Lfs;
using ExoFS.LibFs.Runtime;

namespace ExoFS.Bench;

/// <summary>
/// The calls scripts/bench-fuse.sh's workloads make, in process (no FUSE), on FFS and the LFS in one run: an
/// untar (mkdir, create, getxattr, write, two setattrs, release; then syncfs), its rm -rf (lookup, unlink,
/// rmdir; syncfs), a 256 MiB write in 128 KiB pieces with fsync, and a postmark-like mix (5,000 files of
/// 500..16,384 bytes, 20,000 transactions of create-or-delete and read-or-append). Each libFS gets an image
/// file of its own (1 GiB, in --dir, default /dev/shm: RAM, as bench-fuse.sh --images tmpfs) opened as
/// <c>exofs mount</c> opens it. Prints each workload's wall time (best and worst of the rounds) and the
/// LFS / FFS ratio, then the LFS's and FFS's time per call of the last round.
/// </summary>
public sealed class LfsOpsBench : IBenchmark
{
    public string Name => "lfs-ops";
    public string Help => "LFS vs FFS in-process, bench-fuse.sh's calls: untar, rm -rf, 256 MiB write+fsync, postmark [--rounds N] [--dir D] [--only W] [--gc]";

    public int Run(string[] args)
    {
        int rounds = 3;
        string dir = System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string? only = null;
        bool verbose = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir" when i + 1 < args.Length: dir = args[++i]; break;
                case "--only" when i + 1 < args.Length: only = args[++i]; break;
                case "--gc": verbose = true; break;
                default: Console.Error.WriteLine($"lfs-ops: unknown argument '{args[i]}'"); return 2;
            }
        }
        var wall = new Dictionary<(string Fs, string Work), List<double>>();
        var calls = new Dictionary<string, Dictionary<string, (long Ticks, long Bytes, long Calls)>>();
        // Round 0 warms up (JIT, the runtime's pools) and is not counted; the order alternates round by round.
        for (int r = 0; r <= rounds; r++)
            foreach (var libFs in r % 2 == 0 ? new ILibFs[] { new FfsLibFs(), new LfsLibFs() } : [new LfsLibFs(), new FfsLibFs()])
            {
                var stats = new Dictionary<string, (long Ticks, long Bytes, long Calls)>();
                var measured = RunOne(libFs, dir, only, verbose, stats);
                if (r == 0) continue;
                foreach (var (work, seconds) in measured)
                {
                    if (!wall.TryGetValue((libFs.Name, work), out var list)) wall[(libFs.Name, work)] = list = [];
                    list.Add(seconds);
                }
                calls[libFs.Name] = stats;
            }
        Console.WriteLine($"LFS vs FFS in-process, image files in {dir}, {rounds} round(s) after a warm-up; wall seconds, best-worst of the rounds");
        Console.WriteLine($"{"workload",-10} {"FFS s",13} {"LFS s",13} {"LFS/FFS (median of rounds)",28}");
        foreach (string work in wall.Keys.Select(k => k.Work).Distinct())
        {
            var f = wall[("ffs", work)];
            var l = wall[("lfs", work)];
            var ratios = f.Zip(l, (a, b) => b / a).Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{work,-10} {f.Min(),6:F2}-{f.Max(),-6:F2} {l.Min(),6:F2}-{l.Max(),-6:F2} {ratios[ratios.Count / 2],8:F2}x ({ratios[0]:F2}-{ratios[^1]:F2})"));
        }
        foreach (var (fs, stats) in calls)
        {
            Console.WriteLine($"{fs}: time per call, last round");
            foreach (var (op, (ticks, bytes, n)) in stats.OrderByDescending(kv => kv.Value.Ticks).Take(14))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {op,-18} {n,8} {ticks * 1e6 / Stopwatch.Frequency / n,9:F2} us {ticks / (double)Stopwatch.Frequency,7:F3} s {bytes / n,9} B/call"));
        }
        return 0;
    }

    private static List<(string Work, double Seconds)> RunOne(ILibFs libFs, string dir, string? only, bool verbose,
        Dictionary<string, (long Ticks, long Bytes, long Calls)> stats)
    {
        string path = Path.Combine(dir, $"exofs-lfs-ops-{Environment.ProcessId}-{libFs.Name}.img");
        var host = ExoHost.CreateImage(path, 1UL << 30, [new RootRequest(libFs.Name, libFs.Name)], out string? error, overwrite: true, libFses: [libFs]);
        if (!host.Ok) throw new InvalidOperationException($"{libFs.Name}: mkfs failed: {error}");
        host.Value.Dispose();
        var opened = ExoHost.OpenImageSolo(path, libFs.Name, out error);
        if (!opened.Ok) throw new InvalidOperationException($"{libFs.Name}: open failed: {error}");
        var fs = opened.Value;
        var results = new List<(string, double)>();
        try
        {
            T M<T>(string op, Func<T> call)
            {
                long a0 = GC.GetAllocatedBytesForCurrentThread();
                long t0 = Stopwatch.GetTimestamp();
                var r = call();
                long t1 = Stopwatch.GetTimestamp();
                var (t, b, c) = stats.GetValueOrDefault(op);
                stats[op] = (t + t1 - t0, b + GC.GetAllocatedBytesForCurrentThread() - a0, c + 1);
                return r;
            }
            void Work(string name, Action body)
            {
                if (only is not null && only != name) return;
                int g0 = GC.CollectionCount(0), g2 = GC.CollectionCount(2);
                var pause = GC.GetTotalPauseDuration();
                var sw = Stopwatch.StartNew();
                body();
                results.Add((name, sw.Elapsed.TotalSeconds));
                if (verbose) Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {libFs.Name} {name}: {sw.Elapsed.TotalSeconds:F3} s, GC pauses {(GC.GetTotalPauseDuration() - pause).TotalSeconds:F3} s, {GC.CollectionCount(0) - g0} gen0 / {GC.CollectionCount(2) - g2} gen2 collections"));
            }
            var rng = new Random(42);
            var data = new byte[128 * 1024];
            rng.NextBytes(data);
            const int Files = 4500, PerDir = 13;
            var sizes = Enumerable.Range(0, Files).Select(_ => rng.Next(200, 2 * 12_500)).ToArray();
            Work("untar", () =>
            {
                var d = InodeNo.Root;
                for (int i = 0; i < Files; i++)
                {
                    if (i % PerDir == 0) d = M("mkdir", () => fs.MkDir(InodeNo.Root, $"d{i:D5}", 0x1ED, Caller.Root)).Value.Ino;
                    var (attr, fh) = M("create", () => fs.Create(d, $"f{i:D5}.h", 0x1A4, OpenFlags.ReadWrite, Caller.Root)).Value;
                    M("getxattr", () => fs.GetXattr(attr.Ino, "security.capability"));
                    M("write", () => fs.Write(attr.Ino, fh, 0, data.AsSpan(0, sizes[i])));
                    M("setattr", () => fs.SetAttr(attr.Ino, new SetAttrRequest { Mtime = new TimeSet(false, new Timespec(1_000_000_000, 0)) }));
                    M("setattr", () => fs.SetAttr(attr.Ino, new SetAttrRequest { Mode = 0x1A4 }));
                    M("release", () => fs.Release(attr.Ino, fh));
                    fs.Forget(attr.Ino, 1);
                }
                Check(M("syncfs", fs.Sync), "sync");
            });
            Work("rm -rf", () =>
            {
                for (int i = 0; i < Files; i++)
                {
                    string dn = $"d{i / PerDir * PerDir:D5}";
                    var d = M("lookup", () => fs.Lookup(InodeNo.Root, dn)).Value.Ino;
                    fs.Forget(d, 1);
                    Check(M("unlink", () => fs.Unlink(d, $"f{i:D5}.h")), "unlink");
                    if (i % PerDir == PerDir - 1 || i == Files - 1) Check(M("rmdir", () => fs.RmDir(InodeNo.Root, dn)), "rmdir");
                }
                Check(M("syncfs", fs.Sync), "sync");
            });
            Work("write", () =>
            {
                var (attr, fh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.WriteOnly, Caller.Root).Value;
                for (long off = 0; off < 256L << 20; off += data.Length) M("write 128K", () => fs.Write(attr.Ino, fh, off, data));
                Check(M("fsync", () => fs.Fsync(attr.Ino, fh, false)), "fsync");
                fs.Release(attr.Ino, fh);
                fs.Forget(attr.Ino, 1);
                Check(fs.Unlink(InodeNo.Root, "big"), "unlink");
            });
            Work("postmark", () => Postmark(fs, data, (op, call) => M(op, call)));
        }
        finally
        {
            fs.Dispose();
            File.Delete(path);
        }
        return results;
    }

    /// <summary>Postmark's defaults as bench-fuse.sh sets them: 5,000 files in one directory, 20,000 transactions, seed 42.</summary>
    private static void Postmark(IFileSystem fs, byte[] data, Func<string, Func<object>, object> m)
    {
        var rng = new Random(42);
        var pm = fs.MkDir(InodeNo.Root, "pm", 0x1ED, Caller.Root).Value.Ino;
        var live = new List<(string Name, InodeNo Ino, long Size)>();
        int next = 0;
        var buf = new byte[16_384];
        void Create()
        {
            string name = $"s{next++}";
            int size = rng.Next(500, 16_385);
            var (attr, fh) = ((FileAttr, FileHandle))m("create", () => fs.Create(pm, name, 0x180, OpenFlags.ReadWrite, Caller.Root).Value);
            m("write", () => fs.Write(attr.Ino, fh, 0, data.AsSpan(0, size)));
            m("release", () => fs.Release(attr.Ino, fh));
            live.Add((name, attr.Ino, size));
        }
        for (int i = 0; i < 5000; i++) Create();
        for (int t = 0; t < 20_000; t++)
        {
            if (rng.Next(2) == 0 || live.Count == 0) Create();
            else
            {
                int k = rng.Next(live.Count);
                var (name, ino, _) = live[k];
                live[k] = live[^1];
                live.RemoveAt(live.Count - 1);
                m("lookup", () => fs.Lookup(pm, name));
                fs.Forget(ino, 1);
                m("unlink", () => fs.Unlink(pm, name));
                fs.Forget(ino, 1);
            }
            if (live.Count == 0) continue;
            int j = rng.Next(live.Count);
            var f = live[j];
            var fh = (FileHandle)m("open", () => fs.Open(f.Ino, OpenFlags.ReadWrite).Value);
            if (rng.Next(2) == 0)
                for (long off = 0; off < f.Size; off += buf.Length) m("read", () => fs.Read(f.Ino, fh, off, buf));
            else
            {
                int n = rng.Next(500, 16_385);
                m("append", () => fs.Write(f.Ino, fh, f.Size, data.AsSpan(0, n)));
                live[j] = f with { Size = f.Size + n };
            }
            m("release", () => fs.Release(f.Ino, fh));
        }
        foreach (var (name, ino, _) in live) { m("unlink", () => fs.Unlink(pm, name)); fs.Forget(ino, 1); }
        Check((Errno)m("rmdir", () => fs.RmDir(InodeNo.Root, "pm")), "rmdir");
    }

    private static void Check(Errno e, string what)
    {
        if (e != Errno.OK) throw new InvalidOperationException($"{what}: {e}");
    }
}
