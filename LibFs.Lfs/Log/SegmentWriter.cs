using ExoFS.Xn;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs.Log;

/// <summary>
/// The log head. Blocks are appended to an open partial segment (a summary block, then up to
/// <see cref="Summary.MaxEntries"/> blocks) that is written as one run when it closes: at the end of a write
/// unit, or when a block comes and it is full (the most entries, or its segment has no room left). A write
/// unit is what one flush appends; every partial of a unit but the last carries the Continues flag, and
/// roll-forward applies a unit only when its last partial is on disk and valid, so a unit (a rename's two
/// directory blocks and inodes, say) is atomic.
/// When a segment fills, the next one is bound at once and named in the closing summary, so roll-forward
/// can follow the log from segment to segment.
/// <para>
/// The head keeps its closed partials in a run buffer (up to <see cref="RunBlocks"/> blocks, consecutive on the
/// disk) and hands them to the disk as one run, one device request through XN straight from this buffer: at
/// the end of every write unit (every sync follows a unit's end, so nothing durable is ever left here; and
/// only the open unit's closed partials wait, which nothing reads before the unit ends), when the buffer is
/// full, and when the next partial is not where the run ends (a segment bound elsewhere). A run goes on from a
/// full segment into the next when that one starts right after it: XN writes the new segment's head (bound,
/// owning nothing yet) in its place in the run. So a unit's filled segments reach the device as one request
/// with no lost revolution between them, and none of their blocks passes through XN's page cache. Lock held.
/// </para>
/// </summary>
internal sealed class SegmentWriter
{
    private readonly ILfsDisk _disk;
    private readonly SegmentUsage _usage;
    private readonly uint _segBlocks;
    private readonly List<SummaryEntry> _entries = new();
    private readonly byte[] _run;   // closed partials (and heads' places) waiting to go as one run
    private ulong _runStart;        // disk block of _run's first block
    private int _runBlocks;         // blocks staged in _run (0: none)
    private int _partialOffset = -1; // where the open partial's summary goes, -1 if none is open
    private uint _crc;   // running XnCrc32C of the partial segment's blocks
    private readonly SegmentWriter? _cleanerOf;

    /// <summary>
    /// Where the cleaner head's sequence numbers start: a space of their own, so that no summary the cleaner
    /// writes can ever carry a number roll-forward expects on the main log (a reused slot keeps stale summaries).
    /// </summary>
    public const ulong CleanerSeqBase = 1UL << 63;

    /// <param name="cleanerOf">
    /// Null for the main log head. Otherwise this is the cleaner's head beside that main head: every block it
    /// appends counts as a cleaner block there (one log clock for ages), its summaries number from
    /// <see cref="CleanerSeqBase"/>, and nothing rolls it forward: each cleaning pass ends with a checkpoint.
    /// </param>
    public SegmentWriter(ILfsDisk disk, SegmentUsage usage, int headSlot, uint headOffset, ulong nextSeq, SegmentWriter? cleanerOf = null)
    {
        _cleanerOf = cleanerOf;
        _disk = disk;
        _usage = usage;
        _segBlocks = disk.Super.SegmentBlocks;
        HeadSlot = headSlot;
        HeadOffset = headOffset;
        NextSeq = nextSeq;
        _run = new byte[RunBlocks(_segBlocks) * LfsLayout.BlockSize];
    }

    /// <summary>The slot the next partial goes to (-1: none bound yet) and its offset there.</summary>
    public int HeadSlot { get; private set; }
    public uint HeadOffset { get; private set; }
    /// <summary>The sequence number the next partial will carry.</summary>
    public ulong NextSeq { get; private set; }
    /// <summary>Set when the head moved to a segment no summary names: only a checkpoint makes it reachable.</summary>
    public bool Unlinked { get; private set; }
    /// <summary>Blocks appended by anyone other than the cleaner, and by the cleaner (for the write cost).</summary>
    public ulong NewBlocks { get; set; }
    public ulong CleanerBlocks { get; set; }
    public bool CleanerAppending { get; set; }
    /// <summary>
    /// The log's clock: blocks appended so far (wrapping at 2^32; only differences are used). Segment ages are
    /// measured in it, so the cleaner's notion of old and young data does not depend on how fast the host runs.
    /// </summary>
    public uint Clock => (uint)(NewBlocks + CleanerBlocks);
    private uint LogClock => _cleanerOf?.Clock ?? Clock;

