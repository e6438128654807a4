namespace ExoFS.Kernel.Memory;

/// <summary>Outcome of a physical-memory call. Expected refusals, never exceptions.</summary>
public enum MemoryStatus
{
    Ok,
    /// <summary>Not enough free frames, even after reclaiming from environments above their fair share.</summary>
    OutOfMemory,
    /// <summary>The allocation would take the environment over the quota set with <see cref="PhysicalMemory.SetQuota"/>.</summary>
    QuotaExceeded,
    /// <summary>The frame is owned by another environment.</summary>
    NotOwner,
    /// <summary>The handle is dead: its allocation was freed or repossessed.</summary>
    StaleFrame,
    /// <summary>The environment is destroyed or belongs to another kernel, or the frame to another pool.</summary>
    InvalidEnvironment,
    /// <summary>A negative count or similar malformed request.</summary>
    InvalidArgument,
    /// <summary>The capability presented for a binding did not pass the kernel's check.</summary>
    BadCapability,
}

/// <summary>Result of <see cref="PhysicalMemory.Allocate"/>: all frames asked for, or none.</summary>
public readonly record struct AllocationResult(MemoryStatus Status, IReadOnlyList<PageFrame> Frames)
{
    public bool Ok => Status == MemoryStatus.Ok;
}

/// <summary>Result of a read-only binding of a shared frame.</summary>
public readonly record struct MappingResult(MemoryStatus Status, ReadOnlyMemory<byte> View)
{
    public bool Ok => Status == MemoryStatus.Ok;
}

/// <summary>How an environment answered a revocation request.</summary>
public enum ReclaimOutcome
{
    /// <summary>It gave back at least the number asked for, in time. Nothing was taken by force.</summary>
    Complied,
    /// <summary>It returned too few valid frames; the kernel took the rest by force.</summary>
    TooFew,
    /// <summary>Its handler threw; the kernel took every frame asked for by force.</summary>
    HandlerFailed,
    /// <summary>It exceeded the deadline; its answer was ignored and the kernel took the frames by force.</summary>
    DeadlineExceeded,
    /// <summary>It registered no handler; the kernel took the frames by force.</summary>
    NoHandler,
}

/// <summary>
/// What a reclaim did. <see cref="Returned"/> are the frames the environment chose and gave back;
/// <see cref="Repossessed"/> the frames taken by force (also appended to its repossession vector).
/// </summary>
public sealed record ReclaimReport(EnvId Env, int Requested, ReclaimOutcome Outcome,
    IReadOnlyList<PageFrameNo> Returned, IReadOnlyList<PageFrameNo> Repossessed)
{
    public int Reclaimed => Returned.Count + Repossessed.Count;
}

/// <summary>
/// The time an environment has to answer a revocation. <see cref="Ticks"/> is a budget on a simulated
/// clock the handler charges its work to (<see cref="RevocationRequest.Charge"/>; e.g. one write-back per
/// dirty page), which keeps tests and simulations deterministic. <see cref="WallClock"/>, when set, also
/// bounds real time: the handler then runs on a pool thread and a late answer is ignored.
/// </summary>
public readonly record struct ReclaimDeadline(long Ticks, TimeSpan? WallClock = null)
{
    public static ReclaimDeadline Unbounded => new(long.MaxValue);
}
