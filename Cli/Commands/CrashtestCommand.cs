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

    public string Usage =>
        "crashtest [--libfs NAME] [--seed N] [--cases N] [--exhaustive 1|2|3] [--max-ops N] [--states N] [--shrink N]\n";

    public int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string libfs = CrashTargets.All[0].Name;
        int seed = 1, maxOps = 6, states = 4096, exhaustive = 0, shrink = 200;
        int? cases = null;
        bool seedGiven = false;
        for (int i = 0; i < args.Length; i++)
        {
            string opt = args[i];
            if (opt is "--help" or "-h") { stdout.Write("usage: exofs " + Usage); return 0; }
            if (i + 1 >= args.Length) return Bad(stderr, $"{opt} needs a value");
            string value = args[++i];
            switch (opt)
            {
                case "--libfs": libfs = value; break;
                case "--seed": if (!Int(value, int.MinValue, out seed)) return Bad(stderr, $"--seed: '{value}' is not an integer"); seedGiven = true; break;
                case "--cases": if (!Int(value, 1, out int c)) return Bad(stderr, $"--cases: '{value}' is not a positive integer"); cases = c; break;
                case "--exhaustive": if (!Int(value, 1, out exhaustive) || exhaustive > 3) return Bad(stderr, $"--exhaustive: '{value}' is not 1, 2 or 3"); break;
                case "--max-ops": if (!Int(value, 1, out maxOps)) return Bad(stderr, $"--max-ops: '{value}' is not a positive integer"); break;
                case "--states": if (!Int(value, 1, out states)) return Bad(stderr, $"--states: '{value}' is not a positive integer"); break;
                case "--shrink": if (!Int(value, 0, out shrink)) return Bad(stderr, $"--shrink: '{value}' is not a non-negative integer"); break;
                default: return Bad(stderr, $"unknown option '{opt}'");
            }
        }
        var target = CrashTargets.Find(libfs);
        if (target is null)
            return Bad(stderr, $"unknown libFS '{libfs}' (known: {string.Join(", ", CrashTargets.All.Select(t => t.Name))})");
        if (exhaustive > 0 && !seedGiven) seed = 0;

        var options = new CrashCampaignOptions
        {
            Seed = seed, Cases = cases, Exhaustive = exhaustive, MaxOps = maxOps, ShrinkBudget = shrink,
            Explorer = new CrashExplorerOptions { MaxStatesPerPoint = states, SamplingSeed = seed },
        };
        int total = CrashCampaign.Plan(target.Name, options).Count;
        string what = exhaustive > 0
            ? $"{total} exhaustive workload(s) of up to {exhaustive} step(s) from index {seed}"
            : $"{total} random workload(s) of up to {maxOps} step(s) from seed {seed}";
        stdout.WriteLine($"crashtest {target.Name}: {what}; up to {states} crash states per point");
        stdout.WriteLine($"guarantees: {target.Guarantees}");

        bool terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        bool progressShown = false;
        int lastPlain = 0;
        void Progress(CrashCampaignProgress p)
        {
            string line = string.Create(CultureInfo.InvariantCulture,
                $"[{p.Done}/{p.Total}] {p.Failed} failed, {p.StatesChecked} crash states, {p.Elapsed.TotalSeconds:F1} s");
            if (terminal) { stdout.Write("\r" + line + "   "); progressShown = true; }
            else if (p.Done == p.Total || p.Done - lastPlain >= Math.Max(1, p.Total / 10)) { stdout.WriteLine(line); lastPlain = p.Done; }
        }
        void Failure(CrashCampaignFailure f)
        {
            if (progressShown) { stdout.WriteLine(); progressShown = false; }
            stdout.WriteLine(f.ToString());
        }

        var report = CrashCampaign.Run(target, options, Progress, Failure);
        if (progressShown) stdout.WriteLine();
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"checked {report.StatesChecked} crash states at {report.CrashPoints} crash points in {report.Elapsed.TotalSeconds:F1} s ({report.StatesPerSecond:F0} states/s)"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"explored {report.StatesExplored} crash states ({report.StatesExplored - report.StatesChecked} repeated a state already checked); recovered {report.Recoveries} distinct images (the other {report.StatesChecked - report.Recoveries} checked states left an image already recovered and were judged against it)"));
        foreach (var f in report.Failures) stdout.WriteLine($"replay: {f.Replay}");
        stdout.WriteLine($"{report.Passed} passed, {report.Failed} failed");
        return report.Failed == 0 ? 0 : 1;
    }

    private static bool Int(string s, int min, out int value) =>
        int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value) && value >= min;

    private static int Bad(TextWriter stderr, string message)
    {
        stderr.WriteLine($"exofs crashtest: {message}");
        return 2;
    }
}
