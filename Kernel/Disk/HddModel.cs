namespace ExoFS.Kernel.Disk;

/// <summary>
/// The HP 97560 as Ruemmler and Wilkes model it ("An introduction to disk drive modeling", 1994):
/// 1962 cylinders × 19 tracks × 72 sectors of 512 B (≈1.37 GB), 4002 rpm, 2.2 ms controller overhead,
/// seek d ≤ 383: 3.24 + 0.400·√d ms, d &gt; 383: 8.00 + 0.008·d ms, 1.6 ms head (track) switch, track skew
/// 8 and cylinder skew 18 sectors.
/// <para>
/// Service time = controller overhead + positioning (seek, or head switch on the same cylinder) +
/// rotational wait + media transfer, computed per track segment of the request, so a request that crosses
/// tracks pays the switch and the skew-adjusted wait. Rotation is exact: the platter angle is the clock
/// modulo one revolution, so a request's rotational wait depends on when it arrives.
/// </para>
/// <para>
/// Read-ahead: after a read the drive keeps reading the rest of that track into its buffer. A later read
/// of sectors further along the same track is served from the buffer, or streams as those sectors pass the
/// head, without positioning; any write or read elsewhere ends the read-ahead. Writes are not cached
/// (immediate reporting off), so a flush costs only the controller overhead. Host bus transfer time is
/// not modeled.
/// </para>
/// <para>
/// Mapping: block b occupies the 8 sectors from 8·(b mod <see cref="ModeledBlocks"/>), sectors numbered
/// track by track, cylinder by cylinder. An image larger than the modeled disk therefore wraps around: its
/// blocks beyond 1.37 GB reuse the positions of the first ones. A 4 KiB block never straddles a track
/// (72 = 9 × 8).
/// </para>
/// </summary>
public sealed class HddModel : IDiskTimeModel
{
    public const int Cylinders = 1962;
    public const int TracksPerCylinder = 19;
    public const int SectorsPerTrack = 72;
    public const int SectorSize = 512;
    public const double Rpm = 4002;
    public const double ControllerOverheadMs = 2.2;
    public const double TrackSwitchMs = 1.6;
    public const int TrackSkewSectors = 8;
    public const int CylinderSkewSectors = 18;

    private const int SectorsPerBlock = IBlockDevice.BlockSize / SectorSize;
    private const long TotalSectors = (long)Cylinders * TracksPerCylinder * SectorsPerTrack;

    /// <summary>One revolution: 60,000 / 4002 ≈ 14.99 ms.</summary>
    public const double RevolutionMs = 60_000.0 / Rpm;

    /// <summary>Time for one sector to pass the head ≈ 0.208 ms.</summary>
    public const double SectorMs = RevolutionMs / SectorsPerTrack;

    /// <summary>The media rate: one track (72 sectors of 512 B) per revolution ≈ 2.46 MB/s, in bytes per second.</summary>
    public const double MediaBytesPerSecond = SectorsPerTrack * SectorSize / (RevolutionMs / 1000);

    /// <summary>
    /// The media rate less the track and cylinder skews (the reference notes' definition of the rate a streaming
    /// transfer can reach): a cylinder holds 19 × 72 = 1,368 sectors of data and costs 18 track skews of 8 sectors
    /// and one cylinder skew of 18, so 1,368 / 1,530 of <see cref="MediaBytesPerSecond"/> ≈ 2.20 MB/s.
    /// </summary>
    public const double SustainedBytesPerSecond = MediaBytesPerSecond * (TracksPerCylinder * SectorsPerTrack)
        / (TracksPerCylinder * SectorsPerTrack + (TracksPerCylinder - 1) * TrackSkewSectors + CylinderSkewSectors);

    /// <summary>4 KiB blocks on the modeled disk (335,502); block numbers wrap modulo this.</summary>
    public const ulong ModeledBlocks = (ulong)(TotalSectors / SectorsPerBlock);

    private double _nowMs, _busyMs;
    private int _cylinder, _head;
    private long _raTrack = -1;   // track being read ahead, or −1
    private int _raFrom;          // first buffered sector on that track
    private int _raEnd;           // sector the head reaches at _raEndMs
    private double _raEndMs;

    /// <summary>Cylinder the arm is over (the exokernel exposes it so a libFS can schedule against it).</summary>
    public int CurrentCylinder => _cylinder;

    /// <summary>Head (track within the cylinder) last used.</summary>
    public int CurrentHead => _head;

    /// <summary>The model clock: busy time plus idle time given to <see cref="Advance"/>.</summary>
    public TimeSpan Now => ModelTime.FromMs(_nowMs);

    /// <inheritdoc />
    public TimeSpan Elapsed => ModelTime.FromMs(_busyMs);

    /// <summary>How the last request's time was spent.</summary>
    public HddServiceBreakdown Last { get; private set; }

