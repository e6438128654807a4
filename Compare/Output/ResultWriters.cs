using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ExoFS.Compare.Output;

/// <summary>The machine-readable forms of a comparison: JSON (an array of objects) and CSV (a header and one line per result).</summary>
public static class ResultWriters
{
    // Relaxed escaping: the files are read by people ('+' and '<' stay as they are), never embedded in HTML.
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // Null means "not measured on this disk / no cleaner": keep the key so every object has the same fields.
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The results as a JSON array; every object has every field of <see cref="ResultColumns.All"/>, null where not measured.</summary>
    public static string ToJson(IReadOnlyList<PhaseResult> results)
    {
        var rows = results.Select(r => ResultColumns.All.ToDictionary(c => c.Name, c => JsonValue(r, c)));
        return JsonSerializer.Serialize(rows, Json);
    }

    private static object? JsonValue(PhaseResult r, ResultColumns.Column c)
    {
        string text = c.Value(r);
        if (!c.Numeric) return text;
        if (text.Length == 0) return null;
        // Full precision in JSON (the column text is rounded for people); integers stay integers.
        return c.Name switch
        {
            "utilization" => r.Utilization,
            "modeled_seconds" => r.ModeledSeconds,
            "ops_per_second" => r.OpsPerSecond,
            "mb_per_second" => r.MbPerSecond,
            "write_amplification" => r.WriteAmplification,
            "ftl_write_amplification" => r.FtlWriteAmplification,
            "cleaner_write_cost" => r.CleanerWriteCost,
            "wall_seconds" => r.WallSeconds,
            _ => long.Parse(text, System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The results as CSV (RFC 4180 quoting), columns as <see cref="ResultColumns.All"/>, empty cells for null.</summary>
    public static string ToCsv(IReadOnlyList<PhaseResult> results)
    {
        var text = new StringBuilder();
        text.AppendJoin(',', ResultColumns.All.Select(c => c.Name)).Append('\n');
        foreach (var r in results)
            text.AppendJoin(',', ResultColumns.All.Select(c => Quote(c.Value(r)))).Append('\n');
        return text.ToString();
    }

    private static string Quote(string cell) =>
        cell.IndexOfAny([',', '"', '\n', '\r']) < 0 ? cell : $"\"{cell.Replace("\"", "\"\"")}\"";

    /// <summary>A plain-text table (for a pipe or a file): aligned columns, the table columns that hold a value.</summary>
    public static string ToText(IReadOnlyList<PhaseResult> results)
    {
        var columns = ResultColumns.NonEmpty(ResultColumns.Table, results);
        var cells = results.Select(r => columns.Select(c => c.Value(r) is { Length: > 0 } v ? v : "-").ToArray()).ToList();
        var widths = columns.Select((c, i) => Math.Max(c.Heading.Length, cells.Select(row => row[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        var text = new StringBuilder();
        void Line(IEnumerable<string> row) =>
            text.AppendJoin("  ", row.Select((cell, i) => columns[i].Numeric ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]))).Append('\n');
        Line(columns.Select(c => c.Heading));
        foreach (var row in cells) Line(row);
        return text.ToString();
    }
}
