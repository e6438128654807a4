namespace ExoFS.Kernel.Udf;

/// <summary>
/// Forward constant propagation over the verified control-flow graph, used to check loads at verify time.
/// A register is either unknown or known to hold A*p + C (wrapping 64-bit arithmetic), p being the
/// partition index: that covers the common "base = p * stride" address. Joins of different values give
/// unknown, so loop-carried registers are unknown and their loads stay checked at run time. The lattice
/// is two levels high per register, so the fixpoint is reached in a few passes.
/// </summary>
internal static class ConstantFlow
{
    public readonly record struct Value(bool Known, ulong A, ulong C)
    {
        public static readonly Value Unknown = new(false, 0, 0);
        public static Value Const(ulong c) => new(true, 0, c);
        public bool IsConst => Known && A == 0;
        public ulong At(int partition) => unchecked(A * (ulong)partition + C);
        public Value Plus(ulong k) => Known ? new(true, A, unchecked(C + k)) : Unknown;
    }

    public sealed class State
    {
        public readonly Value[] R = new Value[UdfLimits.Registers];
        public Value this[int r] => R[r];
        public State Copy()
        {
            var s = new State();
            Array.Copy(R, s.R, R.Length);
            return s;
        }
    }

    /// <summary>
    /// The register state on entry to each instruction; null for unreachable instructions. The
    /// <paramref name="inputs"/> registers after r1 hold caller values, unknown here (never "zero": a load
    /// through one must stay checked at run time).
    /// </summary>
    public static State?[] Run(Insn[] code, int inputs = 0)
    {
        var states = new State?[code.Length];
        var entry = new State();
        for (int r = 0; r < UdfLimits.Registers; r++) entry.R[r] = Value.Const(0);
        entry.R[1] = new Value(true, 1, 0);
        for (int r = 2; r < 2 + inputs; r++) entry.R[r] = Value.Unknown;
        states[0] = entry;
        var work = new Stack<int>();
        var queued = new bool[code.Length];
        work.Push(0);
        queued[0] = true;
        while (work.Count > 0)
        {
            int i = work.Pop();
            queued[i] = false;
            var x = code[i];
            var s = states[i]!.Copy();
            Step(x, s.R);
            void Flow(int to)
            {
                if (Join(ref states[to], s) && !queued[to])
                {
                    queued[to] = true;
                    work.Push(to);
                }
            }
            switch (x.Op)
            {
                case UdfOp.Ret: break;
                case UdfOp.Jmp: Flow(x.Target); break;
                case UdfOp.Loop or UdfOp.Beq or UdfOp.Bne or UdfOp.Bltu or UdfOp.Bgeu or UdfOp.Blt or UdfOp.Bge:
                    Flow(i + 1);
                    Flow(x.Target);
                    break;
                default: Flow(i + 1); break;
            }
        }
        return states;
    }

    /// <summary>Merges <paramref name="incoming"/> into <paramref name="into"/>; true when it changed.</summary>
    private static bool Join(ref State? into, State incoming)
    {
        if (into is null)
        {
            into = incoming.Copy();
            return true;
        }
        bool changed = false;
        for (int r = 0; r < UdfLimits.Registers; r++)
        {
            if (into.R[r].Known && into.R[r] != incoming.R[r])
            {
                into.R[r] = Value.Unknown;
                changed = true;
            }
        }
        return changed;
    }

    private static void Step(Insn x, Value[] r)
    {
        Value b = x.BImm ? Value.Const((ulong)x.Imm) : r[x.Rb];
        Value a = r[x.Ra];
        switch (x.Op)
        {
            case UdfOp.Li: r[x.Rd] = Value.Const((ulong)x.Imm); break;
            case UdfOp.Mov: r[x.Rd] = a; break;
            case UdfOp.Add:
                r[x.Rd] = a.Known && b.Known ? new(true, unchecked(a.A + b.A), unchecked(a.C + b.C)) : Value.Unknown;
                break;
            case UdfOp.Sub:
                r[x.Rd] = a.Known && b.Known ? new(true, unchecked(a.A - b.A), unchecked(a.C - b.C)) : Value.Unknown;
                break;
            case UdfOp.Mul:
                r[x.Rd] = a.Known && b.IsConst ? new(true, unchecked(a.A * b.C), unchecked(a.C * b.C))
                        : a.IsConst && b.Known ? new(true, unchecked(b.A * a.C), unchecked(b.C * a.C))
                        : Value.Unknown;
                break;
            case UdfOp.Shl when a.Known && b.IsConst:
                int sh = (int)(b.C & 63);
                r[x.Rd] = new(true, a.A << sh, a.C << sh);
                break;
            case UdfOp.Shl or UdfOp.Shr or UdfOp.And or UdfOp.Or or UdfOp.Xor or UdfOp.Divu or UdfOp.Remu:
                r[x.Rd] = a.IsConst && b.IsConst ? Value.Const(UdfInterpreter.Alu(x.Op, a.C, b.C)) : Value.Unknown;
                break;
            case UdfOp.Ld8 or UdfOp.Ld16 or UdfOp.Ld32 or UdfOp.Ld64: r[x.Rd] = Value.Unknown; break;
            case UdfOp.Loop: r[x.Ra] = a.Plus(ulong.MaxValue); break;
        }
    }
}
