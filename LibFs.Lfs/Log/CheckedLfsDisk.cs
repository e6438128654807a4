using System.Collections;
using ExoFS.Xn;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs.Log;

/// <summary>
/// The LFS's disk with every log block checked: a read of a block inside a bound segment is compared with the
/// CRC-32C its partial segment's summary recorded for it (<see cref="SummaryEntry.Crc"/>), and a mismatch, or a
/// block no valid summary describes, answers EIO and names the block once in the log. What it knows of a
/// segment comes from two places: the partials written through it (it reads their summaries out of the run it
/// writes), and, for a segment written before this mount, the segment's chain of summaries read from its first
/// partial on as far as a read needs (each summary says where the next starts). A segment bound or released
/// through it starts over. Summaries themselves carry their own checksum and are read with
/// <see cref="ReadUnchecked"/> (roll-forward, the cleaner).
///
/// Blocks that passed (read and checked) or that it wrote (their CRCs computed as they were appended) are kept in a
/// <see cref="BlockCache"/>, and a read of one is served from there while the block's summary still records the CRC
/// the cached bytes had; a segment bound or released drops its blocks. <see cref="ReadUnchecked"/> and the scrub's
/// <see cref="Check"/> always go to the device. Lock held, like every <see cref="ILfsDisk"/> call.
/// </summary>
internal sealed class CheckedLfsDisk : ILfsDisk
{
    private readonly ILfsDisk _inner;
    private readonly uint _segBlocks;
    private readonly Dictionary<int, Segment> _segments = new();
    private readonly SortedList<ulong, int> _byStart = new();
    private readonly HashSet<ulong> _named = new();
    private readonly List<ulong> _damaged = new();
    private readonly BlockCache _cache;

    /// <summary>
    /// Blocks the cache of checked log blocks holds at most by default: 32 MiB, XN's page cache's default size (the
    /// log's blocks no longer take XN's pages: they are written through and read with ReadBlocks). Postmark's reads
    /// hit it 38% of the time (16 MiB: 20%; 4 MiB: 5%).
    /// </summary>
    public const int DefaultCacheBlocks = 8192;

    private sealed class Segment(ulong start, uint segBlocks, uint first)
    {
        public readonly ulong Start = start;
        public readonly uint[] Crc = new uint[segBlocks];
        public readonly byte[] Kind = new byte[segBlocks];
        public readonly BitArray Known = new((int)segBlocks);
        /// <summary>Where the next summary of the on-disk chain is to be read; past the end when the chain ended.</summary>
        public uint Walked = first;
    }

    private CheckedLfsDisk(ILfsDisk inner, int cacheBlocks)
    {
        _inner = inner;
        _cache = new BlockCache(cacheBlocks);
        _segBlocks = inner.Super.SegmentBlocks;
        for (int s = 0; s < inner.Super.SegmentSlots; s++)
            if (inner.SegmentStart(s) is var start and not 0) _byStart[start] = s;
    }

    /// <summary><paramref name="disk"/> with its log blocks checked (itself if it already is), keeping up to <paramref name="cacheBlocks"/> checked blocks in memory.</summary>
    public static CheckedLfsDisk Wrap(ILfsDisk disk, int cacheBlocks = DefaultCacheBlocks) => disk as CheckedLfsDisk ?? new CheckedLfsDisk(disk, cacheBlocks);

    /// <summary>The checked blocks kept in memory (figures for tests and tools).</summary>
    public BlockCache Cache => _cache;

    /// <summary>Log blocks read from the disk underneath and checked since mount (the reads the cache did not serve).</summary>
    public long BlocksChecked { get; private set; }

    /// <summary>The disk underneath (tests, tools).</summary>
    public ILfsDisk Inner => _inner;

    /// <summary>Where the one line per damaged block goes (the daemon's stderr unless a host or test says otherwise).</summary>
    public Action<string> Log { get; set; } = line => Console.Error.WriteLine(line);

    /// <summary>Log blocks that failed their check during this mount, in the order met.</summary>
    public IReadOnlyList<ulong> DamagedBlocks => _damaged;

    /// <summary>The line logged for the first damaged block met (null: none).</summary>
    public string? FirstProblem { get; private set; }

