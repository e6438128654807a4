using System.Reflection;
using System.Reflection.Emit;

namespace ExoFS.Kernel.Udf;

/// <summary>The compiled body of one verified UDF, closed over its <see cref="UdfCompiler.Context"/>.</summary>
internal delegate UdfResult UdfBody(ref byte block, int partition, List<UdfExtent> output, ulong[]? inputs);

/// <summary>
/// Compiles a verified UDF to a DynamicMethod. Registers become IL locals; the block is a managed
/// <c>ref byte</c>, so the GC tracks it and no pinning is needed. Memory safety rests on the verifier:
/// every load is either proven in range for all partitions or checked here against the partition's read
/// set, which the verifier confined to the 4096-byte block.
///
/// Fuel is charged per basic block, at block entry. A block ends after any instruction that may fault
/// (checked load, emit) or transfer control, so the only instruction in a block that can fault is its
/// last. Hence if the remaining fuel is less than the block's length, the interpreter would also run out
/// of fuel before any fault in this block: the results agree exactly. When the verifier proved that no run
/// can exhaust its fuel, no fuel code is emitted at all.
/// </summary>
internal static class UdfCompiler
{
    /// <summary>Per-UDF data the compiled code reads: the read sets by partition.</summary>
    internal sealed class Context(UdfReadSets sets)
    {
        public readonly int[][] Ranges = Enumerable.Range(0, sets.Low.Length).Select(sets.RangesOf).ToArray();
        public readonly long[] Low = sets.Low;
        public readonly long[] Length = sets.Length;
    }

    private static readonly ConstructorInfo ResultCtor = typeof(UdfResult).GetConstructor([typeof(UdfFault), typeof(long)])!;
    private static readonly MethodInfo ContainsMethod = typeof(UdfReadSets).GetMethod(nameof(UdfReadSets.Contains))!;
    private static readonly MethodInfo EmitMethod = typeof(UdfCompiler).GetMethod(nameof(EmitExtent), BindingFlags.Static | BindingFlags.NonPublic)!;
    private static readonly ConstructorInfo ExtentCtor = typeof(UdfExtent).GetConstructor([typeof(int), typeof(ulong), typeof(ulong)])!;
    private static readonly MethodInfo AddMethod = typeof(List<UdfExtent>).GetMethod(nameof(List<UdfExtent>.Add))!;
    private static readonly MethodInfo ReserveMethod = typeof(UdfCompiler).GetMethod(nameof(ReserveExtents), BindingFlags.Static | BindingFlags.NonPublic)!;
    private static readonly MethodInfo TrimMethod = typeof(UdfCompiler).GetMethod(nameof(TrimExtents), BindingFlags.Static | BindingFlags.NonPublic)!;
    private static readonly MethodInfo InputMethod = typeof(UdfInterpreter).GetMethod(nameof(UdfInterpreter.Input))!;
    private static readonly FieldInfo RangesField = typeof(Context).GetField(nameof(Context.Ranges))!;
    private static readonly FieldInfo LowField = typeof(Context).GetField(nameof(Context.Low))!;
    private static readonly FieldInfo LengthField = typeof(Context).GetField(nameof(Context.Length))!;

