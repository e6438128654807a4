using System.Globalization;
using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.Compare.Output;
using ExoFS.Compare.Workloads;

namespace ExoFS.Compare.Reproduce;

/// <summary>What <c>--reproduce lfs-paper</c> produced: report sections, every result, runs that failed, and the experiments it could not run.</summary>
public sealed record ReproduceOutcome(
    IReadOnlyList<ReportSection> Sections, IReadOnlyList<PhaseResult> Results, IReadOnlyList<string> Errors,
    IReadOnlyList<string> Unavailable);

/// <summary>
/// The experiments of Rosenblum and Ousterhout, "The Design and Implementation of a Log-Structured File System"
/// (ACM TOCS 1992), on every registered design at its defaults, on the HDD model (the paper's Wren IV is not
/// modeled; the HP 97560 is the disk of its era that is).
/// <list type="bullet">
/// <item>small-file create/read/delete, files per modeled second (the paper's figure 8);</item>
/// <item>large-file bandwidth per phase (figure 9);</item>
/// <item>write cost against utilization, greedy and cost-benefit, uniform and hot-and-cold, beside 2/(1−u)
/// (figures 4 and 7): only on designs with a cleaner;</item>
/// <item>the distribution of segment utilizations at cleaning (figures 5 and 6), at 75% utilization: only on
/// designs with a cleaner, from <see cref="IDesign.CleanedSegmentUtilizations"/>.</item>
/// </list>
/// An experiment that cannot run is listed in <see cref="ReproduceOutcome.Unavailable"/> with the reason,
/// never drawn from made-up numbers.
/// </summary>
public static class LfsPaper
{
    /// <summary>Utilizations of the write-cost experiment.</summary>
    public static IReadOnlyList<double> Utilizations { get; } = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, DistributionUtilization, 0.8, 0.9];

    /// <summary>The disk utilization of the segment-utilization distribution (the paper's figures 5 and 6 are at 75%).</summary>
    public const double DistributionUtilization = 0.75;

    private const int Bins = 20;
    private static readonly IReadOnlyList<double> BinCentres = Enumerable.Range(0, Bins).Select(b => (b + 0.5) / Bins).ToList();

    /// <summary>Cleaner policies the paper compares, as values of a design's <c>cleaner</c> tunable.</summary>
    public static IReadOnlyList<string> Policies { get; } = ["greedy", "cost-benefit"];

    /// <summary>
    /// Overwrite passes of the write-cost experiment, and how many of the last ones its figure averages: a single
    /// pass swings by some 5% (which segments happen to be cleaned in it), the first ones before the log has
    /// wrapped more, so the figure is the steady state's mean rather than one pass's luck.
    /// </summary>
    public const int OverwritePasses = 8, SteadyPasses = 4;

    /// <summary>Runs every experiment that the registered <paramref name="designs"/> allow.</summary>
    public static ReproduceOutcome Run(IReadOnlyList<IDesign> designs, int seed, Action<PhaseResult>? onPhase = null,
        WorkloadSpec? smallFiles = null, WorkloadSpec? largeFile = null, int overwriteMib = 128)
    {
        var hdd = DiskRegistry.All.Single(d => d.Name == "hdd");
        var defaults = designs.Select(d => DesignRegistry.Configure(d, [], out _)!).ToList();
        var sections = new List<ReportSection>();
        var results = new List<PhaseResult>();
        var errors = new List<string>();
        var unavailable = new List<string>();

        CompareOutcome Compare(WorkloadSpec w, IReadOnlyList<DesignConfig> configs, double u = 0.75)
        {
            var outcome = Comparison.Run(new ComparePlan([w], configs, [hdd], seed, u), onPhase);
            results.AddRange(outcome.Results);
            errors.AddRange(outcome.Errors);
            return outcome;
        }

        var small = Compare(smallFiles ?? BuiltinWorkloads.SmallFiles(), defaults).Results.Where(r => r.Phase != "setup").ToList();
        sections.Add(new ReportSection("Small-file create, read, delete (paper figure 8)",
        [
            "Paper: 10,000 one-KB files on a Sun-4/260 with a Wren IV; Sprite LFS about 10x SunOS FFS on create and delete, also faster on read.",
            "Here: files per modeled second on the HP 97560 model, each phase ending with a sync, reads after a remount (cold cache).",
        ], small,
        [
            new Chart("lfs-paper-small-files", "Small files: files per modeled second (HP 97560)", "files / s",
                ["create", "read", "delete"], Series(small, ["create", "read", "delete"], r => r.OpsPerSecond)),
        ]));

        var large = Compare(largeFile ?? BuiltinWorkloads.LargeFile(), defaults).Results.Where(r => r.Phase != "setup").ToList();
        string[] largePhases = ["seq-write", "seq-read", "rand-write", "rand-read", "seq-reread"];
        sections.Add(new ReportSection("Large-file bandwidth (paper figure 9)",
        [
            "Paper: one 100 MB file; LFS writes randomly as fast as sequentially, FFS rereads sequentially faster after random writes than LFS.",
            "Here: kilobytes per modeled second on the HP 97560 model (media rate about 2,460 KB/s).",
        ], large,
        [
            new Chart("lfs-paper-large-file", "Large file: KB per modeled second (HP 97560)", "KB / s",
                largePhases, Series(large, largePhases, r => r.MbPerSecond * 1000)),
        ]));

        var cleaners = designs.Where(d => d.HasCleaner).ToList();
        if (cleaners.Count == 0)
        {
            string registered = string.Join(", ", designs.Select(d => d.Name));
            unavailable.Add("write cost vs utilization (figures 4, 7): not available yet: no registered libFS has a cleaner " +
                $"(registered: {registered}); it runs once LFS is added to DesignRegistry.All");
            unavailable.Add("segment utilization distribution at cleaning (figures 5, 6): not available yet: no registered libFS " +
                $"has a cleaner (registered: {registered})");
        }
        else
        {
            var costSeries = new List<ChartSeries>();
            var distSeries = new List<ChartSeries>();
            var costRows = new List<PhaseResult>();
            var distRows = new List<PhaseResult>();
            foreach (var design in cleaners)
                foreach (var survivors in SurvivorPlacementsOf(design))
                foreach (var policy in PoliciesOf(design))
                    foreach (var workload in new[] { BuiltinWorkloads.Uniform(overwriteMib, OverwritePasses), BuiltinWorkloads.HotCold(overwriteMib, OverwritePasses) })
                    {
                        var settings = new List<(string, string)>();
                        if (policy is not null) settings.Add(("cleaner", policy));
                        if (survivors is not null) settings.Add(("survivors", survivors));
                        var config = DesignRegistry.Configure(design, settings, out _)!;
                        string label = $"{config.Label} {workload.Name}";
                        var costs = new List<double>();
                        var passes = new List<PhaseResult>();
                        foreach (double u in Utilizations)
                        {
                            var overwrites = Compare(workload, [config], u).Results
                                .Where(r => r.Phase.StartsWith("overwrite", StringComparison.Ordinal)).ToList();
                            if (u == DistributionUtilization) passes = overwrites;
                            // The steady state: the mean of the last passes, the log long wrapped.
                            var steady = overwrites.TakeLast(SteadyPasses).ToList();
                            costRows.AddRange(steady);
                            var measured = steady.Where(r => r.CleanerWriteCost is not null).Select(r => r.CleanerWriteCost!.Value).ToList();
                            costs.Add(measured.Count > 0 ? measured.Average() : double.NaN);
                        }
                        costSeries.Add(new ChartSeries(label, costs) { X = Utilizations });

                        distRows.AddRange(passes);
                        var cleaned = passes.SelectMany(r => r.CleanedSegmentUtilizations ?? []).ToList();
                        distSeries.Add(new ChartSeries($"{label} ({cleaned.Count} segments)", Histogram(cleaned)) { X = BinCentres });
                    }
            costSeries.Add(new ChartSeries("2/(1-u)", Utilizations.Select(u => 2 / (1 - u)).ToList()) { X = Utilizations, Dashed = true });
            sections.Add(new ReportSection("Write cost against utilization (paper figures 4 and 7)",
            [
                "Paper: write cost = (read + written) / new data = 2/(1-u) for cleaned segments of live fraction u; greedy does worse under hot-and-cold than uniform; cost-benefit up to 50% lower.",
                string.Create(CultureInfo.InvariantCulture,
                    $"Here: the cleaner's write cost, the mean of the last {SteadyPasses} of {OverwritePasses} overwrite passes, u the utilization the disk was filled to; where a design can place the cleaner's copies either way (LFS's survivors tunable), both: a head of their own (its default) and the log's head with new data (Sprite's single log)."),
            ], costRows,
            [
                new Chart("lfs-paper-write-cost", "Write cost against disk utilization", "write cost", [], costSeries)
                    { Lines = true, XLabel = "disk utilization u", LegendUpperLeft = true },
            ]));
            sections.Add(new ReportSection("Segment utilization at cleaning (paper figures 5 and 6)",
            [
                string.Create(CultureInfo.InvariantCulture,
                    $"Paper: at 75% disk utilization greedy cleans segments around 55% live under uniform access; cost-benefit cleans cold segments at about 75% and hot ones at about 15%."),
                string.Create(CultureInfo.InvariantCulture,
                    $"Here: the live fraction of every segment cleaned during the overwrite passes at u = {DistributionUtilization}, as the fraction of cleaned segments per {1.0 / Bins:0.00}-wide bin."),
            ], distRows,
            [
                new Chart("lfs-paper-segment-utilization", "Live fraction of the segments cleaned", "fraction of cleaned segments", [], distSeries)
                    { Lines = true, XLabel = "segment utilization (live fraction)", LegendUpperLeft = true },
            ]));
        }

        if (unavailable.Count > 0) sections.Add(new ReportSection("Not available yet", unavailable, [], []));
        return new ReproduceOutcome(sections, results, errors, unavailable);
    }

    /// <summary>Phase results <see cref="Run"/> reports for <paramref name="designs"/> at the default sizes (progress displays count to it).</summary>
    public static int PlannedPhases(IReadOnlyList<IDesign> designs) =>
        (Comparison.PhasesOf(BuiltinWorkloads.SmallFiles()) + Comparison.PhasesOf(BuiltinWorkloads.LargeFile())) * designs.Count
        + designs.Where(d => d.HasCleaner).Sum(d => PoliciesOf(d).Count() * SurvivorPlacementsOf(d).Count())
            * 2 * Utilizations.Count * Comparison.PhasesOf(BuiltinWorkloads.Uniform(passes: OverwritePasses));

    // Each cleaning policy the design declares (a "cleaner" tunable), or its default policy if it declares none.
    private static IEnumerable<string?> PoliciesOf(IDesign design)
    {
        var tunable = design.Tunables.FirstOrDefault(t => t.Key == "cleaner");
        if (tunable is null) return [null];
        var known = Policies.Where(tunable.Accepts).ToList();
        return known.Count > 0 ? known : [tunable.Default];
    }

    // Each place the design can write the cleaner's copies (a "survivors" tunable), or its one placement.
    private static IEnumerable<string?> SurvivorPlacementsOf(IDesign design) =>
        design.Tunables.FirstOrDefault(t => t.Key == "survivors") is { } tunable ? tunable.AllowedValues.Cast<string?>() : [null];

    // Fraction of the values per bin of [0, 1]; all NaN when there are none (nothing to draw, rather than zeros).
    private static IReadOnlyList<double> Histogram(IReadOnlyList<double> values)
    {
        var counts = new double[Bins];
        foreach (double v in values) counts[Math.Clamp((int)(v * Bins), 0, Bins - 1)]++;
        return counts.Select(c => values.Count == 0 ? double.NaN : c / values.Count).ToList();
    }

    private static IReadOnlyList<ChartSeries> Series(IReadOnlyList<PhaseResult> rows, IReadOnlyList<string> phases, Func<PhaseResult, double?> value) =>
        rows.GroupBy(r => r.Libfs).Select(g => new ChartSeries(g.Key,
            phases.Select(p => g.FirstOrDefault(r => r.Phase == p) is { } r ? value(r) ?? double.NaN : double.NaN).ToList())).ToList();

    /// <summary>One line per small-file and large-file figure, for the terminal.</summary>
    public static IEnumerable<string> Summary(IReadOnlyList<PhaseResult> results) =>
        results.Where(r => r.Workload is "small-files" or "large-file" && r.Phase != "setup").Select(r => string.Create(CultureInfo.InvariantCulture,
            $"{r.Workload,-12} {r.Phase,-11} {r.Libfs,-10} {(r.Workload == "small-files" ? $"{r.OpsPerSecond,10:F1} files/s" : $"{r.MbPerSecond * 1000,10:F1} KB/s")}"));
}
