using System.Globalization;

namespace ExoFS.Kernel.Udf;

/// <summary>The verdict of <see cref="UdfVerifier"/>: a <see cref="VerifiedUdf"/>, or a stable reason string.</summary>
public readonly record struct UdfVerifyResult(VerifiedUdf? Udf, string? Reason)
{
    /// <summary>True when <see cref="Udf"/> is set.</summary>
    public bool Accepted => Udf is not null;

    internal static UdfVerifyResult Reject(string reason) => new(null, reason);
}

/// <summary>
/// Decides whether downloaded code is safe to run: deterministic (the language has no store, call, clock
/// or randomness; the parser rejects those mnemonics), terminating (forward jumps only, except <c>loop</c>,
/// plus a fuel bound within the kernel budget) and memory-safe (loads whose address is known here are
/// checked against the read set now; the rest are checked at run time). Only this class creates a
/// <see cref="VerifiedUdf"/>. Thread-safe (no state).
/// </summary>
public static class UdfVerifier
{
    /// <summary>Parses then verifies. A syntax error is the rejection reason.</summary>
    public static UdfVerifyResult Verify(string text)
    {
        var parsed = UdfProgram.Parse(text);
        return parsed.Ok ? Verify(parsed.Program!) : UdfVerifyResult.Reject(parsed.Error!);
    }

