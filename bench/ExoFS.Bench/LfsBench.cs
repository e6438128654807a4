using System.Diagnostics;
using System.Globalization;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Lfs;
using ExoFS.LibFs.Runtime;

namespace ExoFS.Bench;

/// <summary>
/// LFS against FFS in one run, in process (no FUSE), with the <c>ffs</c> benchmark's workloads: the LFS
/// paper's small-file test (create N files of 1 KB, read them, delete them; one sync at the end of each
/// phase, a remount before the reads) and a large sequential write and read-back. Each file system gets its
/// own memory device wrapped in the HP 97560 model and, behind it, the SSD model (both see the same request
/// stream). Figures per phase: modeled ops/s on each disk, and on the HDD the share of its media rate the
/// phase used, counting device bytes written or read ("% of bandwidth") and workload bytes ("% media, data").
/// Modeled figures are a function of the request stream, so they repeat exactly; wall time is noise.
/// </summary>
public sealed class LfsBench : IBenchmark
{
    public string Name => "lfs";
    public string Help => "LFS vs FFS: create/read/delete 10,000 1 KB files, 256 MiB sequential write+read, HDD and SSD models [--files N] [--seq-mib M] [--rounds R] [--trace PHASE]";

    private static double MediaRate => HddModel.MediaBytesPerSecond;

    private sealed record Row(string Fs, string Phase, long Ops, long WorkloadBytes, double HddSeconds, double SsdSeconds,
        long DeviceBytes, double WallSeconds);

