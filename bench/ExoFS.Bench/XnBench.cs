using System.Buffers.Binary;
using System.Diagnostics;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.Bench;

/// <summary>
/// The cost of XN's protection checks on a metadata-heavy sequence over an FFS-shaped layout: a root
/// inode table owns inode blocks (32 inodes, one owns partition each: 12 direct pointers + 1 indirect),
/// indirect blocks own data blocks. Each round fills every inode of a few inode blocks with 12 direct
/// and 20 indirect data blocks (raw-updating the inode's size field and a data byte after each alloc),
/// then frees them all, syncing every few hundred operations. The same sequence runs with XN's checks on
/// (owns before/after, diff, acl) and off (the benchmark-only switch), on two memory-device volumes, round
/// by round in alternating order, so the figure is XN's CPU cost, not I/O, and machine noise hits both
/// sides alike. Options: --rounds N (rounds per pair-set, default 16), --pairs M (default 9): N×M round
/// pairs after a warm-up of 3×N rounds per side.
/// </summary>
public sealed class XnBench : IBenchmark
{
    public string Name => "xn";
    public string Help => "XN protection-check overhead on alloc/free/raw-write metadata work (--rounds N --pairs M)";

    private const string TableOwns = """
        .udf bench.itable.owns
        .partitions 8
        .types bench.inode
        .read 0 512 512
        .fuel 1024
          li   r2, 512
          mul  r2, r1, r2
          li   r3, 64
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;

    private const string InodeOwns = """
        .udf bench.inode.owns
        .partitions 32
        .types xn.data bench.indirect
        .read 16 104 128
        .fuel 512
          li   r2, 128
          mul  r2, r1, r2
          add  r2, r2, 16
          li   r3, 12
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ld64 r4, [r2+0]
          beq  r4, 0, done
          emit 1, r4, 1
        done:
          ret  0
        """;

    // 512 pointers in 64 partitions of 8 (one cache line each): an update re-runs only the 8 pointers of
    // its partition. Finer partitions make each check cheaper; the libFS chooses.
    private const int PointersPerPartition = 8;
    private const string IndirectOwns = """
        .udf bench.indirect.owns
        .partitions 64
        .types xn.data
        .read 0 64 64
        .fuel 128
          li   r2, 64
          mul  r2, r1, r2
          li   r3, 8
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;

    private const int InodeBlocks = 4, Direct = 12, ViaIndirect = 20, SyncEvery = 512;

    public int Run(string[] args)
    {
        int rounds = 16, pairs = 9;
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--rounds" && int.TryParse(args[i + 1], out var r) && r > 0) rounds = r;
            if (args[i] == "--pairs" && int.TryParse(args[i + 1], out var p) && p > 0) pairs = p;
        }