    /// <summary>The Ruemmler–Wilkes seek curve as published, for distance <paramref name="cylinders"/> ≥ 0 (3.24 ms at 0).</summary>
    public static double SeekCurveMs(int cylinders)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cylinders);
        return cylinders <= 383 ? 3.24 + 0.400 * Math.Sqrt(cylinders) : 8.00 + 0.008 * cylinders;
    }

    /// <summary>Seek time the model charges: none when the arm does not move, else <see cref="SeekCurveMs"/>.</summary>
    public static double SeekTimeMs(int cylinders) => cylinders == 0 ? 0 : SeekCurveMs(cylinders);

    /// <summary>Lets the platter turn for <paramref name="idle"/> with no request (think time); not added to <see cref="Elapsed"/>.</summary>
    public void Advance(TimeSpan idle)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(idle, TimeSpan.Zero);
        _nowMs += idle.TotalMilliseconds;
    }

    /// <inheritdoc />
    public void Reset()
    {
        _nowMs = _busyMs = 0;
        _cylinder = _head = 0;
        _raTrack = -1;
        Last = default;
    }

    /// <inheritdoc />
    public TimeSpan Service(DiskRequest request)
    {
        double start = _nowMs;
        double seek = 0, rotation = 0, transfer = 0;
        bool allBuffered = request.Kind == DiskRequestKind.Read && request.Blocks > 0;
        _nowMs += ControllerOverheadMs;

        if (request.Kind != DiskRequestKind.Flush && request.Blocks > 0)
        {
            long sector = (long)(request.Start.Value % ModeledBlocks) * SectorsPerBlock;
            ulong remaining = request.Blocks * SectorsPerBlock;
            while (remaining > 0)
            {
                long track = sector / SectorsPerTrack;
                int s = (int)(sector % SectorsPerTrack);
                int n = (int)Math.Min(remaining, (ulong)(SectorsPerTrack - s));
                bool read = request.Kind == DiskRequestKind.Read;

                if (read && track == _raTrack && s >= _raFrom)
                {
                    // Already in the buffer, or arriving as the read-ahead reaches it: no positioning.
                    double ready = _raEndMs + Math.Max(0, s + n - _raEnd) * SectorMs;
                    if (s + n > _raEnd) { _raEnd = s + n; _raEndMs = ready; }
                    transfer += Math.Max(0, ready - _nowMs);
                    _nowMs = Math.Max(_nowMs, ready);
                }
                else
                {
                    allBuffered = false;
                    int cylinder = (int)(track / TracksPerCylinder), head = (int)(track % TracksPerCylinder);
                    double position = cylinder != _cylinder ? SeekTimeMs(Math.Abs(cylinder - _cylinder))
                        : head != _head ? TrackSwitchMs : 0;
                    seek += position;
                    _nowMs += position;
                    _cylinder = cylinder;
                    _head = head;

                    double wait = RotationalWaitMs(_nowMs, PhysicalSector(cylinder, head, s));
                    rotation += wait;
                    _nowMs += wait;
                    transfer += n * SectorMs;
                    _nowMs += n * SectorMs;

                    if (read) { _raTrack = track; _raFrom = s; _raEnd = s + n; _raEndMs = _nowMs; }
                    else _raTrack = -1;
                }
                remaining -= (ulong)n;
                sector = (sector + n) % TotalSectors;
            }
        }

        double total = _nowMs - start;
        _busyMs += total;
        Last = new HddServiceBreakdown(ControllerOverheadMs, seek, rotation, transfer, allBuffered);
        return ModelTime.FromMs(total);
    }

    // Skew shifts each track's sector 0 so a sequential transfer that switches track or cylinder finds the
    // next sector just arriving instead of just gone.
    private static int PhysicalSector(int cylinder, int head, int sector) =>
        (int)((sector + (long)cylinder * (CylinderSkewSectors + (TracksPerCylinder - 1) * TrackSkewSectors)
               + (long)head * TrackSkewSectors) % SectorsPerTrack);

    /// <summary>Time until <paramref name="physicalSector"/> reaches the head at time <paramref name="nowMs"/>: in [0, one revolution).</summary>
    private static double RotationalWaitMs(double nowMs, int physicalSector)
    {
        double angle = nowMs % RevolutionMs / SectorMs; // sectors passed since index, fractional
        double sectors = physicalSector - angle;
        if (sectors < 0) sectors += SectorsPerTrack;
        double wait = sectors * SectorMs;
        return wait >= RevolutionMs ? 0 : wait; // guard the rounding edge
    }
}

/// <summary>Where one request's modeled time went, in milliseconds.</summary>
/// <param name="FromBuffer">True if a read was served entirely from the read-ahead buffer or stream.</param>
public readonly record struct HddServiceBreakdown(
    double ControllerMs, double SeekMs, double RotationMs, double TransferMs, bool FromBuffer)
{
    public double TotalMs => ControllerMs + SeekMs + RotationMs + TransferMs;
}
