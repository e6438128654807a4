using ExoFS.Kernel.Udf;
using static ExoFS.Kernel.Tests.Udf.UdfTestKit;

namespace ExoFS.Kernel.Tests.Udf;

/// <summary>One test per verifier rule, pinning the exact reason string.</summary>
public class UdfVerifierTests
{
    [Theory]
    [InlineData("st")] [InlineData("st64")] [InlineData("store")]
    [InlineData("call")] [InlineData("sys")] [InlineData("syscall")]
    [InlineData("time")] [InlineData("rdtsc")] [InlineData("rand")]
    public void Impure_mnemonics_are_not_allowed_rather_than_unknown(string op) =>
        Assert.Equal($"not allowed: {op} (UDFs may not store / call out / read the clock) at line 2",
            Reject($".udf x\n {op.ToUpperInvariant()} r1, r2\n ret 0"));

    [Fact]
    public void Empty_program_is_rejected() =>
        Assert.Equal("empty program: no instructions", Reject(".udf x\n.fuel 5\n"));

    [Fact]
    public void More_than_1024_instructions_is_rejected()
    {
        string body = string.Concat(Enumerable.Repeat(" li r2, 1\n", 1024)) + " ret 0";
        Assert.Equal("too many instructions: 1025 (limit 1024)", Reject(Wrap(body)));
        Assert.True(UdfVerifier.Verify(Wrap(string.Concat(Enumerable.Repeat(" li r2, 1\n", 1023)) + " ret 0")).Accepted);
    }

    [Theory]
    [InlineData(5)] [InlineData(-1)]
    public void Inputs_outside_0_to_4_are_rejected(int n) =>
        Assert.Equal($"inputs {n} out of range 0..4", Reject($".udf x\n.inputs {n}\n ret 0"));

    [Fact]
    public void Inputs_directive_survives_the_canonical_text_form()
    {
        var p = UdfProgram.Parse(".udf x\n.inputs 3\n ret r4\n").Program!;
        Assert.Equal(3, p.Inputs);
        Assert.Equal(3, UdfProgram.Parse(p.ToText()).Program!.Inputs);
        Assert.Equal(0, UdfProgram.Parse(".udf x\n ret 0\n").Program!.Inputs);
    }

    [Theory]
    [InlineData(0)] [InlineData(1025)] [InlineData(-3)]
    public void Partitions_outside_1_to_1024_are_rejected(int n) =>
        Assert.Equal($"partitions {n} out of range 1..1024", Reject($".udf x\n.partitions {n}\n ret 0"));

    [Fact]
    public void Fuel_above_the_budget_is_rejected()
    {
        Assert.Equal("fuel 100000 over budget 4096", Reject(".udf x\n.fuel 100000\n ret 0"));
        Assert.Equal("fuel 4097 over budget 4096", Reject(".udf x\n.fuel 4097\n ret 0"));
        Assert.Equal("fuel 0 must be at least 1", Reject(".udf x\n.fuel 0\n ret 0"));
        Assert.Equal(4096, Accept(".udf x\n.fuel 4096\n ret 0").Fuel);
    }

    [Theory]
    [InlineData(".read 4000 200", "read range outside the block at line 2: bytes 4000..4200 (block is 0..4096)")]
    [InlineData(".read 0 4097", "read range outside the block at line 2: bytes 0..4097 (block is 0..4096)")]
    [InlineData(".partitions 16\n.read 0 512 512", "read range outside the block at line 3: partition 15 bytes 7680..8192 (block is 0..4096)")]
    [InlineData(".read -1 8", "bad read range at line 2: offset -1, length 8, stride 0 (need offset >= 0, length >= 1, stride >= 0)")]
    [InlineData(".read 0 0", "bad read range at line 2: offset 0, length 0, stride 0 (need offset >= 0, length >= 1, stride >= 0)")]
    [InlineData(".read 0 8 -8", "bad read range at line 2: offset 0, length 8, stride -8 (need offset >= 0, length >= 1, stride >= 0)")]
    public void Read_ranges_must_lie_inside_the_block_for_every_partition(string directives, string reason) =>
        Assert.Equal(reason, Reject($".udf x\n{directives}\n ret 0"));

