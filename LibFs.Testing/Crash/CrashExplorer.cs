using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using ExoFS.Kernel.Disk;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>How hard the explorer looks at each crash point.</summary>
public sealed record CrashExplorerOptions
{
    /// <summary>Crash states per point: all of them up to this many (2^12 by default), a seeded sample beyond.</summary>
    public int MaxStatesPerPoint { get; init; } = 4096;

    /// <summary>Seed of the sampling when a point has more states than <see cref="MaxStatesPerPoint"/>.</summary>
    public int SamplingSeed { get; init; }

    /// <summary>Also crash between steps (whatever is in flight then), not only at barriers and flushes.</summary>
    public bool CrashBetweenSteps { get; init; } = true;

    /// <summary>
    /// Recover each distinct crash image once per process and judge every state that leaves it against that
    /// recovery (<see cref="RecoveryCache"/>); false: recover every checked state itself. Verdicts are the
    /// same either way (a test pins it); sharing is many times faster.
    /// </summary>
    public bool ShareRecoveries { get; init; } = true;
}

/// <summary>Where a crash state broke the rules, and how.</summary>
/// <param name="Point">The crash point, e.g. "step 2 (rename /bar /foo), flush #1".</param>
/// <param name="State">The crash state (<see cref="CrashState.Key"/>) and which in-flight writes it kept.</param>
/// <param name="Problems">One line per broken rule, from recovery, the target's checks, or the oracle.</param>
public sealed record CrashFailure(string Point, string State, IReadOnlyList<string> Problems)
{
    public override string ToString() =>
        $"crash at {Point}\n  state {State}\n  " + string.Join("\n  ", Problems.Take(12)) +
        (Problems.Count > 12 ? $"\n  ... and {Problems.Count - 12} more" : "");
}

/// <summary>The outcome of exploring one workload.</summary>
/// <param name="StatesChecked">
/// Distinct crash states judged: states whose write sets leave different blocks in place, or that are judged
/// under a different oracle state. Each is judged by the oracle; see <see cref="Recoveries"/>.
/// </param>
public sealed record CrashRunResult(Workload Workload, CrashFailure? Failure, int CrashPoints, int StatesChecked, TimeSpan Elapsed)
{
    public bool Passed => Failure is null;

    /// <summary>Crash states enumerated, before setting aside those that repeat a state already checked.</summary>
    public int StatesExplored { get; init; }

    /// <summary>
    /// Crash images this run recovered and checked with the target itself; the other checked states left an
    /// image byte-identical to one already recovered in this process (<see cref="RecoveryCache"/>), and were
    /// judged by the oracle against that recovery.
    /// </summary>
    public int Recoveries { get; init; }
}

/// <summary>
/// Runs a workload on a target over a <see cref="MemoryDevice"/> wrapped in a <see cref="CrashModelDevice"/>
/// and checks crash states at every barrier and flush the target issues (its fsyncs, syncs and unmount),
/// and between steps. Each state is materialized, recovered by the target, and checked by the target's own
/// checks and by <see cref="CrashOracle"/>. The first broken state ends the run. Also checks that the
/// target's step outcomes agree with the model's and that a clean unmount leaves exactly the final state.
/// </summary>
public static class CrashExplorer
{
    /// <summary>Explores <paramref name="workload"/> on <paramref name="target"/>; never throws for a target bug.</summary>
    public static CrashRunResult Run(ICrashTarget target, Workload workload, CrashExplorerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(workload);
        var run = new Exploration(target, workload, options ?? new CrashExplorerOptions());
        var clock = Stopwatch.StartNew();
        CrashFailure? failure;
        try { failure = run.Execute(); }
        catch (Exception e) { failure = new CrashFailure(run.Where, "-", [$"the target threw {e.GetType().Name}: {e.Message}"]); }
        return new CrashRunResult(workload, failure, run.CrashPoints, run.StatesChecked, clock.Elapsed)
        {
            StatesExplored = run.StatesExplored, Recoveries = run.Recoveries,
        };
    }

    // A setup's durable image, and the oracle brought to it (forked for each workload, never changed itself).
    private sealed record SetupImage(MemoryDevice Image, CrashOracle Oracle, ulong Token);

    // Names each setup image for the recovery cache's keys (an image is its setup image plus an overlay).
    private static long _setupTokens;

