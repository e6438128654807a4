namespace ExoFS.Compare.Designs;

/// <summary>
/// A design with its tunables set: what one <c>--libfs</c> item names. <see cref="Label"/> is how results name
/// it ("ffs", "lfs:cleaner=greedy,segment=1M"): the design, then only the settings the user gave, in their order.
/// </summary>
public sealed record DesignConfig(IDesign Design, IReadOnlyDictionary<string, string> Settings, string Label);

/// <summary>The designs <c>exofs compare</c> knows, and the parser of <c>--libfs</c> lists.</summary>
public static class DesignRegistry
{
    /// <summary>Every registered design, one line each. LFS joins here: <c>LfsDesign.Instance,</c>.</summary>
    public static IReadOnlyList<IDesign> All { get; } =
    [
        FfsDesign.Instance,
        LfsDesign.Instance,
    ];

    /// <summary>The design named <paramref name="name"/> among <paramref name="designs"/> (default: <see cref="All"/>), or null.</summary>
    public static IDesign? Find(string name, IReadOnlyList<IDesign>? designs = null) =>
        (designs ?? All).FirstOrDefault(d => d.Name == name);

    /// <summary>
    /// Parses <c>NAME[:key=value,...][,NAME...]</c>. Commas separate both configurations and settings, so an item
    /// with '=' and no ':' continues the settings of the configuration before it
    /// (<c>lfs:cleaner=greedy,segment=1M,ffs</c> is two configurations). Refuses, with one line, an unknown
    /// design, an undeclared key, a value the tunable does not allow, a key given twice, and a label given twice.
    /// </summary>
    public static IReadOnlyList<DesignConfig>? ParseList(string list, out string? error, IReadOnlyList<IDesign>? designs = null)
    {
        designs ??= All;
        var items = new List<(string Name, List<(string Key, string Value)> Settings)>();
        foreach (var raw in list.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0) { error = $"empty item in libFS list '{list}'"; return null; }
            int colon = raw.IndexOf(':');
            if (colon < 0 && raw.Contains('='))
            {
                if (items.Count == 0) { error = $"setting '{raw}' before any libFS name in '{list}'"; return null; }
                if (!AddSetting(items[^1].Settings, raw, out error)) return null;
                continue;
            }
            string name = colon < 0 ? raw : raw[..colon];
            items.Add((name, []));
            if (colon >= 0 && !AddSetting(items[^1].Settings, raw[(colon + 1)..], out error)) return null;
        }

        var configs = new List<DesignConfig>();
        foreach (var (name, settings) in items)
        {
            var design = Find(name, designs);
            if (design is null)
            {
                error = $"unknown libFS '{name}' (known: {string.Join(", ", designs.Select(d => d.Name))})";
                return null;
            }
            var config = Configure(design, settings, out error);
            if (config is null) return null;
            if (configs.Any(c => c.Label == config.Label)) { error = $"libFS configuration '{config.Label}' given twice"; return null; }
            configs.Add(config);
        }
        error = null;
        return configs;
    }

    /// <summary>Checks <paramref name="settings"/> against the design's tunables and fills in the defaults.</summary>
    public static DesignConfig? Configure(IDesign design, IReadOnlyList<(string Key, string Value)> settings, out string? error)
    {
        var values = design.Tunables.ToDictionary(t => t.Key, t => t.Default, StringComparer.Ordinal);
        var given = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in settings)
        {
            var tunable = design.Tunables.FirstOrDefault(t => t.Key == key);
            if (tunable is null)
            {
                error = design.Tunables.Count == 0
                    ? $"libFS '{design.Name}' has no tunables (got '{key}')"
                    : $"libFS '{design.Name}' has no tunable '{key}' (known: {string.Join(", ", design.Tunables.Select(t => t.Key))})";
                return null;
            }
            if (!given.Add(key)) { error = $"tunable '{key}' of libFS '{design.Name}' given twice"; return null; }
            if (!tunable.Accepts(value))
            {
                error = $"tunable '{design.Name}:{key}' does not accept '{value}' (allowed: {string.Join(", ", tunable.AllowedValues)})";
                return null;
            }
            values[key] = value;
        }
        string label = settings.Count == 0 ? design.Name
            : $"{design.Name}:{string.Join(",", settings.Select(s => $"{s.Key}={s.Value}"))}";
        error = null;
        return new DesignConfig(design, values, label);
    }

    private static bool AddSetting(List<(string Key, string Value)> settings, string text, out string? error)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1) { error = $"setting '{text}' is not key=value"; return false; }
        settings.Add((text[..eq], text[(eq + 1)..]));
        error = null;
        return true;
    }
}
