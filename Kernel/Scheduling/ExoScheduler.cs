using System.Buffers.Binary;
using ExoFS.Kernel.Udf;

namespace ExoFS.Kernel.Scheduling;

/// <summary>
/// The CPU side of the simulated exokernel (DESIGN §3, "Scheduling"), after Aegis: a time-slice vector, a
/// fixed ring of <see cref="Length"/> slices that environments claim and release like any kernel resource,
/// and wakeup predicates that decide whether an environment whose slice comes up may run.
/// <para>
/// Time is simulated: every <see cref="Step"/> is one slice, the ring advances by one, and the tick counts
/// steps; nothing reads a clock or depends on thread timing. A slice goes to its owner when the owner is
/// runnable (alive, and its predicate, if any, holds). Otherwise it is donated — the only policy the kernel
/// adds, so that a sleeping owner does not waste the CPU — to one runnable slice holder chosen by the
/// scheduler's seeded generator; so the same claims, predicates, requests and seed give the same schedule.
/// An environment with no slice never runs.
/// </para>
/// <para>
/// The kernel also models the one disk's request queue for predicates to wait on: <see cref="SubmitDisk"/>
/// queues a request of a given service time behind those already queued (FIFO), and it completes when the
/// tick reaches its completion time. Thread-safe: every member takes one lock.
/// </para>
/// </summary>
public sealed class ExoScheduler
{
    private readonly object _gate = new();
    private readonly ExoKernel _kernel;
    private readonly EnvId?[] _owners;
    private readonly Dictionary<EnvId, EnvState> _envs = new();
    private readonly Queue<(EnvState Env, long Number, long CompletesAt)> _disk = new();
    private readonly List<UdfExtent> _scratch = new();
    private SplitMix64 _rng;
    private int _position;
    private long _tick, _totalRuns, _diskBusyUntil, _faults;