    // Workloads and their setups run under a logical clock from a fixed start that ticks once per step
    // (recoveries under a fixed one), so the bytes a workload writes depend on the workload alone and two
    // workloads with a common prefix leave the same crash images during it (which the recovery cache then
    // recovers once). Times still differ from step to step, as a coarse clock's would.
    private static readonly Timespec SetupClockStart = new(1_767_225_600, 0);    // 2026-01-01
    private static readonly Timespec WorkloadClockStart = new(1_767_229_200, 0); // an hour later

    // Never written after caching: CrashModelDevice clones its inner memory device.
    private static readonly ConditionalWeakTable<ICrashTarget, ConcurrentDictionary<string, SetupImage>> SetupCache = new();

    private sealed class Exploration(ICrashTarget target, Workload workload, CrashExplorerOptions options)
    {
        // The model and the target read the same logical clock (below), so mtimes are judged too. Replaced by a
        // fork of the setup's oracle when the setup is cached.
        private CrashOracle _oracle = null!; // set by Setup
        private readonly RecoveryCache _recovered = RecoveryCache.For(target);
        private ImageKeys? _keys;
        private readonly HashSet<string> _seenImages = new(StringComparer.Ordinal);
        private CrashModelDevice? _dev;
        private CrashFailure? _failure;
        private int _persistenceCount;

        public string Where { get; private set; } = "setup";
        public int CrashPoints { get; private set; }
        public int StatesChecked { get; private set; }
        public int StatesExplored { get; private set; }
        public int Recoveries { get; private set; }

        public CrashFailure? Execute()
        {
            var setup = Setup();
            if (setup is null) return _failure;
            Where = "setup";
            _keys = new ImageKeys(setup.Token);

            var clock = new LogicalClock(WorkloadClockStart);
            using var clockScope = LogicalClock.Use(clock);
            using var dev = new CrashModelDevice(setup.Image);
            _dev = dev;
            var mount = target.Mount(dev);
            dev.PersistencePoint += OnPersistencePoint;
            try
            {
                for (int i = 0; i < workload.Ops.Count && _failure is null; i++)
                {
                    Where = $"step {i + 1} ({workload.Ops[i]})";
                    clock.Tick();
                    if (Step(mount.Fs, workload.Ops[i]) is { } f) return f;
                    if (_failure is null && options.CrashBetweenSteps) CheckPoint($"after step {i + 1} ({workload.Ops[i]})");
                }
                if (_failure is not null) return _failure;
                Where = "unmount";
                mount.Dispose();
                if (_failure is not null) return _failure;
            }
            finally
            {
                dev.PersistencePoint -= OnPersistencePoint;
                mount.Dispose();
            }

            // A clean unmount persists everything: the durable image must be exactly the final state.
            _oracle.MarkAllDurable();
            Where = "after clean unmount";
            var problems = CheckImage(dev.MaterializeDurableOverlay());
            return problems.Count == 0 ? null : new CrashFailure(Where, "durable image", problems);
        }

        // Setup runs unobserved on the plain device and ends with a clean unmount, so the workload starts
        // from a known durable state. Its image is cached per target and setup (many workloads share one),
        // with the oracle brought to the same state (the model took the same steps, and knows the inode numbers
        // the creates got): each workload forks that oracle instead of replaying the setup on the model.
        private SetupImage? Setup()
        {
            string key = string.Join(";", workload.Setup);
            var cache = SetupCache.GetOrCreateValue(target);
            if (cache.TryGetValue(key, out var cached))
            {
                _oracle = cached.Oracle.Fork();
                return cached;
            }
            _oracle = new CrashOracle(target.Guarantees, sharedClock: true);
            var clock = new LogicalClock(SetupClockStart);
            using var clockScope = LogicalClock.Use(clock);
            var mem = new MemoryDevice(target.DeviceBlocks);
            target.Format(mem);
            using (var setup = target.Mount(mem))
            {
                for (int i = 0; i < workload.Setup.Count; i++)
                {
                    Where = $"setup step {i + 1} ({workload.Setup[i]})";
                    clock.Tick();
                    if (Step(setup.Fs, workload.Setup[i]) is { } f) { _failure = f; return null; }
                }
            }
            _oracle.MarkAllDurable();
            if (cache.Count >= 256) cache.Clear();
            var made = new SetupImage(mem, _oracle.Fork(), (ulong)Interlocked.Increment(ref _setupTokens));
            cache[key] = made;
            return made;
        }

