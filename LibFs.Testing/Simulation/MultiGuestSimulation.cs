using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ExoFS.Host;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Scheduling;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Testing.Crash;
using ExoFS.LibFs.Testing.Equivalence;
using ExoFS.LibFs.Testing.Model;

namespace ExoFS.LibFs.Testing.Simulation;

/// <summary>
/// The deterministic multi-guest simulation (DESIGN §3, "Scheduling"): one host, one device, several FFS roots
/// each served by its own guest, an auditor guest and (<see cref="SimulationOptions.Hostile"/>) a hostile one,
/// interleaved slice by slice by the host kernel's scheduler.
/// <para>
/// Each environment claims slices of the time-slice vector (how many and which, from the seed). An FFS guest runs
/// one step of its seeded crash-namespace workload per slice it gets; the device I/O the step did becomes a disk
/// request in the kernel's modeled queue, and the guest's wakeup predicate ("all my disk requests have
/// completed") keeps it asleep until the request is served, so its slices are donated to others. The auditor's
/// predicate wakes it every <see cref="SimulationOptions.AuditEvery"/> slices run system-wide; it checks XN's
/// invariants on the live volume. Every step is run on the root's own <see cref="ModelFileSystem"/> too and both
/// trees are compared after it; at the end each root must equal its model, the host's check must be clean, and
/// after a reload each root must still equal its model.
/// </para>
/// <para>
/// Nothing reads a clock, uses a thread or a process-randomized hash, so the trace is a function of the seed
/// (and of the code): run twice, it is byte-identical. With <see cref="SimulationOptions.CrashStatesPerPoint"/> the
/// device is under the crash model, and crash states of the one device (all guests at once) are recovered as a
/// mount would and each root checked against its own <see cref="CrashOracle"/>.
/// </para>
/// </summary>
public static class MultiGuestSimulation
{
    /// <summary>An FFS guest's wakeup predicate: disk requests completed ≥ submitted.</summary>
    public const string DiskDonePredicate = """
        .udf disk-done
        .read 16 16 0
            ld64 r2, [r0+16]
            ld64 r3, [r0+24]
            bgeu r3, r2, yes
            ret 0
        yes:
            ret 1
        """;

    /// <summary>The auditor's wakeup predicate: slices run system-wide ≥ counter 0 (the next audit point it set).</summary>
    public const string AuditDuePredicate = """
        .udf audit-due
        .read 40 8 0
        .read 64 8 0
            ld64 r2, [r0+40]
            ld64 r3, [r0+64]
            bgeu r2, r3, yes
            ret 0
        yes:
            ret 1
        """;

    /// <summary>Runs one simulation. Never throws for a bug in a libFS: a thrown step is a problem in the result.</summary>
    public static SimulationResult Run(SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Roots.Count == 0) throw new ArgumentException("no root to simulate", nameof(options));
        return new SimulationRun(options).Execute();
    }

    /// <summary>
    /// The workload of one guest: the crash namespace's standard setup, then seeded random steps
    /// (<see cref="CrashWorkloads.Random"/>), <paramref name="ops"/> steps in all.
    /// </summary>
    public static IReadOnlyList<CrashOp> Workload(int seed, int ops)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ops, 1);
        var list = new List<CrashOp>(CrashWorkloads.StandardSetup);
        for (int j = 0; list.Count < ops; j++) list.AddRange(CrashWorkloads.Random(unchecked(seed * 977 + j), 6).Ops);
        return list.Take(ops).ToList();
    }

    /// <summary>The seed of guest <paramref name="index"/>'s workload in a run of <paramref name="seed"/>.</summary>
    public static int GuestSeed(int seed, int index) => unchecked(seed * 31 + index + 1);

    internal static string Digest(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
}

/// <summary>One run: the host, its guests, the trace. Single-threaded by construction.</summary>
internal sealed class SimulationRun(SimulationOptions options)
{
    private sealed class FsGuest(Guest guest, IFileSystem fs, IReadOnlyList<CrashOp> ops, int seed, CrashGuarantees guarantees, bool crash)
    {
        public readonly Guest Guest = guest;
        public readonly IReadOnlyList<CrashOp> Ops = ops;
        public readonly int Seed = seed;
        public readonly ModelFileSystem Model = new();
        public readonly CrashOracle? Oracle = crash ? new CrashOracle(guarantees) : null;
        public int Next;
        public bool Done => Next >= Ops.Count;
        public string Root => Guest.RootName;
        public readonly IFileSystem Fs = fs;
        public ExoEnvironment Env => Guest.Environment;
    }

