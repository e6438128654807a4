using System.CommandLine;
using System.Globalization;
using ExoFS.Compare;
using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.Compare.Output;
using ExoFS.Compare.Reproduce;
using ExoFS.Compare.Workloads;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs compare</c>: runs workloads on libFS configurations and disk models, each run a fresh image in memory,
/// in process, and prints one row per phase (see ExoFS.Compare and docs/compare.md). <c>--reproduce lfs-paper</c>
/// runs the LFS paper's experiments instead. Exit 0 if every run completed, 1 if one failed or an output could not
/// be written, 2 for bad arguments.
/// </summary>
public sealed class CompareCommand : ICommand
{
    public string Name => "compare";

    public Command Build()
    {
        var libfs = Cli.Option<string>("--libfs", "libFS designs, comma-separated, each NAME[:key=value,...] (default ffs; --list shows them)");
        var disk = Cli.Option<string>("--disk", "Disk models, comma-separated (default hdd,ssd,mem)");
        disk.CompletionSources.Add(_ => DiskRegistry.All.Select(d => d.Name));
        var workload = Cli.Option<string>("--workload", "Workloads, comma-separated: built-in names or FILE.json (default all built-ins)");
        workload.CompletionSources.Add(_ => BuiltinWorkloads.All.Select(w => w.Name));
        var seed = Cli.Option<int>("--seed", "Random seed (default 1)");
        seed.DefaultValueFactory = _ => 1;
        var utilization = Cli.Option<double>("--utilization", "Disk utilization the aging workloads fill to, 0.2..0.9 (default 0.75)");
        utilization.DefaultValueFactory = _ => 0.75;
        var json = Cli.Option<string>("--json", "Write the results as JSON to FILE");
        var csv = Cli.Option<string>("--csv", "Write the results as CSV to FILE");
        var report = Cli.Option<string>("--report", "Write an HTML report with charts to DIR");
        var reproduce = Cli.Option<string>("--reproduce", "Run a paper's experiments instead (lfs-paper)");
        reproduce.AcceptOnlyFromAmong("lfs-paper");
        var list = Cli.Option<bool>("--list", "List designs (with tunables), disks and workloads");
        var dump = Cli.Option<string>("--dump-workload", "Print a built-in workload as a workload file");
        var command = new Command(Name, "libFS designs side by side on modeled disks (modeled time); see docs/compare.md")
        {
            libfs, disk, workload, seed, utilization, json, csv, report, reproduce, list, dump,
        };
        command.SetAction(r =>
        {
            double u = r.GetValue(utilization);
            if (u is < 0.2 or > 0.9) return Bad(Cli.Err(r), $"--utilization: '{u.ToString(CultureInfo.InvariantCulture)}' is not a number in 0.2..0.9");
            var args = r.Tokens.Select(x => x.Value).SkipWhile(x => x != Name).Skip(1).ToArray();
            return Run(args, r.GetValue(libfs) ?? "ffs", r.GetValue(disk) ?? "hdd,ssd,mem", r.GetValue(workload), r.GetValue(json), r.GetValue(csv),
                r.GetValue(report), r.GetValue(reproduce), r.GetValue(dump), r.GetValue(seed), u, r.GetValue(list), Cli.Out(r), Cli.Err(r));
        });
        return command;
    }

    private int Run(string[] args, string libfs, string disks, string? workloads, string? json, string? csv, string? report, string? reproduce,
        string? dump, int seed, double utilization, bool list, TextWriter stdout, TextWriter stderr)
    {
        if (list) { List(stdout); return 0; }
        if (dump is not null)
        {
            var spec = BuiltinWorkloads.Find(dump);
            if (spec is null) return Bad(stderr, $"unknown workload '{dump}' (known: {string.Join(", ", BuiltinWorkloads.All.Select(w => w.Name))})");
            stdout.WriteLine(WorkloadFile.Save(spec));
            return 0;
        }
        if (reproduce is not null)
        {
            if (reproduce != "lfs-paper") return Bad(stderr, $"--reproduce: unknown experiment set '{reproduce}' (known: lfs-paper)");
            return Reproduce(seed, report, json, csv, stdout, stderr);
        }

        var configs = DesignRegistry.ParseList(libfs, out string? error);
        if (configs is null) return Bad(stderr, error!);
        var diskKinds = DiskRegistry.ParseList(disks, out error);
        if (diskKinds is null) return Bad(stderr, error!);
        var specs = ParseWorkloads(workloads, out error);
        if (specs is null) return Bad(stderr, error!);

        var plan = new ComparePlan(specs, configs, diskKinds, seed, utilization);
        bool terminal = IsTerminal(stdout);
        var outcome = terminal
            ? TerminalView.WithProgress(stdout, plan.Phases, progress => Comparison.Run(plan, progress))
            : Comparison.Run(plan);

        if (terminal) TerminalView.WriteTable(stdout, outcome.Results);
        else stdout.Write(ResultWriters.ToText(outcome.Results));
        int code = Outputs(outcome.Results, json, csv, stderr);
        if (code == 0 && report is not null)
        {
            var sections = specs.Select(w => new ReportSection(w.Name, [w.Description],
                outcome.Results.Where(r => r.Workload == w.Name).ToList(),
                HtmlReport.ChartsFor(outcome.Results.Where(r => r.Workload == w.Name).ToList()))).ToList();
            code = WriteReport(report, "exofs compare", Preamble(args).ToList(), sections, stdout, stderr);
        }
        foreach (var e in outcome.Errors) stderr.WriteLine($"exofs compare: {e}");
        return outcome.Errors.Count > 0 ? 1 : code;
    }

