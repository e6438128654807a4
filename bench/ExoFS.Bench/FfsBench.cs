using ExoFS.LibFs.Testing;
using System.Diagnostics;
using System.Globalization;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs;

namespace ExoFS.Bench;

/// <summary>
/// FFS in process (no FUSE): the LFS paper's small-file test (create N files of 1 KB, read them, delete
/// them) and a large sequential write and read-back. Each phase ends with a sync and the file system is
/// remounted between phases, so reads start from a cold cache. Figures: wall-clock ops/s and MB/s, and
/// the service time the same request stream would take on the modeled HP 97560 disk and on the modeled
/// SSD (the device is wrapped in two <see cref="TimedDevice"/>s).
/// </summary>
public sealed class FfsBench : IBenchmark
{
    public string Name => "ffs";
    public string Help => "FFS: create/read/delete 10,000 1 KB files, 256 MiB sequential write+read [--files N] [--seq-mib M] [--read-kib K (sequential read call size, default 1024)] [--readahead-kib K (FFS read-ahead past a sequential read, default 1024; 0 off)] [--image PATH] [--data-checksums] [--resident (a memory device's blocks written once before the run, so its memory is resident: the phases then measure the file system, not the OS's first touch of the device's memory)]";

    public int Run(string[] args)
    {
        int files = 10_000, fileBytes = 1024, seqMiB = 256, readKiB = 1024, readAheadKiB = -1;
        string? image = null;
        bool dataChecksums = false, resident = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data-checksums": dataChecksums = true; break;
                case "--resident": resident = true; break;
                case "--files" when i + 1 < args.Length: files = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seq-mib" when i + 1 < args.Length: seqMiB = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--image" when i + 1 < args.Length: image = args[++i]; break;
                case "--read-kib" when i + 1 < args.Length: readKiB = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--readahead-kib" when i + 1 < args.Length: readAheadKiB = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"ffs bench: unknown argument '{args[i]}'"); return 2;
            }
        }
        ulong blocks = (ulong)Math.Max(1024, seqMiB * 2 + 256) * 256; // twice the sequential file, plus room
        IBlockDevice raw = image is null ? new MemoryDevice(blocks) : ImageFileDevice.Create(image, blocks, overwrite: true);
        using var _ = raw;
        if (resident && raw is MemoryDevice)
        {
            // Every block written once (zeros, as an unwritten block reads): later writes overwrite the device's slots in place.
            var zeros = new byte[MemoryDevice.MaxSlabBlocks * IBlockDevice.BlockSize];
            for (ulong b = 0; b < blocks; b += MemoryDevice.MaxSlabBlocks)
                raw.Write(new BlockNo(b), zeros.AsSpan(0, (int)Math.Min((ulong)MemoryDevice.MaxSlabBlocks, blocks - b) * IBlockDevice.BlockSize));
        }
        var clock = new DeviceClock(raw);
        var hdd = new TimedDevice(clock, new HddModel());
        var ssd = new TimedDevice(hdd, new SsdModel(blocks));
        string? error;
        var fsr = dataChecksums
            ? ExoFS.Host.ExoHost.FormatSolo(ssd, new ExoFS.Host.RootRequest("ffs", "ffs", new Dictionary<string, string> { ["data-checksums"] = "on" }),
                out error, libFses: [new FfsLibFs()]) is { Ok: true } made ? new Result<FfsFileSystem>((FfsFileSystem)made.Value) : Errno.EIO
            : HostedFfs.FormatDevice(ssd, out error);
        if (!fsr.Ok) { Console.Error.WriteLine($"ffs bench: format failed: {error}"); return 1; }
        if (readKiB < 4 || readKiB % 4 != 0 || (1024 * seqMiB) % readKiB != 0 || (readAheadKiB != -1 && readAheadKiB % 4 != 0) || readAheadKiB < -1)
        {
            Console.Error.WriteLine("ffs bench: --read-kib takes a multiple of 4 that divides the sequential file, --readahead-kib a multiple of 4 (0: off)");
            return 2;
        }
        var fs = fsr.Value;
        void Tune(FfsFileSystem f) { if (readAheadKiB >= 0) f.ReadAheadBlocks = readAheadKiB / 4; }
        Tune(fs);
        Console.WriteLine($"FFS on {(image ?? "a memory device")}, {blocks / 256} MiB; {files} files of {fileBytes} B; {seqMiB} MiB sequential, read {readKiB} KiB at a time, read-ahead {fs.ReadAheadBlocks * 4} KiB{(dataChecksums ? "; data checksums" : "")}{(resident && raw is MemoryDevice ? "; device memory resident" : "")}");
        Console.WriteLine($"{"phase",-18} {"ops",8} {"wall s",8} {"ops/s",10} {"MB/s",8} {"HDD s",9} {"SSD s",9} {"B/op",9} {"HDD %media",11} {"HDD %sust",10} {"dev s",7} {"MB/s net",9} {"cpu s",7} {"MB/cpu-s",9}");
        Console.WriteLine($"(HDD %media: the phase's bytes over its modeled HDD time, as a share of the media rate, {HddModel.MediaBytesPerSecond / 1e6:F3} MB/s; "
            + $"%sust: of the rate net of track and cylinder skew, {HddModel.SustainedBytesPerSecond / 1e6:F3} MB/s, the most a streaming transfer reaches; "
            + "dev s: wall time inside the device itself (a fresh memory device's first write of a block takes its memory from the OS); MB/s net: the phase's bytes over its wall time less dev s; cpu s: the process's CPU time in the phase (all threads, GC included), MB/cpu-s the bytes per CPU second: the rate with a core to itself, on a loaded machine)");

        void Phase(string name, long ops, long bytes, Action body)
        {
            var (h0, s0) = (hdd.ModeledTime, ssd.ModeledTime);
            var d0 = clock.Elapsed;
            var c0 = Process.GetCurrentProcess().TotalProcessorTime;
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            body();
            Check(fs.Sync(), "sync");
            sw.Stop();
            double wall = sw.Elapsed.TotalSeconds;
            long allocated = GC.GetAllocatedBytesForCurrentThread() - a0;
            double dev = (clock.Elapsed - d0).TotalSeconds;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - c0).TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-18} {ops,8} {wall,8:F3} {ops / wall,10:F0} {bytes / wall / 1e6,8:F1} {(hdd.ModeledTime - h0).TotalSeconds,9:F2} {(ssd.ModeledTime - s0).TotalSeconds,9:F2} {allocated / ops,9} {Share(HddModel.MediaBytesPerSecond),10:F1}% {Share(HddModel.SustainedBytesPerSecond),9:F1}% {dev,7:F3} {bytes / (wall - dev) / 1e6,9:F1} {cpu,7:F3} {bytes / cpu / 1e6,9:F1}"));
            double Share(double rate) => 100 * bytes / ((hdd.ModeledTime - h0).TotalSeconds * rate);
        }

        void Remount()
        {
            fs.Dispose();
            var again = HostedFfs.MountDevice(ssd, out string? why);
            if (!again.Ok) throw new InvalidOperationException($"remount failed: {why}");
            fs = again.Value;
            Tune(fs);
        }

        var dir = fs.MkDir(InodeNo.Root, "small", 0x1ED, Caller.Root).Value.Ino;
        var data = new byte[fileBytes];
        new Random(1).NextBytes(data);
        var inos = new InodeNo[files];
        Phase("small create", files, (long)files * fileBytes, () =>
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
        var buf = new byte[fileBytes];
        Phase("small read", files, (long)files * fileBytes, () =>
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
        Phase("small delete", files, 0, () =>
        {
            for (int i = 0; i < files; i++) Check(fs.Unlink(dir, $"f{i:D5}"), "unlink");
        });
        Remount();

        long seqBytes = (long)seqMiB << 20;
        var chunk = new byte[1 << 20];
        new Random(2).NextBytes(chunk);
        var (big, bfh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.ReadWrite, Caller.Root).Value;
        Phase("seq write", seqMiB, seqBytes, () =>
        {
            for (long off = 0; off < seqBytes; off += chunk.Length)
                if (fs.Write(big.Ino, bfh, off, chunk).Value != chunk.Length) throw new InvalidOperationException("short write");
        });
        fs.Release(big.Ino, bfh);
        Remount();
        var bigIno = fs.Lookup(InodeNo.Root, "big").Value.Ino;
        var rfh = fs.Open(bigIno, OpenFlags.ReadOnly).Value;
        var readChunk = chunk.AsMemory(0, readKiB * 1024);
        Phase("seq read", seqMiB, seqBytes, () =>
        {
            for (long off = 0; off < seqBytes; off += readChunk.Length)
                if (fs.Read(bigIno, rfh, off, readChunk.Span).Value != readChunk.Length) throw new InvalidOperationException("short read");
        });
        fs.Release(bigIno, rfh);
        var report = Fsck.Check(fs);
        Console.WriteLine($"fsck: {(report.Clean ? "clean" : report.ToString())}");
        fs.Dispose();
        return report.Clean ? 0 : 1;
    }

    /// <summary>
    /// Passes every request to the device under it and adds up the wall time spent there, so a phase's figure can
    /// be read net of the device's own cost (a fresh <see cref="MemoryDevice"/> takes a block's memory from the OS
    /// at its first write: page faults that are the device's, not the file system's).
    /// </summary>
    private sealed class DeviceClock(IBlockDevice inner) : BlockDeviceBase
    {
        private long _ticks;

        /// <summary>Wall time spent inside the inner device so far.</summary>
        public TimeSpan Elapsed => Stopwatch.GetElapsedTime(0, _ticks);

        public override ulong BlockCount => inner.BlockCount;

        protected override void ReadCore(BlockNo start, Span<byte> buffer)
        {
            long t = Stopwatch.GetTimestamp();
            inner.Read(start, buffer);
            _ticks += Stopwatch.GetTimestamp() - t;
        }

        protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
        {
            long t = Stopwatch.GetTimestamp();
            inner.Write(start, data);
            _ticks += Stopwatch.GetTimestamp() - t;
        }

        protected override void FlushCore()
        {
            long t = Stopwatch.GetTimestamp();
            inner.Flush();
            _ticks += Stopwatch.GetTimestamp() - t;
        }

        protected override void BarrierCore() => inner.Barrier();
    }

    private static void Check(Errno e, string what)
    {
        if (e != Errno.OK) throw new InvalidOperationException($"{what} failed: {e}");
    }
}