        private CrashFailure? Step(IFileSystem fs, CrashOp op) => Step(fs, op, out _);

        private CrashFailure? Step(IFileSystem fs, CrashOp op, out InodeNo ino)
        {
            ino = default;
            if (!target.Supports(op)) return null;
            var expected = _oracle.Apply(op);
            var actual = OpRunner.Run(fs, op, out ino);
            if (_failure is not null) return _failure;
            if ((expected == Errno.OK) != (actual == Errno.OK))
                return new CrashFailure(Where, "-", [$"the target returned {actual} where the model returned {expected}"]);
            if (actual != Errno.OK) return null;
            if (op.Kind is CrashOpKind.Create or CrashOpKind.Mkdir) _oracle.RecordInode(op.Path, ino);
            _oracle.Completed(op);
            return null;
        }

        private void OnPersistencePoint(CrashModelDevice dev, PersistencePoint point)
        {
            if (_failure is not null) return;
            _persistenceCount++;
            // Runs inside the target's barrier or flush: nothing may escape into it.
            try { CheckPoint($"{Where}, {point.Kind.ToString().ToLowerInvariant()} #{_persistenceCount}"); }
            catch (Exception e) { _failure = new CrashFailure(Where, "-", [$"checking a crash point threw {e.GetType().Name}: {e.Message}"]); }
        }

        private void CheckPoint(string label)
        {
            var dev = _dev!;
            CrashPoints++;
            var writes = dev.InFlightWrites;
            int seed = HashCode.Combine(options.SamplingSeed, CrashPoints);
            foreach (var state in dev.EnumerateCrashStates(options.MaxStatesPerPoint, seed))
            {
                StatesExplored++;
                // Different write sets often leave the same blocks in place; such a state already judged
                // under the same oracle version need not be judged again.
                if (!_seenImages.Add(ImageKey(writes, state))) continue;
                StatesChecked++;
                var problems = CheckImage(dev.MaterializeOverlay(state));
                if (problems.Count > 0)
                {
                    _failure = new CrashFailure(label, DescribeState(writes, state), problems);
                    return;
                }
            }
        }

        // Recovery and the target's checks run once per distinct image in the process (RecoveryCache); the
        // oracle judges every checked state against that recovery.
        private List<string> CheckImage(OverlayDevice image)
        {
            Recoveries++;
            if (!options.ShareRecoveries) return RecoveredImage.Recover(target, image).Judge(_oracle);
            var recovered = _recovered.GetOrRecover(_keys!.Of(image), target, image, out bool fresh);
            if (!fresh) Recoveries--;
            return recovered.Judge(_oracle);
        }

        private string ImageKey(IReadOnlyList<InFlightWrite> writes, CrashState state)
        {
            var winner = new SortedDictionary<ulong, int>();
            for (int i = 0; i < writes.Count && writes[i].Epoch < state.Epoch; i++) winner[writes[i].Block.Value] = i;
            foreach (int i in state.Chosen) winner[writes[i].Block.Value] = i;
            var sb = new StringBuilder().Append(state.Generation).Append('/').Append(_oracle.Version).Append(':');
            foreach (var (b, i) in winner) sb.Append(b).Append('=').Append(i).Append(',');
            return sb.ToString();
        }

        private static string DescribeState(IReadOnlyList<InFlightWrite> writes, CrashState state)
        {
            int epochs = writes.Count == 0 ? 0 : writes[^1].Epoch + 1;
            int before = writes.Count(w => w.Epoch < state.Epoch);
            var kept = state.Chosen.Select(i => writes[i].Block.Value).ToList();
            var lost = writes.Where((w, i) => w.Epoch == state.Epoch && !state.Chosen.Contains(i)).Select(w => w.Block.Value).ToList();
            return $"{state.Key}: {writes.Count} write(s) in flight in {epochs} epoch(s); {before} earlier write(s) reached the disk; " +
                   $"of epoch {state.Epoch}, blocks [{string.Join(",", kept)}] reached it and [{string.Join(",", lost)}] did not";
        }
    }
}
