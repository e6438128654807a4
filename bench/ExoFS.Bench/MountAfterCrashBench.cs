using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ExoFS.Host;
using Guest = ExoFS.Host.Guest;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs;
using ExoFS.Xn;

namespace ExoFS.Bench;

/// <summary>
/// Mount time after a crash, with XN's recovery from its in-flight record (the default) and with the scan of
/// every root. An image file (sparse) holding N files under two FFS roots is built once and cached; each round
/// opens it, creates files of one block without syncing, then runs a sync on a device that "loses power"
/// after the in-flight record and the free map reach the disk and before any metadata does, and drops
/// the process's handles without a clean shutdown. Then it times the mount: ExoHost.Load (XN load and
/// recovery) and, separately, attaching the FFS roots (FFS's own recovery: deferred by default, or its walk). The page cache holding
/// the image is dropped before each timing (posix_fadvise DONTNEED after fsync), so reads come from the disk.
/// </summary>
public sealed class MountAfterCrashBench : IBenchmark
{
    public string Name => "mount-after-crash";
    public string Help => "mount time after a crash: record+defer, record+walk, scan+walk [--files N] [--size GiB] [--rounds R] [--in-flight K] [--image PATH] [--warm]";

    public int Run(string[] args)
    {
        int files = 1_000_000, rounds = 3, inFlight = 2_000;
        ulong gib = 16;
        string? image = null;
        bool warm = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--files": files = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--size": gib = ulong.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--in-flight": inFlight = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--image": image = Next(); break;
                case "--warm": warm = true; break;
                default: Console.Error.WriteLine($"mount-after-crash: unknown argument '{args[i]}'"); return 2;
            }
        }
        image ??= Path.Combine(Path.GetTempPath(), "exofs-bench", $"mount-after-crash-{files}f-{gib}g.img");
        if (!File.Exists(image) && !Build(image, files, gib)) return 1;

        Console.WriteLine($"mount after a crash: {image} ({gib} GiB sparse, {files} files under two FFS roots); " +
            $"{inFlight} creates of 4 KiB files in flight at the crash; page cache {(warm ? "warm" : "dropped")} before each mount");
        // The mount a user gets (XN from its record, FFS's walk deferred), FFS walking at mount, and the scan of old.
        var configs = new (XnRecovery Xn, FfsRecovery Ffs)[]
        {
            (XnRecovery.InFlightRecord, FfsRecovery.Defer), (XnRecovery.InFlightRecord, FfsRecovery.Walk), (XnRecovery.Scan, FfsRecovery.Walk),
        };
        var results = configs.ToDictionary(c => c, _ => new List<(double Xn, double Ffs, string Actions)>());
        for (int r = 0; r < rounds; r++)
            foreach (var config in configs)
            {
                if (!Crash(image, inFlight, r, out string? why)) { Console.Error.WriteLine($"mount-after-crash: crash run: {why}"); return 1; }
                if (!warm) DropCache(image);
                var m = Mount(image, config.Xn, config.Ffs, out why);
                if (m is null) { Console.Error.WriteLine($"mount-after-crash: mount ({Label(config)}): {why}"); return 1; }
                results[config].Add(m.Value);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {r} {Label(config),-12} xn load+recovery {m.Value.Xn * 1000,9:F1} ms   ffs attach {m.Value.Ffs * 1000,9:F1} ms   " +
                    $"mount {(m.Value.Xn + m.Value.Ffs) * 1000,9:F1} ms   ({m.Value.Actions})"));
            }
        List<double> Total((XnRecovery, FfsRecovery) c) => results[c].Select(x => x.Xn + x.Ffs).ToList();
        string Range(List<double> l) => string.Create(CultureInfo.InvariantCulture, $"{l.Min() * 1000:F1}..{l.Max() * 1000:F1} ms");
        string Ratio(List<double> slow, List<double> fast)
        {
            var q = Enumerable.Range(0, rounds).Select(i => slow[i] / fast[i]).ToList();
            return string.Create(CultureInfo.InvariantCulture, $"{q.Min():F0}x..{q.Max():F0}x");
        }
        var fast = Total(configs[0]);
        var walk = Total(configs[1]);
        var scan = Total(configs[2]);
        var rec = results[configs[0]].Concat(results[configs[1]]).Select(x => x.Xn).ToList();
        var xnScan = results[configs[2]].Select(x => x.Xn).ToList();
        Console.WriteLine($"xn recovery: record {Range(rec)}, scan {Range(xnScan)}");
        Console.WriteLine($"whole mount (xn + both ffs attaches): record+defer {Range(fast)}, record+walk {Range(walk)}, scan+walk {Range(scan)}");
        Console.WriteLine($"per round: record+walk / record+defer {Ratio(walk, fast)}, scan+walk / record+defer {Ratio(scan, fast)}");
        return 0;
    }

    private static string Label((XnRecovery Xn, FfsRecovery Ffs) c) =>
        (c.Xn == XnRecovery.InFlightRecord ? "record" : "scan") + "+" + (c.Ffs == FfsRecovery.Defer ? "defer" : "walk");

    /// <summary>
    /// Formats a sparse image with two FFS roots (one FFS root holds at most 983,040 inodes: one per 16 KiB of a
    /// 15 GiB root) and fills them with <paramref name="files"/> empty files in directories of 1000, half each.
    /// </summary>
    private static bool Build(string image, int files, ulong gib)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(image)!);
        string tmp = image + ".building";
        var sw = Stopwatch.StartNew();
        Console.WriteLine($"building {image}: {files} files (once; cached)");
        var host = ExoHost.CreateImage(tmp, gib << 30, Roots.Select(r => new RootRequest("ffs", r)).ToList(), out string? error,
            overwrite: true, libFses: [new FfsLibFs()]);
        if (!host.Ok) { Console.Error.WriteLine($"mount-after-crash: mkfs: {error}"); return false; }
        using (var h = host.Value)
        {
            var guests = new List<Guest>();
            foreach (string root in Roots)
            {
                var guest = h.Attach(root, out error);
                if (!guest.Ok) { Console.Error.WriteLine($"mount-after-crash: attach {root}: {error}"); return false; }
                guests.Add(guest.Value);
            }
            var dir = InodeNo.Root;
            IFileSystem fs = guests[0].FileSystem;
            for (int i = 0; i < files; i++)
            {
                if (i % 1000 == 0)
                {
                    fs = guests[i / 1000 % guests.Count].FileSystem;
                    var d = fs.MkDir(InodeNo.Root, $"d{i / 1000:D5}", 0x1ED, Caller.Root);
                    if (!d.Ok) { Console.Error.WriteLine($"mount-after-crash: mkdir: {d.Error}"); return false; }
                    dir = d.Value.Ino;
                }
                var c = fs.Create(dir, $"f{i:D7}", 0x1A4, OpenFlags.ReadWrite, Caller.Root);
                if (!c.Ok) { Console.Error.WriteLine($"mount-after-crash: create file {i}: {c.Error}"); return false; }
                fs.Release(c.Value.Attr.Ino, c.Value.Handle);
                fs.Forget(c.Value.Attr.Ino, 1);
                if ((i + 1) % 50_000 == 0)
                {
                    foreach (var g in guests)
                        if (g.FileSystem.Sync() != Errno.OK) { Console.Error.WriteLine("mount-after-crash: sync failed"); return false; }
                    Console.WriteLine($"  {i + 1} files, {sw.Elapsed.TotalSeconds:F0} s");
                }
            }
            foreach (var g in guests)
            {
                if (g.FileSystem.Sync() != Errno.OK) { Console.Error.WriteLine("mount-after-crash: sync failed"); return false; }
                g.Dispose();
            }
        }
        File.Move(tmp, image, overwrite: true);
        Console.WriteLine($"built in {sw.Elapsed.TotalSeconds:F0} s");
        return true;
    }

    private static readonly string[] Roots = [FfsFileSystem.DefaultRootName, "ffs2"];

    /// <summary>
    /// Opens the image, leaves <paramref name="creates"/> new files in flight, and crashes in the middle of a sync
    /// (at its second barrier: record and free map on disk, no metadata).
    /// </summary>
    private static bool Crash(string image, int creates, int round, out string? why)
    {
        var file = ImageFileDevice.Open(image);
        var dev = new PowerCutDevice(file);
        var host = ExoHost.Load(dev, out why, new HostOptions { PageFrames = ExoHost.ImagePageFrames });
        if (!host.Ok) { file.Dispose(); return false; }
        // A crashed host is simply abandoned: nothing of it runs again, the device is closed under it.
        var guest = host.Value.Attach(FfsFileSystem.DefaultRootName, out why);
        if (!guest.Ok) { file.Dispose(); return false; }
        var fs = guest.Value.FileSystem;
        var dir = fs.MkDir(InodeNo.Root, $"crash{round}-{Environment.TickCount64}", 0x1ED, Caller.Root);
        if (!dir.Ok) { why = $"mkdir: {dir.Error}"; file.Dispose(); return false; }
        var block = new byte[4096];
        for (int i = 0; i < creates; i++)
        {
            var c = fs.Create(dir.Value.Ino, $"n{i:D6}", 0x1A4, OpenFlags.ReadWrite, Caller.Root);
            if (!c.Ok) { why = $"create: {c.Error}"; file.Dispose(); return false; }
            fs.Write(c.Value.Attr.Ino, c.Value.Handle, 0, block);
            fs.Release(c.Value.Attr.Ino, c.Value.Handle);
            fs.Forget(c.Value.Attr.Ino, 1);
        }
        dev.Armed = true;
        fs.Sync();   // the power goes at its second barrier
        why = null;
        bool cut = dev.Cut;
        file.Flush();
        file.Dispose();
        if (!cut) why = "the sync never reached a barrier";
        return cut;
    }

    /// <summary>
    /// Times the mount: ExoHost.OpenImage (XN's load and recovery), then attaching both FFS roots as a mount does
    /// (FFS's own recovery: its walk, or the deferral), with <c>ffs-recovery=</c> <paramref name="ffs"/>.
    /// </summary>
    private static (double Xn, double Ffs, string Actions)? Mount(string image, XnRecovery mode, FfsRecovery ffs, out string? why)
    {
        var t0 = Stopwatch.GetTimestamp();
        var host = ExoHost.OpenImage(image, out why, new HostOptions { Recovery = mode });
        var t1 = Stopwatch.GetTimestamp();
        if (!host.Ok) return null;
        using var h = host.Value;
        var options = new Dictionary<string, string> { [FfsLibFs.RecoveryOption] = ffs == FfsRecovery.Walk ? "walk" : "defer" };
        foreach (string root in Roots)
        {
            var guest = h.Attach(root, out why, options: options);
            if (!guest.Ok) return null;
            guest.Value.Dispose();
        }
        var t2 = Stopwatch.GetTimestamp();
        string actions = string.Join("; ", h.Recovery.Actions.Where(a => a.StartsWith("xn:", StringComparison.Ordinal)));
        int ffsLines = h.Recovery.Actions.Count(a => !a.StartsWith("xn:", StringComparison.Ordinal));
        actions += string.Create(CultureInfo.InvariantCulture, $"; ffs: {ffsLines} line(s), {h.LeaksPending.Count} root(s) with leaks pending");
        return (Stopwatch.GetElapsedTime(t0, t1).TotalSeconds, Stopwatch.GetElapsedTime(t1, t2).TotalSeconds, actions);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int posix_fadvise(int fd, long offset, long len, int advice);

    /// <summary>Drops the image's pages from the page cache (written back first), so the mount reads the disk.</summary>
    private static void DropCache(string image)
    {
        using var f = new FileStream(image, System.IO.FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        f.Flush(flushToDisk: true);
        const int DontNeed = 4;
        posix_fadvise((int)f.SafeFileHandle.DangerousGetHandle(), 0, 0, DontNeed);
    }

    /// <summary>A device whose power goes at its second barrier once armed: from then on every write and flush is lost.</summary>
    private sealed class PowerCutDevice(IBlockDevice inner) : BlockDeviceBase
    {
        private int _armedBarriers;
        public bool Armed { get; set; }
        public bool Cut { get; private set; }
        public override ulong BlockCount => inner.BlockCount;
        protected override void ReadCore(BlockNo start, Span<byte> buffer) => inner.Read(start, buffer);
        protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data) { if (!Cut) inner.Write(start, data); }
        protected override void FlushCore() { if (!Cut) inner.Flush(); }
        protected override void BarrierCore()
        {
            if (Cut) return;
            inner.Barrier();
            // The first barrier of the sync follows the in-flight record, the second the free map: cut there.
            if (Armed && ++_armedBarriers == 2) Cut = true;
        }
    }
}
