namespace ExoFS.Kernel.Udf;

/// <summary>The fixed limits of the UDF language (UDF-SPEC.md). The verifier enforces them.</summary>
public static class UdfLimits
{
    /// <summary>Size of the one input block a UDF sees.</summary>
    public const int BlockSize = 4096;
    /// <summary>Largest <c>.partitions</c> value.</summary>
    public const int MaxPartitions = 1024;
    /// <summary>The kernel's fuel budget: the default and the maximum <c>.fuel</c>.</summary>
    public const int MaxFuel = 4096;
    /// <summary>Most instructions a program may contain.</summary>
    public const int MaxInstructions = 1024;
    /// <summary>Most extents one run may emit.</summary>
    public const int MaxExtentsPerRun = 1024;
    /// <summary>Most <c>.read</c> lines (an addition to the spec: keeps per-partition read sets small).</summary>
    public const int MaxReadRanges = 64;
    /// <summary>Registers r0..r15.</summary>
    public const int Registers = 16;
    /// <summary>
    /// Most <c>.inputs</c>: caller-supplied values in r2..r(1+N) at entry (r1 is the partition). A program
    /// that declares none sees zeros there, as before; the verifier treats declared inputs as unknown.
    /// </summary>
    public const int MaxInputs = 4;
}

/// <summary>How a run ended. Every fault is deterministic: same program, block and partition, same fault.</summary>
public enum UdfFault
{
    /// <summary>The run reached <c>ret</c>.</summary>
    None,
    /// <summary>A load touched a byte outside the current partition's read set.</summary>
    LoadOutOfReadSet,
    /// <summary>The run tried to execute more instructions than its <c>.fuel</c>.</summary>
    OutOfFuel,
    /// <summary>The run tried to emit more than <see cref="UdfLimits.MaxExtentsPerRun"/> extents.</summary>
    OutputOverflow,
    /// <summary>An <c>emit</c> with count 0, or whose start + count wraps past 2^64.</summary>
    BadExtent,
    /// <summary>The partition index is outside 0..Partitions-1; nothing ran.</summary>
    BadPartition,
}

/// <summary>
/// The outcome of one run: the fault (None on success) and the value passed to <c>ret</c>
/// (0 whenever <see cref="Fault"/> is not None).
/// </summary>
public readonly record struct UdfResult(UdfFault Fault, long Value)
{
    /// <summary>True when the run ended with <c>ret</c>.</summary>
    public bool Ok => Fault == UdfFault.None;

    internal static UdfResult Faulted(UdfFault fault) => new(fault, 0);
}

/// <summary>One emitted extent: index into the UDF's <c>.types</c>, first block, block count (never 0).</summary>
public readonly record struct UdfExtent(int TypeIndex, ulong Start, ulong Count);

/// <summary>A run of bytes [Offset, Offset+Length) inside the input block.</summary>
public readonly record struct UdfByteRange(int Offset, int Length)
{
    /// <summary>One past the last byte.</summary>
    public int End => Offset + Length;
    public override string ToString() => $"{Offset}..{End}";
}

/// <summary>One <c>.read OFF LEN STRIDE</c> directive: partition p reads [OFF+p*STRIDE, +LEN).</summary>
public readonly record struct UdfReadDirective(int Offset, int Length, int Stride, int Line);
