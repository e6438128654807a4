using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using ExoFS.Kernel.Udf;

namespace ExoFS.Bench;

/// <summary>
/// Owns-UDF calls per second, interpreted vs compiled, on an FFS-like inode block: 16 inodes of 256 bytes,
/// each with 12 direct and 3 indirect u64 pointers, all non-zero (so every call emits 15 extents).
/// Targets: compiled at most 100 ns per call and at least 5x faster than the interpreter.
/// </summary>
public sealed class UdfBench : IBenchmark
{
    public string Name => "udf";
    public string Help => "owns-UDF ns/call, interpreted vs compiled (inode with 12 direct + 3 indirect pointers)";

    public int Run(string[] args)
    {
        var verdict = UdfVerifier.Verify(InodeOwns());
        if (!verdict.Accepted)
        {
            Console.Error.WriteLine($"udf bench: owns UDF rejected: {verdict.Reason}");
            return 1;
        }
        var udf = verdict.Udf!;
        var block = new byte[UdfLimits.BlockSize];
        for (int p = 0; p < 16; p++)
            for (int i = 0; i < 15; i++)
                BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(256 * p + 64 + 8 * i), (ulong)(1000 + 100 * p + i));

        var output = new List<UdfExtent>(UdfLimits.MaxExtentsPerRun);
        // Both engines must agree before we time them.
        var interpreted = new List<UdfExtent>();
        for (int p = 0; p < 16; p++)
        {
            output.Clear();
            interpreted.Clear();
            if (udf.Run(block, p, output) != udf.Interpret(block, p, interpreted) || !output.SequenceEqual(interpreted) || output.Count != 15)
            {
                Console.Error.WriteLine("udf bench: interpreter and compiled code disagree");
                return 1;
            }
        }

        // Time compilation on a fresh verification (the one above is already compiled and cached).
        var fresh = UdfVerifier.Verify(InodeOwns()).Udf!;
        var sw = Stopwatch.StartNew();
        _ = fresh.Run(block, 0, output);
        double compileMs = sw.Elapsed.TotalMilliseconds;

        var interp = Measure(() => { output.Clear(); udf.Interpret(block, 3, output); });
        var compiled = Measure(() => { output.Clear(); udf.Run(block, 3, output); });
        var floor = Measure(() => { output.Clear(); for (int i = 0; i < 15; i++) output.Add(new UdfExtent(0, (ulong)i + 1, 1)); });
        Console.WriteLine($"udf owns (inode: 12 direct + 3 indirect, 15 extents/call, {udf.Code.Length} instructions); first compiled call {compileMs:F2} ms");
        Console.WriteLine($"                      wall ns/call   cpu ns/call   (cpu: this thread's CPU time, robust to a busy machine)");
        Console.WriteLine($"  interpreted:        {interp.Wall,10:F1}   {interp.Cpu,10:F1}");
        Console.WriteLine($"  compiled:           {compiled.Wall,10:F1}   {compiled.Cpu,10:F1}");
        Console.WriteLine($"  floor (15 List.Add):{floor.Wall,10:F1}   {floor.Cpu,10:F1}");
        Console.WriteLine($"  speedup:            {interp.Wall / compiled.Wall,9:F1}x   {interp.Cpu / compiled.Cpu,9:F1}x   (targets: compiled <= 100 ns, speedup >= 5x)");
        bool met = compiled.Cpu <= 100 && interp.Cpu / compiled.Cpu >= 5;
        Console.WriteLine(met ? "  targets met (cpu time)" : "  targets NOT met (cpu time)");
        return 0;
    }

    /// <summary>
    /// Median of several batches after a warm-up, in ns per call: (wall clock, this thread's CPU time).
    /// The CPU-time figure stays meaningful on a machine shared with other busy processes.
    /// </summary>
    private static (double Wall, double Cpu) Measure(Action call)
    {
        for (int i = 0; i < 20_000; i++) call();            // warm-up: JIT tiering
        const int batch = 50_000;
        var wall = new List<double>();
        var cpu = new List<double>();
        for (int round = 0; round < 9; round++)
        {
            long c0 = ThreadCpu.Nanoseconds();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < batch; i++) call();
            wall.Add(sw.Elapsed.TotalNanoseconds / batch);
            cpu.Add((ThreadCpu.Nanoseconds() - c0) / (double)batch);
        }
        wall.Sort();
        cpu.Sort();
        return (wall[wall.Count / 2], cpu[cpu.Count / 2]);
    }

    private static string InodeOwns()
    {
        var s = new StringBuilder();
        s.Append(".udf ffs.inode.owns\n.partitions 16\n.types ffs.data ffs.ind1 ffs.ind2 ffs.ind3\n.read 64 120 256\n.fuel 64\n");
        s.Append("    li   r2, 256\n    mul  r2, r1, r2\n");
        for (int i = 0; i < 15; i++)
            s.Append($"    ld64 r3, [r2+{64 + 8 * i}]\n    beq  r3, 0, p{i}\n    emit {(i < 12 ? 0 : i - 11)}, r3, 1\np{i}:\n");
        s.Append("    ret  0\n");
        return s.ToString();
    }
}
