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
/// (owns before/after, diff, acl) and off (the benchmark-only switch), on a memory device so the figure
/// is XN's CPU cost, not I/O.
/// </summary>
public sealed class XnBench : IBenchmark
{
    public string Name => "xn";
    public string Help => "XN protection-check overhead on alloc/free/raw-write metadata work (--rounds N)";

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
        int rounds = 16;
        for (int i = 0; i < args.Length; i++)
            if (args[i] == "--rounds" && i + 1 < args.Length && int.TryParse(args[i + 1], out var r) && r > 0) rounds = r;

        // Warm up both paths (JIT tiers, compiled UDFs), then alternate so machine noise hits both alike.
        // The machine is shared, so the figure is process CPU time (time spent waiting for a core does
        // not count); wall time is printed too.
        Measure(checks: true, 2);
        Measure(checks: false, 2);
        var on = new List<Sample>();
        var off = new List<Sample>();
        var shares = new List<double>();
        for (int i = 0; i < 9; i++)
        {
            // Pairs run back to back (order alternating) see the same machine load, so each pair's ratio
            // is a fair estimate; the median over pairs is the figure.
            var a = i % 2 == 0 ? Measure(checks: true, rounds) : null;
            var b = Measure(checks: false, rounds);
            a ??= Measure(checks: true, rounds);
            on.Add(a);
            off.Add(b);
            shares.Add((a.Cpu - b.Cpu) / a.Cpu * 100);
        }
        shares.Sort();
        double median = shares[shares.Count / 2];
        var bestOn = on.MinBy(x => x.Cpu)!;
        var bestOff = off.MinBy(x => x.Cpu)!;
        double usOn = bestOn.Cpu * 1e6 / bestOn.Ops, usOff = bestOff.Cpu * 1e6 / bestOff.Ops;
        Console.WriteLine($"xn: {bestOn.Ops} operations per run ({bestOn.Allocs} alloc, {bestOn.Frees} free, raw writes, FindFree, sync), 9 on/off pairs, CPU time");
        Console.WriteLine($"  checks on : best {bestOn.Cpu * 1000,7:F1} ms  {usOn,5:F2} us/op   (wall {on.Min(x => x.Wall) * 1000:F1} ms, {bestOn.Bytes / bestOn.Ops} B allocated/op)");
        Console.WriteLine($"  checks off: best {bestOff.Cpu * 1000,7:F1} ms  {usOff,5:F2} us/op   (wall {off.Min(x => x.Wall) * 1000:F1} ms, {bestOff.Bytes / bestOff.Ops} B allocated/op)");
        Console.WriteLine($"  per alloc/free (best runs): {(bestOn.Cpu - bestOff.Cpu) * 1e6 / (bestOn.Allocs + bestOn.Frees):F2} us of checks");
        Console.WriteLine($"  protection checks: {median:F1}% of operation time (median of pairs; best runs {(usOn - usOff) / usOn * 100:F1}%; target <= 15%)");
        return 0;
    }

    private sealed record Sample(double Cpu, double Wall, long Ops, long Allocs, long Frees, long Bytes);

    private static Sample Measure(bool checks, int rounds)
    {
        var kernel = new ExoKernel();
        var dev = new MemoryDevice(16384);
        var vol = XnVolume.Format(dev, kernel).Value;
        vol.ChecksEnabled = checks;
        var s = vol.Attach(kernel.CreateEnvironment("bench"));
        var indirect = s.RegisterType(new TypeSpec("bench.indirect", IndirectOwns, [], [])).Value;
        var raw = Enumerable.Range(0, 32).SelectMany(i => new[] { new ByteRange(128 * i, 16), new ByteRange(128 * i + 120, 8) }).ToList();
        var inode = s.RegisterType(new TypeSpec("bench.inode", InodeOwns, raw, raw)).Value;
        var table = s.RegisterType(new TypeSpec("bench.itable", TableOwns, [], [])).Value;
        var root = s.InstallRoot("bench", table).Value.Block;

        var inodeBlocks = new List<BlockNo>();
        for (int i = 0; i < InodeBlocks; i++)
        {
            var b = s.FindFree(root, 1).Value;
            Ok(s.Alloc(root, 0, [Ptr(8 * i, b.Value)], inode, new Extent(b, 1)));
            inodeBlocks.Add(b);
        }
        Ok(s.Sync());

        long ops = 0, allocs = 0, frees = 0;
        GC.Collect();
        long bytes0 = GC.GetAllocatedBytesForCurrentThread();
        var proc = Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var size = new byte[8];
        var dataByte = new byte[16];
        var blocks = new ulong[Direct + ViaIndirect];
        for (int round = 0; round < rounds; round++)
        {
            foreach (var ib in inodeBlocks)
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
                        ops += 4;
                        allocs++;
                    }
                    var ind = s.FindFree(hint, 1).Value;
                    Ok(s.Alloc(ib, ino, [Ptr(baseOff + 8 * Direct, ind.Value)], indirect, new Extent(ind, 1)));
                    ops += 2;
                    allocs++;
                    for (int k = 0; k < ViaIndirect; k++)
                    {
                        var d = s.FindFree(ind, 1).Value;
                        Ok(s.Alloc(ind, k / PointersPerPartition, [Ptr(8 * k, d.Value)], XnTypes.Data, new Extent(d, 1)));
                        Ok(s.WriteRaw(ib, 128 * ino, size));
                        Ok(s.WriteRaw(d, 0, dataByte));
                        blocks[Direct + k] = d.Value;
                        ops += 4;
                        allocs++;
                    }
                    if (ops % SyncEvery < 4 * (Direct + ViaIndirect)) { Ok(s.Sync()); ops++; }
                    // Truncate to zero: data under the indirect block, the indirect block, the directs.
                    for (int k = 0; k < ViaIndirect; k++)
                    {
                        Ok(s.Free(ind, k / PointersPerPartition, [Ptr(8 * k, 0)], new Extent(new BlockNo(blocks[Direct + k]), 1)));
                        ops++;
                        frees++;
                    }
                    Ok(s.Free(ib, ino, [Ptr(baseOff + 8 * Direct, 0)], new Extent(ind, 1)));
                    frees++;
                    for (int k = 0; k < Direct; k++)
                    {
                        Ok(s.Free(ib, ino, [Ptr(baseOff + 8 * k, 0)], new Extent(new BlockNo(blocks[k]), 1)));
                        Ok(s.WriteRaw(ib, 128 * ino, size));
                        ops += 2;
                        frees++;
                    }
                }
            }
            Ok(s.Sync());
            ops++;
        }
        sw.Stop();
        proc.Refresh();
        var cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - bytes0;
        if (!vol.Check().Clean) throw new InvalidOperationException("benchmark left XN inconsistent");
        vol.Dispose();
        return new Sample(cpu, sw.Elapsed.TotalSeconds, ops, allocs, frees, allocated);
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
