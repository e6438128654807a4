using System.Buffers.Binary;

namespace ExoFS.Kernel.Udf;

/// <summary>
/// The reference semantics of a verified UDF. Fuel is charged one unit per instruction before it runs;
/// asking for instruction fuel+1 is OutOfFuel. On any fault the value is 0 and the extents emitted before
/// the fault stay in the output list. The compiled form (<see cref="UdfCompiler"/>) must match this exactly.
/// </summary>
internal static class UdfInterpreter
{
    public static UdfResult Run(VerifiedUdf udf, ReadOnlySpan<byte> block, int partition, List<UdfExtent> output, ulong[]? inputs = null)
    {
        if ((uint)partition >= (uint)udf.Partitions) return UdfResult.Faulted(UdfFault.BadPartition);
        Insn[] code = udf.Code;
        int[] ranges = udf.Sets.RangesOf(partition);
        Span<ulong> r = stackalloc ulong[UdfLimits.Registers];
        r.Clear();
        r[1] = (ulong)partition;
        for (int i = 0; i < udf.Program.Inputs; i++) r[2 + i] = (ulong)Input(inputs, i);
        int fuel = udf.Fuel, emitted = 0, pc = 0;
        while (true)
        {
            if (fuel == 0) return UdfResult.Faulted(UdfFault.OutOfFuel);
            fuel--;
            ref readonly Insn x = ref code[pc];
            ulong b = x.BImm ? (ulong)x.Imm : r[x.Rb];
            pc++;
            switch (x.Op)
            {
                case UdfOp.Li: r[x.Rd] = (ulong)x.Imm; break;
                case UdfOp.Mov: r[x.Rd] = r[x.Ra]; break;
                case UdfOp.Add: r[x.Rd] = r[x.Ra] + b; break;
                case UdfOp.Sub: r[x.Rd] = r[x.Ra] - b; break;
                case UdfOp.Mul: r[x.Rd] = r[x.Ra] * b; break;
                case UdfOp.And: r[x.Rd] = r[x.Ra] & b; break;
                case UdfOp.Or: r[x.Rd] = r[x.Ra] | b; break;
                case UdfOp.Xor: r[x.Rd] = r[x.Ra] ^ b; break;
                case UdfOp.Shl: r[x.Rd] = r[x.Ra] << (int)(b & 63); break;
                case UdfOp.Shr: r[x.Rd] = r[x.Ra] >> (int)(b & 63); break;
                case UdfOp.Divu: r[x.Rd] = b == 0 ? 0 : r[x.Ra] / b; break;
                case UdfOp.Remu: r[x.Rd] = b == 0 ? 0 : r[x.Ra] % b; break;
                case UdfOp.Ld8 or UdfOp.Ld16 or UdfOp.Ld32 or UdfOp.Ld64:
                {
                    ulong addr = r[x.Ra] + (ulong)x.Imm;
                    if (x.Checked && !UdfReadSets.Contains(ranges, addr, x.Width))
                        return UdfResult.Faulted(UdfFault.LoadOutOfReadSet);
                    // Proven loads are inside the block; the span indexer still bounds-checks them.
                    var bytes = block.Slice((int)addr, x.Width);
                    r[x.Rd] = x.Width switch
                    {
                        1 => bytes[0],
                        2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                        4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
                        _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
                    };
                    break;
                }
                case UdfOp.Jmp: pc = x.Target; break;
                case UdfOp.Beq: if (r[x.Ra] == b) pc = x.Target; break;
                case UdfOp.Bne: if (r[x.Ra] != b) pc = x.Target; break;
                case UdfOp.Bltu: if (r[x.Ra] < b) pc = x.Target; break;
                case UdfOp.Bgeu: if (r[x.Ra] >= b) pc = x.Target; break;
                case UdfOp.Blt: if ((long)r[x.Ra] < (long)b) pc = x.Target; break;
                case UdfOp.Bge: if ((long)r[x.Ra] >= (long)b) pc = x.Target; break;
                case UdfOp.Loop:
                    if (--r[x.Ra] != 0) pc = x.Target;
                    break;
                case UdfOp.Emit:
                {
                    var fault = EmitFault(emitted, r[x.Ra], b);
                    if (fault != UdfFault.None) return UdfResult.Faulted(fault);
                    output.Add(new UdfExtent(x.Type, r[x.Ra], b));
                    emitted++;
                    break;
                }
                case UdfOp.Ret: return new UdfResult(UdfFault.None, (long)b);
                default: throw new InvalidOperationException($"verifier let through opcode {x.Op}");
            }
        }
    }

    /// <summary>Input <paramref name="i"/> of a run: the caller's value, or 0 where it passes none (shared with compiled code).</summary>
    public static long Input(ulong[]? inputs, int i) => inputs is not null && (uint)i < (uint)inputs.Length ? (long)inputs[i] : 0;

    /// <summary>The fault an emit would raise, shared by interpreter and compiled code.</summary>
    public static UdfFault EmitFault(int emittedSoFar, ulong start, ulong count)
    {
        if (count == 0 || start + count < start) return UdfFault.BadExtent;
        if (emittedSoFar >= UdfLimits.MaxExtentsPerRun) return UdfFault.OutputOverflow;
        return UdfFault.None;
    }

    /// <summary>The arithmetic of the non-affine ALU ops, also used by constant folding in the verifier.</summary>
    public static ulong Alu(UdfOp op, ulong a, ulong b) => op switch
    {
        UdfOp.Add => a + b,
        UdfOp.Sub => a - b,
        UdfOp.Mul => a * b,
        UdfOp.And => a & b,
        UdfOp.Or => a | b,
        UdfOp.Xor => a ^ b,
        UdfOp.Shl => a << (int)(b & 63),
        UdfOp.Shr => a >> (int)(b & 63),
        UdfOp.Divu => b == 0 ? 0 : a / b,
        UdfOp.Remu => b == 0 ? 0 : a % b,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not an ALU op"),
    };
}
