using ExoFS.Kernel.Udf;
using static ExoFS.Kernel.Tests.Udf.UdfTestKit;

namespace ExoFS.Kernel.Tests.Udf;

/// <summary>One test per instruction (or family), run through both the interpreter and compiled code.</summary>
public class UdfSemanticsTests
{
    [Fact]
    public void Registers_start_zero_except_r1_which_holds_the_partition()
    {
        var udf = Accept(".udf t\n.partitions 4\n add r0, r0, r2\n add r0, r0, r15\n add r0, r0, r1\n ret r0\n");
        Assert.Equal(3, RunBoth(udf, new byte[4096], 3).Result.Value);
        Assert.Equal(0, RunBoth(udf, new byte[4096], 0).Result.Value);
    }

    [Fact]
    public void Declared_inputs_start_in_r2_onward_and_are_zero_where_the_caller_passes_none()
    {
        var udf = Accept(".udf t\n.inputs 3\n mul r0, r2, 1000000\n mul r3, r3, 1000\n add r0, r0, r3\n add r0, r0, r4\n add r0, r0, r5\n ret r0\n");
        Assert.Equal(3, udf.Inputs);
        foreach (var (inputs, expected) in new (ulong[]?, long)[] { ([7, 8, 9], 7_008_009), ([7, 8, 9, 100], 7_008_009), ([7], 7_000_000), (null, 0) })
        {
            Assert.Equal(expected, udf.Interpret(new byte[4096], 0, [], inputs).Value);
            Assert.Equal(expected, udf.Run(new byte[4096], 0, [], inputs).Value);
        }
        // A program without .inputs ignores what a caller passes: its registers start at zero as always.
        var plain = Accept(".udf t\n add r0, r2, r3\n ret r0\n");
        Assert.Equal(0, plain.Run(new byte[4096], 0, [], [5, 6]).Value);
        Assert.Equal(0, plain.Interpret(new byte[4096], 0, [], [5, 6]).Value);
    }

    [Fact]
    public void A_load_through_an_input_is_checked_at_run_time_not_proven_as_if_it_were_zero()
    {
        // Without .inputs, r2 is the constant 0 and the load is proven in range; with .inputs it is unknown, so
        // an input pointing outside the read set must fault in both forms (it may not read past the block).
        var udf = Accept(".udf t\n.inputs 1\n.read 0 16\n ld64 r0, [r2+0]\n ret r0\n");
        var block = new byte[4096];
        PutU64(block, 8, 77);
        Assert.Equal(77, udf.Run(block, 0, [], [8]).Value);
        Assert.Equal(77, udf.Interpret(block, 0, [], [8]).Value);
        foreach (ulong bad in new ulong[] { 16, 4096, 1UL << 40, ulong.MaxValue - 3 })
        {
            Assert.Equal(UdfFault.LoadOutOfReadSet, udf.Run(block, 0, [], [bad]).Fault);
            Assert.Equal(UdfFault.LoadOutOfReadSet, udf.Interpret(block, 0, [], [bad]).Fault);
        }
    }

    [Theory]
    [InlineData("li r2, -5\n ret r2", -5)]
    [InlineData("li r2, 0xFFFFFFFFFFFFFFFF\n ret r2", -1)]
    [InlineData("li r2, 0x7fffffffffffffff\n ret r2", long.MaxValue)]
    [InlineData("li r2, -9223372036854775808\n ret r2", long.MinValue)]
    [InlineData("li r2, 7\n mov r3, r2\n ret r3", 7)]
    [InlineData("li r2, 0x7fffffffffffffff\n add r2, r2, 1\n ret r2", long.MinValue)]
    [InlineData("li r2, 3\n sub r2, r2, 5\n ret r2", -2)]
    [InlineData("li r2, 3\n li r3, 5\n sub r2, r2, r3\n ret r2", -2)]
    [InlineData("li r2, 0x100000001\n mul r2, r2, 0x100000001\n ret r2", 0x200000001)]
    [InlineData("li r2, 12\n and r2, r2, 10\n ret r2", 8)]
    [InlineData("li r2, 12\n or r2, r2, 3\n ret r2", 15)]
    [InlineData("li r2, 12\n xor r2, r2, 10\n ret r2", 6)]
    [InlineData("li r2, 1\n shl r2, r2, 65\n ret r2", 2)]
    [InlineData("li r2, 1\n li r3, 64\n shl r2, r2, r3\n ret r2", 1)]
    [InlineData("li r2, -1\n shr r2, r2, 60\n ret r2", 15)]
    [InlineData("li r2, -1\n li r3, 124\n shr r2, r2, r3\n ret r2", 15)]
    [InlineData("li r2, -1\n divu r2, r2, 2\n ret r2", long.MaxValue)]
    [InlineData("li r2, 17\n divu r2, r2, 0\n ret r2", 0)]
    [InlineData("li r2, 17\n li r3, 0\n divu r2, r2, r3\n ret r2", 0)]
    [InlineData("li r2, 17\n li r3, 5\n divu r2, r2, r3\n ret r2", 3)]
    [InlineData("li r2, 17\n remu r2, r2, 5\n ret r2", 2)]
    [InlineData("li r2, 17\n remu r2, r2, 0\n ret r2", 0)]
    [InlineData("li r2, 17\n li r3, 0\n remu r2, r2, r3\n ret r2", 0)]
    [InlineData("li r2, -7\n li r3, 4\n remu r2, r2, r3\n ret r2", 1)]
    [InlineData("ret 42", 42)]
    [InlineData("ret -1", -1)]
    public void Arithmetic_wraps_at_64_bits_and_divides_by_zero_to_zero(string body, long expected) =>
        Assert.Equal(expected, Value(body));

