using ExoFS.Kernel.Disk;

namespace ExoFS.Compare.Disks;

/// <summary>
/// A disk a comparison can run on: a name, a line of doc, and the time model to charge requests to (null for
/// <c>mem</c>, which reports counts and wall time but no modeled time).
/// </summary>
public sealed record DiskKind(string Name, string Description, Func<ulong, IDiskTimeModel>? NewModel)
{
    /// <summary>A fresh measured disk of <paramref name="blocks"/> blocks in memory, with this kind's model.</summary>
    public MeasuredDisk Create(ulong blocks) => new(this, blocks);
}

/// <summary>The disks <c>--disk</c> accepts.</summary>
public static class DiskRegistry
{
    /// <summary>Every disk kind, one line each.</summary>
    public static IReadOnlyList<DiskKind> All { get; } =
    [
        new("hdd", "HP 97560 (Ruemmler & Wilkes): seek curve, exact rotation, track read-ahead", _ => new HddModel()),
        new("ssd", "NAND SSD (Agrawal et al. 2008): page-mapped FTL, greedy GC, 25/200 us read/program, 1.5 ms erase",
            blocks => new SsdModel(blocks)),
        new("mem", "memory, no time model: request counts and wall time only", null),
    ];

    /// <summary>Parses a comma-separated list of disk names; refuses an unknown or repeated one with one line.</summary>
    public static IReadOnlyList<DiskKind>? ParseList(string list, out string? error)
    {
        var disks = new List<DiskKind>();
        foreach (var name in list.Split(',', StringSplitOptions.TrimEntries))
        {
            var disk = All.FirstOrDefault(d => d.Name == name);
            if (disk is null) { error = $"unknown disk '{name}' (known: {string.Join(", ", All.Select(d => d.Name))})"; return null; }
            if (disks.Contains(disk)) { error = $"disk '{name}' given twice"; return null; }
            disks.Add(disk);
        }
        error = null;
        return disks;
    }
}
