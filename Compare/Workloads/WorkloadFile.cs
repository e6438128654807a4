using System.Text.Json;
using System.Text.Json.Serialization;

namespace ExoFS.Compare.Workloads;

/// <summary>
/// The workload file format: a <see cref="WorkloadSpec"/> as JSON, keys in snake_case, enum values in
/// kebab-case (<c>"op": "append"</c>, <c>"pick": "hot-cold"</c>), omitted keys taking their defaults. Unknown keys
/// are refused, so a misspelt key is an error rather than a silently different workload. docs/compare.md
/// describes every key.
/// </summary>
public static class WorkloadFile
{
    // Relaxed escaping: the files are read by people ('+' and '<' stay as they are), never embedded in HTML.
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The spec as workload-file JSON.</summary>
    public static string Save(WorkloadSpec spec) => JsonSerializer.Serialize(spec, Options);

    /// <summary>Parses and validates workload-file JSON; null and a one-line error if it is not a valid workload.</summary>
    public static WorkloadSpec? Parse(string json, out string? error)
    {
        WorkloadSpec? spec;
        try { spec = JsonSerializer.Deserialize<WorkloadSpec>(json, Options); }
        catch (JsonException e) { error = OneLine(e.Message); return null; }
        if (spec is null) { error = "the file holds no workload"; return null; }
        error = Validate(spec);
        return error is null ? spec : null;
    }

    /// <summary>Reads a workload file; null and a one-line error if it cannot be read or is not valid.</summary>
    public static WorkloadSpec? Load(string path, out string? error)
    {
        string json;
        try { json = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { error = $"{path}: {OneLine(e.Message)}"; return null; }
        var spec = Parse(json, out error);
        if (error is not null) error = $"{path}: {error}";
        return spec;
    }

    /// <summary>Null if <paramref name="spec"/> can run; else what is wrong, in one line.</summary>
    public static string? Validate(WorkloadSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.Name)) return "workload has no name";
        string w = $"workload '{spec.Name}'";
        if (spec.DeviceMib < 1 || spec.DeviceMib > 15 * 1024) return $"{w}: device_mib {spec.DeviceMib} is outside 1..15360";
        if (spec.FileSets.Count == 0) return $"{w}: no file sets";
        if (spec.Phases.Count == 0) return $"{w}: no phases";
        var sets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in spec.FileSets)
        {
            if (string.IsNullOrWhiteSpace(s.Name) || s.Name.Contains('/')) return $"{w}: file set name '{s.Name}' is empty or holds '/'";
            if (!sets.Add(s.Name)) return $"{w}: file set '{s.Name}' defined twice";
            if (s.Count < 0 || s.SizeMin < 0 || s.SizeMax < s.SizeMin) return $"{w}: file set '{s.Name}' needs count >= 0 and 0 <= size_min <= size_max";
            if (s.Dirs < 1) return $"{w}: file set '{s.Name}' needs dirs >= 1";
            if (s.CountFromUtilization && s.SizeMax == 0) return $"{w}: file set '{s.Name}' counts from utilization but its files are empty";
        }
        var phases = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in spec.Phases)
        {
            string ph = $"{w}, phase '{p.Name}'";
            if (string.IsNullOrWhiteSpace(p.Name) || p.Name == "setup") return $"{w}: phase name '{p.Name}' is empty or reserved";
            if (!phases.Add(p.Name)) return $"{w}: phase '{p.Name}' defined twice";
            if (p.Threads < 1 || p.Iterations < 0) return $"{ph}: needs threads >= 1 and iterations >= 0";
            if (p.EachFile is not null && !sets.Contains(p.EachFile)) return $"{ph}: each_file names unknown file set '{p.EachFile}'";
            if (p.Ops is null || p.Ops.Count == 0) return $"{ph}: no ops";
            foreach (var op in p.Ops)
                if (ValidateOp(op, sets, ph) is { } error) return error;
        }
        return null;
    }

    private static string? ValidateOp(OpSpec op, HashSet<string> sets, string where)
    {
        string o = $"{where}, op '{JsonNamingPolicy.KebabCaseLower.ConvertName(op.Op.ToString())}'";
        if (op.Set is not null && !sets.Contains(op.Set)) return $"{o}: unknown file set '{op.Set}'";
        if (op.Size < 0 || (op.SizeMax != 0 && op.SizeMax < op.Size)) return $"{o}: needs size >= 0 and size_max 0 or >= size";
        if (op.Io < 1) return $"{o}: io must be at least 1 byte";
        if (op.Repeat < 1) return $"{o}: repeat must be at least 1";
        if (op.Weight <= 0) return $"{o}: weight must be positive";
        if (op.HotFraction is <= 0 or >= 1 || op.HotShare is < 0 or > 1) return $"{o}: needs 0 < hot_fraction < 1 and 0 <= hot_share <= 1";
        if (op.Offset != OffsetMode.Whole && op.Op is OpKind.Read or OpKind.Write && op.Size == 0)
            return $"{o}: a {op.Offset.ToString().ToLowerInvariant()} offset needs a size";
        if (op.Op == OpKind.Choose)
        {
            if (op.OneOf is null || op.OneOf.Count == 0) return $"{o}: choose needs one_of";
            foreach (var choice in op.OneOf)
                if (ValidateOp(choice, sets, where) is { } error) return error;
        }
        else if (op.OneOf is not null) return $"{o}: one_of belongs to choose only";
        return null;
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