    private readonly List<string> _trace = new();
    private readonly List<string> _problems = new();
    private readonly List<FsGuest> _guests = new();
    private MemoryDevice _mem = null!;
    private CrashModelDevice? _crash;
    private ExoHost _host = null!;
    private ExoScheduler _sched = null!;
    private ExoEnvironment? _auditor;
    private Guest? _hostileGuest;
    private HostileSimFileSystem? _hostile;
    private Random? _hostileRng;
    private int _attacks, _refused;
    private string _where = "attach";
    private int _crashPoints, _crashStates;
    private bool _crashFailed;

    private static readonly CrashGuarantees Ffs = FfsCrashTarget.FfsGuarantees;

    public SimulationResult Execute()
    {
        try { Simulate(); }
        catch (Exception e) { _problems.Add($"{_where}: threw {e.GetType().Name}: {e.Message}"); }
        finally
        {
            try { _host?.Dispose(); } catch (Exception e) { _problems.Add($"closing the host threw {e.GetType().Name}: {e.Message}"); }
            _crash?.Dispose();
        }
        return new SimulationResult(options.Seed, _trace, _problems, _crashPoints, _crashStates) { Attacks = _attacks, AttacksRefused = _refused };
    }

    private void Simulate()
    {
        // mkfs on the plain device, unobserved: the run starts from empty, durable, cleanly unmounted roots.
        _mem = new MemoryDevice(options.DeviceBlocks);
        var requests = options.Roots.Select(r => new RootRequest("ffs", r)).ToList();
        var hostileLibFs = new HostileSimLibFs();
        if (options.Hostile) requests.Add(new RootRequest(hostileLibFs.Name, SimulationOptions.HostileRoot));
        var made = ExoHost.Format(_mem, requests, out var error, libFses: [new FfsLibFs(), hostileLibFs]);
        if (!made.Ok) { _problems.Add($"format: {error}"); return; }
        made.Value.Dispose();

        IBlockDevice dev = _mem;
        if (options.CrashStatesPerPoint > 0) dev = _crash = new CrashModelDevice(_mem);
        var stats = ((BlockDeviceBase)dev).Stats;
        var loaded = ExoHost.Load(dev, out error);
        if (!loaded.Ok) { _problems.Add($"load: {error}"); return; }
        _host = loaded.Value;
        for (int i = 0; i < options.Roots.Count; i++)
        {
            var g = _host.Attach(options.Roots[i], out error);
            if (!g.Ok) { _problems.Add($"attach '{options.Roots[i]}': {error}"); return; }
            int seed = MultiGuestSimulation.GuestSeed(options.Seed, i);
            var fs = options.Interpose?.Invoke(options.Roots[i], g.Value.FileSystem) ?? g.Value.FileSystem;
            _guests.Add(new FsGuest(g.Value, fs, MultiGuestSimulation.Workload(seed, options.OpsPerGuest), seed, Ffs, _crash is not null));
        }

        if (options.Hostile)
        {
            var h = _host.Attach(SimulationOptions.HostileRoot, out error, libFs: hostileLibFs);
            if (!h.Ok) { _problems.Add($"attach '{SimulationOptions.HostileRoot}': {error}"); return; }
            _hostileGuest = h.Value;
            _hostile = (HostileSimFileSystem)h.Value.FileSystem;
            var prepared = _hostile.Prepare();
            if (!prepared.Ok) { _problems.Add($"hostile guest: preparing its own root: {prepared}"); return; }
            _hostileRng = new Random(MultiGuestSimulation.GuestSeed(options.Seed, options.Roots.Count));
        }

        // The host's kernel: every guest's environment belongs to it.
        var kernel = _guests[0].Env.Kernel;
        _sched = kernel.Scheduler;
        _sched.Reseed((ulong)(uint)options.Seed);
        var rng = new Random(options.Seed);
        // Each FFS guest claims between a half and a whole of an equal share of the ring, at seeded places; the
        // auditor one slice. The slices left free, and those of sleeping owners, are what the kernel donates.
        int share = Math.Max(2, _sched.Length / (_guests.Count + (options.Auditor ? 1 : 0) + (options.Hostile ? 1 : 0)));
        foreach (var g in _guests)
        {
            // The host's policy: no guest may hold more than its share, however many it asks for.
            if (_sched.SetSliceQuota(g.Env, share) != ScheduleStatus.Ok) throw new InvalidOperationException($"slice quota of {g.Env} refused");
            Claim(g.Env, share / 2 + rng.Next(share / 2) + 1, rng);
            Require(_sched.SetWakeup(g.Env, MultiGuestSimulation.DiskDonePredicate), g.Env);
            _trace.Add($"guest {g.Guest.EnvironmentName} root '{g.Root}' workload seed {g.Seed}: {g.Ops.Count} steps");
        }
        if (_hostileGuest is not null)
        {
            if (_sched.SetSliceQuota(_hostileGuest.Environment, share) != ScheduleStatus.Ok) throw new InvalidOperationException("slice quota of the hostile guest refused");
            // No predicate: it is always runnable, so it runs on every slice it claimed while it has attacks left.
            Claim(_hostileGuest.Environment, share / 2 + rng.Next(share / 2) + 1, rng);
            _trace.Add($"guest {_hostileGuest.EnvironmentName} root '{SimulationOptions.HostileRoot}' hostile: {options.OpsPerGuest} attacks");
        }
        if (options.Auditor)
        {
            _auditor = kernel.CreateEnvironment("auditor");
            Claim(_auditor, 1, rng);
            Require(_sched.SetWakeup(_auditor, MultiGuestSimulation.AuditDuePredicate), _auditor);
            _sched.SetCounter(_auditor, 0, (ulong)options.AuditEvery);
        }
        if (_crash is not null) _crash.PersistencePoint += OnPersistencePoint;

        long limit = 64L * (_guests.Sum(g => g.Ops.Count) + (options.Hostile ? options.OpsPerGuest : 0)) + 1_000;
        for (long n = 0; _guests.Any(g => !g.Done) || HostileBusy; n++)
        {
            if (n == limit) { _problems.Add($"no progress: {limit} slices and steps remain"); break; }
            var d = _sched.Step();
            string head = $"t{d.Tick} {d.Slice} {d.Grant.ToString().ToLowerInvariant()}";
            if (d.Runner is not { } who) { _trace.Add(head); continue; }
            if (_auditor is not null && who == _auditor.Id) { Audit(head); continue; }
            if (_hostileGuest is not null && who == _hostileGuest.Environment.Id) { RunAttack(head); continue; }
            var g = _guests.First(x => x.Env.Id == who);
            RunStep(g, head, stats);
            if (_crashFailed) break;
        }
        Finish();
    }