    [Fact]
    public void Loads_are_little_endian_and_unsigned()
    {
        var block = new byte[4096];
        for (int i = 0; i < 8; i++) block[100 + i] = (byte)(0xF1 + i);
        Assert.Equal(0xF1, Value("li r2, 100\n ld8 r3, [r2+0]\n ret r3", block));
        Assert.Equal(0xF2F1, Value("li r2, 100\n ld16 r3, [r2]\n ret r3", block));
        Assert.Equal(0xF4F3F2F1L, Value("li r2, 104\n ld32 r3, [r2-4]\n ret r3", block));
        Assert.Equal(unchecked((long)0xF8F7F6F5F4F3F2F1UL), Value("ld64 r3, [r0+100]\n ret r3", block));
        Assert.Equal(0xF3F2, Value("li r2, 0\n ld16 r3, [r2+101]\n ret r3", block)); // unaligned
    }

    [Theory]
    [InlineData("beq", 5, 5, true)] [InlineData("beq", 5, 6, false)]
    [InlineData("bne", 5, 6, true)] [InlineData("bne", 5, 5, false)]
    [InlineData("bltu", 1, -1, true)] [InlineData("bltu", -1, 1, false)]
    [InlineData("bgeu", -1, 1, true)] [InlineData("bgeu", 1, -1, false)]
    [InlineData("blt", -1, 1, true)] [InlineData("blt", 1, -1, false)]
    [InlineData("bge", 1, -1, true)] [InlineData("bge", -1, 1, false)] [InlineData("bge", 3, 3, true)]
    public void Branches_compare_signed_or_unsigned_as_named(string op, long a, long b, bool taken)
    {
        Assert.Equal(taken ? 1 : 0, Value($"li r2, {a}\n li r3, {b}\n {op} r2, r3, yes\n ret 0\nyes:\n ret 1"));
        Assert.Equal(taken ? 1 : 0, Value($"li r2, {a}\n {op} r2, {b}, yes\n ret 0\nyes:\n ret 1"));
    }

    [Fact]
    public void Jmp_skips_forward() => Assert.Equal(2, Value("jmp over\n ret 1\nover: ret 2"));

    [Fact]
    public void Loop_decrements_then_jumps_back_while_nonzero()
    {
        Assert.Equal(10, Value("li r3, 5\nagain:\n add r2, r2, 2\n loop r3, again\n ret r2"));
        // rc = 1 runs the body once: decrement to 0 falls through.
        Assert.Equal(2, Value("li r3, 1\nagain:\n add r2, r2, 2\n loop r3, again\n ret r2"));
    }

    [Fact]
    public void Loop_from_zero_runs_until_fuel_is_exhausted()
    {
        var r = Eval("again:\n add r2, r2, 1\n loop r3, again\n ret r2");
        Assert.Equal(new UdfResult(UdfFault.OutOfFuel, 0), r);
    }

    [Fact]
    public void Fuel_counts_every_executed_instruction_including_ret()
    {
        // 1 li + 3 * (add, loop) + ret = 8 instructions.
        string body = "li r3, 3\nagain:\n add r2, r2, 1\n loop r3, again\n ret r2";
        Assert.Equal(3, RunBoth(Accept(Wrap(body, ".fuel 8")), new byte[4096]).Result.Value);
        Assert.Equal(UdfFault.OutOfFuel, RunBoth(Accept(Wrap(body, ".fuel 7")), new byte[4096]).Result.Fault);
    }

