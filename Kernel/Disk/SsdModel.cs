namespace ExoFS.Kernel.Disk;

/// <summary>
/// A NAND SSD with the figures of Agrawal et al. (USENIX ATC 2008): 4 KiB pages read in 25 µs and
/// programmed in 200 µs, erase blocks of 64 pages erased in 1.5 ms. Operations are serial (one channel).
/// <para>
/// FTL: page-mapped. Every page write, new or overwrite, goes to the next free page of the active erase
/// block (a log-structured write point); an overwrite only marks the old page invalid. When fewer than two
/// free erase blocks remain, greedy garbage collection takes the full block with the fewest valid pages,
/// copies those pages to the write point (read + program each) and erases it. Overwrites therefore
/// eventually cost copies and erases; <see cref="WriteAmplification"/> shows how many. Spare erase blocks
/// beyond the logical capacity (over-provisioning) keep collection possible.
/// </para>
/// <para>
/// Logical page = block number modulo <see cref="LogicalPages"/>. Reads of never-written pages cost a page
/// read like any other. Flush costs nothing (no volatile write cache is modeled).
/// </para>
/// </summary>
public sealed class SsdModel : IDiskTimeModel
{
    public const double PageReadMs = 0.025;
    public const double PageProgramMs = 0.200;
    public const double BlockEraseMs = 1.5;
    public const int PagesPerEraseBlock = 64;

    // GC runs when the free pool falls below this; collection itself needs one free block in hand.
    private const int MinFreeBlocks = 2;

    private readonly int _logicalPages;
    private readonly int _eraseBlocks;
    private int[] _map = [];        // logical → physical page, −1 unmapped
    private int[] _owner = [];      // physical → logical page, −1 free or invalid
    private int[] _valid = [];      // valid pages per erase block
    private bool[] _isFree = [];
    private readonly Queue<int> _free = new();
    private int _active, _writePtr;
    private double _busyMs;

    /// <summary>
    /// An SSD exporting <paramref name="logicalPages"/> pages, with <paramref name="spareEraseBlocks"/> extra
    /// erase blocks of over-provisioning (default: 7% of the logical erase blocks, at least 4).
    /// </summary>
    public SsdModel(ulong logicalPages, int? spareEraseBlocks = null)
    {
        if (logicalPages == 0 || logicalPages > int.MaxValue / 2)
            throw new ArgumentOutOfRangeException(nameof(logicalPages), $"Logical pages must be in 1..{int.MaxValue / 2}.");
        int dataBlocks = (int)((logicalPages + PagesPerEraseBlock - 1) / PagesPerEraseBlock);
        int spare = spareEraseBlocks ?? Math.Max(4, (int)Math.Ceiling(dataBlocks * 0.07));
        // With fewer than MinFreeBlocks + 2 spares a full device can have no block with an invalid page to collect.
        if (spare < MinFreeBlocks + 2)
            throw new ArgumentOutOfRangeException(nameof(spareEraseBlocks), $"At least {MinFreeBlocks + 2} spare erase blocks are needed.");
        _logicalPages = (int)logicalPages;
        _eraseBlocks = dataBlocks + spare;
        Reset();
    }

    /// <summary>Pages the host sees.</summary>
    public ulong LogicalPages => (ulong)_logicalPages;

    /// <summary>Physical erase blocks, spares included.</summary>
    public int EraseBlocks => _eraseBlocks;

    /// <summary>Erase operations so far.</summary>
    public long Erases { get; private set; }

    /// <summary>Pages programmed so far: host writes plus garbage-collection copies.</summary>
    public long PagesProgrammed { get; private set; }

    /// <summary>Pages the host asked to write.</summary>
    public long HostPagesWritten { get; private set; }

    /// <summary>Pages programmed per page written by the host (1.0 until collection copies anything).</summary>
    public double WriteAmplification => HostPagesWritten == 0 ? 1.0 : (double)PagesProgrammed / HostPagesWritten;

    /// <inheritdoc />
    public TimeSpan Elapsed => ModelTime.FromMs(_busyMs);

    /// <inheritdoc />
    public void Reset()
    {
        int physicalPages = _eraseBlocks * PagesPerEraseBlock;
        _map = new int[_logicalPages];
        Array.Fill(_map, -1);
        _owner = new int[physicalPages];
        Array.Fill(_owner, -1);
        _valid = new int[_eraseBlocks];
        _isFree = new bool[_eraseBlocks];
        _free.Clear();
        for (int b = 0; b < _eraseBlocks; b++) { _free.Enqueue(b); _isFree[b] = true; }
        _active = TakeFree();
        _writePtr = 0;
        _busyMs = 0;
        Erases = PagesProgrammed = HostPagesWritten = 0;
    }

    /// <inheritdoc />
    public TimeSpan Service(DiskRequest request)
    {
        double ms = 0;
        if (request.Kind != DiskRequestKind.Flush)
        {
            for (ulong i = 0; i < request.Blocks; i++)
            {
                int page = (int)((request.Start.Value + i) % (ulong)_logicalPages);
                if (request.Kind == DiskRequestKind.Read) ms += PageReadMs;
                else
                {
                    HostPagesWritten++;
                    ms += WritePage(page);
                }
            }
        }
        _busyMs += ms;
        return ModelTime.FromMs(ms);
    }

    private double WritePage(int logical)
    {
        double ms = 0;
        if (_writePtr == PagesPerEraseBlock)
        {
            while (_free.Count < MinFreeBlocks) ms += Collect();
            _active = TakeFree();
            _writePtr = 0;
        }
        Invalidate(logical);
        Place(logical);
        return ms + PageProgramMs;
    }

    // Greedy: the full block with the fewest valid pages is cheapest to reclaim.
    private double Collect()
    {
        int victim = -1;
        for (int b = 0; b < _eraseBlocks; b++)
            if (!_isFree[b] && b != _active && (victim < 0 || _valid[b] < _valid[victim])) victim = b;
        if (victim < 0 || _valid[victim] == PagesPerEraseBlock)
            throw new InvalidOperationException("SSD model has no erase block with an invalid page to collect; over-provisioning invariant broken.");

        double ms = 0;
        for (int p = victim * PagesPerEraseBlock; p < (victim + 1) * PagesPerEraseBlock; p++)
        {
            int logical = _owner[p];
            if (logical < 0) continue;
            if (_writePtr == PagesPerEraseBlock)
            {
                // Collection starts with ≥ 1 free block and copies < 64 pages, so one is always in hand here.
                _active = TakeFree();
                _writePtr = 0;
            }
            Invalidate(logical);
            Place(logical);
            ms += PageReadMs + PageProgramMs;
        }
        ms += BlockEraseMs;
        Erases++;
        _isFree[victim] = true;
        _free.Enqueue(victim);
        return ms;
    }

    private void Invalidate(int logical)
    {
        int old = _map[logical];
        if (old < 0) return;
        _owner[old] = -1;
        _valid[old / PagesPerEraseBlock]--;
        _map[logical] = -1;
    }

    private void Place(int logical)
    {
        int physical = _active * PagesPerEraseBlock + _writePtr++;
        _owner[physical] = logical;
        _map[logical] = physical;
        _valid[_active]++;
        PagesProgrammed++;
    }

    private int TakeFree()
    {
        if (!_free.TryDequeue(out int b))
            throw new InvalidOperationException("SSD model ran out of free erase blocks; over-provisioning invariant broken.");
        _isFree[b] = false;
        return b;
    }
}