    private void Claim(ExoEnvironment env, int count, Random rng)
    {
        var got = new List<int>();
        for (int i = 0; i < count; i++)
        {
            var free = Enumerable.Range(0, _sched.Length).Where(s => _sched.OwnerOf(new SliceNo(s)) is null).ToList();
            if (free.Count == 0) break;
            int s = free[rng.Next(free.Count)];
            if (_sched.Claim(env, new SliceNo(s)) != ScheduleStatus.Ok) throw new InvalidOperationException($"claim of free slice {s} refused");
            got.Add(s);
        }
        if (got.Count == 0) throw new InvalidOperationException($"no free slice for {env}");
        _trace.Add($"claim {env} slices {string.Join(",", got)}");
    }

    private static void Require(WakeupResult r, ExoEnvironment env)
    {
        if (!r.Ok) throw new InvalidOperationException($"wakeup predicate of {env} refused: {r.Status} {r.Reason}");
    }

    private void RunStep(FsGuest g, string head, IoStats stats)
    {
        var op = g.Ops[g.Next];
        int number = ++g.Next;
        _where = $"root '{g.Root}' step {number} ({op})";
        var expected = OpRunner.Run(g.Model, op, out _);
        var oracleSays = g.Oracle?.Apply(op);
        var before = stats.Snapshot();
        var actual = OpRunner.Run(g.Fs, op, out var ino);
        var io = stats.Snapshot() - before;
        if ((expected == Errno.OK) != (actual == Errno.OK))
            _problems.Add($"{_where}: {g.Root} returned {actual}, its model {expected}");
        if (oracleSays is { } o && o != expected)
            _problems.Add($"{_where}: the oracle's model returned {o}, the reference model {expected}");
        if (actual == Errno.OK && g.Oracle is not null)
        {
            if (op.Kind is CrashOpKind.Create or CrashOpKind.Mkdir) g.Oracle.RecordInode(op.Path, ino);
            g.Oracle.Completed(op);
        }
        string got = ModelEquivalence.Dump(g.Fs), want = ModelEquivalence.Dump(g.Model);
        if (got != want) _problems.Add($"{_where}: tree differs from the model\nmodel:\n{want}\n{g.Root}:\n{got}");

        // The step's device calls become one request in the kernel's disk queue; the guest sleeps until it is served.
        long service = io.Reads + io.Writes + 4 * io.Flushes;
        string disk = "";
        if (service > 0)
        {
            if (_sched.SubmitDisk(g.Env, service, out var ticket) != ScheduleStatus.Ok) throw new InvalidOperationException("disk request refused");
            disk = string.Create(CultureInfo.InvariantCulture, $" disk#{ticket.Number}@t{ticket.CompletesAt}");
        }
        _trace.Add(string.Create(CultureInfo.InvariantCulture,
            $"{head} {g.Guest.EnvironmentName} #{number} {op} -> {actual} io={io.Reads}/{io.Writes}/{io.Flushes}{disk} tree={MultiGuestSimulation.Digest(got)}"));
        if (g.Done)
        {
            // A finished guest gives its slices back; the ring then donates them to the others.
            int freed = _sched.ReleaseAll(g.Env);
            _trace.Add($"{g.Guest.EnvironmentName} done: released {freed} slice(s)");
        }
        if (_crash is not null) CheckPoint($"after {_where}");
    }