    [Fact]
    public void Out_of_fuel_wins_over_a_later_fault_in_the_same_block()
    {
        // The emit with count 0 would fault as the 3rd instruction; with fuel 2 the run stops first.
        string body = "li r2, 9\n li r3, 0\n emit 0, r2, r3\n ret 0";
        Assert.Equal(UdfFault.OutOfFuel, RunBoth(Accept(Wrap(body, ".types t\n.fuel 2")), new byte[4096]).Result.Fault);
        Assert.Equal(UdfFault.BadExtent, RunBoth(Accept(Wrap(body, ".types t\n.fuel 3")), new byte[4096]).Result.Fault);
    }

    [Fact]
    public void Emit_appends_extents_in_order_with_type_index()
    {
        var udf = Accept(Wrap("li r2, 100\n emit 1, r2, 3\n li r3, 2\n emit 0, r2, r3\n ret 0"));
        var (r, ext) = RunBoth(udf, new byte[4096]);
        Assert.True(r.Ok);
        Assert.Equal([new UdfExtent(1, 100, 3), new UdfExtent(0, 100, 2)], ext);
    }

    [Fact]
    public void Emit_of_count_zero_is_BadExtent_and_keeps_earlier_extents()
    {
        var (r, ext) = RunBoth(Accept(Wrap("emit 0, r1, 1\n emit 0, r1, 0\n ret 0")), new byte[4096]);
        Assert.Equal(new UdfResult(UdfFault.BadExtent, 0), r);
        Assert.Equal([new UdfExtent(0, 0, 1)], ext);
    }

    [Fact]
    public void Fault_after_emits_keeps_exactly_the_extents_emitted_before_it()
    {
        // Straight-line code with constant counts: compiled code reserves output slots up front and must
        // trim them on the fault path.
        var udf = Accept(".udf t\n.types a\n.read 0 8\n ld64 r2, [r0+0]\n emit 0, r2, 1\n emit 0, r2, 2\n ld64 r3, [r2+0]\n emit 0, r2, 3\n ret 0\n");
        var block = new byte[4096];
        PutU64(block, 0, 4000);
        var existing = new List<UdfExtent> { new(0, 1, 1) };
        var (r, ext) = RunBoth(udf, block);
        Assert.Equal(UdfFault.LoadOutOfReadSet, r.Fault);
        Assert.Equal([new UdfExtent(0, 4000, 1), new UdfExtent(0, 4000, 2)], ext);
        Assert.Equal(UdfFault.LoadOutOfReadSet, udf.Run(block, 0, existing).Fault);
        Assert.Equal(3, existing.Count);
    }

    [Fact]
    public void Emit_whose_end_wraps_past_2_to_the_64_is_BadExtent() =>
        Assert.Equal(UdfFault.BadExtent, Eval("li r2, -1\n emit 0, r2, 1\n ret 0").Fault);

    [Fact]
    public void More_than_1024_extents_is_OutputOverflow()
    {
        var udf = Accept(Wrap("li r3, 1025\nagain:\n emit 0, r3, 1\n loop r3, again\n ret 0", ".types t\n.fuel 4096"));
        var (r, ext) = RunBoth(udf, new byte[4096]);
        Assert.Equal(UdfFault.OutputOverflow, r.Fault);
        Assert.Equal(1024, ext.Count);
        var exact = Accept(Wrap("li r3, 1024\nagain:\n emit 0, r3, 1\n loop r3, again\n ret 0", ".types t\n.fuel 4096"));
        Assert.True(RunBoth(exact, new byte[4096]).Result.Ok);
    }

    [Fact]
    public void Output_list_is_appended_to_not_cleared()
    {
        var udf = Accept(Wrap("emit 0, r1, 1\n ret 0"));
        var list = new List<UdfExtent>(Enumerable.Repeat(new UdfExtent(0, 5, 5), 1024));
        Assert.True(udf.Run(new byte[4096], 0, list).Ok);
        Assert.Equal(1025, list.Count);
    }

