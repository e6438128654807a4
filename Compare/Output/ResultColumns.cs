using System.Globalization;

namespace ExoFS.Compare.Output;

/// <summary>
/// The columns of every tabular form of <see cref="PhaseResult"/> (CSV, text and terminal tables, the report's
/// HTML tables), named as in the JSON. One list, so the forms cannot drift apart.
/// </summary>
public static class ResultColumns
{
    /// <summary>A column: its JSON/CSV name, its short heading for tables, and its value as invariant text ("" for null).</summary>
    public sealed record Column(string Name, string Heading, Func<PhaseResult, string> Value, bool Numeric = true);

    /// <summary>Every column, in CSV order.</summary>
    public static IReadOnlyList<Column> All { get; } =
    [
        new("workload", "workload", r => r.Workload, Numeric: false),
        new("phase", "phase", r => r.Phase, Numeric: false),
        new("libfs", "libfs", r => r.Libfs, Numeric: false),
        new("disk", "disk", r => r.Disk, Numeric: false),
        new("seed", "seed", r => Int(r.Seed)),
        new("utilization", "util", r => Num(r.Utilization, "0.00")),
        new("ops", "ops", r => Int(r.Ops)),
        new("skipped", "skipped", r => Int(r.Skipped)),
        new("modeled_seconds", "modeled s", r => Num(r.ModeledSeconds, "0.000")),
        new("ops_per_second", "ops/s", r => Num(r.OpsPerSecond, "0.0")),
        new("mb_per_second", "MB/s", r => Num(r.MbPerSecond, "0.000")),
        new("device_reads", "dev reads", r => Int(r.DeviceReads)),
        new("device_writes", "dev writes", r => Int(r.DeviceWrites)),
        new("device_bytes_read", "dev B read", r => Int(r.DeviceBytesRead)),
        new("device_bytes_written", "dev B written", r => Int(r.DeviceBytesWritten)),
        new("device_flushes", "flushes", r => Int(r.DeviceFlushes)),
        new("seeks", "seeks", r => r.Seeks is { } s ? Int(s) : ""),
        new("workload_bytes_read", "wl B read", r => Int(r.WorkloadBytesRead)),
        new("workload_bytes_written", "wl B written", r => Int(r.WorkloadBytesWritten)),
        new("write_amplification", "write amp", r => Num(r.WriteAmplification, "0.000")),
        new("ftl_write_amplification", "FTL amp", r => Num(r.FtlWriteAmplification, "0.000")),
        new("cleaner_write_cost", "clean cost", r => Num(r.CleanerWriteCost, "0.000")),
        new("wall_seconds", "wall s", r => Num(r.WallSeconds, "0.000")),
    ];

    /// <summary>The columns a terminal or text table shows (the rest are in JSON and CSV).</summary>
    public static IReadOnlyList<Column> Table { get; } = All.Where(c => c.Name is
        "workload" or "phase" or "libfs" or "disk" or "utilization" or "ops" or "modeled_seconds" or "ops_per_second"
        or "mb_per_second" or "device_reads" or "device_writes" or "seeks" or "write_amplification"
        or "cleaner_write_cost" or "wall_seconds").ToList();

    private static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Num(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "";

    /// <summary>The columns of <paramref name="columns"/> that hold a value in some row (utilization, seeks and cleaner cost are often all empty).</summary>
    public static IReadOnlyList<Column> NonEmpty(IReadOnlyList<Column> columns, IReadOnlyList<PhaseResult> rows) =>
        columns.Where(c => !c.Numeric || rows.Any(r => c.Value(r).Length > 0)).ToList();
}
