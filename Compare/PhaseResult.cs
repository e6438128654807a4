namespace ExoFS.Compare;

/// <summary>
/// What one phase of one workload did on one libFS configuration and disk: the row of every table, JSON object
/// and CSV line. Modeled figures are null on a disk without a time model (<c>mem</c>); the cleaner's write cost
/// is null for a design without a cleaner. Everything but <see cref="WallSeconds"/> is a function of the seed.
/// </summary>
public sealed record PhaseResult
{
    public required string Workload { get; init; }
    public required string Phase { get; init; }
    public required string Libfs { get; init; }
    public required string Disk { get; init; }
    public required int Seed { get; init; }

    /// <summary>The disk utilization the workload filled to, for workloads sized by it; else null.</summary>
    public double? Utilization { get; init; }

    /// <summary>Workload operations run (a whole-file read is one), and those skipped for want of a file to pick.</summary>
    public required long Ops { get; init; }
    public required long Skipped { get; init; }

    public required double? ModeledSeconds { get; init; }
    public required double? OpsPerSecond { get; init; }

    /// <summary>Workload bytes read plus written per modeled second, in MB (10^6 B).</summary>
    public required double? MbPerSecond { get; init; }

    public required long DeviceReads { get; init; }
    public required long DeviceWrites { get; init; }
    public required long DeviceBytesRead { get; init; }
    public required long DeviceBytesWritten { get; init; }
    public required long DeviceFlushes { get; init; }

    /// <summary>Requests that moved the HDD arm; null on other disks.</summary>
    public required long? Seeks { get; init; }

    public required long WorkloadBytesRead { get; init; }
    public required long WorkloadBytesWritten { get; init; }

    /// <summary>Device bytes written / workload bytes written; null when the workload wrote nothing.</summary>
    public required double? WriteAmplification { get; init; }

    /// <summary>The SSD model's FTL: pages programmed / pages the host wrote in this phase; null on other disks or without writes.</summary>
    public required double? FtlWriteAmplification { get; init; }

    /// <summary>The LFS paper's write cost of the libFS's cleaner in this phase; null without a cleaner.</summary>
    public required double? CleanerWriteCost { get; init; }

    public required double WallSeconds { get; init; }

    /// <summary>
    /// The live fraction of each segment the cleaner cleaned in this phase; null without a cleaner. Not a column
    /// of the JSON or CSV (a list, not a figure): the lfs-paper report draws its distribution.
    /// </summary>
    public IReadOnlyList<double>? CleanedSegmentUtilizations { get; init; }

    /// <summary>The configuration's name in tables and charts: libFS and disk.</summary>
    public string Configuration => $"{Libfs} @ {Disk}";
}
