using System.Text;
using ExoFS.Kernel.Udf;
using FsCheck;
using FsCheck.Fluent;

namespace ExoFS.Kernel.Tests.Udf;

/// <summary>
/// Property: for random valid programs, random blocks and random partitions, the interpreter and the
/// compiled code return the same value, fault and extents. Programs come from a seeded builder that
/// emits well-formed text (straight-line arithmetic, loads inside and outside the read set, forward
/// branches, emits, bounded loops, early returns, small fuel budgets); FsCheck drives the seeds.
/// </summary>
public class UdfEquivalenceProperty
{
    private static readonly string[] Alu = ["add", "sub", "mul", "and", "or", "xor", "shl", "shr", "divu", "remu"];
    private static readonly string[] Branches = ["beq", "bne", "bltu", "bgeu", "blt", "bge"];
    private static readonly string[] Loads = ["ld8", "ld16", "ld32", "ld64"];

    /// <summary>Builds a random program text; loops use r14/r15 as counters, r13 as an address register.</summary>
    internal static string RandomProgram(int seed, int inputs = 0)
    {
        var rnd = new Random(seed);
        int partitions = rnd.Next(1, 9);
        var reads = new List<(int Off, int Len, int Stride)>();
        int nReads = rnd.Next(5) == 0 ? 0 : rnd.Next(1, 3);
        for (int i = 0; i < nReads; i++)
        {
            int len = rnd.Next(1, 600);
            int stride = rnd.Next(3) switch { 0 => 0, 1 => len, _ => rnd.Next(0, 400) };
            int maxOff = 4096 - (partitions - 1) * stride - len;
            if (maxOff < 0) { stride = 0; maxOff = 4096 - len; }
            reads.Add((rnd.Next(0, maxOff + 1), len, stride));
        }
        int types = rnd.Next(1, 4);
        int fuel = rnd.Next(3) == 0 ? rnd.Next(1, 80) : 4096;

        // Abstract instructions; "{T}" is replaced by the label of a later instruction.
        var items = new List<(string Text, int Target)>();
        int count = rnd.Next(1, 40);
        string R() => "r" + rnd.Next(0, 13);
        string Imm() => rnd.Next(4) switch
        {
            0 => rnd.Next(-3, 10).ToString(),
            1 => rnd.Next(0, 4200).ToString(),
            2 => rnd.NextInt64().ToString(),
            _ => "0x" + ((ulong)rnd.NextInt64() | (ulong)rnd.Next(2) << 63).ToString("x"),
        };
        string B() => rnd.Next(2) == 0 ? R() : Imm();
        string AddressIntoReadSet(int width)
        {
            // r13 = stride*p + off, then a load at a delta that is usually, not always, inside the range.
            var (off, len, stride) = reads[rnd.Next(reads.Count)];
            items.Add(($"li r13, {stride}", -1));
            items.Add(($"mul r13, r13, r1", -1));
            int delta = rnd.Next(5) == 0 ? rnd.Next(-8, len + 8) : rnd.Next(0, Math.Max(1, len - width + 1));
            if (rnd.Next(2) == 0)
            {
                // Hide the address from the verifier so the run-time check is exercised.
                items.Add(($"ld8 r12, [r13+{off}]", -1));
                items.Add(($"and r12, r12, 0", -1));
                items.Add(($"add r13, r13, r12", -1));
            }
            return $"[r13+{off + delta}]";
        }
        for (int i = 0; i < count; i++)
        {
            switch (rnd.Next(12))
            {
                case 0: items.Add(($"li {R()}, {Imm()}", -1)); break;
                case 1: items.Add(($"mov {R()}, {R()}", -1)); break;
                case 2 or 3: items.Add(($"{Alu[rnd.Next(Alu.Length)]} {R()}, {R()}, {B()}", -1)); break;
                case 4 or 5 when reads.Count > 0:
                {
                    string op = Loads[rnd.Next(Loads.Length)];
                    int width = UdfOps.Width(Enum.Parse<UdfOp>(op, ignoreCase: true));
                    string mem = rnd.Next(6) != 0 ? AddressIntoReadSet(width) : $"[{R()}+{rnd.Next(-16, 4200)}]";
                    items.Add(($"{op} {R()}, {mem}", -1));
                    break;
                }
                case 6: items.Add(($"{Branches[rnd.Next(Branches.Length)]} {R()}, {B()}, {{T}}", 0)); break;
                case 7 when rnd.Next(3) == 0: items.Add(("jmp {T}", 0)); break;
                case 8:
                {
                    string count2 = rnd.Next(8) == 0 ? R() : rnd.Next(10) == 0 ? "0" : rnd.Next(1, 4).ToString();
                    items.Add(($"emit {rnd.Next(types)}, {R()}, {count2}", -1));
                    break;
                }
                case 9:
                {
                    // A bounded loop; a counter of 0 or a huge one runs into the fuel limit.
                    string rc = rnd.Next(2) == 0 ? "r14" : "r15";
                    long n = rnd.Next(8) == 0 ? 0 : rnd.Next(1, 12);
                    items.Add(($"li {rc}, {n}", -1));
                    int head = items.Count;
                    int body = rnd.Next(1, 4);
                    for (int k = 0; k < body; k++)
                        items.Add(rnd.Next(3) == 0
                            ? ($"emit {rnd.Next(types)}, {R()}, 1", -1)
                            : ($"{Alu[rnd.Next(Alu.Length)]} {R()}, {R()}, {B()}", -1));
                    items.Add(($"loop {rc}, L{head}", -2));
                    break;
                }
                case 10 when rnd.Next(4) == 0: items.Add(($"ret {B()}", -1)); break;
                default: items.Add(($"add {R()}, {R()}, {B()}", -1)); break;
            }
        }
        // Fold every register into the result so that any wrong register value is observable.
        for (int r = 1; r < UdfLimits.Registers; r++)
            items.Add(($"{(r % 2 == 0 ? "xor" : "add")} r0, r0, r{r}", -1));
        items.Add(("ret r0", -1));

        var text = new StringBuilder();
        text.Append($".udf random.{seed}\n.partitions {partitions}\n.types {string.Join(' ', Enumerable.Range(0, types).Select(t => "t" + t))}\n");
        foreach (var (off, len, stride) in reads) text.Append($".read {off} {len} {stride}\n");
        if (inputs > 0) text.Append($".inputs {inputs}\n");
        text.Append($".fuel {fuel}\n");
        var resolved = items.Select((it, i) => it.Target == 0 ? it.Text.Replace("{T}", $"L{rnd.Next(i + 1, items.Count)}") : it.Text).ToList();
        for (int i = 0; i < resolved.Count; i++)
            text.Append($"L{i}:\n    {resolved[i]}\n");
        return text.ToString();
    }