    [Fact]
    public void Runtime_load_outside_the_partition_read_set_faults()
    {
        // The address comes from the block, so only the run-time check can catch it.
        var udf = Accept(".udf t\n.partitions 2\n.read 0 8\n.read 100 8 100\n ld64 r2, [r0+0]\n ld64 r3, [r2+0]\n ret r3\n");
        var block = new byte[4096];
        PutU64(block, 100, 0xAB);
        PutU64(block, 0, 100);
        Assert.Equal(new UdfResult(UdfFault.None, 0xAB), RunBoth(udf, block, 0).Result);
        Assert.Equal(new UdfResult(UdfFault.LoadOutOfReadSet, 0), RunBoth(udf, block, 1).Result);
        PutU64(block, 0, 201);                      // partition 1 reads 200..208: 201+8 > 208
        Assert.Equal(UdfFault.LoadOutOfReadSet, RunBoth(udf, block, 1).Result.Fault);
        PutU64(block, 0, ulong.MaxValue - 3);       // address arithmetic must not wrap into the set
        Assert.Equal(UdfFault.LoadOutOfReadSet, RunBoth(udf, block, 0).Result.Fault);
    }

    [Fact]
    public void Load_spanning_two_adjacent_read_ranges_is_allowed()
    {
        var udf = Accept(".udf t\n.read 0 4\n.read 4 4\n ld8 r2, [r0+0]\n ld64 r3, [r2+0]\n ret r3\n");
        var block = new byte[4096];
        block[4] = 7;
        Assert.Equal(7L << 32, RunBoth(udf, block).Result.Value);
    }

    [Fact]
    public void Partition_out_of_range_is_BadPartition_and_runs_nothing()
    {
        var udf = Accept(".udf t\n.partitions 2\n.types t\n emit 0, r1, 1\n ret 0\n");
        Assert.Equal(new UdfResult(UdfFault.BadPartition, 0), RunBoth(udf, new byte[4096], 2).Result);
        var (r, ext) = RunBoth(udf, new byte[4096], -1);
        Assert.Equal(UdfFault.BadPartition, r.Fault);
        Assert.Empty(ext);
    }

    [Fact]
    public void A_block_that_is_not_4096_bytes_is_a_caller_bug()
    {
        var udf = Accept(Wrap("ret 0"));
        Assert.Throws<ArgumentException>(() => udf.Run(new byte[100], 0, []));
        Assert.Throws<ArgumentException>(() => udf.Interpret(new byte[5000], 0, []));
    }

    [Fact]
    public void Inode_owns_emits_every_nonzero_pointer_with_its_type()
    {
        var udf = Accept(InodeOwns());
        var block = new byte[4096];
        int p = 5, inode = 256 * p;
        for (int i = 0; i < 15; i++) if (i != 3) PutU64(block, inode + 64 + 8 * i, 1000UL + (ulong)i);
        PutU64(block, 256 * 4 + 64, 77);            // another inode's pointer must not show up
        var (r, ext) = RunBoth(udf, block, p);
        Assert.True(r.Ok);
        var expected = Enumerable.Range(0, 15).Where(i => i != 3)
            .Select(i => new UdfExtent(i < 12 ? 0 : i - 11, 1000UL + (ulong)i, 1)).ToList();
        Assert.Equal(expected, ext);
        Assert.Equal([new UdfByteRange(256 * p + 64, 120)], udf.ReadSet(p));
        Assert.True(udf.ReadSetsDisjoint);
    }

    [Fact]
    public void Indirect_owns_loops_over_its_partition()
    {
        var udf = Accept(IndirectOwns);
        var block = new byte[4096];
        PutU64(block, 512 * 3 + 8 * 0, 11);
        PutU64(block, 512 * 3 + 8 * 63, 22);
        PutU64(block, 512 * 2 + 8 * 63, 99);
        var (r, ext) = RunBoth(udf, block, 3);
        Assert.True(r.Ok);
        Assert.Equal([new UdfExtent(0, 11, 1), new UdfExtent(0, 22, 1)], ext);
        Assert.Empty(RunBoth(udf, new byte[4096], 7).Extents);
    }

    [Fact]
    public void Compiled_code_is_cached_and_safe_to_share_between_threads()
    {
        var udf = Accept(IndirectOwns);
        var block = new byte[4096];
        for (int i = 0; i < 512; i++) PutU64(block, 8 * i, (ulong)i + 1);
        Parallel.For(0, 8, p =>
        {
            var list = new List<UdfExtent>();
            for (int k = 0; k < 50; k++)
            {
                list.Clear();
                Assert.True(udf.Run(block, p, list).Ok);
                Assert.Equal(64, list.Count);
                Assert.Equal((ulong)(64 * p + 1), list[0].Start);
            }
        });
    }
}
