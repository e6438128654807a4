using System.Net;
using System.Text;

namespace ExoFS.Compare.Output;

/// <summary>A section of the report: a heading, lines of text, the rows of its table, and its charts.</summary>
public sealed record ReportSection(string Heading, IReadOnlyList<string> Notes, IReadOnlyList<PhaseResult> Rows, IReadOnlyList<Chart> Charts);

/// <summary>
/// Writes a report directory: every chart as SVG and PNG, and an <c>index.html</c> that shows every table and
/// chart. The page refers only to files beside it (no scripts, fonts or styles from the network), so it opens
/// offline and can be committed or copied as a directory.
/// </summary>
public static class HtmlReport
{
    /// <summary>Writes the report; returns the path of index.html.</summary>
    public static string Write(string dir, string title, IReadOnlyList<string> preamble, IReadOnlyList<ReportSection> sections)
    {
        Directory.CreateDirectory(dir);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Esc(title)).Append("</title>\n")
            .Append("<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:13px;margin:1em 0}")
            .Append("th,td{border:1px solid #ccc;padding:2px 6px}td.n{text-align:right}th{background:#eee}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}</style>\n")
            .Append("</head><body>\n<h1>").Append(Esc(title)).Append("</h1>\n");
        foreach (var line in preamble) html.Append("<p>").Append(Esc(line)).Append("</p>\n");
        foreach (var section in sections)
        {
            html.Append("<h2>").Append(Esc(section.Heading)).Append("</h2>\n");
            foreach (var note in section.Notes) html.Append("<p>").Append(Esc(note)).Append("</p>\n");
            if (section.Rows.Count > 0) AppendTable(html, section.Rows);
            foreach (var chart in section.Charts)
            {
                string svg = ChartRenderer.Render(chart, dir);
                html.Append("<figure><img src=\"").Append(Esc(svg)).Append("\" alt=\"").Append(Esc(chart.Title))
                    .Append("\"><figcaption>").Append(Esc(chart.Title)).Append(" (<a href=\"").Append(Esc(chart.FileStem))
                    .Append(".png\">PNG</a>)</figcaption></figure>\n");
            }
        }
        html.Append("</body></html>\n");
        string index = Path.Combine(dir, "index.html");
        File.WriteAllText(index, html.ToString());
        return index;
    }

    private static void AppendTable(StringBuilder html, IReadOnlyList<PhaseResult> rows)
    {
        var columns = ResultColumns.NonEmpty(ResultColumns.All, rows);
        html.Append("<table><tr>");
        foreach (var c in columns) html.Append("<th>").Append(Esc(c.Name)).Append("</th>");
        html.Append("</tr>\n");
        foreach (var r in rows)
        {
            html.Append("<tr>");
            foreach (var c in columns)
                html.Append(c.Numeric ? "<td class=\"n\">" : "<td>").Append(Esc(c.Value(r))).Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
    }

    private static string Esc(string s) => WebUtility.HtmlEncode(s);

    /// <summary>
    /// The default charts of a comparison: one per workload and disk, phases along x, one series per libFS
    /// configuration; modeled ops/s on a disk with a time model, device requests (reads + writes) on <c>mem</c>.
    /// </summary>
    public static IReadOnlyList<Chart> ChartsFor(IReadOnlyList<PhaseResult> results)
    {
        var charts = new List<Chart>();
        foreach (var byWorkload in results.GroupBy(r => r.Workload))
        {
            var phases = byWorkload.Select(r => r.Phase).Distinct().ToList();
            foreach (var byDisk in byWorkload.GroupBy(r => r.Disk))
            {
                bool modeled = byDisk.Any(r => r.ModeledSeconds is not null);
                var series = byDisk.GroupBy(r => r.Libfs).Select(g => new ChartSeries(g.Key, phases.Select(p =>
                {
                    var row = g.FirstOrDefault(r => r.Phase == p);
                    if (row is null) return double.NaN;
                    return modeled ? row.OpsPerSecond ?? double.NaN : row.DeviceReads + row.DeviceWrites;
                }).ToList())).ToList();
                charts.Add(new Chart(
                    Slug($"{byWorkload.Key}-{byDisk.Key}"),
                    modeled ? $"{byWorkload.Key} on {byDisk.Key}: operations per modeled second" : $"{byWorkload.Key} on {byDisk.Key}: device requests",
                    modeled ? "ops / modeled s" : "device reads + writes",
                    phases, series));
            }
        }
        return charts;
    }

    /// <summary>A file-name-safe stem.</summary>
    public static string Slug(string s) => new(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' ? ch : '-').ToArray());
}