    /// <summary>
    /// The log-clock time recorded as the appended blocks' last write; null: now. The cleaner sets it to the
    /// victim's, so a segment of copied cold blocks still looks as old as its data (Sprite's age is the
    /// youngest block's modify time, not the time of the copy).
    /// </summary>
    public uint? Stamp { get; set; }

    /// <summary>Partials closed so far (tests, crash mutants).</summary>
    public int PartialsWritten { get; private set; }

    /// <summary>Blocks still free in the head segment (0 if none is bound).</summary>
    public uint HeadRemaining => HeadSlot < 0 ? 0 : _segBlocks - HeadOffset - (uint)(_partialOffset < 0 ? 0 : 1 + _entries.Count);

    /// <summary>Appends one block; returns its log address. The address is final; the bytes reach XN when the partial closes.</summary>
    public Result<ulong> Append(LogKind kind, ulong ino, ulong index, ReadOnlySpan<byte> block, uint now)
    {
        // A full partial closes only when the next block comes: until then it may be the unit's last, and
        // only EndUnit knows to close it without the Continues flag. (Closed at once, a unit whose last block
        // filled its partial or segment ended on a Continues partial, and roll-forward never applied it.)
        if (_partialOffset >= 0 && PartialFull)
        {
            var err = Close(endOfUnit: false, now);
            if (err != Errno.OK) return err;
        }
        if (_partialOffset < 0)
        {
            var err = Open();
            if (err != Errno.OK) return err;
        }
        int n = _entries.Count;
        ulong addr = _disk.SegmentStart(HeadSlot) + (ulong)_partialOffset + 1 + (ulong)n;
        block[..LfsLayout.BlockSize].CopyTo(Staged(addr));
        // One pass over the bytes: the block's CRC for its entry, folded into the summary's data CRC.
        uint crc = XnCrc32C.Compute(block[..LfsLayout.BlockSize]);
        _crc = XnCrc32C.AppendBlock(_crc, crc);
        _entries.Add(new SummaryEntry(kind, (uint)ino, index, crc));
        if (_cleanerOf is { } main) main.CleanerBlocks++;
        else if (CleanerAppending) CleanerBlocks++;
        else NewBlocks++;
        _usage.Add(addr, Stamp ?? LogClock);
        return addr;
    }

    /// <summary>The open partial can take no more blocks: it has the most entries a summary holds, or its segment is full.</summary>
    private bool PartialFull => _entries.Count == Summary.MaxEntries || (uint)_partialOffset + 1 + (uint)_entries.Count >= _segBlocks;

    /// <summary>Ends the current write unit: closes the open partial with the unit's last flag.</summary>
    public Errno EndUnit(uint now) => _partialOffset >= 0 ? Close(endOfUnit: true, now) : WriteRun();

    /// <summary>
    /// After a flush cut short: the open partial closes as one the unit continues past, and the run goes to the
    /// disk, so every block appended so far is on the disk under a summary. The unit is not ended: roll-forward
    /// applies a unit only through a partial that ends it, so a crash now recovers the state before the flush,
    /// and the next flush's partials continue the same unit (or, the head past its segment's end, start in a
    /// segment only a checkpoint names).
    /// </summary>
    public Errno SendWritten(uint now)
    {
        if (_partialOffset >= 0 && _entries.Count > 0)
        {
            var err = Close(endOfUnit: false, now);
            if (err != Errno.OK) return err;
        }
        else _partialOffset = -1;
        return WriteRun();
    }

    /// <summary>
    /// Most blocks a run holds: a write unit's worth (the unit budget, and a quarter more for its tree nodes,
    /// inode blocks, summaries and heads' places: a unit the budget ends is then one request), at least a segment.
    /// </summary>
    internal static int RunBlocks(uint segBlocks) => (int)Math.Max(segBlocks, LfsFileSystem.UnitBudget + LfsFileSystem.UnitBudget / 4);

    /// <summary>The place in the run buffer of disk block <paramref name="addr"/> (staged by <see cref="Open"/>).</summary>
    private Span<byte> Staged(ulong addr) => _run.AsSpan((int)(addr - _runStart) * LfsLayout.BlockSize, LfsLayout.BlockSize);