    /// <summary>Null on a big-endian host, where the interpreter is used instead.</summary>
    public static UdfBody? Compile(VerifiedUdf udf)
    {
        if (!BitConverter.IsLittleEndian) return null;
        var code = udf.Code;
        int n = code.Length;
        var method = new DynamicMethod("udf:" + udf.Name, typeof(UdfResult),
            [typeof(Context), typeof(byte).MakeByRefType(), typeof(int), typeof(List<UdfExtent>), typeof(ulong[])],
            typeof(UdfCompiler).Module, skipVisibility: true);
        // Locals are zeroed explicitly below, only where the program can read them before writing.
        method.InitLocals = false;
        var il = method.GetILGenerator();

        var reg = new LocalBuilder[UdfLimits.Registers];
        for (int i = 0; i < reg.Length; i++) reg[i] = il.DeclareLocal(typeof(long));
        var fuel = il.DeclareLocal(typeof(int));
        var emitted = il.DeclareLocal(typeof(int));
        var addr = il.DeclareLocal(typeof(long));
        var fault = il.DeclareLocal(typeof(int));
        var low = il.DeclareLocal(typeof(long));
        var length = il.DeclareLocal(typeof(long));
        var ranges = il.DeclareLocal(typeof(int[]));

        var outOfFuel = il.DefineLabel();
        var loadFault = il.DefineLabel();
        var faultExit = il.DefineLabel();
        var badPartition = il.DefineLabel();
        var badExtent = il.DefineLabel();
        var overflow = il.DefineLabel();
        bool hasLoop = code.Any(x => x.Op == UdfOp.Loop);
        // Without loops every emit runs at most once, so the output slots can be reserved up front and
        // written directly; the list is trimmed to what was really emitted on every exit.
        int emitCount = code.Count(x => x.Op == UdfOp.Emit);
        bool reserve = !hasLoop && emitCount > 0 && code.All(x => x.Op != UdfOp.Emit || x.BImm);
        var baseCount = il.DeclareLocal(typeof(int));
        var slots = il.DeclareLocal(typeof(UdfExtent).MakeByRefType());
        void Finish()
        {
            if (!reserve) return;
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Ldloc, baseCount);
            il.Emit(OpCodes.Ldloc, emitted);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Call, TrimMethod);
        }

        // Leaders: entry, jump targets, and whatever follows a jump, a possible fault, or ret.
        var leader = new bool[n + 1];
        leader[0] = true;
        for (int i = 0; i < n; i++)
        {
            var x = code[i];
            if (UdfOps.HasTarget(x.Op)) leader[x.Target] = true;
            if (UdfOps.HasTarget(x.Op) || x.Op is UdfOp.Ret or UdfOp.Emit || (UdfOps.IsLoad(x.Op) && x.Checked))
                leader[i + 1] = true;
        }
        var labels = new Label[n];
        for (int i = 0; i < n; i++) labels[i] = il.DefineLabel();

        // Prologue: partition check, r1 = partition, read-set bounds for this partition.
        il.Emit(OpCodes.Ldarg_2);
        il.Emit(OpCodes.Ldc_I4, udf.Partitions);
        il.Emit(OpCodes.Bge_Un, badPartition);
        il.Emit(OpCodes.Ldarg_2);
        il.Emit(OpCodes.Conv_I8);
        il.Emit(OpCodes.Stloc, reg[1]);
        int inputs = udf.Program.Inputs;
        for (int r = 0; r < UdfLimits.Registers; r++)
        {
            if (r == 1) continue;
            if (r >= 2 && r < 2 + inputs)
            {
                // r2..r(1+inputs): the caller's values (zero where it passes none), as the interpreter sets them.
                il.Emit(OpCodes.Ldarg_S, (byte)4);
                il.Emit(OpCodes.Ldc_I4, r - 2);
                il.Emit(OpCodes.Call, InputMethod);
            }
            else il.Emit(OpCodes.Ldc_I8, 0L);
            il.Emit(OpCodes.Stloc, reg[r]);
        }
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Stloc, emitted);
        bool anyChecked = code.Any(x => UdfOps.IsLoad(x.Op) && x.Checked);
        bool single = udf.Sets.SingleRange;
        if (anyChecked && single)
        {
            EmitPartitionElement(il, LowField, typeof(long), low);
            EmitPartitionElement(il, LengthField, typeof(long), length);
        }
        else if (anyChecked)
            EmitPartitionElement(il, RangesField, typeof(int[]), ranges);
        if (udf.NeedsFuel)
        {
            il.Emit(OpCodes.Ldc_I4, udf.Fuel);
            il.Emit(OpCodes.Stloc, fuel);
        }
        if (reserve)
        {
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Ldc_I4, emitCount);
            il.Emit(OpCodes.Ldloca, baseCount);
            il.Emit(OpCodes.Call, ReserveMethod);
            il.Emit(OpCodes.Stloc, slots);
        }

        void LoadB(in Insn x)
        {
            if (x.BImm) il.Emit(OpCodes.Ldc_I8, x.Imm);
            else il.Emit(OpCodes.Ldloc, reg[x.Rb]);
        }

        for (int i = 0; i < n; i++)
        {
            var x = code[i];
            il.MarkLabel(labels[i]);
            if (leader[i] && udf.NeedsFuel)
            {
                int len = 1;
                while (!leader[i + len]) len++;
                il.Emit(OpCodes.Ldloc, fuel);
                il.Emit(OpCodes.Ldc_I4, len);
                il.Emit(OpCodes.Blt, outOfFuel);
                il.Emit(OpCodes.Ldloc, fuel);
                il.Emit(OpCodes.Ldc_I4, len);
                il.Emit(OpCodes.Sub);
                il.Emit(OpCodes.Stloc, fuel);
            }
            switch (x.Op)
            {
                case UdfOp.Li:
                    il.Emit(OpCodes.Ldc_I8, x.Imm);
                    il.Emit(OpCodes.Stloc, reg[x.Rd]);
                    break;
                case UdfOp.Mov:
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    il.Emit(OpCodes.Stloc, reg[x.Rd]);
                    break;
                case UdfOp.Add or UdfOp.Sub or UdfOp.Mul or UdfOp.And or UdfOp.Or or UdfOp.Xor:
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    LoadB(x);
                    il.Emit(x.Op switch
                    {
                        UdfOp.Add => OpCodes.Add, UdfOp.Sub => OpCodes.Sub, UdfOp.Mul => OpCodes.Mul,
                        UdfOp.And => OpCodes.And, UdfOp.Or => OpCodes.Or, _ => OpCodes.Xor,
                    });
                    il.Emit(OpCodes.Stloc, reg[x.Rd]);
                    break;
                case UdfOp.Shl or UdfOp.Shr:
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    if (x.BImm)
                        il.Emit(OpCodes.Ldc_I4, (int)(x.Imm & 63));
                    else
                    {
                        // IL leaves shifts by 64 or more unspecified: mask as the spec says.
                        il.Emit(OpCodes.Ldloc, reg[x.Rb]);
                        il.Emit(OpCodes.Conv_I4);
                        il.Emit(OpCodes.Ldc_I4, 63);
                        il.Emit(OpCodes.And);
                    }
                    il.Emit(x.Op == UdfOp.Shl ? OpCodes.Shl : OpCodes.Shr_Un);
                    il.Emit(OpCodes.Stloc, reg[x.Rd]);
                    break;
                case UdfOp.Divu or UdfOp.Remu:
                {
                    var div = x.Op == UdfOp.Divu ? OpCodes.Div_Un : OpCodes.Rem_Un;
                    if (x.BImm)
                    {
                        if (x.Imm == 0) il.Emit(OpCodes.Ldc_I8, 0L);
                        else
                        {
                            il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                            il.Emit(OpCodes.Ldc_I8, x.Imm);
                            il.Emit(div);
                        }
                        il.Emit(OpCodes.Stloc, reg[x.Rd]);
                    }
                    else
                    {
                        var nonZero = il.DefineLabel();
                        var done = il.DefineLabel();
                        il.Emit(OpCodes.Ldloc, reg[x.Rb]);
                        il.Emit(OpCodes.Brtrue, nonZero);
                        il.Emit(OpCodes.Ldc_I8, 0L);
                        il.Emit(OpCodes.Stloc, reg[x.Rd]);
                        il.Emit(OpCodes.Br, done);
                        il.MarkLabel(nonZero);
                        il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                        il.Emit(OpCodes.Ldloc, reg[x.Rb]);
                        il.Emit(div);
                        il.Emit(OpCodes.Stloc, reg[x.Rd]);
                        il.MarkLabel(done);
                    }
                    break;
                }
                case UdfOp.Ld8 or UdfOp.Ld16 or UdfOp.Ld32 or UdfOp.Ld64:
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    if (x.Imm != 0)
                    {
                        il.Emit(OpCodes.Ldc_I8, x.Imm);
                        il.Emit(OpCodes.Add);
                    }
                    il.Emit(OpCodes.Stloc, addr);
                    if (x.Checked && single)
                    {
                        // In set iff (addr - low) <= length - width, unsigned; length >= 8 >= width.
                        il.Emit(OpCodes.Ldloc, addr);
                        il.Emit(OpCodes.Ldloc, low);
                        il.Emit(OpCodes.Sub);
                        il.Emit(OpCodes.Ldloc, length);
                        il.Emit(OpCodes.Ldc_I8, (long)x.Width);
                        il.Emit(OpCodes.Sub);
                        il.Emit(OpCodes.Bgt_Un, loadFault);
                    }
                    else if (x.Checked)
                    {
                        il.Emit(OpCodes.Ldloc, ranges);
                        il.Emit(OpCodes.Ldloc, addr);
                        il.Emit(OpCodes.Ldc_I4, (int)x.Width);
                        il.Emit(OpCodes.Call, ContainsMethod);
                        il.Emit(OpCodes.Brfalse, loadFault);
                    }
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Ldloc, addr);
                    il.Emit(OpCodes.Conv_I);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Unaligned, (byte)1);
                    switch (x.Width)
                    {
                        case 1: il.Emit(OpCodes.Ldind_U1); il.Emit(OpCodes.Conv_U8); break;
                        case 2: il.Emit(OpCodes.Ldind_U2); il.Emit(OpCodes.Conv_U8); break;
                        case 4: il.Emit(OpCodes.Ldind_U4); il.Emit(OpCodes.Conv_U8); break;
                        default: il.Emit(OpCodes.Ldind_I8); break;
                    }
                    il.Emit(OpCodes.Stloc, reg[x.Rd]);
                    break;
                case UdfOp.Jmp:
                    il.Emit(OpCodes.Br, labels[x.Target]);
                    break;
                case UdfOp.Beq or UdfOp.Bne or UdfOp.Bltu or UdfOp.Bgeu or UdfOp.Blt or UdfOp.Bge:
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    LoadB(x);
                    il.Emit(x.Op switch
                    {
                        UdfOp.Beq => OpCodes.Beq, UdfOp.Bne => OpCodes.Bne_Un, UdfOp.Bltu => OpCodes.Blt_Un,
                        UdfOp.Bgeu => OpCodes.Bge_Un, UdfOp.Blt => OpCodes.Blt, _ => OpCodes.Bge,
                    }, labels[x.Target]);
                    break;
                case UdfOp.Loop:
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    il.Emit(OpCodes.Ldc_I8, 1L);
                    il.Emit(OpCodes.Sub);
                    il.Emit(OpCodes.Dup);
                    il.Emit(OpCodes.Stloc, reg[x.Ra]);
                    il.Emit(OpCodes.Brtrue, labels[x.Target]);
                    break;
                case UdfOp.Emit when x.BImm:
                {
                    // Constant count, the usual case: the checks fold to at most two compares, and the
                    // extent goes straight into the list. Fault order matches UdfInterpreter.EmitFault.
                    ulong count = (ulong)x.Imm;
                    if (count == 0)
                    {
                        il.Emit(OpCodes.Br, badExtent);
                        break;
                    }
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    il.Emit(OpCodes.Ldc_I8, unchecked((long)(ulong.MaxValue - count)));
                    il.Emit(OpCodes.Bgt_Un, badExtent);
                    if (hasLoop)
                    {
                        // Without loops each emit runs at most once and there are at most 1024 of them.
                        il.Emit(OpCodes.Ldloc, emitted);
                        il.Emit(OpCodes.Ldc_I4, UdfLimits.MaxExtentsPerRun);
                        il.Emit(OpCodes.Bge, overflow);
                        il.Emit(OpCodes.Ldloc, emitted);
                        il.Emit(OpCodes.Ldc_I4_1);
                        il.Emit(OpCodes.Add);
                        il.Emit(OpCodes.Stloc, emitted);
                    }
                    if (reserve)
                    {
                        // slots[emitted++] = extent
                        il.Emit(OpCodes.Ldloc, slots);
                        il.Emit(OpCodes.Ldloc, emitted);
                        il.Emit(OpCodes.Conv_I);
                        il.Emit(OpCodes.Sizeof, typeof(UdfExtent));
                        il.Emit(OpCodes.Mul);
                        il.Emit(OpCodes.Add);
                        il.Emit(OpCodes.Ldc_I4, x.Type);
                        il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                        il.Emit(OpCodes.Ldc_I8, x.Imm);
                        il.Emit(OpCodes.Newobj, ExtentCtor);
                        il.Emit(OpCodes.Stobj, typeof(UdfExtent));
                        il.Emit(OpCodes.Ldloc, emitted);
                        il.Emit(OpCodes.Ldc_I4_1);
                        il.Emit(OpCodes.Add);
                        il.Emit(OpCodes.Stloc, emitted);
                        break;
                    }
                    il.Emit(OpCodes.Ldarg_3);
                    il.Emit(OpCodes.Ldc_I4, x.Type);
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    il.Emit(OpCodes.Ldc_I8, x.Imm);
                    il.Emit(OpCodes.Newobj, ExtentCtor);
                    il.Emit(OpCodes.Callvirt, AddMethod);
                    break;
                }
                case UdfOp.Emit:
                    il.Emit(OpCodes.Ldarg_3);
                    il.Emit(OpCodes.Ldloca, emitted);
                    il.Emit(OpCodes.Ldc_I4, x.Type);
                    il.Emit(OpCodes.Ldloc, reg[x.Ra]);
                    LoadB(x);
                    il.Emit(OpCodes.Call, EmitMethod);
                    il.Emit(OpCodes.Dup);
                    il.Emit(OpCodes.Stloc, fault);
                    il.Emit(OpCodes.Brtrue, faultExit);
                    break;
                case UdfOp.Ret:
                    Finish();
                    il.Emit(OpCodes.Ldc_I4, (int)UdfFault.None);
                    LoadB(x);
                    il.Emit(OpCodes.Newobj, ResultCtor);
                    il.Emit(OpCodes.Ret);
                    break;
                default:
                    throw new InvalidOperationException($"verifier let through opcode {x.Op}");
            }
        }

        EmitFaultReturn(il, badPartition, UdfFault.BadPartition);   // before any reservation
        il.MarkLabel(outOfFuel);
        Finish();
        EmitFaultReturn(il, null, UdfFault.OutOfFuel);
        il.MarkLabel(loadFault);
        Finish();
        EmitFaultReturn(il, null, UdfFault.LoadOutOfReadSet);
        il.MarkLabel(badExtent);
        Finish();
        EmitFaultReturn(il, null, UdfFault.BadExtent);
        EmitFaultReturn(il, overflow, UdfFault.OutputOverflow);     // only with loops: no reservation
        il.MarkLabel(faultExit);
        il.Emit(OpCodes.Ldloc, fault);
        il.Emit(OpCodes.Ldc_I8, 0L);
        il.Emit(OpCodes.Newobj, ResultCtor);
        il.Emit(OpCodes.Ret);

        return (UdfBody)method.CreateDelegate(typeof(UdfBody), new Context(udf.Sets));
    }

    private static void EmitPartitionElement(ILGenerator il, FieldInfo field, Type element, LocalBuilder into)
    {
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldfld, field);
        il.Emit(OpCodes.Ldarg_2);
        if (element == typeof(long)) il.Emit(OpCodes.Ldelem_I8);
        else il.Emit(OpCodes.Ldelem_Ref);
        il.Emit(OpCodes.Stloc, into);
    }

    private static void EmitFaultReturn(ILGenerator il, Label? label, UdfFault f)
    {
        if (label is { } l) il.MarkLabel(l);
        il.Emit(OpCodes.Ldc_I4, (int)f);
        il.Emit(OpCodes.Ldc_I8, 0L);
        il.Emit(OpCodes.Newobj, ResultCtor);
        il.Emit(OpCodes.Ret);
    }

    /// <summary>Grows <paramref name="output"/> by <paramref name="extra"/> slots and returns a ref to the first.</summary>
    private static ref UdfExtent ReserveExtents(List<UdfExtent> output, int extra, out int baseCount)
    {
        baseCount = output.Count;
        System.Runtime.InteropServices.CollectionsMarshal.SetCount(output, baseCount + extra);
        return ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[baseCount];
    }

    /// <summary>Shrinks <paramref name="output"/> back to the extents really emitted.</summary>
    private static void TrimExtents(List<UdfExtent> output, int count) =>
        System.Runtime.InteropServices.CollectionsMarshal.SetCount(output, count);

    /// <summary>Appends one extent, or returns the fault (as int) the interpreter would raise.</summary>
    private static int EmitExtent(List<UdfExtent> output, ref int emitted, int type, ulong start, ulong count)
    {
        var f = UdfInterpreter.EmitFault(emitted, start, count);
        if (f != UdfFault.None) return (int)f;
        output.Add(new UdfExtent(type, start, count));
        emitted++;
        return 0;
    }
}
