using System.Globalization;
using System.Text;

namespace ExoFS.Kernel.Udf;

/// <summary>
/// A UDF as written: directives, instructions and labels, not yet checked for safety. Obtain one with
/// <see cref="Parse"/>; run it only after <see cref="UdfVerifier.Verify(UdfProgram)"/> accepts it.
/// <see cref="ToText"/> prints a canonical text form that parses back to an equal program.
/// </summary>
public sealed class UdfProgram
{
    /// <summary>The <c>.udf</c> name.</summary>
    public string Name { get; }
    /// <summary>The <c>.partitions</c> count (1 when not given).</summary>
    public int Partitions { get; }
    /// <summary>The <c>.types</c> names; <c>emit</c> indexes this list.</summary>
    public IReadOnlyList<string> TypeNames { get; }
    /// <summary>The <c>.read</c> directives, in source order.</summary>
    public IReadOnlyList<UdfReadDirective> Reads { get; }
    /// <summary>The <c>.fuel</c> value (<see cref="UdfLimits.MaxFuel"/> when not given).</summary>
    public int Fuel { get; }
    /// <summary>
    /// The <c>.inputs</c> count (0 when not given): registers r2..r(1+Inputs) hold values the caller passes
    /// for this run (e.g. XN's principal for an acl-UDF), zeros when it passes fewer.
    /// </summary>
    public int Inputs { get; }
    /// <summary>The instructions, in order.</summary>
    public IReadOnlyList<UdfInstruction> Instructions { get; }
    /// <summary>The labels, in source order.</summary>
    public IReadOnlyList<UdfLabel> Labels { get; }

    internal UdfProgram(string name, int partitions, IReadOnlyList<string> typeNames, IReadOnlyList<UdfReadDirective> reads,
        int fuel, IReadOnlyList<UdfInstruction> instructions, IReadOnlyList<UdfLabel> labels, int inputs = 0)
    {
        Inputs = inputs;
        Name = name;
        Partitions = partitions;
        TypeNames = typeNames;
        Reads = reads;
        Fuel = fuel;
        Instructions = instructions;
        Labels = labels;
    }

    /// <summary>
    /// Parses the text form. Syntax errors (unknown opcode or directive, a forbidden mnemonic, a bad
    /// register, operand or number, a duplicate label) come back as <see cref="UdfParseResult.Error"/>
    /// with the line number; semantic checks are the verifier's.
    /// </summary>
    public static UdfParseResult Parse(string text) => UdfParser.Parse(text);

    /// <summary>Canonical text: directives first, one instruction per line, labels on their own lines.</summary>
    public string ToText()
    {
        var s = new StringBuilder();
        s.Append(".udf ").Append(Name).Append('\n');
        s.Append(".partitions ").Append(Num(Partitions)).Append('\n');
        if (TypeNames.Count > 0)
            s.Append(".types ").Append(string.Join(' ', TypeNames)).Append('\n');
        foreach (var r in Reads)
            s.Append(".read ").Append(Num(r.Offset)).Append(' ').Append(Num(r.Length)).Append(' ').Append(Num(r.Stride)).Append('\n');
        if (Inputs != 0) s.Append(".inputs ").Append(Num(Inputs)).Append('\n');
        s.Append(".fuel ").Append(Num(Fuel)).Append('\n');
        var byIndex = Labels.ToLookup(l => l.Index);
        for (int i = 0; i <= Instructions.Count; i++)
        {
            foreach (var l in byIndex[i])
                s.Append(l.Name).Append(":\n");
            if (i < Instructions.Count)
                s.Append("    ").Append(Format(Instructions[i])).Append('\n');
        }
        return s.ToString();
    }

    /// <summary>One instruction in canonical text form (no label, no indentation).</summary>
    public static string Format(UdfInstruction x)
    {
        string op = UdfOps.Name(x.Op);
        string B() => x.BIsImm ? Imm(x.Imm) : R(x.Rb);
        return x.Op switch
        {
            UdfOp.Li => $"{op} {R(x.Rd)}, {Imm(x.Imm)}",
            UdfOp.Mov => $"{op} {R(x.Rd)}, {R(x.Ra)}",
            _ when UdfOps.IsAlu(x.Op) => $"{op} {R(x.Rd)}, {R(x.Ra)}, {B()}",
            _ when UdfOps.IsLoad(x.Op) => $"{op} {R(x.Rd)}, [{R(x.Ra)}{(x.Imm < 0 ? "-" + Num(unchecked(0UL - (ulong)x.Imm)) : "+" + Num(x.Imm))}]",
            UdfOp.Jmp => $"{op} {x.Target}",
            _ when UdfOps.IsBranch(x.Op) => $"{op} {R(x.Ra)}, {B()}, {x.Target}",
            UdfOp.Loop => $"{op} {R(x.Ra)}, {x.Target}",
            UdfOp.Emit => $"{op} {Num(x.TypeIndex)}, {R(x.Ra)}, {B()}",
            UdfOp.Ret => $"{op} {B()}",
            _ => throw new ArgumentOutOfRangeException(nameof(x), x.Op, "no such opcode"),
        };
    }

    private static string R(int r) => "r" + Num(r);
    private static string Imm(long v) => Num(v);
    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Num(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    public override string ToString() => $"udf {Name} ({Instructions.Count} instructions)";
}

/// <summary>The result of <see cref="UdfProgram.Parse"/>: a program, or an error naming its line.</summary>
public readonly record struct UdfParseResult(UdfProgram? Program, string? Error)
{
    /// <summary>True when <see cref="Program"/> is set.</summary>
    public bool Ok => Program is not null;
}