    /// <summary>Verifies a parsed program. The first failing rule, in a fixed order, gives the reason.</summary>
    public static UdfVerifyResult Verify(UdfProgram program)
    {
        ArgumentNullException.ThrowIfNull(program);
        var code = program.Instructions;
        int n = code.Count;
        if (n == 0) return UdfVerifyResult.Reject("empty program: no instructions");
        if (n > UdfLimits.MaxInstructions)
            return UdfVerifyResult.Reject($"too many instructions: {n} (limit {UdfLimits.MaxInstructions})");
        if (program.Partitions is < 1 or > UdfLimits.MaxPartitions)
            return UdfVerifyResult.Reject($"partitions {program.Partitions} out of range 1..{UdfLimits.MaxPartitions}");
        if (program.Fuel > UdfLimits.MaxFuel)
            return UdfVerifyResult.Reject($"fuel {program.Fuel} over budget {UdfLimits.MaxFuel}");
        if (program.Fuel < 1)
            return UdfVerifyResult.Reject($"fuel {program.Fuel} must be at least 1");
        if (program.Inputs is < 0 or > UdfLimits.MaxInputs)
            return UdfVerifyResult.Reject($"inputs {program.Inputs} out of range 0..{UdfLimits.MaxInputs}");
        if (program.Reads.Count > UdfLimits.MaxReadRanges)
            return UdfVerifyResult.Reject($"too many .read ranges: {program.Reads.Count} (limit {UdfLimits.MaxReadRanges})");
        foreach (var r in program.Reads)
        {
            if (r.Offset < 0 || r.Length < 1 || r.Stride < 0)
                return UdfVerifyResult.Reject($"bad read range at line {r.Line}: offset {r.Offset}, length {r.Length}, stride {r.Stride} (need offset >= 0, length >= 1, stride >= 0)");
            // The last partition reaches furthest; long arithmetic cannot overflow for int inputs.
            long first = r.Offset + (long)(program.Partitions - 1) * r.Stride;
            long end = first + r.Length;
            if (end > UdfLimits.BlockSize)
                return UdfVerifyResult.Reject(program.Partitions > 1 && r.Stride > 0
                    ? $"read range outside the block at line {r.Line}: partition {program.Partitions - 1} bytes {first}..{end} (block is 0..{UdfLimits.BlockSize})"
                    : $"read range outside the block at line {r.Line}: bytes {first}..{end} (block is 0..{UdfLimits.BlockSize})");
        }

        var labels = new Dictionary<string, UdfLabel>(StringComparer.Ordinal);
        foreach (var l in program.Labels)
        {
            if (!labels.TryAdd(l.Name, l))
                return UdfVerifyResult.Reject($"duplicate label '{l.Name}' at line {l.Line} (first at line {labels[l.Name].Line})");
        }

        var insns = new Insn[n];
        for (int i = 0; i < n; i++)
        {
            var x = code[i];
            if (!Reg(x.Rd) || !Reg(x.Ra) || (!x.BIsImm && !Reg(x.Rb)))
                return UdfVerifyResult.Reject($"bad register r{BadReg(x)} at line {x.Line}");
            if (!Enum.IsDefined(x.Op))
                return UdfVerifyResult.Reject($"unknown opcode {(int)x.Op} at line {x.Line}");
            int target = -1;
            if (UdfOps.HasTarget(x.Op))
            {
                if (x.Target is null || !labels.TryGetValue(x.Target, out var l))
                    return UdfVerifyResult.Reject($"jump target '{x.Target}' undefined at line {x.Line}");
                target = l.Index;
                if (target >= n)
                    return UdfVerifyResult.Reject($"jump target '{x.Target}' out of range at line {x.Line} (no instruction after the label)");
                if (x.Op == UdfOp.Loop)
                {
                    if (target > i)
                        return UdfVerifyResult.Reject($"loop target '{x.Target}' is not backward at line {x.Line}");
                }
                else if (target <= i)
                    return UdfVerifyResult.Reject($"unbounded: backward jump at line {x.Line} (only loop may jump back)");
            }
            if (x.Op == UdfOp.Emit && (x.TypeIndex < 0 || x.TypeIndex >= program.TypeNames.Count))
                return UdfVerifyResult.Reject($"emit type index {x.TypeIndex} outside .types ({program.TypeNames.Count} types) at line {x.Line}");
            insns[i] = new Insn(x, target, isChecked: UdfOps.IsLoad(x.Op));
        }
        if (code[n - 1].Op != UdfOp.Ret)
            return UdfVerifyResult.Reject($"missing return: control falls off the end (line {code[n - 1].Line} is not ret)");

        var sets = new UdfReadSets(program.Reads, program.Partitions);
        var states = ConstantFlow.Run(insns, program.Inputs);
        for (int i = 0; i < n; i++)
        {
            if (!UdfOps.IsLoad(insns[i].Op) || states[i] is not { } st) continue;
            var addr = st[insns[i].Ra].Plus((ulong)insns[i].Imm);
            if (!addr.Known) continue;
            int width = insns[i].Width;
            bool allIn = true, anyIn = false;
            for (int p = 0; p < program.Partitions; p++)
            {
                bool inSet = UdfReadSets.Contains(sets.RangesOf(p), addr.At(p), width);
                allIn &= inSet;
                anyIn |= inSet;
            }
            if (!anyIn)
            {
                ulong a0 = addr.At(0);
                string which = addr.A != 0 && program.Partitions > 1 ? " (partition 0; no partition's read set holds it)" : "";
                return UdfVerifyResult.Reject(string.Create(CultureInfo.InvariantCulture,
                    $"load outside read set at line {code[i].Line}: bytes {a0}..{unchecked(a0 + (ulong)width)}{which}"));
            }
            if (allIn) insns[i] = insns[i].Proven();
        }

        return new UdfVerifyResult(new VerifiedUdf(program, insns, sets, NeedsFuel(insns, states, program.Fuel)), null);
    }

    private static bool Reg(int r) => r is >= 0 and < UdfLimits.Registers;

    private static int BadReg(UdfInstruction x) => !Reg(x.Rd) ? x.Rd : !Reg(x.Ra) ? x.Ra : x.Rb;

    /// <summary>
    /// False when no run can exhaust the fuel: no reachable <c>loop</c> and the longest forward path is
    /// within the fuel. Compiled code then skips fuel accounting entirely.
    /// </summary>
    private static bool NeedsFuel(Insn[] code, ConstantFlow.State?[] states, int fuel)
    {
        int n = code.Length;
        var longest = new int[n];
        for (int i = n - 1; i >= 0; i--)
        {
            if (states[i] is null) continue;
            var x = code[i];
            if (x.Op == UdfOp.Loop) return true;
            int next = x.Op is UdfOp.Ret or UdfOp.Jmp ? 0 : longest[i + 1];
            int jump = x.Target > i ? longest[x.Target] : 0;
            longest[i] = 1 + Math.Max(next, jump);
        }
        return longest[0] > fuel;
    }
}