    [Fact]
    public void Read_range_ending_exactly_at_the_block_end_is_accepted() =>
        Assert.Equal([new UdfByteRange(3584, 512)], Accept(".udf x\n.partitions 8\n.read 0 512 512\n ret 0").ReadSet(7));

    [Fact]
    public void More_than_64_read_ranges_is_rejected()
    {
        string reads = string.Concat(Enumerable.Range(0, 65).Select(i => $".read {i * 8} 8\n"));
        Assert.Equal("too many .read ranges: 65 (limit 64)", Reject($".udf x\n{reads} ret 0"));
    }

    [Fact]
    public void Undefined_jump_target_is_rejected() =>
        Assert.Equal("jump target 'x' undefined at line 3", Reject(".udf u\n li r1, 0\n beq r1, 0, x\n ret 0"));

    [Fact]
    public void Jump_to_a_label_after_the_last_instruction_is_out_of_range() =>
        Assert.Equal("jump target 'end' out of range at line 2 (no instruction after the label)", Reject(".udf u\n jmp end\n ret 0\nend:"));

    [Theory]
    [InlineData("top:\n li r2, 1\n jmp top\n ret 0", "unbounded: backward jump at line 4 (only loop may jump back)")]
    [InlineData("top:\n li r2, 1\n bne r2, 0, top\n ret 0", "unbounded: backward jump at line 4 (only loop may jump back)")]
    [InlineData("self: beq r0, 0, self\n ret 0", "unbounded: backward jump at line 2 (only loop may jump back)")]
    [InlineData(" li r3, 2\n loop r3, later\nlater:\n ret 0", "loop target 'later' is not backward at line 3")]
    public void Only_loop_may_jump_backward(string body, string reason) =>
        Assert.Equal(reason, Reject(".udf u\n" + body));

    [Fact]
    public void Loop_to_itself_is_bounded_by_fuel() =>
        Assert.Equal(UdfFault.OutOfFuel, RunBoth(Accept(".udf u\nspin: loop r3, spin\n ret 0"), new byte[4096]).Result.Fault);

    [Theory]
    [InlineData(" li r2, 1", "missing return: control falls off the end (line 2 is not ret)")]
    [InlineData(" beq r1, 0, a\n ret 1\na:\n li r2, 3", "missing return: control falls off the end (line 5 is not ret)")]
    [InlineData(" li r3, 2\na:\n loop r3, a", "missing return: control falls off the end (line 4 is not ret)")]
    public void A_path_that_falls_off_the_end_is_rejected(string body, string reason) =>
        Assert.Equal(reason, Reject(".udf u\n" + body));

    [Fact]
    public void Emit_type_index_must_be_inside_types()
    {
        Assert.Equal("emit type index 3 outside .types (2 types) at line 3", Reject(".udf u\n.types a b\n emit 3, r1, 1\n ret 0"));
        Assert.Equal("emit type index 0 outside .types (0 types) at line 2", Reject(".udf u\n emit 0, r1, 1\n ret 0"));
    }

    [Fact]
    public void Constant_load_outside_the_read_set_is_rejected_statically() =>
        Assert.Equal("load outside read set at line 4: bytes 4090..4098",
            Reject(".udf u\n.read 0 64\n li r2, 4090\n ld64 r3, [r2+0]\n ret r3"));

    [Fact]
    public void Constant_load_straddling_the_end_of_the_read_set_is_rejected() =>
        Assert.Equal("load outside read set at line 3: bytes 60..68", Reject(".udf u\n.read 0 64\n ld64 r3, [r0+60]\n ret r3"));

    [Fact]
    public void Load_with_no_read_set_at_all_is_rejected() =>
        Assert.Equal("load outside read set at line 2: bytes 0..1", Reject(".udf u\n ld8 r3, [r0+0]\n ret r3"));