        // One workload with checks on and one with them off, each on its own volume, run round by round
        // in alternating order (on-off, off-on, ...): a round is a few ms, so machine noise (this VM
        // shares its cores; other processes, steal time) hits the two sides of a pair alike, and the
        // median over many pairs discards the pairs a burst of noise hit. The figure is this thread's
        // CPU time (it counts the ephemeral GCs the workload triggers, which run on this thread, but not
        // the JIT's background compilation); wall time is printed too. Warm-up first: the JIT's tiers
        // settle only after the whole sequence has run a few times.
        var on = new Workload(checks: true);
        var off = new Workload(checks: false);
        for (int i = 0; i < 3 * rounds; i++) { on.Round(); off.Round(); }
        on.ResetCounters();
        off.ResetCounters();
        GC.Collect();
        int n = pairs * rounds;
        var shares = new List<double>(n);
        double onCpu = 0, offCpu = 0, onWall = 0, offWall = 0;
        for (int i = 0; i < n; i++)
        {
            var (a, aw) = i % 2 == 0 ? Timed(on) : default;
            var (b, bw) = Timed(off);
            if (i % 2 == 1) (a, aw) = Timed(on);
            onCpu += a; offCpu += b; onWall += aw; offWall += bw;
            shares.Add((a - b) / a * 100);
        }
        on.Finish();
        off.Finish();
        shares.Sort();
        double Q(double q) => shares[(int)Math.Round(q * (shares.Count - 1))];
        long ops = on.Ops, changes = on.Allocs + on.Frees;
        Console.WriteLine($"xn: {n} rounds per side, {ops / n} operations per round ({on.Allocs / n} alloc, {on.Frees / n} free, raw writes, FindFree, sync),");
        Console.WriteLine($"    checks on / off interleaved round by round; thread CPU time");
        Console.WriteLine($"  checks on : {onCpu * 1000,7:F1} ms  {onCpu * 1e6 / ops,5:F3} us/op   (wall {onWall * 1000:F1} ms, {on.Bytes / ops} B allocated/op)");
        Console.WriteLine($"  checks off: {offCpu * 1000,7:F1} ms  {offCpu * 1e6 / ops,5:F3} us/op   (wall {offWall * 1000:F1} ms, {off.Bytes / ops} B allocated/op)");
        Console.WriteLine($"  per alloc/free: {(onCpu - offCpu) * 1e6 / changes:F3} us of checks (totals)");
        Console.WriteLine($"  protection checks: {Q(0.5):F1}% of operation time (median of {n} round pairs; quartiles {Q(0.25):F1}%..{Q(0.75):F1}%; totals {(onCpu - offCpu) / onCpu * 100:F1}%; target <= 15%)");
        return 0;
    }

    private static (double Cpu, double Wall) Timed(Workload w)
    {
        long wall0 = Stopwatch.GetTimestamp();
        long cpu0 = ThreadCpu.Nanoseconds();
        w.Round();
        long cpu = ThreadCpu.Nanoseconds() - cpu0;
        return (cpu * 1e-9, Stopwatch.GetElapsedTime(wall0).TotalSeconds);
    }

    /// <summary>One volume and its benchmark state; <see cref="Round"/> runs the sequence once over every inode.</summary>
    private sealed class Workload
    {
        private readonly XnVolume _vol;
        private readonly XnSession _s;
        private readonly TypeId _indirect;
        private readonly List<BlockNo> _inodeBlocks = new();
        private readonly byte[] _size = new byte[8];
        private readonly byte[] _dataByte = new byte[16];
        private readonly ulong[] _blocks = new ulong[Direct + ViaIndirect];

        public long Ops, Allocs, Frees, Bytes;

        public Workload(bool checks)
        {
            var kernel = new ExoKernel();
            var dev = new MemoryDevice(16384);
            _vol = XnVolume.Format(dev, kernel).Value;
            _vol.ChecksEnabled = checks;
            _s = _vol.Attach(kernel.CreateEnvironment("bench"));
            _indirect = _s.RegisterType(new TypeSpec("bench.indirect", IndirectOwns, [], [])).Value;
            var raw = Enumerable.Range(0, 32).SelectMany(i => new[] { new ByteRange(128 * i, 16), new ByteRange(128 * i + 120, 8) }).ToList();
            var inode = _s.RegisterType(new TypeSpec("bench.inode", InodeOwns, raw, raw)).Value;
            var table = _s.RegisterType(new TypeSpec("bench.itable", TableOwns, [], [])).Value;
            var root = _s.InstallRoot("bench", table).Value.Block;
            for (int i = 0; i < InodeBlocks; i++)
            {
                var b = _s.FindFree(root, 1).Value;
                Ok(_s.Alloc(root, 0, [Ptr(8 * i, b.Value)], inode, new Extent(b, 1)));
                _inodeBlocks.Add(b);
            }
            Ok(_s.Sync());
        }

        public void ResetCounters()
        {
            Ops = Allocs = Frees = Bytes = 0;
        }

        /// <summary>Fills every inode with 12 direct and 20 indirect data blocks, then truncates it to zero; syncs.</summary>
        public void Round()
        {
            var s = _s;
            var size = _size;
            var dataByte = _dataByte;
            var blocks = _blocks;
            long bytes0 = GC.GetAllocatedBytesForCurrentThread();
            foreach (var ib in _inodeBlocks)
            {
                for (int ino = 0; ino < 32; ino++)
                {
                    int baseOff = 128 * ino + 16;
                    var hint = ib;
                    for (int k = 0; k < Direct; k++)
                    {
                        var d = s.FindFree(hint, 1).Value;
                        Ok(s.Alloc(ib, ino, [Ptr(baseOff + 8 * k, d.Value)], XnTypes.Data, new Extent(d, 1)));
                        BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)(k + 1) * 4096);
                        Ok(s.WriteRaw(ib, 128 * ino, size));
                        Ok(s.WriteRaw(d, 0, dataByte));
                        blocks[k] = d.Value;
                        hint = d;
                        Ops += 4;
                        Allocs++;
                    }
                    var ind = s.FindFree(hint, 1).Value;
                    Ok(s.Alloc(ib, ino, [Ptr(baseOff + 8 * Direct, ind.Value)], _indirect, new Extent(ind, 1)));
                    Ops += 2;
                    Allocs++;
                    for (int k = 0; k < ViaIndirect; k++)
                    {
                        var d = s.FindFree(ind, 1).Value;
                        Ok(s.Alloc(ind, k / PointersPerPartition, [Ptr(8 * k, d.Value)], XnTypes.Data, new Extent(d, 1)));
                        Ok(s.WriteRaw(ib, 128 * ino, size));
                        Ok(s.WriteRaw(d, 0, dataByte));
                        blocks[Direct + k] = d.Value;
                        Ops += 4;
                        Allocs++;
                    }
                    if (Ops % SyncEvery < 4 * (Direct + ViaIndirect)) { Ok(s.Sync()); Ops++; }
                    // Truncate to zero: data under the indirect block, the indirect block, the directs.
                    for (int k = 0; k < ViaIndirect; k++)
                    {
                        Ok(s.Free(ind, k / PointersPerPartition, [Ptr(8 * k, 0)], new Extent(new BlockNo(blocks[Direct + k]), 1)));
                        Ops++;
                        Frees++;
                    }
                    Ok(s.Free(ib, ino, [Ptr(baseOff + 8 * Direct, 0)], new Extent(ind, 1)));
                    Frees++;
                    for (int k = 0; k < Direct; k++)
                    {
                        Ok(s.Free(ib, ino, [Ptr(baseOff + 8 * k, 0)], new Extent(new BlockNo(blocks[k]), 1)));
                        Ok(s.WriteRaw(ib, 128 * ino, size));
                        Ops += 2;
                        Frees++;
                    }
                }
            }
            Ok(s.Sync());
            Ops++;
            Bytes += GC.GetAllocatedBytesForCurrentThread() - bytes0;
        }

        /// <summary>Checks the volume is still consistent (the benchmark must not measure a broken sequence) and drops it.</summary>
        public void Finish()
        {
            if (!_vol.Check().Clean) throw new InvalidOperationException("benchmark left XN inconsistent");
            _vol.Dispose();
        }
    }

    private static Edit Ptr(int offset, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return new Edit(offset, b);
    }

    private static void Ok(XnResult r)
    {
        if (!r.Ok) throw new InvalidOperationException($"benchmark operation refused: {r}");
    }

    private static void Ok<T>(XnResult<T> r) => Ok(r.Status);
}
