using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using ExoFS.LibFs.Testing.Corruption;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs crashtest --corrupt COUNT</c>: the corruption campaign (<see cref="CorruptionCampaign"/>). Prints the
/// figures by damage kind and by target class (a table on a terminal, plain columns otherwise, or one JSON
/// object), each failing case with its replay command, and last the totals. Exit 0 when no case crashed, hung
/// or served wrong bytes and fsck reported every metadata damage; 1 otherwise; 2 for bad arguments.
/// </summary>
internal static class CrashtestCorrupt
{
    /// <summary>Failing cases printed in full; the rest are counted.</summary>
    private const int ShownFailures = 20;

    public static int Run(CorruptionOptions options, bool json, TextWriter stdout, TextWriter stderr)
    {
        string formatted = options.FormatOptions is { Count: > 0 } o ? $" ({string.Join(",", o.Select(kv => $"{kv.Key}={kv.Value}"))})" : "";
        if (!json) stdout.WriteLine($"crashtest --corrupt: {options.Cases} damaged image(s) of a {options.LibFs}{formatted} image, seed {options.Seed}, cases {options.FirstCase}..{options.FirstCase + options.Cases - 1}");
        int step = Math.Max(1, options.Cases / 10);
        object gate = new();
        var report = CorruptionCampaign.Run(options, out string? error, json ? null : (done, c) =>
        {
            lock (gate)
            {
                if (done % step == 0 || done == options.Cases)
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{done}/{options.Cases}]"));
            }
        });
        if (report is null)
        {
            stderr.WriteLine($"exofs crashtest: cannot make the {options.LibFs} image: {error}");
            return 2;
        }
        var total = report.Total;
        if (json) WriteJson(stdout, report);
        else
        {
            if (Cli.IsTerminal(stdout)) WriteTables(report);
            else WriteText(stdout, report);
            var failures = report.Failures.ToList();
            foreach (var c in failures.Take(ShownFailures))
            {
                stdout.WriteLine($"FAILED {c}");
                stdout.WriteLine($"replay: {report.Replay(c)}");
            }
            if (failures.Count > ShownFailures) stdout.WriteLine($"... and {failures.Count - ShownFailures} more failing case(s)");
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"image built in {report.Build.TotalSeconds:F1} s; {total.Tried} cases in {report.Elapsed.TotalSeconds:F1} s ({(report.Elapsed.TotalSeconds > 0 ? total.Tried / report.Elapsed.TotalSeconds : 0):F0} cases/s)"));
            stdout.WriteLine(Summary(total));
        }
        return total.Failed == 0 ? 0 : 1;
    }

    /// <summary>The last line: tried, detected by each means, harmless, the failures.</summary>
    internal static string Summary(CorruptionTally t)
    {
        int detected = t[CorruptionOutcome.DetectedByFsck] + t[CorruptionOutcome.RefusedReadWrite] + t[CorruptionOutcome.DetectedOnRead];
        return string.Create(CultureInfo.InvariantCulture,
            $"{t.Tried} damaged images: {detected} detected ({t[CorruptionOutcome.DetectedByFsck]} by fsck, {t[CorruptionOutcome.RefusedReadWrite]} refused read-write, {t[CorruptionOutcome.DetectedOnRead]} on read), " +
            $"{t[CorruptionOutcome.Harmless]} harmless, {t[CorruptionOutcome.WrongBytes]} wrong bytes, {t[CorruptionOutcome.Hang]} hangs, {t[CorruptionOutcome.Crash]} crashes; " +
            $"{t.MetadataUndetected} metadata damage(s) fsck did not report; {t.Failed} failed");
    }

    private static readonly string[] Columns =
        ["tried", "fsck", "refused", "on read", "harmless", "wrong", "hang", "crash", "fsck saw", "rw refused", "ro", "meta missed", "failed"];

    private static string[] Cells(CorruptionTally t) =>
        new[]
        {
            t.Tried, t[CorruptionOutcome.DetectedByFsck], t[CorruptionOutcome.RefusedReadWrite], t[CorruptionOutcome.DetectedOnRead],
            t[CorruptionOutcome.Harmless], t[CorruptionOutcome.WrongBytes], t[CorruptionOutcome.Hang], t[CorruptionOutcome.Crash],
            t.FsckDetected, t.Refused, t.ReadOnly, t.MetadataUndetected, t.Failed,
        }.Select(n => n.ToString(CultureInfo.InvariantCulture)).ToArray();

    private static IEnumerable<(string Section, IReadOnlyList<CorruptionTally> Rows)> Sections(CorruptionReport r) =>
        [("damage", r.ByKind), ("target", r.ByTarget), ("", [r.Total])];

    private static void WriteText(TextWriter o, CorruptionReport r)
    {
        o.WriteLine("outcome columns (one per case, worst first): crash, hang, wrong, fsck, refused, on read, harmless; " +
                    "'fsck saw', 'rw refused', 'ro' count cases whatever their outcome; 'meta missed': metadata damage fsck did not report");
        foreach (var (section, rows) in Sections(r))
        {
            o.WriteLine();
            o.WriteLine(string.Join("  ", new[] { (section.Length == 0 ? "total" : "by " + section).PadRight(22) }.Concat(Columns.Select(c => c.PadLeft(Math.Max(5, c.Length))))));
            foreach (var t in rows)
                o.WriteLine(string.Join("  ", new[] { t.Name.PadRight(22) }.Concat(Cells(t).Select((v, i) => v.PadLeft(Math.Max(5, Columns[i].Length))))));
        }
        o.WriteLine();
    }

    private static void WriteTables(CorruptionReport r)
    {
        foreach (var (section, rows) in Sections(r))
        {
            var table = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.Rounded);
            table.AddColumn(section.Length == 0 ? "total" : "by " + section);
            foreach (var c in Columns) table.AddColumn(new Spectre.Console.TableColumn(c).RightAligned());
            foreach (var t in rows) table.AddRow(new[] { t.Name }.Concat(Cells(t)).Select(Spectre.Console.Markup.Escape).ToArray());
            Spectre.Console.AnsiConsole.Write(table);
        }
    }

    private static void WriteJson(TextWriter o, CorruptionReport r)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            void Tally(CorruptionTally t)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteNumber("tried", t.Tried);
                w.WriteNumber("changed", t.Changed);
                foreach (var outcome in Enum.GetValues<CorruptionOutcome>())
                    w.WriteNumber(JsonNamingPolicy.KebabCaseLower.ConvertName(outcome.ToString()), t[outcome]);
                w.WriteNumber("fsck-detected", t.FsckDetected);
                w.WriteNumber("refused", t.Refused);
                w.WriteNumber("read-only", t.ReadOnly);
                w.WriteNumber("metadata-undetected", t.MetadataUndetected);
                w.WriteNumber("failed", t.Failed);
                w.WriteEndObject();
            }
            w.WriteStartObject();
            w.WriteString("libfs", r.Options.LibFs);
            w.WriteStartObject("format-options");
            foreach (var (k, v) in r.Options.FormatOptions ?? new Dictionary<string, string>()) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteNumber("seed", r.Options.Seed);
            w.WriteNumber("first-case", r.Options.FirstCase);
            w.WriteNumber("seconds", Math.Round(r.Elapsed.TotalSeconds, 2));
            w.WritePropertyName("total");
            Tally(r.Total);
            w.WriteStartArray("by-damage");
            foreach (var t in r.ByKind) Tally(t);
            w.WriteEndArray();
            w.WriteStartArray("by-target");
            foreach (var t in r.ByTarget) Tally(t);
            w.WriteEndArray();
            w.WriteStartArray("failures");
            foreach (var c in r.Failures)
            {
                w.WriteStartObject();
                w.WriteNumber("case", c.Case);
                w.WriteString("damage", c.Damage.ToString());
                w.WriteString("target", c.Target.Name);
                w.WriteString("outcome", c.Outcome.ToString());
                w.WriteString("detail", c.ToString());
                w.WriteString("replay", r.Replay(c));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }
}