    [Fact]
    public void Partition_relative_load_outside_every_partition_set_is_rejected() =>
        Assert.Equal("load outside read set at line 6: bytes 1024..1032 (partition 0; no partition's read set holds it)",
            Reject(".udf u\n.partitions 4\n.read 0 8 8\n li r2, 64\n mul r2, r1, r2\n ld64 r3, [r2+1024]\n ret 0"));

    [Fact]
    public void Constant_folding_follows_arithmetic_and_shifts()
    {
        // r2 = ((3 << 4) | 1) * 2 = 98: outside both partitions' sets (0..64 and 8..72).
        Assert.Equal("load outside read set at line 8: bytes 98..106",
            Reject(".udf u\n.partitions 2\n.read 0 64 8\n li r2, 3\n shl r2, r2, 4\n or r2, r2, 1\n mul r2, r2, 2\n ld64 r4, [r2+0]\n ret 0"));
    }

    [Fact]
    public void Loads_proven_in_range_are_marked_unchecked_and_others_stay_checked()
    {
        var udf = Accept(InodeOwns());
        Assert.All(udf.Code.Where(x => UdfOps.IsLoad(x.Op)), x => Assert.False(x.Checked));
        var loop = Accept(IndirectOwns);
        Assert.All(loop.Code.Where(x => UdfOps.IsLoad(x.Op)), x => Assert.True(x.Checked));
        Assert.False(udf.NeedsFuel);
        Assert.True(loop.NeedsFuel);
    }

    [Fact]
    public void Join_of_different_constants_is_unknown_so_the_load_is_checked_at_run_time()
    {
        var udf = Accept(".udf u\n.read 0 16\n li r2, 0\n beq r1, 0, a\n li r2, 5000\na:\n ld64 r3, [r2+0]\n ret r3");
        Assert.True(udf.Code[3].Checked);
        Assert.True(RunBoth(udf, new byte[4096]).Result.Ok);
    }

    [Fact]
    public void Unreachable_loads_are_not_rejected() =>
        Assert.True(UdfVerifier.Verify(".udf u\n.read 0 8\n ret 0\n li r2, 5000\n ld64 r3, [r2+0]\n ret r3").Accepted);

    [Fact]
    public void Load_that_is_in_set_for_some_partitions_only_is_checked_at_run_time()
    {
        var udf = Accept(".udf u\n.partitions 2\n.read 0 8 8\n ld64 r3, [r0+8]\n ret r3");
        var block = new byte[4096];
        block[8] = 3;
        Assert.Equal(UdfFault.LoadOutOfReadSet, RunBoth(udf, block, 0).Result.Fault);
        Assert.Equal(3, RunBoth(udf, block, 1).Result.Value);
    }

    [Fact]
    public void Verified_udf_exposes_types_partitions_read_sets_and_overlap()
    {
        var udf = Accept(".udf u\n.partitions 3\n.types a b\n.read 0 8 16\n.read 8 8 16\n.read 100 4\n ret 0");
        Assert.Equal(3, udf.Partitions);
        Assert.Equal(["a", "b"], udf.TypeNames);
        Assert.Equal([new UdfByteRange(16, 16), new UdfByteRange(100, 4)], udf.ReadSet(1));
        Assert.False(udf.ReadSetsDisjoint);   // .read 100 4 is shared by all partitions
        Assert.True(Accept(".udf u\n.partitions 3\n.read 0 8 16\n ret 0").ReadSetsDisjoint);
        Assert.Throws<ArgumentOutOfRangeException>(() => udf.ReadSet(3));
    }

    [Fact]
    public void Verifier_on_a_parsed_program_gives_the_same_verdict_as_on_text()
    {
        var p = UdfProgram.Parse(IndirectOwns).Program!;
        Assert.True(UdfVerifier.Verify(p).Accepted);
    }
}
