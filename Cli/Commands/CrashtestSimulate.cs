using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ExoFS.LibFs.Testing.Simulation;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs crashtest --simulate [--guests ffs,ffs:home,hostile] [--seed N] [--cases N] [--max-ops N] [--states K] [--json]</c>:
/// the seeded multi-guest simulation (<see cref="MultiGuestSimulation"/>), one run per case with seeds N, N+1, ...:
/// the FFS roots (and the hostile guest, and the auditor) of one host interleaved by the kernel's scheduler, every
/// step checked against its root's model, crash states of the one device taken across all guests at once. Prints
/// progress, each failing case with a replay line, the totals, and last <c>N passed, N failed</c>. Exit 0 if all
/// passed, 1 if any failed, 2 for bad arguments.
/// </summary>
internal static class CrashtestSimulate
{
    public const string DefaultGuests = "ffs,ffs:home,hostile";
    public const int DefaultSteps = 30, DefaultStates = 2;
    private const int ShownProblems = 8;

    /// <summary>Parses <c>--guests</c>: <c>ffs</c> (root "ffs"), <c>ffs:ROOT</c>, <c>hostile</c>. Null with <paramref name="error"/>.</summary>
    public static SimulationOptions? Parse(string guests, out string? error)
    {
        var roots = new List<string>();
        bool hostile = false;
        foreach (string g in guests.Split(',', StringSplitOptions.TrimEntries))
        {
            if (g == "hostile")
            {
                if (hostile) { error = "--guests: 'hostile' given twice"; return null; }
                hostile = true;
                continue;
            }
            string? root = g == "ffs" ? "ffs" : g.StartsWith("ffs:", StringComparison.Ordinal) ? g[4..] : null;
            if (root is null || root.Length == 0)
            {
                error = $"--guests: unknown guest '{g}' (guests: ffs, ffs:ROOT, hostile)";
                return null;
            }
            if (root == SimulationOptions.HostileRoot || roots.Contains(root)) { error = $"--guests: root '{root}' given twice"; return null; }
            roots.Add(root);
        }
        if (roots.Count == 0) { error = "--guests: at least one FFS root (ffs or ffs:ROOT)"; return null; }
        error = null;
        return new SimulationOptions { Roots = roots, Hostile = hostile };
    }

    /// <param name="interpose">For tests: wraps a root's file system (a bug the run must catch), as <see cref="SimulationOptions.Interpose"/>.</param>
    public static int Run(string guests, int seed, int cases, int steps, int states, bool json, TextWriter stdout, TextWriter stderr,
        Func<string, LibFs.IFileSystem, LibFs.IFileSystem>? interpose = null)
    {
        var template = Parse(guests, out string? error);
        if (template is null) { stderr.WriteLine($"exofs crashtest: {error}"); return 2; }
        template = template with { OpsPerGuest = steps, CrashStatesPerPoint = states, Interpose = interpose };
        string Replay(int s) => string.Create(CultureInfo.InvariantCulture,
            $"exofs crashtest --simulate --guests {guests} --seed {s} --cases 1 --max-ops {steps} --states {states}");
        if (!json)
        {
            stdout.WriteLine($"crashtest --simulate: guests {string.Join(", ", guests.Split(','))} (and the auditor); {cases} case(s) from seed {seed}; " +
                $"{steps} steps per guest; {states} crash state(s) per point");
        }
        var sw = Stopwatch.StartNew();
        var failures = new List<SimulationResult>();
        long points = 0, crashStates = 0, attacks = 0, refused = 0;
        int step = Math.Max(1, cases / 10);
        for (int i = 0; i < cases; i++)
        {
            int s = unchecked(seed + i);
            var r = MultiGuestSimulation.Run(template with { Seed = s });
            points += r.CrashPoints;
            crashStates += r.CrashStates;
            attacks += r.Attacks;
            refused += r.AttacksRefused;
            if (!r.Clean)
            {
                failures.Add(r);
                if (!json)
                {
                    stdout.WriteLine($"FAILED seed {s}: {r.Problems.Count} problem(s)");
                    foreach (var p in r.Problems.Take(ShownProblems)) stdout.WriteLine("  " + p.Replace("\n", "\n    ", StringComparison.Ordinal));
                    if (r.Problems.Count > ShownProblems) stdout.WriteLine($"  ... and {r.Problems.Count - ShownProblems} more");
                    stdout.WriteLine($"replay: {Replay(s)}");
                }
            }
            if (!json && ((i + 1) % step == 0 || i + 1 == cases))
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{i + 1}/{cases}] {failures.Count} failed, {crashStates} crash states, {sw.Elapsed.TotalSeconds:F1} s"));
        }
        int passed = cases - failures.Count;
        if (json)
        {
            using var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("guests", guests);
                w.WriteNumber("seed", seed);
                w.WriteNumber("cases", cases);
                w.WriteNumber("stepsPerGuest", steps);
                w.WriteNumber("statesPerPoint", states);
                w.WriteNumber("passed", passed);
                w.WriteNumber("failed", failures.Count);
                w.WriteNumber("crashPoints", points);
                w.WriteNumber("crashStates", crashStates);
                w.WriteNumber("attacks", attacks);
                w.WriteNumber("attacksRefused", refused);
                w.WriteNumber("seconds", Math.Round(sw.Elapsed.TotalSeconds, 2));
                w.WriteStartArray("failures");
                foreach (var f in failures)
                {
                    w.WriteStartObject();
                    w.WriteNumber("seed", f.Seed);
                    w.WriteStartArray("problems");
                    foreach (var p in f.Problems) w.WriteStringValue(p);
                    w.WriteEndArray();
                    w.WriteString("replay", Replay(f.Seed));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
        }
        else
        {
            string hostileLine = template.Hostile ? $"; the hostile guest made {attacks} attacks, {refused} refused with XN's expected error" : "";
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"checked {crashStates} crash states at {points} crash points in {sw.Elapsed.TotalSeconds:F1} s{hostileLine}"));
            foreach (var f in failures) stdout.WriteLine($"replay: {Replay(f.Seed)}");
            stdout.WriteLine($"{passed} passed, {failures.Count} failed");
        }
        return failures.Count == 0 ? 0 : 1;
    }
}
