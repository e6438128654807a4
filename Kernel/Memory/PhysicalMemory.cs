using ExoFS.Kernel.Capabilities;

namespace ExoFS.Kernel.Memory;

/// <summary>
/// The kernel's pool of 4 KiB page frames and who owns each one.
/// </summary>
/// <remarks>
/// <para>Invariants (held under <c>_lock</c>): every frame is either on the free stack or owned by exactly one
/// environment, and that owner's set lists it; at most one live <see cref="PageFrame"/> handle exists per
/// frame, the one for its current generation. Frames are zeroed when allocated so no environment sees
/// another's data.</para>
/// <para>Visible revocation: <see cref="Reclaim"/> upcalls the environment's <see cref="IRevocationHandler"/>
/// (without the lock held) and takes what it chose; if it gives too few, throws or overruns the deadline,
/// the abort protocol takes the rest by force — the most recently allocated frames first — and records them
/// in the environment's repossession vector.</para>
/// <para>Pressure policy (the only policy here, kept simple): when an allocation finds too few free frames,
/// the kernel reclaims from other environments holding more than their fair share, where the fair share is
/// the pool size divided by the number of environments holding frames (counting the requester), largest
/// holder first. The requester must itself stay within its fair share to trigger this; otherwise, or if
/// nobody is above fair share, the allocation fails with <see cref="MemoryStatus.OutOfMemory"/>.</para>
/// </remarks>
public sealed class PhysicalMemory
{
    private sealed class EnvState
    {
        public readonly HashSet<int> Owned = [];
        public int? Quota;
        public IRevocationHandler? Handler;
        public readonly List<PageFrameNo> Repossessed = [];
    }

    private readonly ExoKernel _kernel;
    private readonly Lock _lock = new();
    // Frame memory, in chunks allocated on first use: a kernel booted for a short job (a crash-state
    // recovery, fsck of a small image) touches a few frames, and 4 MiB zeroed up front per boot was most of
    // a crash campaign's system time. Chunks stay below the large-object threshold.
    private const int ChunkFrames = 16;
    private readonly byte[]?[] _chunks;
    private readonly int[] _owner;          // EnvId.Value of the owner; 0 = free (ids start at 1)
    private readonly ulong[] _generation;   // allocations of each frame so far
    private readonly long[] _allocSeq;      // when each frame was last allocated (abort-protocol order)
    private readonly PageFrame?[] _handle;  // the live handle of each owned frame
    private readonly Stack<int> _free = new();
    private readonly Dictionary<EnvId, EnvState> _envs = [];
    private long _seq;

    internal PhysicalMemory(ExoKernel kernel, int frames)
    {
        _kernel = kernel;
        _chunks = new byte[]?[(frames + ChunkFrames - 1) / ChunkFrames];
        _owner = new int[frames];
        _generation = new ulong[frames];
        _allocSeq = new long[frames];
        _handle = new PageFrame?[frames];
        // Pushed highest first so allocation hands out low frame numbers first: deterministic layouts.
        for (int i = frames - 1; i >= 0; i--) _free.Push(i);
    }

    /// <summary>Frames in the pool.</summary>
    public int TotalFrames => _owner.Length;

    /// <summary>Frames currently free.</summary>
    public int FreeFrames { get { lock (_lock) return _free.Count; } }

    /// <summary>
    /// Caps how many frames <paramref name="env"/> may own (null: no cap). Lowering a quota below what the
    /// environment holds takes nothing away; it only refuses further allocations. Internal: quotas are
    /// the administrator's policy, and a libOS holding its own environment must not lift its own cap.
    /// </summary>
    internal MemoryStatus SetQuota(ExoEnvironment env, int? maxFrames)
    {
        if (!Valid(env)) return MemoryStatus.InvalidEnvironment;
        if (maxFrames < 0) return MemoryStatus.InvalidArgument;
        lock (_lock)
        {
            if (!env.IsAlive) return MemoryStatus.InvalidEnvironment;
            State(env.Id).Quota = maxFrames;
        }
        return MemoryStatus.Ok;
    }

    /// <summary>The quota of <paramref name="env"/> (null: none).</summary>
    public int? Quota(ExoEnvironment env)
    {
        lock (_lock) return _envs.TryGetValue(env.Id, out var s) ? s.Quota : null;
    }