    private Errno Open()
    {
        if (HeadSlot < 0 || HeadOffset + 2 > _segBlocks)
        {
            var s = _disk.AllocSegment(HeadSlot < 0 ? 0 : _disk.SegmentStart(HeadSlot) + _segBlocks);
            if (!s.Ok) return s.Error;
            _usage.Attach(s.Value, _disk.SegmentStart(s.Value));
            HeadSlot = s.Value;
            HeadOffset = _disk.FirstOffset;
            Unlinked = true;
        }
        _partialOffset = (int)HeadOffset;
        _entries.Clear();
        _crc = 0;
        return StagePartial();
    }

    /// <summary>
    /// Makes room in the run for the partial just opened: it continues the run where the run ends (or one block
    /// on, past the head of the segment it enters, which XN writes in its place), and fits its largest size;
    /// otherwise the run goes first and a new one starts at the partial.
    /// </summary>
    private Errno StagePartial()
    {
        ulong seg = _disk.SegmentStart(HeadSlot), at = seg + (uint)_partialOffset;
        ulong largest = Math.Min((ulong)Summary.MaxEntries + 1, _segBlocks - (uint)_partialOffset);
        ulong runEnd = _runStart + (ulong)_runBlocks;
        bool intoNextSegment = at == runEnd + 1 && runEnd == seg && _partialOffset == 1;
        if (_runBlocks > 0 && ((at != runEnd && !intoNextSegment) || at + largest - _runStart > (ulong)RunBlocks(_segBlocks)))
        {
            var err = WriteRun();
            if (err != Errno.OK) return err;
        }
        if (_runBlocks == 0) _runStart = at;
        else if (intoNextSegment) _runBlocks++;   // the head's place: XN's bytes go there
        return Errno.OK;
    }

    private Errno Close(bool endOfUnit, uint now)
    {
        uint end = (uint)_partialOffset + 1 + (uint)_entries.Count;
        uint next = Summary.NoSlot;
        int nextSlot = -1;
        if (end + 2 > _segBlocks)
        {
            // The segment is full: bind the next one now, so this summary can name it.
            var s = _disk.AllocSegment(_disk.SegmentStart(HeadSlot) + _segBlocks);
            if (s.Ok)
            {
                nextSlot = s.Value;
                next = (uint)nextSlot;
                _usage.Attach(nextSlot, _disk.SegmentStart(nextSlot));
            }
        }
        var sum = new Summary(NextSeq, (uint)HeadSlot, (uint)_partialOffset, endOfUnit ? 0 : Summary.Continues, next,
            DateTime.UtcNow.Ticks * 100 - DateTime.UnixEpoch.Ticks * 100, _crc, _entries.ToArray());
        ulong seg = _disk.SegmentStart(HeadSlot);
        sum.WriteTo(Staged(seg + (uint)_partialOffset));
        _runBlocks = (int)(seg + end - _runStart);
        bool segmentFull = end + 2 > _segBlocks;
        // The unit's end sends the run (see the class comment); a partial closed in mid-unit waits for the
        // partials after it, in this segment or the next.
        if (endOfUnit)
        {
            var err = WriteRun();
            if (err != Errno.OK) return err;
        }
        if (_cleanerOf is null) _usage.Touch(HeadSlot, LogClock);
        PartialsWritten++;
        NextSeq++;
        _partialOffset = -1;
        _entries.Clear();
        if (segmentFull)
        {
            if (nextSlot >= 0) { HeadSlot = nextSlot; HeadOffset = _disk.FirstOffset; }
            else HeadOffset = _segBlocks; // the next Open binds a segment no summary names
        }
        else HeadOffset = end;
        return Errno.OK;
    }

    /// <summary>Hands the run (the closed partials waiting in the buffer, and heads' places) to the disk as one write.</summary>
    private Errno WriteRun()
    {
        if (_runBlocks == 0) return Errno.OK;
        int n = _runBlocks;
        _runBlocks = 0;
        return _disk.Write(_runStart, _run.AsSpan(0, n * LfsLayout.BlockSize));
    }

    /// <summary>A checkpoint now names the head: the log is reachable from it again.</summary>
    public void Checkpointed() => Unlinked = false;
}
