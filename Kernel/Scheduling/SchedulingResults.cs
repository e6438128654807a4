namespace ExoFS.Kernel.Scheduling;

/// <summary>One slot of the time-slice vector, by position in the ring (0..Length-1).</summary>
public readonly record struct SliceNo(int Value)
{
    public override string ToString() => $"slice{Value}";
}

/// <summary>Outcome of a scheduler call. Expected refusals, never exceptions.</summary>
public enum ScheduleStatus
{
    Ok,
    /// <summary>The slice number is outside the ring, or a counter index outside the state block.</summary>
    OutOfRange,
    /// <summary>The slice is owned by another environment (or already by this one).</summary>
    Taken,
    /// <summary>The environment tried to release a slice it does not own.</summary>
    NotOwner,
    /// <summary>The claim would take the environment over the slice quota the host set.</summary>
    QuotaExceeded,
    /// <summary>Fewer free slices than asked for: nothing was claimed.</summary>
    NoFreeSlice,
    /// <summary>The environment is destroyed or belongs to another kernel.</summary>
    InvalidEnvironment,
    /// <summary>A count below one or similar malformed request.</summary>
    InvalidArgument,
    /// <summary>The wakeup predicate failed verification; the reason says which rule.</summary>
    PredicateRejected,
}

/// <summary>Result of a claim: the slices now held (all asked for, or none).</summary>
public readonly record struct ClaimResult(ScheduleStatus Status, IReadOnlyList<SliceNo> Slices)
{
    public bool Ok => Status == ScheduleStatus.Ok;

    internal static ClaimResult Refused(ScheduleStatus s) => new(s, []);
}

/// <summary>Result of registering a wakeup predicate: refused with the verifier's (or the predicate rules') reason.</summary>
public readonly record struct WakeupResult(ScheduleStatus Status, string? Reason)
{
    public bool Ok => Status == ScheduleStatus.Ok;
}

/// <summary>A disk request the kernel queued for an environment: its per-environment number and the tick it completes at.</summary>
public readonly record struct DiskTicket(long Number, long CompletesAt);

/// <summary>How a slice was given out.</summary>
public enum SliceGrant
{
    /// <summary>The slice's owner was runnable and ran.</summary>
    Owner,
    /// <summary>The slice was free or its owner asleep; the seeded choice gave it to another runnable slice holder.</summary>
    Donated,
    /// <summary>No slice holder was runnable; the CPU idled (disk requests still progressed).</summary>
    Idle,
}

/// <summary>
/// One scheduling decision: at <paramref name="Tick"/> the ring reached <paramref name="Slice"/>, owned by
/// <paramref name="Owner"/> (null if free); <paramref name="Runner"/> got the CPU (null when idle).
/// </summary>
public readonly record struct SliceDecision(long Tick, SliceNo Slice, EnvId? Owner, EnvId? Runner, SliceGrant Grant)
{
    public override string ToString() =>
        $"t{Tick} {Slice} owner={Owner?.ToString() ?? "-"} ran={Runner?.ToString() ?? "-"} {Grant.ToString().ToLowerInvariant()}";
}