    private static byte[] RandomBlock(int seed)
    {
        var rnd = new Random(seed);
        var block = new byte[4096];
        rnd.NextBytes(block);
        // Zero runs make "no pointer" branches and small addresses likely.
        for (int k = rnd.Next(0, 20); k > 0; k--)
            block.AsSpan(rnd.Next(0, 4000), rnd.Next(1, 96)).Clear();
        for (int k = rnd.Next(0, 20); k > 0; k--)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(8 * rnd.Next(0, 512)), (ulong)rnd.Next(0, 4100));
        return block;
    }

    [Fact]
    public void Generator_produces_programs_the_verifier_accepts_or_rejects_only_for_static_loads()
    {
        int accepted = 0;
        for (int seed = 0; seed < 300; seed++)
        {
            var v = UdfVerifier.Verify(RandomProgram(seed));
            if (v.Accepted) accepted++;
            else Assert.StartsWith("load outside read set", v.Reason);
        }
        Assert.True(accepted > 200, $"only {accepted} of 300 accepted");
    }

    [Fact]
    public void Interpreter_and_compiled_code_agree_on_random_programs_blocks_and_partitions()
    {
        var faults = new HashSet<UdfFault>();
        // Full-range seeds: FsCheck's default ints stay small, which would repeat the same few programs.
        var seeds = Arb.From(Gen.Choose(0, int.MaxValue - 1));
        var prop = Prop.ForAll(seeds, seeds, seeds, (programSeed, blockSeed, partitionSeed) =>
        {
            var v = UdfVerifier.Verify(RandomProgram(programSeed));
            if (!v.Accepted) return true;   // the generator occasionally writes a statically bad load
            var udf = v.Udf!;
            var block = RandomBlock(blockSeed);
            int partition = partitionSeed % 10 == 9 ? udf.Partitions : partitionSeed % udf.Partitions;
            var a = new List<UdfExtent>();
            var b = new List<UdfExtent>();
            var ra = udf.Interpret(block, partition, a);
            var rb = udf.Run(block, partition, b);
            lock (faults) faults.Add(ra.Fault);
            return ra == rb && a.SequenceEqual(b);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(1000), prop);
        // The generator must reach every kind of ending, or the property proves little.
        Assert.Superset(new HashSet<UdfFault> { UdfFault.None, UdfFault.LoadOutOfReadSet, UdfFault.OutOfFuel, UdfFault.BadExtent, UdfFault.BadPartition }, faults);
    }

    [Fact]
    public void Interpreter_and_compiled_code_agree_on_random_programs_with_caller_inputs()
    {
        // Programs that declare .inputs (as XN's acl-UDFs do for the principal): the caller's values start in
        // r2.., unknown to the verifier, so loads through them stay checked; both forms must see the same values.
        var faults = new HashSet<UdfFault>();
        var seeds = Arb.From(Gen.Choose(0, int.MaxValue - 1));
        var prop = Prop.ForAll(seeds, seeds, seeds, (programSeed, blockSeed, inputSeed) =>
        {
            var v = UdfVerifier.Verify(RandomProgram(programSeed, inputs: 1 + programSeed % UdfLimits.MaxInputs));
            if (!v.Accepted) return true;
            var udf = v.Udf!;
            var rnd = new Random(inputSeed);
            // Inputs: small (in-block addresses, uids), huge, or fewer than declared (the rest are zero).
            var inputs = Enumerable.Range(0, rnd.Next(0, UdfLimits.MaxInputs + 2))
                .Select(_ => rnd.Next(3) switch { 0 => (ulong)rnd.Next(0, 4100), 1 => (ulong)rnd.NextInt64(), _ => 0UL }).ToArray();
            var block = RandomBlock(blockSeed);
            int partition = inputSeed % udf.Partitions;
            var a = new List<UdfExtent>();
            var b = new List<UdfExtent>();
            var ra = udf.Interpret(block, partition, a, inputSeed % 7 == 0 ? null : inputs);
            var rb = udf.Run(block, partition, b, inputSeed % 7 == 0 ? null : inputs);
            lock (faults) faults.Add(ra.Fault);
            return ra == rb && a.SequenceEqual(b);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(600), prop);
        Assert.Superset(new HashSet<UdfFault> { UdfFault.None, UdfFault.LoadOutOfReadSet }, faults);
    }

    [Fact]
    public void Interpreter_and_compiled_code_agree_exhaustively_on_a_fixed_seed_range()
    {
        // Deterministic companion of the property: every partition of 400 fixed programs.
        for (int seed = 1000; seed < 1400; seed++)
        {
            var v = UdfVerifier.Verify(RandomProgram(seed));
            if (!v.Accepted) continue;
            var block = RandomBlock(seed);
            for (int p = 0; p <= v.Udf!.Partitions; p++)
            {
                var a = new List<UdfExtent>();
                var b = new List<UdfExtent>();
                Assert.Equal(v.Udf.Interpret(block, p, a), v.Udf.Run(block, p, b));
                Assert.Equal(a, b);
            }
        }
    }
}
