using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.Compare.Workloads;
using ExoFS.LibFs;

namespace ExoFS.Compare;

/// <summary>What to compare: every workload on every libFS configuration on every disk, with one seed and utilization.</summary>
public sealed record ComparePlan(
    IReadOnlyList<WorkloadSpec> Workloads, IReadOnlyList<DesignConfig> Libfs, IReadOnlyList<DiskKind> Disks,
    int Seed = 1, double Utilization = 0.75)
{
    /// <summary>Runs in the plan (workload × libFS × disk).</summary>
    public int Runs => Workloads.Count * Libfs.Count * Disks.Count;

    /// <summary>Phase results the plan will report when every run completes (progress displays count to it).</summary>
    public int Phases => Workloads.Sum(Comparison.PhasesOf) * Libfs.Count * Disks.Count;
}

/// <summary>Every result of a plan, and one line per run that stopped early.</summary>
public sealed record CompareOutcome(IReadOnlyList<PhaseResult> Results, IReadOnlyList<string> Errors);

/// <summary>Runs a <see cref="ComparePlan"/>: each run a fresh disk and file system, one after another, in plan order.</summary>
public static class Comparison
{
    /// <summary>Results one run of <paramref name="spec"/> reports: its phases, plus "setup" if it makes files before them.</summary>
    public static int PhasesOf(WorkloadSpec spec) =>
        spec.Phases.Count + (spec.FileSets.Any(s => s.Count > 0 || s.CountFromUtilization) ? 1 : 0);

    /// <summary>Runs the plan in order (workload, then libFS, then disk); <paramref name="onPhase"/> sees each result as it comes.</summary>
    public static CompareOutcome Run(ComparePlan plan, Action<PhaseResult>? onPhase = null, Func<IFileSystem, IFileSystem>? wrap = null)
    {
        var results = new List<PhaseResult>();
        var errors = new List<string>();
        var options = new RunOptions { Seed = plan.Seed, Utilization = plan.Utilization, OnPhase = onPhase, Wrap = wrap };
        foreach (var workload in plan.Workloads)
            foreach (var config in plan.Libfs)
                foreach (var disk in plan.Disks)
                {
                    var outcome = WorkloadRunner.Run(workload, config, disk, options);
                    results.AddRange(outcome.Results);
                    if (outcome.Error is { } e) errors.Add(e);
                }
        return new CompareOutcome(results, errors);
    }
}
