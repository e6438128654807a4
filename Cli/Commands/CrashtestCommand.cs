using System.CommandLine;
using Spectre.Console;
using System.Globalization;
using ExoFS.LibFs.Testing.Crash;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs crashtest</c>: a crash-consistency campaign against one libFS (see
/// <see cref="CrashCampaign"/>). Prints a progress line, each failure with its minimal workload and replay
/// command, the crash-state rate, and last <c>N passed, N failed</c>. Exit 0 if all passed, 1 if any failed,
/// 2 for bad arguments.
/// </summary>
public sealed class CrashtestCommand : ICommand
{
    public string Name => "crashtest";

    public Command Build()
    {
        var libfs = Cli.Option<string>("--libfs", $"The libFS to test (default {CrashTargets.All[0].Name}; known: {string.Join(", ", CrashTargets.All.Select(t => t.Name))})");
        libfs.CompletionSources.Add(_ => CrashTargets.All.Select(t => t.Name));
        var seed = Cli.Option<int>("--seed", "Random seed (or, with --exhaustive, the first workload index); default 1, 0 with --exhaustive");
        var cases = Cli.Option<int?>("--cases", "Number of workloads to run");
        var exhaustive = Cli.Option<int>("--exhaustive", "Enumerate every workload of up to 1, 2 or 3 steps instead of random ones");
        var maxOps = Cli.Option<int>("--max-ops", "Steps per random workload (default 6)");
        maxOps.DefaultValueFactory = _ => 6;
        var fullDirectory = Cli.Option<bool>("--full-directory", "Random workloads start with /B grown to twelve full directory blocks (its next name takes the indirect block)");
        var states = Cli.Option<int>("--states", "Crash states checked per crash point (default 4096)");
        states.DefaultValueFactory = _ => 4096;
        var shrink = Cli.Option<int>("--shrink", "Budget of runs for shrinking a failing workload (default 200)");
        shrink.DefaultValueFactory = _ => 200;
        var corrupt = Cli.Option<int?>("--corrupt", "Instead of crash states: a corruption campaign of COUNT damaged images (ffs or lfs)");
        var firstCase = Cli.Option<int>("--first-case", "With --corrupt: number of the first case (replay one with --corrupt 1)");
        var dataChecksums = Cli.Option<bool>("--data-checksums", "With --corrupt: make the image with the libFS's data-checksums format option");
        var formatOptions = Cli.Option<string>("--options", "With --corrupt: the libFS's format options, KEY=VALUE,... (as mkfs --libfs NAME:KEY=VALUE)");
        var timeout = Cli.Option<int>("--timeout", "With --corrupt: seconds before a case counts as a hang (default 10)");
        timeout.DefaultValueFactory = _ => 10;
        var json = Cli.Option<bool>("--json", "With --corrupt or --simulate: print one JSON object (the figures and every failing case)");
        var simulate = Cli.Option<bool>("--simulate", "Instead of one libFS: the seeded multi-guest simulation (several guests of one host, crash states across all)");
        var guests = Cli.Option<string>("--guests", $"With --simulate: the guests, ffs, ffs:ROOT or hostile, comma-separated (default {CrashtestSimulate.DefaultGuests})");
        var command = new Command(Name, "Crash-consistency campaign against a libFS; last line 'N passed, N failed' (exit 0 all passed, 1 some failed)")
        {
            libfs, seed, cases, exhaustive, maxOps, fullDirectory, states, shrink, corrupt, firstCase, dataChecksums, formatOptions, timeout, json,
            simulate, guests,
        };
        command.SetAction(r =>
        {
            var stderr = Cli.Err(r);
            if (r.GetValue(corrupt) is { } count)
                return RunCorrupt(r, count, r.GetValue(libfs), r.GetResult(seed) is null ? 1 : r.GetValue(seed), r.GetValue(firstCase),
                    r.GetValue(dataChecksums), r.GetValue(formatOptions), r.GetValue(timeout), r.GetValue(json));
            if (r.GetValue(simulate))
            {
                if (r.GetResult(corrupt) is not null) return Bad(stderr, "--simulate and --corrupt are two campaigns: choose one");
                foreach (var other in new Option[] { libfs, exhaustive, shrink, fullDirectory, firstCase, dataChecksums, formatOptions, timeout })
                    if (r.GetResult(other) is { Implicit: false }) return Bad(stderr, $"{other.Name} does not apply to --simulate");
                int simCases = r.GetValue(cases) ?? 10;
                if (simCases < 1) return Bad(stderr, $"--cases: '{simCases}' is not a positive integer");
                int steps = r.GetResult(maxOps) is { Implicit: false } ? r.GetValue(maxOps) : CrashtestSimulate.DefaultSteps;
                if (steps < 1) return Bad(stderr, $"--max-ops: '{steps}' is not a positive integer");
                int perPoint = r.GetResult(states) is { Implicit: false } ? r.GetValue(states) : CrashtestSimulate.DefaultStates;
                if (perPoint < 0) return Bad(stderr, $"--states: '{perPoint}' is not a non-negative integer");
                return CrashtestSimulate.Run(r.GetValue(guests) ?? CrashtestSimulate.DefaultGuests, r.GetResult(seed) is null ? 1 : r.GetValue(seed),
                    simCases, steps, perPoint, r.GetValue(json), Cli.Out(r), stderr);
            }
            if (r.GetResult(guests) is { Implicit: false }) return Bad(stderr, "--guests needs --simulate");
            foreach (var only in new Option[] { firstCase, dataChecksums, formatOptions, json })
                if (r.GetResult(only) is { Implicit: false }) return Bad(stderr, $"{only.Name} needs --corrupt");
            int? c = r.GetValue(cases);
            if (c is < 1) return Bad(stderr, $"--cases: '{c}' is not a positive integer");
            int ex = r.GetValue(exhaustive);
            if (r.GetResult(exhaustive) is not null && ex is < 1 or > 3) return Bad(stderr, $"--exhaustive: '{ex}' is not 1, 2 or 3");
            if (r.GetValue(maxOps) < 1) return Bad(stderr, $"--max-ops: '{r.GetValue(maxOps)}' is not a positive integer");
            if (r.GetValue(states) < 1) return Bad(stderr, $"--states: '{r.GetValue(states)}' is not a positive integer");
            if (r.GetValue(shrink) < 0) return Bad(stderr, $"--shrink: '{r.GetValue(shrink)}' is not a non-negative integer");
            if (r.GetValue(fullDirectory) && ex > 0) return Bad(stderr, "--full-directory applies to random workloads (the exhaustive set has its own directory corner)");
            bool seedGiven = r.GetResult(seed) is not null;
            return Run(r.GetValue(libfs) ?? CrashTargets.All[0].Name, seedGiven ? r.GetValue(seed) : 1, seedGiven, c, ex,
                r.GetValue(maxOps), r.GetValue(fullDirectory), r.GetValue(states), r.GetValue(shrink), Cli.Out(r), stderr);
        });
        return command;
    }

    private static int RunCorrupt(System.CommandLine.ParseResult r, int count, string? libfs, int seed, int firstCase, bool dataChecksums,
        string? formatOptions, int timeout, bool json)
    {
        var stderr = Cli.Err(r);
        if (count < 1) return Bad(stderr, $"--corrupt: '{count}' is not a positive integer");
        if (firstCase < 0) return Bad(stderr, $"--first-case: '{firstCase}' is not a non-negative integer");
        if (timeout < 1) return Bad(stderr, $"--timeout: '{timeout}' is not a positive integer");
        libfs ??= "ffs";
        if (libfs is not ("ffs" or "lfs")) return Bad(stderr, $"--corrupt: unknown libFS '{libfs}' (it damages images of: ffs, lfs)");
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in (formatOptions ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) return Bad(stderr, $"--options: '{item}' is not KEY=VALUE");
            options[item[..eq]] = item[(eq + 1)..];
        }
        if (dataChecksums) options["data-checksums"] = "on";
        return CrashtestCorrupt.Run(new LibFs.Testing.Corruption.CorruptionOptions
        {
            LibFs = libfs, FormatOptions = options, Seed = seed, FirstCase = firstCase, Cases = count, Timeout = TimeSpan.FromSeconds(timeout),
        }, json, Cli.Out(r), stderr);
    }

    private static int Run(string libfs, int seed, bool seedGiven, int? cases, int exhaustive, int maxOps, bool fullDirectory, int states, int shrink,
        TextWriter stdout, TextWriter stderr)
    {
        var target = CrashTargets.Find(libfs);
        if (target is null)
            return Bad(stderr, $"unknown libFS '{libfs}' (known: {string.Join(", ", CrashTargets.All.Select(t => t.Name))})");
        if (exhaustive > 0 && !seedGiven) seed = 0;

        var options = new CrashCampaignOptions
        {
            Seed = seed, Cases = cases, Exhaustive = exhaustive, MaxOps = maxOps, FullDirectory = fullDirectory, ShrinkBudget = shrink,
            Explorer = new CrashExplorerOptions { MaxStatesPerPoint = states, SamplingSeed = seed },
        };
        int total = CrashCampaign.Plan(target.Name, options).Count;
        string what = exhaustive > 0
            ? $"{total} exhaustive workload(s) of up to {exhaustive} step(s) from index {seed}"
            : $"{total} random workload(s) of up to {maxOps} step(s) from seed {seed}{(fullDirectory ? ", from the full /B" : "")}";
        stdout.WriteLine($"crashtest {target.Name}: {what}; up to {states} crash states per point");
        stdout.WriteLine($"guarantees: {target.Guarantees}");

        // On a terminal a progress bar (failures print above it); otherwise a line every tenth of the way.
        int lastPlain = 0;
        CrashCampaignReport report;
        if (Cli.IsTerminal(stdout))
        {
            report = null!;
            Spectre.Console.AnsiConsole.Progress().AutoClear(true)
                .Columns(new Spectre.Console.TaskDescriptionColumn(), new Spectre.Console.ProgressBarColumn(), new Spectre.Console.PercentageColumn(),
                    new Spectre.Console.ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(target.Name, maxValue: Math.Max(1, total));
                    report = CrashCampaign.Run(target, options, p =>
                    {
                        task.Value = p.Done;
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"{target.Name}: {p.Failed} failed, {p.StatesChecked} crash states");
                    }, f => stdout.WriteLine(f.ToString()));
                });
        }
        else
        {
            report = CrashCampaign.Run(target, options, p =>
            {
                if (p.Done == p.Total || p.Done - lastPlain >= Math.Max(1, p.Total / 10))
                {
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{p.Done}/{p.Total}] {p.Failed} failed, {p.StatesChecked} crash states, {p.Elapsed.TotalSeconds:F1} s"));
                    lastPlain = p.Done;
                }
            }, f => stdout.WriteLine(f.ToString()));
        }
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"checked {report.StatesChecked} crash states at {report.CrashPoints} crash points in {report.Elapsed.TotalSeconds:F1} s ({report.StatesPerSecond:F0} states/s)"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"explored {report.StatesExplored} crash states ({report.StatesExplored - report.StatesChecked} repeated a state already checked); recovered {report.Recoveries} distinct images (the other {report.StatesChecked - report.Recoveries} checked states left an image already recovered and were judged against it)"));
        foreach (var f in report.Failures) stdout.WriteLine($"replay: {f.Replay}");
        stdout.WriteLine($"{report.Passed} passed, {report.Failed} failed");
        return report.Failed == 0 ? 0 : 1;
    }

    private static int Bad(TextWriter stderr, string message)
    {
        stderr.WriteLine($"exofs crashtest: {message}");
        return 2;
    }
}
