using System.Diagnostics;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>What a campaign runs: random workloads from seeds, or the exhaustive set.</summary>
public sealed record CrashCampaignOptions
{
    /// <summary>Random mode: case i uses workload seed <c>Seed + i</c>. Exhaustive mode: index of the first workload.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>How many workloads; null = 100 random, or the whole exhaustive set.</summary>
    public int? Cases { get; init; }

    /// <summary>0 = random workloads; 1..3 = every workload of up to that many steps (<see cref="CrashWorkloads.Exhaustive"/>).</summary>
    public int Exhaustive { get; init; }

    /// <summary>Most steps in a random workload.</summary>
    public int MaxOps { get; init; } = 6;

    /// <summary>Random mode: every workload starts from <see cref="CrashWorkloads.FullDirectorySetup"/> (/B at twelve full blocks).</summary>
    public bool FullDirectory { get; init; }

    /// <summary>Per-point crash-state bound and sampling (see <see cref="CrashExplorerOptions"/>).</summary>
    public CrashExplorerOptions Explorer { get; init; } = new();

    /// <summary>Workload runs spent shrinking each failure (0 = report it unshrunk).</summary>
    public int ShrinkBudget { get; init; } = 200;

    /// <summary>
    /// Workloads explored at once (each on its own devices and mounts). The report does not depend on it:
    /// failures are shrunk and reported in plan order once every workload has run.
    /// </summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>One failed case: how to replay it, the workload as generated and as shrunk, and the failure.</summary>
public sealed record CrashCampaignFailure(string Replay, Workload Original, Workload Minimal, CrashFailure Failure)
{
    public override string ToString() =>
        $"FAILED: {Failure}\nminimal workload:\n{Minimal}\nreplay: {Replay}";
}

/// <summary>Progress after each case.</summary>
public readonly record struct CrashCampaignProgress(int Done, int Total, int Failed, long StatesChecked, TimeSpan Elapsed);

/// <summary>The totals of a campaign.</summary>
/// <param name="StatesChecked">Distinct crash states judged (see <see cref="CrashRunResult.StatesChecked"/>).</param>
public sealed record CrashCampaignReport(int Passed, int Failed, long StatesChecked, long CrashPoints, TimeSpan Elapsed,
    IReadOnlyList<CrashCampaignFailure> Failures)
{
    /// <summary>Crash states checked (each recovered, or sharing the recovery of a byte-identical image, and judged) per second of wall-clock time.</summary>
    public double StatesPerSecond => Elapsed.TotalSeconds > 0 ? StatesChecked / Elapsed.TotalSeconds : 0;

    /// <summary>Crash states enumerated, including those that repeated a state already checked in their workload.</summary>
    public long StatesExplored { get; init; }

    /// <summary>Crash images recovered and checked by the target itself (the rest shared a byte-identical image's recovery).</summary>
    public long Recoveries { get; init; }
}

/// <summary>Runs many workloads on one target, shrinking each failure to a minimal workload.</summary>
public static class CrashCampaign
{
    /// <summary>The workloads a campaign with these options runs, in order, with each one's replay command.</summary>
    public static IReadOnlyList<(Workload Workload, string Replay)> Plan(string targetName, CrashCampaignOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Exhaustive > 0)
        {
            var all = CrashWorkloads.Exhaustive(o.Exhaustive);
            int start = Math.Clamp(o.Seed, 0, all.Count);
            int count = Math.Min(o.Cases ?? all.Count, all.Count - start);
            return Enumerable.Range(start, count)
                .Select(i => (all[i], $"exofs crashtest --libfs {targetName} --exhaustive {o.Exhaustive} --seed {i} --cases 1"))
                .ToList();
        }
        return Enumerable.Range(0, o.Cases ?? 100)
            .Select(i => unchecked(o.Seed + i))
            .Select(s => (CrashWorkloads.Random(s, o.MaxOps, tripleIndirect: true, o.FullDirectory),
                $"exofs crashtest --libfs {targetName}{(o.FullDirectory ? " --full-directory" : "")} --seed {s} --cases 1"))
            .ToList();
    }

    /// <summary>Runs the campaign; <paramref name="progress"/> hears after every case, <paramref name="onFailure"/> as each failure is shrunk.</summary>
    public static CrashCampaignReport Run(ICrashTarget target, CrashCampaignOptions options,
        Action<CrashCampaignProgress>? progress = null, Action<CrashCampaignFailure>? onFailure = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        var plan = Plan(target.Name, options);
        var clock = Stopwatch.StartNew();
        var results = new CrashRunResult[plan.Count];
        var gate = new object();
        long states = 0, points = 0, explored = 0, recoveries = 0;
        int done = 0, failed = 0;
        // Workloads are independent (each explorer has its own devices, mounts and oracle), so they run
        // side by side; progress is reported as each finishes, under one lock.
        Parallel.For(0, plan.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism) }, i =>
        {
            var r = CrashExplorer.Run(target, plan[i].Workload, options.Explorer);
            results[i] = r;
            lock (gate)
            {
                states += r.StatesChecked;
                points += r.CrashPoints;
                explored += r.StatesExplored;
                recoveries += r.Recoveries;
                done++;
                if (!r.Passed) failed++;
                progress?.Invoke(new CrashCampaignProgress(done, plan.Count, failed, states, clock.Elapsed));
            }
        });
        var failures = new List<CrashCampaignFailure>();
        for (int i = 0; i < plan.Count; i++)
        {
            if (results[i].Passed) continue;
            var shrunk = Minimize(target, results[i], options);
            states += shrunk.StatesChecked;
            explored += shrunk.StatesExplored;
            recoveries += shrunk.Recoveries;
            var f = new CrashCampaignFailure(plan[i].Replay, plan[i].Workload, shrunk.Minimal, shrunk.Failure);
            failures.Add(f);
            onFailure?.Invoke(f);
        }
        return new CrashCampaignReport(plan.Count - failures.Count, failures.Count, states, points, clock.Elapsed, failures)
        {
            StatesExplored = explored, Recoveries = recoveries,
        };
    }

    /// <summary>
    /// Greedy shrinking: take the first smaller workload (<see cref="CrashWorkloads.Shrink"/>) that still
    /// fails, repeat until none does or the budget is spent.
    /// </summary>
    public static CrashShrinkResult Minimize(ICrashTarget target, CrashRunResult failed, CrashCampaignOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(failed);
        var current = failed.Workload;
        var failure = failed.Failure ?? throw new ArgumentException("the run passed", nameof(failed));
        int budget = options.ShrinkBudget, runs = 0;
        long states = 0, explored = 0, recoveries = 0;
        bool progress = true;
        while (progress && budget > 0)
        {
            progress = false;
            foreach (var candidate in CrashWorkloads.Shrink(current))
            {
                if (budget-- <= 0) break;
                var r = CrashExplorer.Run(target, candidate, options.Explorer);
                runs++;
                states += r.StatesChecked;
                explored += r.StatesExplored;
                recoveries += r.Recoveries;
                if (r.Failure is null) continue;
                (current, failure, progress) = (candidate, r.Failure, true);
                break;
            }
        }
        return new CrashShrinkResult(current, failure, runs, states) { StatesExplored = explored, Recoveries = recoveries };
    }
}

/// <summary>What shrinking found: the smallest failing workload, its failure, and what it cost.</summary>
public sealed record CrashShrinkResult(Workload Minimal, CrashFailure Failure, int Runs, long StatesChecked)
{
    public long StatesExplored { get; init; }
    public long Recoveries { get; init; }
}
