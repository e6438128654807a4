using System.Collections.Concurrent;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Memory;
using ExoFS.Kernel.Scheduling;

namespace ExoFS.Kernel;

/// <summary>Boot parameters of a simulated exokernel.</summary>
public sealed record KernelOptions
{
    /// <summary>Size of the physical memory pool, in 4 KiB page frames.</summary>
    public int PageFrames { get; init; } = 1024;

    /// <summary>
    /// Simulated-time budget an environment gets to answer a revocation the kernel starts on its own
    /// (allocation under pressure) before the abort protocol takes frames by force.
    /// </summary>
    public long PressureReclaimTicks { get; init; } = 1_000;

    /// <summary>Slices in the scheduler's time-slice vector.</summary>
    public int TimeSlices { get; init; } = 64;

    /// <summary>Seed of the scheduler's donation choices (see <see cref="ExoScheduler"/>).</summary>
    public ulong SchedulerSeed { get; init; }
}

/// <summary>
/// One boot of the simulated exokernel: it creates environments, mints and checks capabilities (secure
/// bindings: access is checked when a resource is bound, not on every byte), and multiplexes physical
/// memory. It decides no policy beyond protection. Each instance draws a fresh random HMAC key, so
/// capabilities from another instance (an earlier boot) never bind. All members are thread-safe.
/// </summary>
public sealed class ExoKernel
{
    private readonly CapabilityAuthority _authority = new();
    private readonly ConcurrentDictionary<EnvId, ExoEnvironment> _environments = new();
    private int _nextEnv;

    public ExoKernel(KernelOptions? options = null)
    {
        Options = options ?? new KernelOptions();
        if (Options.PageFrames is < 0 or > MaxPageFrames)
            throw new ArgumentOutOfRangeException(nameof(options), $"PageFrames must be between 0 and {MaxPageFrames}");
        if (Options.PressureReclaimTicks < 0) throw new ArgumentOutOfRangeException(nameof(options), "PressureReclaimTicks must be >= 0");
        if (Options.TimeSlices < 1) throw new ArgumentOutOfRangeException(nameof(options), "TimeSlices must be >= 1");
        Memory = new PhysicalMemory(this, Options.PageFrames);
        Scheduler = new ExoScheduler(this, Options.TimeSlices, Options.SchedulerSeed);
    }

    /// <summary>Physical memory: the page-frame pool, quotas, sharing, revocation.</summary>
    public PhysicalMemory Memory { get; }

    /// <summary>The CPU: the time-slice vector, wakeup predicates and the simulated clock.</summary>
    public ExoScheduler Scheduler { get; }

    /// <summary>Largest pool the simulation supports: the frames live in one array (2 GiB).</summary>
    public const int MaxPageFrames = int.MaxValue / PageFrame.Size;

    public KernelOptions Options { get; }

    /// <summary>This boot's id; every capability minted by this instance carries it.</summary>
    public ulong BootId => _authority.Boot;

    /// <summary>
    /// Creates a new environment (a libOS instance) with a fresh <see cref="EnvId"/>. Internal: environments are
    /// made by the host that boots the kernel (one per guest), never by a guest — one that could make more of
    /// itself could multiply its memory quota.
    /// </summary>
    internal ExoEnvironment CreateEnvironment(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var env = new ExoEnvironment(this, new EnvId(Interlocked.Increment(ref _nextEnv)), name);
        _environments[env.Id] = env;
        return env;
    }

    /// <summary>
    /// The live environment with this id, or null. Internal: the environment object is its identity, so
    /// handing it out by id would let anyone act as anyone.
    /// </summary>
    internal ExoEnvironment? FindEnvironment(EnvId id) => _environments.TryGetValue(id, out var e) ? e : null;

    /// <summary>
    /// Ends an environment: its capabilities stop binding, its frames return to the pool and its time slices
    /// are freed. Idempotent.
    /// </summary>
    internal void DestroyEnvironment(ExoEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (env.Kernel != this) throw new ArgumentException("environment belongs to another kernel", nameof(env));
        env.MarkDead();
        _environments.TryRemove(env.Id, out _);
        Memory.ReleaseAll(env.Id);
        Scheduler.Forget(env.Id);
    }

    // ---- capabilities ----

    /// <summary>
    /// Mints a capability for <paramref name="holder"/>. Internal: only the kernel and XN (part of the
    /// exokernel, minting for its roots) may create authority; a libOS obtains capabilities from them.
    /// </summary>
    internal Capability Mint(ExoEnvironment holder, Resource resource, Rights rights)
    {
        ArgumentNullException.ThrowIfNull(holder);
        ArgumentNullException.ThrowIfNull(resource);
        if (holder.Kernel != this) throw new ArgumentException("environment belongs to another kernel", nameof(holder));
        return _authority.Mint(resource, rights, holder.Id);
    }

    /// <summary>
    /// The bind-time check: may <paramref name="presenter"/> use <paramref name="cap"/> to reach
    /// <paramref name="wanted"/> with <paramref name="needed"/> rights? Checks, in order: the presenter is a
    /// live environment of this kernel, the capability comes from this boot, its seal is genuine, it is
    /// held by the presenter, its resource covers <paramref name="wanted"/>, its rights include
    /// <paramref name="needed"/>. The first failure is returned.
    /// </summary>
    public CapabilityCheck Check(ExoEnvironment presenter, Capability cap, Resource wanted, Rights needed)
    {
        ArgumentNullException.ThrowIfNull(presenter);
        ArgumentNullException.ThrowIfNull(cap);
        ArgumentNullException.ThrowIfNull(wanted);
        var s = CheckPresenter(presenter);
        if (s != CapabilityCheck.Ok) return s;
        s = _authority.Verify(cap);
        if (s != CapabilityCheck.Ok) return s;
        if (cap.Holder != presenter.Id) return CapabilityCheck.NotHolder;
        if (!cap.Resource.Covers(wanted)) return CapabilityCheck.WrongResource;
        if (!cap.Rights.Includes(needed)) return CapabilityCheck.InsufficientRights;
        return CapabilityCheck.Ok;
    }

    /// <summary>
    /// Delegation: at the request of <paramref name="holder"/>, mints for <paramref name="to"/> a copy of
    /// <paramref name="cap"/> with <paramref name="rights"/> (which must be a subset of the capability's)
    /// and optionally a narrower resource (<paramref name="narrowTo"/> must be covered by it, e.g. a
    /// sub-extent). The original is unchanged. Refused with the reason <see cref="Check"/> would give.
    /// </summary>
    public CapabilityResult Delegate(ExoEnvironment holder, Capability cap, ExoEnvironment to, Rights rights, Resource? narrowTo = null)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(cap);
        var resource = narrowTo ?? cap.Resource;
        var s = Check(holder, cap, resource, rights);
        if (s == CapabilityCheck.Ok) s = CheckPresenter(to);
        return s == CapabilityCheck.Ok
            ? new CapabilityResult(CapabilityCheck.Ok, _authority.Mint(resource, rights, to.Id))
            : new CapabilityResult(s, null);
    }

    private CapabilityCheck CheckPresenter(ExoEnvironment env)
    {
        if (env.Kernel != this) return CapabilityCheck.ForeignEnvironment;
        if (!env.IsAlive) return CapabilityCheck.EnvironmentGone;
        return CapabilityCheck.Ok;
    }
}