    public LfsSuper Super => _inner.Super;
    public ulong SegmentStart(int slot) => _inner.SegmentStart(slot);
    public uint FirstOffset => _inner.FirstOffset;
    public bool WrittenBeyond(int slot, uint offset) => _inner.WrittenBeyond(slot, offset);
    public IReadOnlyList<ClaimEntry>? Claims(int slot) => _inner.Claims(slot);
    public ulong FreeBlocks => _inner.FreeBlocks;
    public Errno ReadCheckpoint(int region, Span<byte> into) => _inner.ReadCheckpoint(region, into);
    public Errno WriteCheckpoint(int region, ReadOnlySpan<byte> bytes) => _inner.WriteCheckpoint(region, bytes);
    public Errno Sync() => _inner.Sync();

    /// <summary>Reads a block with no check: a summary (it checks itself), or a block roll-forward checks against its summary's data checksum.</summary>
    public Errno ReadUnchecked(ulong block, Span<byte> into) => _inner.Read(block, into);

    public Errno Read(ulong block, Span<byte> into) => ReadRun(block, into[..LfsLayout.BlockSize]);

    /// <summary>
    /// Reads consecutive blocks: those the cache holds from it, each stretch of the others in one request to the
    /// disk underneath, every block of which is then checked (EIO at the first that fails, as <see cref="Read"/>).
    /// </summary>
    public Errno ReadRun(ulong start, Span<byte> into)
    {
        const int B = LfsLayout.BlockSize;
        int n = into.Length / B;
        for (int k = 0; k < n;)
        {
            if (FromCache(start + (ulong)k, into.Slice(k * B, B))) { k++; continue; }
            int j = k + 1;
            while (j < n && !_cache.Holds(start + (ulong)j)) j++;
            var err = _inner.ReadRun(start + (ulong)k, into.Slice(k * B, (j - k) * B));
            if (err != Errno.OK) return err;
            for (; k < j; k++)
                if ((err = Checked(start + (ulong)k, into.Slice(k * B, B))) != Errno.OK) return err;
        }
        return Errno.OK;
    }

    /// <summary>Copies <paramref name="block"/> from the cache if it holds it with the CRC its summary records now.</summary>
    private bool FromCache(ulong block, Span<byte> into) =>
        _cache.Holds(block) && Locate(block, out _, out var seg, out int pos) && seg.Known[pos] && _cache.TryRead(block, seg.Crc[pos], into);

    /// <summary>Checks <paramref name="data"/>, just read from the device for <paramref name="block"/>: OK (and cached), or EIO and one log line.</summary>
    private Errno Checked(ulong block, Span<byte> data)
    {
        BlocksChecked++;
        var problem = Check(block, data);
        if (problem is null)
        {
            // Checked against its summary: from now on served from memory while that summary stands.
            if (Locate(block, out _, out var seg, out int pos) && seg.Known[pos]) _cache.Put(block, seg.Crc[pos], data);
            return Errno.OK;
        }
        if (_named.Add(block))
        {
            _damaged.Add(block);
            FirstProblem ??= problem;
            Log($"lfs: {problem}; the read returns EIO");
        }
        return Errno.EIO;
    }

    /// <summary>Why <paramref name="data"/>, read from <paramref name="block"/>, is not what the log wrote there (null: it is, or the block is no log block).</summary>
    public string? Check(ulong block, ReadOnlySpan<byte> data)
    {
        if (!Locate(block, out int slot, out var seg, out int pos)) return null;
        if (!seg.Known[pos]) return $"block {block} (segment {slot}, offset {pos}): no valid summary describes it";
        uint crc = XnCrc32C.Compute(data[..LfsLayout.BlockSize]);
        if (crc == seg.Crc[pos]) return null;
        return $"block {block} ({(LogKind)seg.Kind[pos]} block, segment {slot}, offset {pos}): checksum {crc:x8}, its summary recorded {seg.Crc[pos]:x8}";
    }

    /// <summary>The slot, segment and offset of <paramref name="block"/>, its segment's summaries walked as far as it (false: no log block).</summary>
    private bool Locate(ulong block, out int slot, out Segment seg, out int pos)
    {
        slot = SlotOf(block);
        seg = null!;
        pos = 0;
        if (slot < 0) return false;
        seg = SegmentOf(slot);
        pos = (int)(block - seg.Start);
        if (!seg.Known[pos]) Walk(slot, seg, (uint)pos);
        return true;
    }

