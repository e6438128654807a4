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

    public string Usage =>
        "compare [--libfs ffs[:key=value,...],...] [--disk hdd,ssd,mem] [--workload NAME|FILE.json,...] [--seed N]\n" +
        "        [--utilization U] [--json FILE] [--csv FILE] [--report DIR]   # libFS designs side by side, modeled time\n" +
        "compare --reproduce lfs-paper [--report DIR] [--seed N]              # the LFS paper's experiments\n" +
        "compare --list | --dump-workload NAME                                # what there is; a workload as a file\n";

    public int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string libfs = "ffs", disks = "hdd,ssd,mem";
        string? workloads = null, json = null, csv = null, report = null, reproduce = null, dump = null;
        int seed = 1;
        double utilization = 0.75;
        bool list = false;
        for (int i = 0; i < args.Length; i++)
        {
            string opt = args[i];
            if (opt is "--help" or "-h") { stdout.Write("usage: exofs " + Usage.Replace("\ncompare", "\n       exofs compare")); return 0; }
            if (opt == "--list") { list = true; continue; }
            if (i + 1 >= args.Length) return Bad(stderr, $"{opt} needs a value");
            string value = args[++i];
            switch (opt)
            {
                case "--libfs": libfs = value; break;
                case "--disk": disks = value; break;
                case "--workload": workloads = value; break;
                case "--seed":
                    if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seed))
                        return Bad(stderr, $"--seed: '{value}' is not an integer");
                    break;
                case "--utilization":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out utilization) || utilization is < 0.2 or > 0.9)
                        return Bad(stderr, $"--utilization: '{value}' is not a number in 0.2..0.9");
                    break;
                case "--json": json = value; break;
                case "--csv": csv = value; break;
                case "--report": report = value; break;
                case "--reproduce": reproduce = value; break;
                case "--dump-workload": dump = value; break;
                default: return Bad(stderr, $"unknown option '{opt}'");
            }
        }

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

    private static bool IsTerminal(TextWriter stdout) => ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;

    private static int Bad(TextWriter stderr, string message)
    {
        stderr.WriteLine($"exofs compare: {message}");
        return 2;
    }
}