    internal ExoScheduler(ExoKernel kernel, int slices, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slices, 1);
        _kernel = kernel;
        _owners = new EnvId?[slices];
        Seed = seed;
        _rng = new SplitMix64(seed);
    }

    /// <summary>Slices in the ring.</summary>
    public int Length => _owners.Length;

    /// <summary>The seed the donation choices come from (<see cref="KernelOptions.SchedulerSeed"/>, or the last <see cref="Reseed"/>).</summary>
    public ulong Seed { get; private set; }

    /// <summary>Slices scheduled so far: the simulated clock that predicates see as <see cref="WakeupState.Tick"/>.</summary>
    public long Tick { get { lock (_gate) return _tick; } }

    /// <summary>The slice <see cref="Step"/> schedules next.</summary>
    public SliceNo Position { get { lock (_gate) return new SliceNo(_position); } }

    /// <summary>
    /// Restarts the donation generator from <paramref name="seed"/>, for a simulation that replays from its
    /// own seed on a kernel a host booted. Claims, predicates, the tick and the disk queue are unchanged.
    /// Internal, like <see cref="Step"/>: the host (or a harness acting as one) owns the clock, not a guest.
    /// </summary>
    internal void Reseed(ulong seed)
    {
        lock (_gate)
        {
            Seed = seed;
            _rng = new SplitMix64(seed);
        }
    }

    // ------------------------------------------------------------------ the time-slice vector

    /// <summary>The owner of <paramref name="slice"/>, or null when it is free or out of range. The vector is public knowledge, as in Aegis.</summary>
    public EnvId? OwnerOf(SliceNo slice)
    {
        lock (_gate) return InRange(slice) ? _owners[slice.Value] : null;
    }

    /// <summary>The slices <paramref name="env"/> holds, in ring order.</summary>
    public IReadOnlyList<SliceNo> SlicesOf(EnvId env)
    {
        lock (_gate) return Held(env);
    }

    /// <summary>Claims one given slice: refused when it is out of range or held (by anyone, this environment included).</summary>
    public ScheduleStatus Claim(ExoEnvironment env, SliceNo slice)
    {
        lock (_gate)
        {
            var s = CheckEnv(env);
            if (s != ScheduleStatus.Ok) return s;
            if (!InRange(slice)) return ScheduleStatus.OutOfRange;
            if (_owners[slice.Value] is not null) return ScheduleStatus.Taken;
            if (OverQuota(env.Id, 1)) return ScheduleStatus.QuotaExceeded;
            _owners[slice.Value] = env.Id;
            StateOf(env.Id);
            return ScheduleStatus.Ok;
        }
    }

    /// <summary>Claims <paramref name="count"/> free slices, the lowest-numbered ones: all of them, or none (<see cref="ScheduleStatus.NoFreeSlice"/>).</summary>
    public ClaimResult ClaimAny(ExoEnvironment env, int count)
    {
        lock (_gate)
        {
            var s = CheckEnv(env);
            if (s != ScheduleStatus.Ok) return ClaimResult.Refused(s);
            if (count < 1) return ClaimResult.Refused(ScheduleStatus.InvalidArgument);
            if (OverQuota(env.Id, count)) return ClaimResult.Refused(ScheduleStatus.QuotaExceeded);
            var free = new List<SliceNo>(count);
            for (int i = 0; i < _owners.Length && free.Count < count; i++)
                if (_owners[i] is null) free.Add(new SliceNo(i));
            if (free.Count < count) return ClaimResult.Refused(ScheduleStatus.NoFreeSlice);
            foreach (var f in free) _owners[f.Value] = env.Id;
            StateOf(env.Id);
            return new ClaimResult(ScheduleStatus.Ok, free);
        }
    }

    /// <summary>
    /// Caps how many slices <paramref name="env"/> may hold (null: no cap), as the host's policy for a guest: one
    /// that could claim every free slice would leave none to donate. Slices already held are kept.
    /// Internal: the host sets it when it attaches a guest, the guest cannot raise it.
    /// </summary>
    internal ScheduleStatus SetSliceQuota(ExoEnvironment env, int? max)
    {
        lock (_gate)
        {
            var s = CheckEnv(env);
            if (s != ScheduleStatus.Ok) return s;
            if (max < 0) return ScheduleStatus.InvalidArgument;
            StateOf(env.Id).Quota = max;
            return ScheduleStatus.Ok;
        }
    }

    /// <summary>Releases a slice: only its owner may (<see cref="ScheduleStatus.NotOwner"/> otherwise, a free slice included).</summary>
    public ScheduleStatus Release(ExoEnvironment env, SliceNo slice)
    {
        lock (_gate)
        {
            var s = CheckEnv(env);
            if (s != ScheduleStatus.Ok) return s;
            if (!InRange(slice)) return ScheduleStatus.OutOfRange;
            if (_owners[slice.Value] != env.Id) return ScheduleStatus.NotOwner;
            _owners[slice.Value] = null;
            return ScheduleStatus.Ok;
        }
    }

    /// <summary>Releases every slice <paramref name="env"/> holds; returns how many.</summary>
    public int ReleaseAll(ExoEnvironment env)
    {
        lock (_gate)
        {
            if (CheckEnv(env) != ScheduleStatus.Ok) return 0;
            return FreeSlices(env.Id);
        }
    }

    // ------------------------------------------------------------------ wakeup predicates and state

    /// <summary>
    /// Verifies <paramref name="text"/> as a wakeup predicate and installs it for <paramref name="env"/>,
    /// replacing any earlier one; from now on the environment runs only while it holds. A predicate that
    /// fails verification is refused and leaves the old one in place.
    /// </summary>
    public WakeupResult SetWakeup(ExoEnvironment env, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var v = WakeupPredicate.Verify(text);
        return v.Accepted ? SetWakeup(env, v.Predicate!) : new WakeupResult(ScheduleStatus.PredicateRejected, v.Reason);
    }

    /// <summary>Installs an already verified predicate for <paramref name="env"/> (one predicate may serve many environments).</summary>
    public WakeupResult SetWakeup(ExoEnvironment env, WakeupPredicate predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        lock (_gate)
        {
            var s = CheckEnv(env);
            if (s != ScheduleStatus.Ok) return new WakeupResult(s, null);
            StateOf(env.Id).Predicate = predicate;
            return new WakeupResult(ScheduleStatus.Ok, null);
        }
    }

    /// <summary>Removes <paramref name="env"/>'s predicate: it is runnable whenever alive.</summary>
    public ScheduleStatus ClearWakeup(ExoEnvironment env)
    {
        lock (_gate)
        {
            var s = CheckEnv(env);
            if (s == ScheduleStatus.Ok) StateOf(env.Id).Predicate = null;
            return s;
        }
    }

    /// <summary>Sets counter <paramref name="k"/> of <paramref name="env"/>'s own state block (<see cref="WakeupState.Counter"/>).</summary>
    public ScheduleStatus SetCounter(ExoEnvironment env, int k, ulong value)
    {
        lock (_gate)
        {
            var s = CheckEnv(env);
            if (s != ScheduleStatus.Ok) return s;
            if ((uint)k >= WakeupState.Counters) return ScheduleStatus.OutOfRange;
            BinaryPrimitives.WriteUInt64LittleEndian(StateOf(env.Id).Block.AsSpan(WakeupState.Counter(k)), value);
            return ScheduleStatus.Ok;
        }
    }

    /// <summary>
    /// Queues a disk request of <paramref name="serviceTicks"/> (at least 1) for <paramref name="env"/>: it
    /// starts when the disk is free and completes that many ticks later. The ticket's number is the value
    /// <see cref="WakeupState.DiskCompleted"/> reaches when it is done.
    /// </summary>
    public ScheduleStatus SubmitDisk(ExoEnvironment env, long serviceTicks, out DiskTicket ticket)
    {
        lock (_gate)
        {
            ticket = default;
            var s = CheckEnv(env);
            if (s != ScheduleStatus.Ok) return s;
            if (serviceTicks < 1) return ScheduleStatus.InvalidArgument;
            var st = StateOf(env.Id);
            long start = Math.Max(_tick, _diskBusyUntil);
            _diskBusyUntil = start + serviceTicks;
            ticket = new DiskTicket(++st.Submitted, _diskBusyUntil);
            _disk.Enqueue((st, ticket.Number, ticket.CompletesAt));
            return ScheduleStatus.Ok;
        }
    }

    /// <summary>A copy of the state block <paramref name="env"/>'s predicate would see now (<see cref="WakeupState.Size"/> bytes).</summary>
    public byte[] ReadState(EnvId env)
    {
        lock (_gate)
        {
            if (!_envs.TryGetValue(env, out var st)) return new byte[WakeupState.Size];
            Fill(st);
            return st.Block.AsSpan(0, WakeupState.Size).ToArray();
        }
    }

    /// <summary>Whether <paramref name="env"/> could run now: alive, and its predicate (if any) holds.</summary>
    public bool IsRunnable(ExoEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        lock (_gate) return CheckEnv(env) == ScheduleStatus.Ok && Runnable(StateOf(env.Id));
    }

    /// <summary>Wakeup predicate evaluations that faulted (a run-time load outside the read set) and counted as false.</summary>
    public long PredicateFaults { get { lock (_gate) return _faults; } }

    // ------------------------------------------------------------------ the clock

    /// <summary>
    /// Schedules one slice: completes the disk requests due by this tick, then gives the slice at
    /// <see cref="Position"/> to its owner if runnable, else donates it by the seeded choice among runnable
    /// slice holders (in id order), else idles. Advances the ring and the tick. The caller is the machine's
    /// timer — in this simulation, the harness that runs the guests; the kernel never calls it by itself.
    /// Internal: a guest that could tick the clock could complete its own disk requests early.
    /// </summary>
    internal SliceDecision Step()
    {
        lock (_gate)
        {
            long now = _tick;
            while (_disk.Count > 0 && _disk.Peek().CompletesAt <= now)
            {
                var done = _disk.Dequeue();
                done.Env.Completed = done.Number;
            }
            var slice = new SliceNo(_position);
            var owner = _owners[_position];
            _position = (_position + 1) % _owners.Length;

            EnvState? runner = null;
            var grant = SliceGrant.Idle;
            if (owner is { } o && Runnable(_envs[o]))
            {
                runner = _envs[o];
                grant = SliceGrant.Owner;
            }
            else
            {
                var holders = _owners.Where(x => x is not null && x != owner).Select(x => x!.Value).Distinct()
                    .OrderBy(x => x.Value).Select(x => _envs[x]).Where(Runnable).ToList();
                if (holders.Count > 0)
                {
                    runner = holders[holders.Count == 1 ? 0 : _rng.Below(holders.Count)];
                    grant = SliceGrant.Donated;
                }
            }
            if (runner is not null)
            {
                runner.Runs++;
                _totalRuns++;
            }
            // Predicates above saw this decision's tick; the next decision is one slice later.
            _tick++;
            return new SliceDecision(now, slice, owner, runner?.Id, grant);
        }
    }

    /// <summary>Called by <see cref="ExoKernel.DestroyEnvironment"/>: a dead environment's slices are freed, its predicate and state dropped.</summary>
    internal void Forget(EnvId env)
    {
        lock (_gate)
        {
            FreeSlices(env);
            _envs.Remove(env);
        }
    }

    // ------------------------------------------------------------------ internals

    private sealed class EnvState(EnvId id)
    {
        public readonly EnvId Id = id;
        // A whole UDF block: the predicate may only read the first WakeupState.Size bytes, the rest stays zero.
        public readonly byte[] Block = new byte[UdfLimits.BlockSize];
        public WakeupPredicate? Predicate;
        public int? Quota;
        public long Submitted, Completed, Runs;
    }

    private bool Runnable(EnvState st)
    {
        var env = _kernel.FindEnvironment(st.Id);
        if (env is null || !env.IsAlive) return false;
        if (st.Predicate is null) return true;
        Fill(st);
        bool holds = st.Predicate.Holds(st.Block, _scratch, out var fault);
        if (fault != UdfFault.None) _faults++;
        return holds;
    }

    private void Fill(EnvState st)
    {
        var b = st.Block.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(b[WakeupState.Tick..], _tick);
        BinaryPrimitives.WriteInt64LittleEndian(b[WakeupState.EnvId..], st.Id.Value);
        BinaryPrimitives.WriteInt64LittleEndian(b[WakeupState.DiskSubmitted..], st.Submitted);
        BinaryPrimitives.WriteInt64LittleEndian(b[WakeupState.DiskCompleted..], st.Completed);
        BinaryPrimitives.WriteInt64LittleEndian(b[WakeupState.Runs..], st.Runs);
        BinaryPrimitives.WriteInt64LittleEndian(b[WakeupState.TotalRuns..], _totalRuns);
    }

    private EnvState StateOf(EnvId id)
    {
        if (!_envs.TryGetValue(id, out var st)) _envs[id] = st = new EnvState(id);
        return st;
    }

    private ScheduleStatus CheckEnv(ExoEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        return env.Kernel == _kernel && env.IsAlive ? ScheduleStatus.Ok : ScheduleStatus.InvalidEnvironment;
    }

    private bool OverQuota(EnvId env, int more) =>
        _envs.TryGetValue(env, out var st) && st.Quota is { } q && Held(env).Count + more > q;

    private bool InRange(SliceNo s) => (uint)s.Value < (uint)_owners.Length;

    private List<SliceNo> Held(EnvId env)
    {
        var list = new List<SliceNo>();
        for (int i = 0; i < _owners.Length; i++)
            if (_owners[i] == env) list.Add(new SliceNo(i));
        return list;
    }

    private int FreeSlices(EnvId env)
    {
        int n = 0;
        for (int i = 0; i < _owners.Length; i++)
            if (_owners[i] == env) { _owners[i] = null; n++; }
        return n;
    }
}