    public int Run(string[] args)
    {
        int files = 10_000, seqMiB = 256, rounds = 1;
        string? trace = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--files" when i + 1 < args.Length: files = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seq-mib" when i + 1 < args.Length: seqMiB = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--trace" when i + 1 < args.Length: trace = args[++i]; break;
                default: Console.Error.WriteLine($"lfs bench: unknown argument '{args[i]}'"); return 2;
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"LFS vs FFS in one run: {files} files of 1 KB, {seqMiB} MiB sequential; HP 97560 media rate {MediaRate / 1e6:F3} MB/s (net of track and cylinder skew, what streaming reaches at most: {HddModel.SustainedBytesPerSecond / 1e6:F3} MB/s); {rounds} round(s)"));
        var all = new List<Row>();
        for (int r = 0; r < rounds; r++)
            foreach (var libFs in new ILibFs[] { new FfsLibFs(), new LfsLibFs() })
                all.AddRange(RunOne(libFs, files, seqMiB, trace));

        Console.WriteLine($"{"fs",-4} {"phase",-13} {"ops",7} {"HDD s",8} {"HDD ops/s",10} {"SSD ops/s",10} {"% bandwidth",12} {"% media, data",14} {"% sust, data",13} {"wall s",14}");
        foreach (var g in all.GroupBy(x => (x.Fs, x.Phase)))
        {
            var x = g.First();
            double wallMin = g.Min(y => y.WallSeconds), wallMax = g.Max(y => y.WallSeconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{x.Fs,-4} {x.Phase,-13} {x.Ops,7} {x.HddSeconds,8:F2} {x.Ops / x.HddSeconds,10:F0} {x.Ops / x.SsdSeconds,10:F0} " +
                $"{100 * x.DeviceBytes / (x.HddSeconds * MediaRate),11:F1}% {100 * x.WorkloadBytes / (x.HddSeconds * MediaRate),13:F1}% {100 * x.WorkloadBytes / (x.HddSeconds * HddModel.SustainedBytesPerSecond),12:F1}% {wallMin,6:F2}-{wallMax,-6:F2}"));
        }
        Console.WriteLine("LFS / FFS (modeled ops/s):");
        foreach (var phase in all.Select(x => x.Phase).Distinct())
        {
            var f = all.First(x => x.Fs == "ffs" && x.Phase == phase);
            var l = all.First(x => x.Fs == "lfs" && x.Phase == phase);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {phase,-13} HDD {f.HddSeconds / l.HddSeconds,6:F2}x   SSD {f.SsdSeconds / l.SsdSeconds,6:F2}x"));
        }
        return 0;
    }

    private static List<Row> RunOne(ILibFs libFs, int files, int seqMiB, string? trace)
    {
        const int fileBytes = 1024;
        ulong blocks = (ulong)Math.Max(1024, seqMiB * 2 + 256) * 256;
        using var raw = new MemoryDevice(blocks);
        var model = new HddModel();
        var hdd = new TimedDevice(raw, model);
        var tracer = new TraceDevice(hdd, model);
        var ssd = new TimedDevice(tracer, new SsdModel(blocks));
        var rows = new List<Row>();
        var formatted = ExoHost.FormatSolo(ssd, new RootRequest(libFs.Name, libFs.Name), out string? error, libFses: [libFs]);
        if (!formatted.Ok) throw new InvalidOperationException($"{libFs.Name}: format failed: {error}");
        var fs = formatted.Value;

        void Phase(string name, long ops, long bytes, bool reads, Action body)
        {
            var (h0, s0, io0) = (hdd.ModeledTime, ssd.ModeledTime, hdd.Stats.Snapshot());
            tracer.On = trace == name;
            var sw = Stopwatch.StartNew();
            body();
            Check(fs.Sync(), "sync");
            sw.Stop();
            if (tracer.On) tracer.Report($"{libFs.Name} {name}");
            tracer.On = false;
            var io = hdd.Stats.Snapshot() - io0;
            rows.Add(new Row(libFs.Name, name, ops, bytes, (hdd.ModeledTime - h0).TotalSeconds, (ssd.ModeledTime - s0).TotalSeconds,
                reads ? io.BytesRead : io.BytesWritten, sw.Elapsed.TotalSeconds));
        }

        void Remount()
        {
            fs.Dispose();
            var again = ExoHost.LoadSolo(ssd, libFs.Name, out string? why, libFs: libFs);
            if (!again.Ok) throw new InvalidOperationException($"{libFs.Name}: remount failed: {why}");
            fs = again.Value;
        }

        var dir = fs.MkDir(InodeNo.Root, "small", 0x1ED, Caller.Root).Value.Ino;
        Check(fs.Sync(), "sync");
        var data = new byte[fileBytes];
        new Random(1).NextBytes(data);
        Phase("small create", files, (long)files * fileBytes, reads: false, () =>
        {
            for (int i = 0; i < files; i++)
            {
                var (attr, fh) = fs.Create(dir, $"f{i:D5}", 0x1A4, OpenFlags.WriteOnly, Caller.Root).Value;
                Check(fs.Write(attr.Ino, fh, 0, data).Error, "write");
                fs.Release(attr.Ino, fh);
                fs.Forget(attr.Ino, 1);
            }
        });
        Remount();
        dir = fs.Lookup(InodeNo.Root, "small").Value.Ino;
        var buf = new byte[fileBytes];
        Phase("small read", files, (long)files * fileBytes, reads: true, () =>
        {
            for (int i = 0; i < files; i++)
            {
                var attr = fs.Lookup(dir, $"f{i:D5}").Value;
                var fh = fs.Open(attr.Ino, OpenFlags.ReadOnly).Value;
                if (fs.Read(attr.Ino, fh, 0, buf).Value != fileBytes) throw new InvalidOperationException("short read");
                fs.Release(attr.Ino, fh);
                fs.Forget(attr.Ino, 1);
            }
        });
        Phase("small delete", files, 0, reads: false, () =>
        {
            for (int i = 0; i < files; i++) Check(fs.Unlink(dir, $"f{i:D5}"), "unlink");
        });
        Remount();

        long seqBytes = (long)seqMiB << 20;
        var chunk = new byte[1 << 20];
        new Random(2).NextBytes(chunk);
        var (big, bfh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.ReadWrite, Caller.Root).Value;
        Phase("seq write", seqMiB, seqBytes, reads: false, () =>
        {
            for (long off = 0; off < seqBytes; off += chunk.Length)
                if (fs.Write(big.Ino, bfh, off, chunk).Value != chunk.Length) throw new InvalidOperationException("short write");
        });
        fs.Release(big.Ino, bfh);
        fs.Forget(big.Ino, 1);
        Remount();
        var bigIno = fs.Lookup(InodeNo.Root, "big").Value.Ino;
        var rfh = fs.Open(bigIno, OpenFlags.ReadOnly).Value;
        Phase("seq read", seqMiB, seqBytes, reads: true, () =>
        {
            for (long off = 0; off < seqBytes; off += chunk.Length)
                if (fs.Read(bigIno, rfh, off, chunk).Value != chunk.Length) throw new InvalidOperationException("short read");
        });
        fs.Release(bigIno, rfh);
        if (fs is ISelfChecking checking && checking.CheckConsistency() is { Count: > 0 } problems)
            throw new InvalidOperationException($"{libFs.Name}: check after the run: {string.Join("; ", problems.Take(3))}");
        fs.Dispose();
        return rows;
    }

    private static void Check(Errno e, string what)
    {
        if (e != Errno.OK) throw new InvalidOperationException($"{what} failed: {e}");
    }
}