    private bool HostileBusy => _hostile is not null && _attacks < options.OpsPerGuest;

    /// <summary>
    /// One attack of the hostile guest, on a seeded FFS root and a block that root (or another) owns: XN must refuse
    /// it with the attack's exact error, and the victim's tree must still be its model's.
    /// </summary>
    private void RunAttack(string head)
    {
        var rng = _hostileRng!;
        var victim = _guests[rng.Next(_guests.Count)];
        int which = rng.Next(HostileSimFileSystem.Attacks.Count);
        ulong skip = (ulong)rng.Next(64);
        _where = $"hostile attack {_attacks + 1} ({HostileSimFileSystem.Attacks[which]} on root '{victim.Root}')";
        var super = _host.Roots().First(r => r.Name == victim.Root).Block;
        var block = _hostile!.ForeignBlock(super, skip) ?? super;
        var outcome = _hostile.Attack(which, victim.Root, super, block);
        _attacks++;
        if (outcome.Refused) _refused++;
        else _problems.Add($"{_where}: {outcome}");
        string got = ModelEquivalence.Dump(victim.Fs), want = ModelEquivalence.Dump(victim.Model);
        if (got != want) _problems.Add($"{_where}: root '{victim.Root}' no longer matches its model\nmodel:\n{want}\n{victim.Root}:\n{got}");
        _trace.Add($"{head} {_hostileGuest!.EnvironmentName} attack #{_attacks} root '{victim.Root}' {outcome} tree={MultiGuestSimulation.Digest(got)}");
        if (!HostileBusy)
        {
            int freed = _sched.ReleaseAll(_hostileGuest.Environment);
            _trace.Add($"{_hostileGuest.EnvironmentName} done: {_refused}/{_attacks} attacks refused as expected; released {freed} slice(s)");
        }
        if (_crash is not null) CheckPoint($"after {_where}");
    }

    private void Audit(string head)
    {
        var report = _host.CheckXn();
        foreach (var f in report.Findings) _problems.Add($"audit at {head}: xn: {f}");
        var state = _sched.ReadState(_auditor!.Id);
        long total = BitConverter.ToInt64(state, WakeupState.TotalRuns);
        _sched.SetCounter(_auditor, 0, (ulong)(total + options.AuditEvery));
        _trace.Add($"{head} {_auditor} audit: xn {(report.Clean ? "clean" : $"{report.Findings.Count} finding(s)")}, next at {total + options.AuditEvery} runs");
    }