    /// <summary>Installs (or with null removes) the environment's revocation upcall.</summary>
    public MemoryStatus SetRevocationHandler(ExoEnvironment env, IRevocationHandler? handler)
    {
        if (!Valid(env)) return MemoryStatus.InvalidEnvironment;
        lock (_lock)
        {
            if (!env.IsAlive) return MemoryStatus.InvalidEnvironment;
            State(env.Id).Handler = handler;
        }
        return MemoryStatus.Ok;
    }

    /// <summary>
    /// Allocates <paramref name="count"/> zeroed frames to <paramref name="env"/>: all or none. Under
    /// pressure this may first reclaim from other environments (see the class remarks), running their
    /// upcalls on this thread.
    /// </summary>
    public AllocationResult Allocate(ExoEnvironment env, int count)
    {
        if (!Valid(env)) return new(MemoryStatus.InvalidEnvironment, []);
        if (count < 0) return new(MemoryStatus.InvalidArgument, []);
        // Each round either allocates, fails, or reclaims from one victim; bounded so a victim that keeps
        // re-allocating what it gave back cannot make us spin.
        for (int round = 0; ; round++)
        {
            ExoEnvironment? victim;
            int want;
            lock (_lock)
            {
                // Re-checked under the lock: teardown marks the environment dead before releasing its
                // frames, so this cannot hand frames to an environment that teardown already emptied.
                if (!env.IsAlive) return new(MemoryStatus.InvalidEnvironment, []);
                var me = State(env.Id);
                if (me.Quota is int q && me.Owned.Count + count > q) return new(MemoryStatus.QuotaExceeded, []);
                if (_free.Count >= count) return new(MemoryStatus.Ok, TakeFree(env.Id, me, count));
                if (count > TotalFrames || round > _envs.Count + 1) return new(MemoryStatus.OutOfMemory, []);
                (victim, want) = PickVictim(env.Id, me, count);
            }
            if (victim is null) return new(MemoryStatus.OutOfMemory, []);
            Reclaim(victim, want, new ReclaimDeadline(_kernel.Options.PressureReclaimTicks));
        }
    }

