using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// An <see cref="ILfsDisk"/> in memory with XN's durability model as the LFS relies on it: writes (and
/// segment bindings and releases) are in flight until <see cref="Sync"/>; <see cref="Crash"/> keeps what was
/// durable plus any subset of the writes in flight (a binding survives only with every block of its segment
/// that was in flight, as XN's rule 1 orders them), and <see cref="Reopen"/> gives the disk after the crash.
/// </summary>
internal sealed class FakeLfsDisk : ILfsDisk
{
    private readonly Dictionary<ulong, byte[]> _durable = new();
    private readonly List<(ulong Block, byte[] Bytes)> _pending = new();
    private readonly ulong[] _durableSlots;
    private readonly ulong[] _slots;
    private readonly ulong _cp0, _cp1;
    private ulong _nextFree;
    private readonly ulong _deviceBlocks;
    private readonly HashSet<ulong> _releasedPending = new();
    private readonly List<ulong> _freeStarts = new();

    public FakeLfsDisk(ulong deviceBlocks, uint segBlocks = 64, uint maxInodes = 4096)
    {
        _deviceBlocks = deviceBlocks;
        uint slots = (uint)(deviceBlocks / segBlocks + 1);
        Super = new LfsSuper(segBlocks, slots, (slots + 255) / 256, CheckpointRecord.BlocksFor(maxInodes, slots), maxInodes, 0, 0, 10, 20);
        _slots = new ulong[slots];
        _durableSlots = new ulong[slots];
        _cp0 = 10;
        _cp1 = 10 + Super.CheckpointBlocks;
        _nextFree = _cp1 + Super.CheckpointBlocks;
    }

    private FakeLfsDisk(FakeLfsDisk from, Dictionary<ulong, byte[]> durable, ulong[] slots)
    {
        Super = from.Super;
        _deviceBlocks = from._deviceBlocks;
        _cp0 = from._cp0;
        _cp1 = from._cp1;
        _nextFree = from._nextFree;
        _freeStarts.AddRange(from._freeStarts);
        _durable = durable;
        _slots = (ulong[])slots.Clone();
        _durableSlots = (ulong[])slots.Clone();
    }

    public LfsSuper Super { get; }
    public int Syncs { get; private set; }
    public int PendingCount => _pending.Count;
    /// <summary>Set to make every write fail (an I/O error test).</summary>
    public bool Fail { get; set; }
    /// <summary>Set to refuse every new segment with ENOSPC (a flush cut short at a segment boundary).</summary>
    public bool NoMoreSegments { get; set; }
    /// <summary>What <see cref="Claims"/> answers (an XN segment head's claim entries; null: no XN segments).</summary>
    public Func<int, IReadOnlyList<ClaimEntry>?>? ClaimsOf { get; set; }
    public IReadOnlyList<ClaimEntry>? Claims(int slot) => ClaimsOf?.Invoke(slot);

    public ulong SegmentStart(int slot) => slot >= 0 && slot < _slots.Length ? _slots[slot] : 0;

    public Errno Read(ulong block, Span<byte> into)
    {
        for (int i = _pending.Count - 1; i >= 0; i--)
            if (_pending[i].Block == block) { _pending[i].Bytes.CopyTo(into); return Errno.OK; }
        if (_durable.TryGetValue(block, out var b)) b.CopyTo(into);
        else into[..LfsLayout.BlockSize].Clear();
        return Errno.OK;
    }

    public Errno Write(ulong start, Span<byte> blocks)
    {
        if (Fail) return Errno.EIO;
        if (Dead) return Errno.OK;
        for (int i = 0; i * LfsLayout.BlockSize < blocks.Length; i++)
            _pending.Add((start + (ulong)i, blocks.Slice(i * LfsLayout.BlockSize, LfsLayout.BlockSize).ToArray()));
        return Errno.OK;
    }

    public Result<int> AllocSegment(ulong hint)
    {
        int slot = Array.IndexOf(_slots, 0UL);
        if (slot < 0 || NoMoreSegments) return Errno.ENOSPC;
        ulong start;
        if (_freeStarts.Count > 0) { start = _freeStarts[0]; _freeStarts.RemoveAt(0); }
        else if (_nextFree + Super.SegmentBlocks <= _deviceBlocks) { start = _nextFree; _nextFree += Super.SegmentBlocks; }
        else return Errno.ENOSPC;
        _slots[slot] = start;
        // XN zero-fills a new extent (in flight, like any write).
        if (!Dead) for (ulong b = 0; b < Super.SegmentBlocks; b++) _pending.Add((start + b, new byte[LfsLayout.BlockSize]));
        return slot;
    }

