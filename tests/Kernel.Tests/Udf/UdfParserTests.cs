using ExoFS.Kernel.Udf;
using static ExoFS.Kernel.Tests.Udf.UdfTestKit;

namespace ExoFS.Kernel.Tests.Udf;

public class UdfParserTests
{
    [Fact]
    public void Parses_directives_labels_and_every_operand_form()
    {
        var p = UdfProgram.Parse("""
            ; a comment line
            .UDF  my.udf        ; trailing comment
            .partitions 0x10
            .types a b c
            .read 8 16 32
            .read 0 4
            .fuel 100
            start: LI R2, -3
              ld32 r3, [ r2 + 12 ]
              ld8 r4, [r2-1]
              ld16 r5, [r2]
              beq r3, r4, end
              bgeu r3, 0x10, end
            mid:
            again:
              loop r5, again
              emit 2, r3, r4
              emit 0, r3, 7
            end: ret 5
            """);
        Assert.True(p.Ok, p.Error);
        var u = p.Program!;
        Assert.Equal("my.udf", u.Name);
        Assert.Equal(16, u.Partitions);
        Assert.Equal(["a", "b", "c"], u.TypeNames);
        Assert.Equal([new UdfReadDirective(8, 16, 32, 5), new UdfReadDirective(0, 4, 0, 6)], u.Reads);
        Assert.Equal(100, u.Fuel);
        Assert.Equal(10, u.Instructions.Count);
        Assert.Equal(new UdfInstruction(UdfOp.Li, 2, 0, 0, -3, false, 0, null, 8), u.Instructions[0]);
        Assert.Equal(new UdfInstruction(UdfOp.Ld32, 3, 2, 0, 12, false, 0, null, 9), u.Instructions[1]);
        Assert.Equal(-1, u.Instructions[2].Imm);
        Assert.Equal(0, u.Instructions[3].Imm);
        Assert.Equal(new UdfInstruction(UdfOp.Bgeu, 0, 3, 0, 16, true, 0, "end", 13), u.Instructions[5]);
        Assert.Equal(new UdfInstruction(UdfOp.Emit, 0, 3, 4, 0, false, 2, null, 17), u.Instructions[7]);
        Assert.Equal(new UdfInstruction(UdfOp.Ret, 0, 0, 0, 5, true, 0, null, 19), u.Instructions[9]);
        Assert.Equal([new UdfLabel("start", 0, 8), new UdfLabel("mid", 6, 14), new UdfLabel("again", 6, 15), new UdfLabel("end", 9, 19)], u.Labels);
    }

    [Fact]
    public void Defaults_are_one_partition_no_types_no_reads_full_fuel()
    {
        var u = UdfProgram.Parse(".udf x\nret 0").Program!;
        Assert.Equal(1, u.Partitions);
        Assert.Empty(u.TypeNames);
        Assert.Empty(u.Reads);
        Assert.Equal(UdfLimits.MaxFuel, u.Fuel);
    }

    [Fact]
    public void Printer_output_parses_back_to_the_same_program()
    {
        foreach (var text in new[] { InodeOwns(), IndirectOwns,
                     Wrap("ld64 r2, [r0+0]\n li r4, -9223372036854775808\n ld64 r3, [r2-8]\n ld64 r3, [r2-9223372036854775808]\n ld8 r3, [r2+0x7fffffffffffffff]\n shr r3, r3, r2\nx: ret r3") })
        {
            var first = UdfProgram.Parse(text).Program!;
            string printed = first.ToText();
            var second = UdfProgram.Parse(printed).Program!;
            Assert.Equal(printed, second.ToText());
            Assert.Equal(first.Instructions.Select(i => i with { Line = 0 }), second.Instructions.Select(i => i with { Line = 0 }));
            Assert.Equal(first.Labels.Select(l => (l.Name, l.Index)), second.Labels.Select(l => (l.Name, l.Index)));
            Assert.Equal(first.Reads.Select(r => r with { Line = 0 }), second.Reads.Select(r => r with { Line = 0 }));
            Assert.Equal((first.Name, first.Partitions, first.Fuel), (second.Name, second.Partitions, second.Fuel));
            Assert.Equal(first.TypeNames, second.TypeNames);
            Assert.True(UdfVerifier.Verify(printed).Accepted);
        }
    }

    [Theory]
    [InlineData("ret 0", "missing .udf NAME: the first directive must be .udf at line 1")]
    [InlineData("", "empty program: no .udf directive")]
    [InlineData(".udf x\n.udf y\nret 0", "duplicate directive .udf at line 2")]
    [InlineData(".udf x\n.fuel 1\n.fuel 2\nret 0", "duplicate directive .fuel at line 3")]
    [InlineData(".udf x\n.frob 1\nret 0", "unknown directive .frob at line 2")]
    [InlineData(".udf x\n.read 1\nret 0", ".read takes OFF LEN [STRIDE] at line 2")]
    [InlineData(".udf x\n.partitions many\nret 0", "bad immediate 'many' at line 2")]
    [InlineData(".udf x\n.fuel 99999999999\nret 0", "number '99999999999' out of range at line 2")]
    [InlineData(".udf x\n\n  frob r1, r2", "unknown opcode 'frob' at line 3")]
    [InlineData(".udf x\n st r1, [r2+0]", "not allowed: st (UDFs may not store / call out / read the clock) at line 2")]
    [InlineData(".udf x\n add r16, r1, r2", "bad register r16 at line 2")]
    [InlineData(".udf x\n add r1, r1, rx", "bad immediate 'rx' at line 2")]
    [InlineData(".udf x\n mov r1, 5", "bad register '5' at line 2")]
    [InlineData(".udf x\n add r1, r2", "add expects rd, ra, rb|IMM at line 2")]
    [InlineData(".udf x\n ld64 r1, r2", "ld64 expects rd, [ra+IMM], not 'r2' at line 2")]
    [InlineData(".udf x\n li r1, 18446744073709551616", "bad immediate '18446744073709551616' at line 2")]
    [InlineData(".udf x\n li r1, -9223372036854775809", "bad immediate '-9223372036854775809' at line 2")]
    [InlineData(".udf x\n jmp 9lives", "bad label '9lives' at line 2")]
    [InlineData(".udf x\na:\na: ret 0", "duplicate label 'a' (first at line 2) at line 3")]
    [InlineData(".udf x\n emit -1, r1, 1", "bad type index '-1' at line 2")]
    public void Syntax_errors_name_the_line(string text, string error)
    {
        var p = UdfProgram.Parse(text);
        Assert.False(p.Ok);
        Assert.Equal(error, p.Error);
    }

    [Fact]
    public void Mnemonics_and_registers_are_case_insensitive_labels_are_not()
    {
        Assert.Equal(3, Value("LI R2, 3\n RET r2"));
        Assert.StartsWith("jump target 'End' undefined", Reject(Wrap("jmp End\nend: ret 0")));
    }

    [Fact]
    public void Windows_line_endings_are_accepted() =>
        Assert.True(UdfVerifier.Verify(".udf x\r\n.fuel 10\r\n ret 0\r\n").Accepted);
}