    private int Reproduce(int seed, string? report, string? json, string? csv, TextWriter stdout, TextWriter stderr)
    {
        var designs = DesignRegistry.All;
        var started = DateTime.UtcNow;
        bool terminal = IsTerminal(stdout);
        int phases = LfsPaper.PlannedPhases(designs);
        var outcome = terminal
            ? TerminalView.WithProgress(stdout, phases, progress => LfsPaper.Run(designs, seed, progress))
            : LfsPaper.Run(designs, seed);
        var elapsed = DateTime.UtcNow - started;

        foreach (var line in LfsPaper.Summary(outcome.Results)) stdout.WriteLine(line);
        foreach (var line in outcome.Unavailable) stdout.WriteLine(line);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lfs-paper: {outcome.Results.Count} results in {elapsed.TotalSeconds:F1} s wall"));
        int code = Outputs(outcome.Results, json, csv, stderr);
        if (code == 0 && report is not null)
        {
            var preamble = Preamble(["--reproduce", "lfs-paper", "--seed", seed.ToString(CultureInfo.InvariantCulture)]).Append(
                string.Create(CultureInfo.InvariantCulture, $"Whole run: {elapsed.TotalSeconds:F1} s wall.")).ToList();
            code = WriteReport(report, "exofs compare --reproduce lfs-paper", preamble, outcome.Sections, stdout, stderr);
        }
        foreach (var e in outcome.Errors) stderr.WriteLine($"exofs compare: {e}");
        return outcome.Errors.Count > 0 ? 1 : code;
    }

    private static IReadOnlyList<WorkloadSpec>? ParseWorkloads(string? list, out string? error)
    {
        error = null;
        if (list is null) return BuiltinWorkloads.All;
        var specs = new List<WorkloadSpec>();
        foreach (var item in list.Split(',', StringSplitOptions.TrimEntries))
        {
            // A path (has a '/' or ends in .json) is a workload file; anything else names a built-in.
            var spec = item.Contains('/') || item.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                ? WorkloadFile.Load(item, out error)
                : BuiltinWorkloads.Find(item);
            if (spec is null)
            {
                error ??= $"unknown workload '{item}' (known: {string.Join(", ", BuiltinWorkloads.All.Select(w => w.Name))}, or a FILE.json)";
                return null;
            }
            if (specs.Any(s => s.Name == spec.Name)) { error = $"workload '{spec.Name}' given twice"; return null; }
            specs.Add(spec);
        }
        return specs;
    }

    private static int Outputs(IReadOnlyList<PhaseResult> results, string? json, string? csv, TextWriter stderr)
    {
        try
        {
            if (json is not null) File.WriteAllText(json, ResultWriters.ToJson(results) + "\n");
            if (csv is not null) File.WriteAllText(csv, ResultWriters.ToCsv(results));
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"exofs compare: cannot write output: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }

    private static int WriteReport(string dir, string title, IReadOnlyList<string> preamble, IReadOnlyList<ReportSection> sections,
        TextWriter stdout, TextWriter stderr)
    {
        try
        {
            stdout.WriteLine($"report: {HtmlReport.Write(dir, title, preamble, sections)}");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"exofs compare: cannot write report to {dir}: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }

    private static IEnumerable<string> Preamble(string[] args) =>
    [
        $"Command: exofs compare {string.Join(' ', args)}",
        string.Create(CultureInfo.InvariantCulture,
            $"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}."),
        "Modeled seconds are the disk model's service time for the request stream the libFS issued (not wall time); every run is a fresh image in memory.",
    ];

    private static void List(TextWriter stdout)
    {
        stdout.WriteLine("libFS designs (--libfs NAME[:key=value,...]):");
        foreach (var d in DesignRegistry.All)
        {
            stdout.WriteLine($"  {d.Name,-12} {d.Description}");
            if (d.Tunables.Count == 0) stdout.WriteLine($"  {"",-12} (no tunables)");
            foreach (var t in d.Tunables) stdout.WriteLine($"  {"",-12} {t.Key}={string.Join("|", t.AllowedValues)} (default {t.Default}): {t.Doc}");
        }
        stdout.WriteLine("disks (--disk):");
        foreach (var d in DiskRegistry.All) stdout.WriteLine($"  {d.Name,-12} {d.Description}");
        stdout.WriteLine("workloads (--workload NAME or FILE.json):");
        foreach (var w in BuiltinWorkloads.All) stdout.WriteLine($"  {w.Name,-12} {w.Description}");
    }

    private static bool IsTerminal(TextWriter stdout) => Cli.IsTerminal(stdout);

    private static int Bad(TextWriter stderr, string message)
    {
        stderr.WriteLine($"exofs compare: {message}");
        return 2;
    }
}