    /// <summary>Reads the segment's chain of summaries from where it stopped until <paramref name="pos"/> is described or the chain ends.</summary>
    private void Walk(int slot, Segment seg, uint pos)
    {
        var block = new byte[LfsLayout.BlockSize];
        while (seg.Walked <= pos && seg.Walked + 2 <= _segBlocks)
        {
            uint at = seg.Walked;
            if (_inner.Read(seg.Start + at, block) != Errno.OK
                || Summary.ReadFrom(block) is not { } sum || sum.Slot != (uint)slot || sum.Offset != at
                || at + 1 + (uint)sum.Entries.Count > _segBlocks)
            {
                seg.Walked = _segBlocks; // the chain ends here: what lies beyond is described by nothing this mount can trust
                return;
            }
            Describe(seg, at, sum, overwrite: false);
        }
    }

    private static void Describe(Segment seg, uint at, Summary sum, bool overwrite)
    {
        for (int i = 0; i < sum.Entries.Count; i++)
        {
            int p = (int)at + 1 + i;
            if (seg.Known[p] && !overwrite) continue;
            seg.Crc[p] = sum.Entries[i].Crc;
            seg.Kind[p] = (byte)sum.Entries[i].Kind;
            seg.Known[p] = true;
        }
        seg.Known[(int)at] = false; // the summary's own block is checked by its own checksum, not a summary's
        if (seg.Walked == at) seg.Walked = at + 1 + (uint)sum.Entries.Count;
    }

    public Errno Write(ulong start, Span<byte> blocks)
    {
        var err = _inner.Write(start, blocks);
        if (err != Errno.OK) return err;
        foreach (var part in LogRun.Split(start, blocks, SlotOf, _inner.SegmentStart, _segBlocks, _inner.FirstOffset))
        {
            var seg = SegmentOf(part.Slot);
            uint p = (uint)(part.At - seg.Start);
            _cache.Drop(part.At, part.N);
            if (part.Sum is { } sum)
            {
                Describe(seg, p, sum, overwrite: true);
                // The blocks just appended, with the CRCs their summary records (computed as they were appended).
                for (int i = 0; i < sum.Entries.Count; i++)
                {
                    ulong at = part.At + 1 + (ulong)i;
                    _cache.Put(at, sum.Entries[i].Crc, blocks.Slice((int)(at - start) * LfsLayout.BlockSize, LfsLayout.BlockSize));
                }
            }
            else for (uint k = 0; k < part.N; k++) seg.Known[(int)(p + k)] = false;
        }
        return Errno.OK;
    }

    public Result<int> AllocSegment(ulong hint)
    {
        var r = _inner.AllocSegment(hint);
        if (r.Ok) Rebind(r.Value);
        return r;
    }

    public Errno FreeSegment(int slot)
    {
        var err = _inner.FreeSegment(slot);
        if (err == Errno.OK) Rebind(slot);
        return err;
    }

    private void Rebind(int slot)
    {
        _segments.Remove(slot);
        int i = _byStart.IndexOfValue(slot);
        if (i >= 0)
        {
            _cache.Drop(_byStart.Keys[i], _segBlocks); // its blocks belong to the segment's previous life
            _byStart.RemoveAt(i);
        }
        ulong start = _inner.SegmentStart(slot);
        if (start == 0) return;
        _cache.Drop(start, _segBlocks);
        _byStart[start] = slot;
        // A segment bound now holds nothing yet: none of its old summaries is to be believed.
        _segments[slot] = new Segment(start, _segBlocks, _segBlocks);
    }

    private Segment SegmentOf(int slot)
    {
        ulong start = _inner.SegmentStart(slot);
        if (_segments.TryGetValue(slot, out var seg) && seg.Start == start) return seg;
        if (seg is not null) _cache.Drop(seg.Start, _segBlocks);
        return _segments[slot] = new Segment(start, _segBlocks, _inner.FirstOffset);
    }

    private int SlotOf(ulong block)
    {
        var keys = _byStart.Keys;
        int lo = 0, hi = keys.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (keys[mid] <= block) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0 || block >= keys[found] + _segBlocks) return -1;
        return _byStart.Values[found];
    }
}