/// <summary>
/// Between the SSD model and the HDD model: with <see cref="On"/>, records each request the HDD serves with the
/// model's breakdown (controller, seek, rotation, transfer), for <c>--trace PHASE</c>: where a phase's modeled
/// time goes, by request size, and the first requests in order.
/// </summary>
internal sealed class TraceDevice(IBlockDevice inner, HddModel model) : BlockDeviceBase
{
    private readonly List<(char Kind, ulong Start, int Blocks, HddServiceBreakdown B)> _log = new();
    public bool On { get; set; }
    public override ulong BlockCount => inner.BlockCount;

    protected override void ReadCore(BlockNo start, Span<byte> buffer)
    {
        inner.Read(start, buffer);
        if (On) _log.Add(('R', start.Value, buffer.Length / IBlockDevice.BlockSize, model.Last));
    }

    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        inner.Write(start, data);
        if (On) _log.Add(('W', start.Value, data.Length / IBlockDevice.BlockSize, model.Last));
    }

    protected override void FlushCore()
    {
        inner.Flush();
        if (On) _log.Add(('F', 0, 0, model.Last));
    }

    protected override void BarrierCore() => inner.Barrier();

    public void Report(string what)
    {
        var inv = CultureInfo.InvariantCulture;
        double total = _log.Sum(x => x.B.TotalMs);
        Console.WriteLine(string.Create(inv, $"trace {what}: {_log.Count} requests, {total / 1000:F2} s modeled: controller {_log.Sum(x => x.B.ControllerMs) / total:P1}, seek {_log.Sum(x => x.B.SeekMs) / total:P1}, rotation {_log.Sum(x => x.B.RotationMs) / total:P1}, transfer {_log.Sum(x => x.B.TransferMs) / total:P1}"));
        foreach (var g in _log.GroupBy(x => (x.Kind, Size: x.Blocks switch { 0 => "0", 1 => "1", <= 8 => "2-8", <= 64 => "9-64", <= 128 => "65-128", <= 256 => "129-256", _ => ">256" }))
                     .OrderBy(g => g.Key.Kind).ThenBy(g => g.Min(x => x.Blocks)))
            Console.WriteLine(string.Create(inv, $"  {g.Key.Kind} {g.Key.Size,8} blocks: {g.Count(),6} requests, {g.Sum(x => (long)x.Blocks),8} blocks, {g.Sum(x => x.B.TotalMs) / 1000,7:F2} s (seek {g.Sum(x => x.B.SeekMs) / 1000:F2}, rotation {g.Sum(x => x.B.RotationMs) / 1000:F2})"));
        foreach (var x in _log.Count <= 120 ? _log : _log.Take(60).Concat(_log.Skip(_log.Count - 60)))
            Console.WriteLine(string.Create(inv, $"    {x.Kind} {x.Start,8} +{x.Blocks,-4} seek {x.B.SeekMs,6:F2} rot {x.B.RotationMs,6:F2} xfer {x.B.TransferMs,7:F2}"));
        _log.Clear();
    }
}