    /// <summary>
    /// Returns <paramref name="frame"/> to the pool. Only its owner may; its handle dies.
    /// </summary>
    public MemoryStatus Free(ExoEnvironment env, PageFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!Valid(env) || frame.Pool != this) return MemoryStatus.InvalidEnvironment;
        lock (_lock)
        {
            int f = frame.Number.Value;
            if (_handle[f] != frame) return frame.Owner == env.Id ? MemoryStatus.StaleFrame : MemoryStatus.NotOwner;
            if (_owner[f] != env.Id.Value) return MemoryStatus.NotOwner;
            Release(f, _envs[env.Id]);
            return MemoryStatus.Ok;
        }
    }

    /// <summary>The frames <paramref name="env"/> owns now, in frame-number order.</summary>
    public IReadOnlyList<PageFrame> OwnedFrames(ExoEnvironment env)
    {
        lock (_lock) return OwnedSnapshot(env.Id);
    }

    /// <summary>How many frames <paramref name="env"/> owns now.</summary>
    public int OwnedCount(ExoEnvironment env)
    {
        lock (_lock) return _envs.TryGetValue(env.Id, out var s) ? s.Owned.Count : 0;
    }

    /// <summary>
    /// Every frame taken from <paramref name="env"/> by force (abort protocol) since the last
    /// <see cref="TakeRepossessionVector"/>, in the order taken.
    /// </summary>
    public IReadOnlyList<PageFrameNo> RepossessionVector(ExoEnvironment env)
    {
        lock (_lock) return _envs.TryGetValue(env.Id, out var s) ? s.Repossessed.ToArray() : [];
    }

    /// <summary>Reads and clears the repossession vector (the libOS has dealt with those frames).</summary>
    public IReadOnlyList<PageFrameNo> TakeRepossessionVector(ExoEnvironment env)
    {
        lock (_lock)
        {
            if (!_envs.TryGetValue(env.Id, out var s)) return [];
            var v = s.Repossessed.ToArray();
            s.Repossessed.Clear();
            return v;
        }
    }

    /// <summary>
    /// Visible revocation: asks <paramref name="env"/> to give back <paramref name="count"/> frames (capped
    /// at what it owns) and, if it does not comply within <paramref name="deadline"/>, takes the shortfall
    /// by force. Runs the upcall on this thread unless the deadline has a wall-clock bound. Internal: the
    /// kernel starts revocations itself (allocation under pressure); tests and XN may drive it directly.
    /// </summary>
    internal ReclaimReport Reclaim(ExoEnvironment env, int count, ReclaimDeadline deadline)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (env.Kernel != _kernel || count <= 0) return new(env.Id, 0, ReclaimOutcome.Complied, [], []);
        IReadOnlyList<PageFrame> owned;
        IRevocationHandler? handler;
        lock (_lock)
        {
            if (!_envs.TryGetValue(env.Id, out var s)) return new(env.Id, 0, ReclaimOutcome.Complied, [], []);
            owned = OwnedSnapshot(env.Id);
            handler = s.Handler;
            count = Math.Min(count, owned.Count);
            if (count == 0) return new(env.Id, 0, ReclaimOutcome.Complied, [], []);
        }

        var request = new RevocationRequest(count, owned, deadline.Ticks);
        var (outcome, chosen) = handler is null ? (ReclaimOutcome.NoHandler, null) : RunUpcall(handler, request, deadline);

        var returned = new List<PageFrameNo>();
        var taken = new List<PageFrameNo>();
        lock (_lock)
        {
            // Torn down during the upcall: teardown already returned every frame.
            if (!_envs.TryGetValue(env.Id, out var s)) return new(env.Id, count, outcome, [], []);
            // Take what the libOS chose — only live handles it still owns, each once, at most `count`.
            if (chosen is not null)
                foreach (var frame in chosen)
                {
                    if (returned.Count == count) break;
                    if (frame is null || frame.Pool != this) continue;
                    int f = frame.Number.Value;
                    if (_handle[f] != frame || _owner[f] != env.Id.Value) continue;
                    Release(f, s);
                    returned.Add(frame.Number);
                }
            if (returned.Count < count)
            {
                if (outcome == ReclaimOutcome.Complied) outcome = ReclaimOutcome.TooFew;
                // Abort protocol: most recently allocated first; ties cannot happen (sequence is unique).
                foreach (int f in s.Owned.OrderByDescending(f => _allocSeq[f]).Take(count - returned.Count).ToArray())
                {
                    Release(f, s);
                    taken.Add(new PageFrameNo(f));
                }
                s.Repossessed.AddRange(taken);
            }
        }
        if (taken.Count > 0 && handler is not null)
        {
            // A notice only: the frames are already gone, so a failing handler changes nothing.
            try { handler.Repossessed(taken); } catch (Exception) { }
        }
        return new(env.Id, count, outcome, returned, taken);
    }

    /// <summary>
    /// Mints, for the owner of <paramref name="frame"/>, a capability naming this allocation of the frame,
    /// which it may <see cref="ExoKernel.Delegate"/> (e.g. Read only) to environments it shares the page with.
    /// </summary>
    public CapabilityResult CapabilityFor(ExoEnvironment owner, PageFrame frame, Rights rights)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!Valid(owner) || frame.Pool != this) return new(CapabilityCheck.ForeignEnvironment, null);
        lock (_lock)
        {
            int f = frame.Number.Value;
            if (_handle[f] != frame || _owner[f] != owner.Id.Value) return new(CapabilityCheck.NotHolder, null);
        }
        return new(CapabilityCheck.Ok, _kernel.Mint(owner, new PageFrameResource(frame.Number, frame.Generation), rights));
    }

    /// <summary>
    /// Secure binding of a shared frame: <paramref name="reader"/> presents a capability with Read for a
    /// frame allocation and gets a read-only view of its bytes, if that allocation is still live.
    /// </summary>
    public MappingResult MapReadOnly(ExoEnvironment reader, Capability cap)
    {
        ArgumentNullException.ThrowIfNull(cap);
        if (cap.Resource is not PageFrameResource r) return new(MemoryStatus.BadCapability, ReadOnlyMemory<byte>.Empty);
        if (_kernel.Check(reader, cap, r, Rights.Read) != CapabilityCheck.Ok) return new(MemoryStatus.BadCapability, ReadOnlyMemory<byte>.Empty);
        int f = r.Frame.Value;
        if (f < 0 || f >= TotalFrames) return new(MemoryStatus.BadCapability, ReadOnlyMemory<byte>.Empty);
        lock (_lock)
        {
            if (_owner[f] == 0 || _generation[f] != r.Generation) return new(MemoryStatus.StaleFrame, ReadOnlyMemory<byte>.Empty);
            return new(MemoryStatus.Ok, _handle[f]!.RawBytes);
        }
    }

    /// <summary>Frees everything <paramref name="env"/> owns and forgets it (environment teardown).</summary>
    internal void ReleaseAll(EnvId env)
    {
        lock (_lock)
        {
            if (!_envs.TryGetValue(env, out var s)) return;
            foreach (int f in s.Owned.ToArray()) Release(f, s);
            _envs.Remove(env);
        }
    }

    /// <summary>Checks the pool's invariants; returns a description of each violation (empty when sound).</summary>
    internal IReadOnlyList<string> CheckInvariants()
    {
        var problems = new List<string>();
        lock (_lock)
        {
            var onFree = new HashSet<int>();
            foreach (int f in _free)
                if (!onFree.Add(f)) problems.Add($"frame {f} on the free stack twice");
                else if (_owner[f] != 0) problems.Add($"frame {f} free but owned by env{_owner[f]}");
            var seen = new Dictionary<int, EnvId>();
            foreach (var (id, s) in _envs)
                foreach (int f in s.Owned)
                {
                    if (seen.TryGetValue(f, out var other)) problems.Add($"frame {f} owned by {other} and {id}");
                    seen[f] = id;
                    if (_owner[f] != id.Value) problems.Add($"frame {f} listed for {id} but owner is env{_owner[f]}");
                    if (_handle[f] is not { IsValid: true } h || h.Owner != id) problems.Add($"frame {f} of {id} has no live handle");
                }
            if (seen.Count + onFree.Count != TotalFrames) problems.Add($"{seen.Count} owned + {onFree.Count} free != {TotalFrames}");
        }
        return problems;
    }

    // ---- under _lock ----

    private bool Valid(ExoEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        return env.Kernel == _kernel && env.IsAlive;
    }

    private EnvState State(EnvId id)
    {
        if (!_envs.TryGetValue(id, out var s)) _envs[id] = s = new EnvState();
        return s;
    }

    private PageFrame[] TakeFree(EnvId env, EnvState s, int count)
    {
        var frames = new PageFrame[count];
        for (int i = 0; i < count; i++)
        {
            int f = _free.Pop();
            var chunk = _chunks[f / ChunkFrames] ??= new byte[ChunkFrames * PageFrame.Size];
            var bytes = chunk.AsMemory(f % ChunkFrames * PageFrame.Size, PageFrame.Size);
            bytes.Span.Clear();
            _owner[f] = env.Value;
            _allocSeq[f] = ++_seq;
            var h = new PageFrame(this, new PageFrameNo(f), env, ++_generation[f], bytes);
            _handle[f] = h;
            s.Owned.Add(f);
            frames[i] = h;
        }
        return frames;
    }

    private void Release(int f, EnvState s)
    {
        _handle[f]!.Invalidate();
        _handle[f] = null;
        _owner[f] = 0;
        s.Owned.Remove(f);
        _free.Push(f);
    }

    private PageFrame[] OwnedSnapshot(EnvId env) =>
        _envs.TryGetValue(env, out var s) ? s.Owned.Order().Select(f => _handle[f]!).ToArray() : [];

    private (ExoEnvironment? Victim, int Want) PickVictim(EnvId requester, EnvState me, int count)
    {
        int shortfall = count - _free.Count;
        int holders = _envs.Count(kv => kv.Key == requester || kv.Value.Owned.Count > 0);
        int fair = TotalFrames / Math.Max(1, holders);
        // A requester that would end above its fair share must not push others below theirs.
        if (me.Owned.Count + count > fair) return (null, 0);
        EnvId? best = null;
        int bestOver = 0;
        foreach (var (id, s) in _envs.OrderBy(kv => kv.Key.Value))
        {
            int over = s.Owned.Count - fair;
            if (id != requester && over > bestOver) (best, bestOver) = (id, over);
        }
        if (best is not EnvId victimId || _kernel.FindEnvironment(victimId) is not { } victim) return (null, 0);
        return (victim, Math.Min(bestOver, shortfall));
    }

    private static (ReclaimOutcome, IReadOnlyList<PageFrame>?) RunUpcall(IRevocationHandler handler, RevocationRequest request, ReclaimDeadline deadline)
    {
        IReadOnlyList<PageFrame>? chosen;
        try
        {
            if (deadline.WallClock is TimeSpan wall)
            {
                var task = Task.Run(() => handler.Revoke(request));
                if (!task.Wait(wall)) return (ReclaimOutcome.DeadlineExceeded, null);
                chosen = task.Result;
            }
            else chosen = handler.Revoke(request);
        }
        catch (Exception)
        {
            // The libOS's failure is its own; the kernel carries on with the abort protocol.
            return (ReclaimOutcome.HandlerFailed, null);
        }
        if (request.Overrun) return (ReclaimOutcome.DeadlineExceeded, null);
        return (ReclaimOutcome.Complied, chosen);
    }
}
