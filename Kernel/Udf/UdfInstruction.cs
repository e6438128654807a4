namespace ExoFS.Kernel.Udf;

/// <summary>The UDF instruction set (UDF-SPEC.md). There is deliberately no store, call, clock or random.</summary>
public enum UdfOp
{
    Li, Mov,
    Add, Sub, Mul, And, Or, Xor, Shl, Shr, Divu, Remu,
    Ld8, Ld16, Ld32, Ld64,
    Jmp,
    Beq, Bne, Bltu, Bgeu, Blt, Bge,
    Loop,
    Emit,
    Ret,
}

/// <summary>
/// One instruction as written. Operand use by opcode:
/// li: Rd, Imm. mov: Rd, Ra. alu: Rd, Ra, B. ld: Rd, [Ra+Imm]. jmp: Target. branch: Ra, B, Target.
/// loop: Ra (the counter), Target. emit: TypeIndex, Ra (start), B (count). ret: B.
/// "B" is register <see cref="Rb"/> or, when <see cref="BIsImm"/>, the immediate <see cref="Imm"/>.
/// <see cref="Line"/> is the 1-based source line, used in every error message.
/// </summary>
public readonly record struct UdfInstruction(
    UdfOp Op, int Rd, int Ra, int Rb, long Imm, bool BIsImm, int TypeIndex, string? Target, int Line);

/// <summary>A label: the index of the instruction it names (may equal the instruction count) and its line.</summary>
public readonly record struct UdfLabel(string Name, int Index, int Line);

internal static class UdfOps
{
    public static readonly IReadOnlyDictionary<string, UdfOp> ByMnemonic =
        Enum.GetValues<UdfOp>().ToDictionary(o => o.ToString().ToLowerInvariant(), o => o, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Mnemonics other machines use for stores, calls, the clock or randomness. They are rejected as
    /// "not allowed" rather than "unknown" so that a reader sees why the language lacks them.
    /// </summary>
    public static readonly HashSet<string> Forbidden = new(StringComparer.OrdinalIgnoreCase)
    {
        "st", "st8", "st16", "st32", "st64", "stb", "sth", "stw", "std", "sb", "sh", "sw", "sd", "store", "stx",
        "call", "callr", "callx", "sys", "syscall", "ecall", "int", "trap", "svc", "invoke",
        "time", "clock", "rdtsc", "rdtscp", "rdtime", "rdcycle", "now", "gettime",
        "rand", "random", "rdrand", "rdseed",
    };

    public static string Name(UdfOp op) => op.ToString().ToLowerInvariant();

    public static bool IsAlu(UdfOp op) => op is >= UdfOp.Add and <= UdfOp.Remu;
    public static bool IsLoad(UdfOp op) => op is >= UdfOp.Ld8 and <= UdfOp.Ld64;
    public static bool IsBranch(UdfOp op) => op is >= UdfOp.Beq and <= UdfOp.Bge;
    public static bool HasTarget(UdfOp op) => op == UdfOp.Jmp || op == UdfOp.Loop || IsBranch(op);

    public static int Width(UdfOp op) => op switch
    {
        UdfOp.Ld8 => 1, UdfOp.Ld16 => 2, UdfOp.Ld32 => 4, UdfOp.Ld64 => 8,
        _ => 0,
    };
}