    public Errno FreeSegment(int slot)
    {
        if (_slots[slot] == 0) return Errno.EINVAL;
        if (!Dead) _releasedPending.Add(_slots[slot]);
        _slots[slot] = 0;
        return Errno.OK;
    }

    public Errno ReadCheckpoint(int region, Span<byte> into)
    {
        ulong start = region == 0 ? _cp0 : _cp1;
        for (int i = 0; i < Super.CheckpointBlocks; i++) Read(start + (ulong)i, into.Slice(i * LfsLayout.BlockSize, LfsLayout.BlockSize));
        return Errno.OK;
    }

    public Errno WriteCheckpoint(int region, ReadOnlySpan<byte> bytes) => Write(region == 0 ? _cp0 : _cp1, bytes.ToArray());

    /// <summary>Syncs still honoured; later ones do nothing (a crash before them).</summary>
    public int SyncsHonored { get; set; } = int.MaxValue;

    /// <summary>The machine crashed at a sync that was not honoured: nothing issued afterwards reaches the disk.</summary>
    public bool Dead { get; private set; }
    private ulong[]? _slotsAtDeath;

    public Errno Sync()
    {
        if (Fail) return Errno.EIO;
        if (Dead) return Errno.OK;
        if (SyncsHonored <= 0)
        {
            Dead = true;
            _slotsAtDeath = (ulong[])_slots.Clone();
            return Errno.OK;
        }
        SyncsHonored--;
        foreach (var (b, bytes) in _pending) _durable[b] = bytes;
        _pending.Clear();
        Array.Copy(_slots, _durableSlots, _slots.Length);
        // Released segments are reusable once the release is durable (rule 2).
        _freeStarts.AddRange(_releasedPending);
        _releasedPending.Clear();
        Syncs++;
        return Errno.OK;
    }

    public ulong FreeBlocks => (_deviceBlocks - _nextFree) + (ulong)_freeStarts.Count * Super.SegmentBlocks;

    /// <summary>The disk after a crash now: the durable state plus the in-flight writes <paramref name="keep"/> selects (by index).</summary>
    public FakeLfsDisk Crash(Func<int, bool> keep)
    {
        var durable = new Dictionary<ulong, byte[]>(_durable);
        var kept = new HashSet<int>();
        for (int i = 0; i < _pending.Count; i++) if (keep(i)) kept.Add(i);
        var slots = (ulong[])_durableSlots.Clone();
        var issued = _slotsAtDeath ?? _slots;
        // A new binding survives only if every in-flight block of its segment did (XN writes them first).
        for (int s = 0; s < issued.Length; s++)
        {
            if (issued[s] == _durableSlots[s]) continue;
            if (issued[s] == 0) { if (keep(-1 - s)) slots[s] = 0; continue; } // a release in flight
            ulong start = issued[s];
            bool all = true;
            for (int i = 0; i < _pending.Count && all; i++)
                if (_pending[i].Block >= start && _pending[i].Block < start + Super.SegmentBlocks && !kept.Contains(i)) all = false;
            if (all && keep(-1 - s)) slots[s] = start;
        }
        foreach (int i in kept.OrderBy(i => i)) durable[_pending[i].Block] = _pending[i].Bytes;
        return new FakeLfsDisk(this, durable, slots);
    }

    /// <summary>The disk after a crash keeping exactly the in-flight writes to blocks <paramref name="keepBlock"/> selects.</summary>
    public FakeLfsDisk CrashKeepingBlocks(Func<ulong, bool> keepBlock, bool keepReleases = false) =>
        Crash(i => i >= 0 ? keepBlock(_pending[i].Block) : keepReleases);

    /// <summary>Flips a byte of a durable block (a damaged sector).</summary>
    public void Corrupt(ulong block, int offset)
    {
        if (!_durable.TryGetValue(block, out var b)) _durable[block] = b = new byte[LfsLayout.BlockSize];
        b[offset] ^= 0xFF;
    }

    /// <summary>Blocks that hold durable data (for damage tests).</summary>
    public IReadOnlyList<ulong> DurableBlocks => _durable.Keys.OrderBy(b => b).ToList();

    public ulong CheckpointStart(int region) => region == 0 ? _cp0 : _cp1;
}