    private void Finish()
    {
        _where = "final";
        foreach (var g in _guests)
        {
            string got = ModelEquivalence.Dump(g.Fs), want = ModelEquivalence.Dump(g.Model);
            if (got != want) _problems.Add($"root '{g.Root}' at the end: tree differs from the model\nmodel:\n{want}\n{g.Root}:\n{got}");
            foreach (var p in g.Model.Check()) _problems.Add($"root '{g.Root}' model: {p}");
            _trace.Add($"final root '{g.Root}' steps {g.Next}/{g.Ops.Count} tree={MultiGuestSimulation.Digest(got)}");
        }
        _where = "unmount";
        foreach (var g in _guests) g.Guest.Dispose();
        _hostileGuest?.Dispose();
        if (_auditor is not null) _auditor.Kernel.DestroyEnvironment(_auditor);
        var check = _host.Check();
        foreach (var f in check.Findings) _problems.Add($"host check: {f}");
        _trace.Add($"host check: {(check.Clean ? "clean" : $"{check.Findings.Count} finding(s)")}");
        if (_crash is not null) _crash.PersistencePoint -= OnPersistencePoint;
        _host.Dispose();

        // What a clean shutdown left must be every root's final state: reload and compare with each model.
        _where = "reload";
        using var image = _crash?.MaterializeDurable() ?? _mem.Clone();
        var reloaded = ExoHost.Load(image, out var error);
        if (!reloaded.Ok) { _problems.Add($"reload: {error}"); return; }
        using var host = reloaded.Value;
        if (!host.WasClean) _problems.Add("reload: the image was not cleanly shut down");
        foreach (var g in _guests)
        {
            var a = host.Attach(g.Root, out error);
            if (!a.Ok) { _problems.Add($"reload: attach '{g.Root}': {error}"); continue; }
            using var guest = a.Value;
            if (ModelEquivalence.Dump(guest.FileSystem) != ModelEquivalence.Dump(g.Model))
                _problems.Add($"reload: root '{g.Root}' differs from its model");
            if (g.Oracle is { } oracle)
            {
                oracle.MarkAllDurable();
                foreach (var p in oracle.Check(FsSnapshot.Take(guest.FileSystem))) _problems.Add($"reload: root '{g.Root}': {p}");
            }
        }
        _trace.Add($"reload: {_guests.Count} root(s) compared");
    }

    // ------------------------------------------------------------------ crash states of the one device

    private void OnPersistencePoint(CrashModelDevice dev, PersistencePoint point)
    {
        // Runs inside a guest's barrier or flush: nothing may escape into it.
        try { CheckPoint($"{_where}, {point.Kind.ToString().ToLowerInvariant()}"); }
        catch (Exception e) { Fail($"{_where}: checking a crash point threw {e.GetType().Name}: {e.Message}"); }
    }

    private void CheckPoint(string label)
    {
        if (_crash is null || _crashFailed) return;
        _crashPoints++;
        foreach (var state in _crash.EnumerateCrashStates(options.CrashStatesPerPoint, unchecked(options.Seed * 7919 + _crashPoints)))
        {
            _crashStates++;
            var problems = CheckImage(_crash.Materialize(state));
            if (problems.Count > 0)
            {
                Fail($"crash at {label}, state {state.Key}:\n  " + string.Join("\n  ", problems.Take(12)));
                return;
            }
        }
    }

    private void Fail(string problem)
    {
        _problems.Add(problem);
        _crashFailed = true;
    }

    /// <summary>FFS walks its root at attach (as fsck --repair does) instead of deferring, so the host's check after it sees no leak.</summary>
    private static readonly Dictionary<string, string> Walk = new(StringComparer.Ordinal) { [FfsLibFs.RecoveryOption] = "walk" };

    /// <summary>
    /// Recovers a crash image as a mount would (XN's recovery at load, each libFS's at attach, FFS's with its walk
    /// rather than deferred) and checks every root against its oracle.
    /// </summary>
    private List<string> CheckImage(MemoryDevice image)
    {
        var problems = new List<string>();
        try
        {
            var loaded = ExoHost.Load(image, out var error);
            if (!loaded.Ok) return [$"host load: {error}"];
            using var host = loaded.Value;
            foreach (var g in _guests)
            {
                var a = host.Attach(g.Root, out error, options: Walk);
                if (!a.Ok) { problems.Add($"attach '{g.Root}': {error}"); continue; }
                using var guest = a.Value;
                try { problems.AddRange(g.Oracle!.Check(FsSnapshot.Take(guest.FileSystem)).Select(p => $"root '{g.Root}': {p}")); }
                catch (UnexpectedErrnoException e) { problems.Add($"root '{g.Root}': reading the recovered file system failed: {e.Message}"); }
            }
            // Leaks lose space, never data: XN's persisted map may over-approximate by design.
            problems.AddRange(host.Check().Findings.Where(f => f.Kind != Xn.XnFindingKind.Leaked).Select(f => $"host check: {f}"));
        }
        catch (Exception e) { problems.Add($"recovery threw {e.GetType().Name}: {e.Message}"); }
        finally { image.Dispose(); }
        return problems;
    }
}
