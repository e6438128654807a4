using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using ExoFS.Compare.Designs;
using ExoFS.Compare.Output;
using ExoFS.Compare.Workloads;

namespace ExoFS.Compare.Tests;

/// <summary>JSON, CSV and the report carry what they promise.</summary>
public sealed class OutputTests : IDisposable
{
    private static readonly Lazy<IReadOnlyList<PhaseResult>> Shared = new(() =>
    {
        var twin = DesignRegistry.Configure(new TwinDesign("ffs-twin"), [], out _)!;
        return Comparison.Run(new ComparePlan([BuiltinWorkloads.SmallFiles(files: 25)], [Runs.Ffs, twin],
            [Runs.Disk("hdd"), Runs.Disk("mem")], Seed: 5)).Results;
    });

    private readonly string _dir = Directory.CreateTempSubdirectory("compare-tests-").FullName;

    private static IReadOnlyList<PhaseResult> Results => Shared.Value;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Json_objects_carry_the_named_fields_with_the_results_values()
    {
        using var doc = JsonDocument.Parse(ResultWriters.ToJson(Results));
        var rows = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(Results.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var r = Results[i];
            foreach (var field in new[] { "workload", "phase", "libfs", "disk", "modeled_seconds", "ops", "device_bytes_written", "write_amplification" })
                Assert.True(row.TryGetProperty(field, out _), $"missing {field}");
            Assert.Equal(r.Workload, row.GetProperty("workload").GetString());
            Assert.Equal(r.Phase, row.GetProperty("phase").GetString());
            Assert.Equal(r.Libfs, row.GetProperty("libfs").GetString());
            Assert.Equal(r.Disk, row.GetProperty("disk").GetString());
            Assert.Equal(r.Ops, row.GetProperty("ops").GetInt64());
            Assert.Equal(r.DeviceBytesWritten, row.GetProperty("device_bytes_written").GetInt64());
            var modeled = row.GetProperty("modeled_seconds");
            if (r.ModeledSeconds is { } m) Assert.Equal(m, modeled.GetDouble());
            else Assert.Equal(JsonValueKind.Null, modeled.ValueKind);
            var amp = row.GetProperty("write_amplification");
            if (r.WriteAmplification is { } a) Assert.Equal(a, amp.GetDouble());
            else Assert.Equal(JsonValueKind.Null, amp.ValueKind);
        }
    }

    [Fact]
    public void Csv_has_a_header_and_one_row_per_result_matching_the_json()
    {
        var lines = ResultWriters.ToCsv(Results).TrimEnd('\n').Split('\n');
        var header = lines[0].Split(',');
        Assert.Equal(ResultColumns.All.Select(c => c.Name), header);
        Assert.Equal(Results.Count + 1, lines.Length);
        using var doc = JsonDocument.Parse(ResultWriters.ToJson(Results));
        var json = doc.RootElement.EnumerateArray().ToList();
        for (int i = 0; i < Results.Count; i++)
        {
            var cells = lines[i + 1].Split(',');
            Assert.Equal(header.Length, cells.Length);
            for (int c = 0; c < header.Length; c++)
            {
                var value = json[i].GetProperty(header[c]);
                switch (value.ValueKind)
                {
                    case JsonValueKind.Null: Assert.Equal("", cells[c]); break;
                    case JsonValueKind.String: Assert.Equal(value.GetString(), cells[c]); break;
                    default:
                        double expected = value.GetDouble(), got = double.Parse(cells[c], CultureInfo.InvariantCulture);
                        Assert.True(Math.Abs(expected - got) <= Math.Max(5e-4, Math.Abs(expected) * 1e-3), $"{header[c]}: {got} vs {expected}");
                        break;
                }
            }
        }
    }

    [Fact]
    public void Csv_quotes_a_label_holding_commas()
    {
        var row = Results[0] with { Libfs = "lfs:cleaner=greedy,segment=1M" };
        var line = ResultWriters.ToCsv([row]).Split('\n')[1];
        Assert.Contains("\"lfs:cleaner=greedy,segment=1M\"", line);
    }

    [Fact]
    public void Report_svgs_are_well_formed_and_hold_one_series_per_configuration()
    {
        var charts = HtmlReport.ChartsFor(Results);
        string index = HtmlReport.Write(_dir, "test", ["preamble"], [new ReportSection("small-files", [], Results, charts)]);
        Assert.Equal(2, charts.Count); // one per disk
        foreach (var chart in charts)
        {
            var svg = XDocument.Load(Path.Combine(_dir, chart.FileStem + ".svg"));   // throws if not well-formed
            XNamespace ns = "http://www.w3.org/2000/svg";
            var texts = svg.Descendants(ns + "text").Select(t => t.Value.Trim()).ToList();
            Assert.Contains("ffs", texts);
            Assert.Contains("ffs-twin", texts);
            // Bars live in the clipped data area, one fill colour per series.
            var colours = svg.Descendants(ns + "g").Where(g => g.Attribute("clip-path") is not null)
                .SelectMany(g => g.Elements(ns + "rect")).Select(r => (string?)r.Attribute("fill")).Distinct().ToList();
            Assert.Equal(2, colours.Count);
            Assert.True(new FileInfo(Path.Combine(_dir, chart.FileStem + ".png")).Length > 1000);
        }
        string html = File.ReadAllText(index);
        foreach (var chart in charts) Assert.Contains($"src=\"{chart.FileStem}.svg\"", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotContain("<script", html);
        Assert.Equal(Results.Count + 1, html.Split("<tr>").Length - 1); // header row + one per result
    }

    [Fact]
    public void Text_table_has_a_line_per_result()
    {
        var text = ResultWriters.ToText(Results).TrimEnd('\n').Split('\n');
        Assert.Equal(Results.Count + 1, text.Length);
        Assert.StartsWith("workload", text[0]);
    }
}
