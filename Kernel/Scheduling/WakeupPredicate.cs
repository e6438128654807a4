using System.Globalization;
using ExoFS.Kernel.Udf;

namespace ExoFS.Kernel.Scheduling;

/// <summary>
/// The state block a wakeup predicate reads: <see cref="Size"/> bytes the kernel fills for the waiting
/// environment before each evaluation, little-endian 64-bit words. Words 0..7 are the kernel's (the
/// environment cannot write them); the <see cref="Counters"/> after them are the environment's own, set
/// with <see cref="ExoScheduler.SetCounter"/>, so a static program can compare a kernel word against a
/// target the environment chose at run time ("my disk request N has completed" is
/// <c>word[DiskCompleted] ≥ counter[k]</c> with N stored in counter k).
/// </summary>
public static class WakeupState
{
    /// <summary>Bytes in the state block; a predicate's read set must lie inside it.</summary>
    public const int Size = 512;
    /// <summary>Byte offset of the scheduler's tick: slices elapsed since boot (simulated time, never the wall clock).</summary>
    public const int Tick = 0;
    /// <summary>Byte offset of the waiting environment's id.</summary>
    public const int EnvId = 8;
    /// <summary>Byte offset of the number of disk requests this environment has submitted.</summary>
    public const int DiskSubmitted = 16;
    /// <summary>Byte offset of the number of them that have completed (requests complete in order).</summary>
    public const int DiskCompleted = 24;
    /// <summary>Byte offset of the number of slices this environment has run.</summary>
    public const int Runs = 32;
    /// <summary>Byte offset of the number of slices any environment has run (system-wide progress).</summary>
    public const int TotalRuns = 40;
    /// <summary>Byte offset of counter 0; counter k is at <c>CounterBase + 8k</c>.</summary>
    public const int CounterBase = 64;
    /// <summary>Number of environment-set counters.</summary>
    public const int Counters = (Size - CounterBase) / 8;

    /// <summary>Byte offset of counter <paramref name="k"/>.</summary>
    public static int Counter(int k) => CounterBase + 8 * k;
}

/// <summary>
/// A wakeup predicate: downloaded code the kernel runs before giving an environment a slice, which may
/// run only when the predicate returns non-zero. It is a UDF (same text form, verifier and compiler) with
/// stricter rules, because the kernel evaluates it on every slice the environment could get: one
/// partition; no <c>loop</c> (its cost is bounded by its length, no fuel can run out); no <c>emit</c>; a
/// read set inside the <see cref="WakeupState"/> block. A load whose address the verifier cannot fix is
/// still checked when it runs; such a fault counts as "false" (the environment stays asleep). Immutable,
/// thread-safe; created only by <see cref="Verify"/>.
/// </summary>
public sealed class WakeupPredicate
{
    private readonly VerifiedUdf _udf;

    private WakeupPredicate(VerifiedUdf udf) => _udf = udf;

    /// <summary>The <c>.udf</c> name.</summary>
    public string Name => _udf.Name;

    /// <summary>The canonical text (what a caller would store or print).</summary>
    public string Text => _udf.Program.ToText();

    /// <summary>Parses, runs the UDF verifier, then the predicate rules; the first failing rule is the reason.</summary>
    public static WakeupVerifyResult Verify(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var v = UdfVerifier.Verify(text);
        if (!v.Accepted) return new(null, v.Reason);
        var udf = v.Udf!;
        if (udf.Partitions != 1)
            return new(null, $"a wakeup predicate has one partition, not {udf.Partitions}");
        foreach (var x in udf.Program.Instructions)
        {
            if (x.Op == UdfOp.Loop)
                return new(null, $"a wakeup predicate may not loop (line {x.Line}): the kernel runs it on every slice, so its cost must be bounded by its length");
            if (x.Op == UdfOp.Emit)
                return new(null, $"a wakeup predicate may not emit extents (line {x.Line})");
        }
        foreach (var r in udf.ReadSet(0))
            if (r.End > WakeupState.Size)
                return new(null, string.Create(CultureInfo.InvariantCulture,
                    $"read set outside the wakeup state block: bytes {r.Offset}..{r.End} (the block is 0..{WakeupState.Size})"));
        return new(new WakeupPredicate(udf), null);
    }

    /// <summary>
    /// Runs the predicate (compiled) on <paramref name="state"/>, a block of <see cref="UdfLimits.BlockSize"/>
    /// bytes whose first <see cref="WakeupState.Size"/> are the state. True when it returned non-zero.
    /// </summary>
    internal bool Holds(ReadOnlySpan<byte> state, List<UdfExtent> scratch, out UdfFault fault)
    {
        scratch.Clear();
        var r = _udf.Run(state, 0, scratch);
        fault = r.Fault;
        return r.Ok && r.Value != 0;
    }

    /// <summary>The reference interpreter's verdict, which <see cref="Holds"/> must always equal (tests compare them).</summary>
    internal bool HoldsInterpreted(ReadOnlySpan<byte> state, List<UdfExtent> scratch, out UdfFault fault)
    {
        scratch.Clear();
        var r = _udf.Interpret(state, 0, scratch);
        fault = r.Fault;
        return r.Ok && r.Value != 0;
    }

    public override string ToString() => $"wakeup predicate {Name}";
}

/// <summary>The verdict of <see cref="WakeupPredicate.Verify"/>: a predicate, or the reason it was refused.</summary>
public readonly record struct WakeupVerifyResult(WakeupPredicate? Predicate, string? Reason)
{
    /// <summary>True when <see cref="Predicate"/> is set.</summary>
    public bool Accepted => Predicate is not null;
}
