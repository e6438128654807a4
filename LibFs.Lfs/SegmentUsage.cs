using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// The segment usage table: live blocks and last write time per segment slot, and which slot holds a given
/// log address. A block is live while the current (in-memory) state references it; the count drops when a
/// pointer to it is replaced or removed, even before the change reaches the log. Counts are kept in fragments
/// (8 to a block): an ordinary block is 8, a packed pointer (<see cref="LfsLayout.IsPacked"/>) its own
/// fragments, so a packed block stays live while any file's fragments in it do. Lock held.
/// </summary>
internal sealed class SegmentUsage
{
    private readonly uint _segBlocks;
    private readonly uint[] _live;
    private readonly uint[] _lastWrite;
    private readonly List<(ulong Start, int Slot)> _bySlotStart = new();
    private readonly bool[] _allocated;

    public SegmentUsage(int slots, uint segBlocks)
    {
        _segBlocks = segBlocks;
        _live = new uint[slots];
        _lastWrite = new uint[slots];
        _allocated = new bool[slots];
    }

    public int Slots => _live.Length;
    public uint SegmentBlocks => _segBlocks;
    private const uint F = LfsLayout.FragmentsPerBlock;
    /// <summary>Live blocks in <paramref name="slot"/>, a partly live packed block counting whole.</summary>
    public uint Live(int slot) => (_live[slot] + F - 1) / F;
    /// <summary>Live fragments in <paramref name="slot"/>.</summary>
    public uint LiveFragments(int slot) => _live[slot];
    public uint LastWrite(int slot) => _lastWrite[slot];
    public bool IsAllocated(int slot) => _allocated[slot];
    public IEnumerable<int> AllocatedSlots => _bySlotStart.Select(s => s.Slot);
    public int AllocatedCount => _bySlotStart.Count;
    public ulong TotalLive => (_totalLive + F - 1) / F;
    private ulong _totalLive;

    /// <summary>Set when a count went wrong (fsck reports it); counts never wrap.</summary>
    public string? Anomaly { get; private set; }

    public void Attach(int slot, ulong start)
    {
        _allocated[slot] = true;
        _lastWrite[slot] = 0; // a reused slot starts young only when something is written to it
        int i = _bySlotStart.BinarySearch((start, slot), Comparer<(ulong, int)>.Create((a, b) => a.Item1.CompareTo(b.Item1)));
        _bySlotStart.Insert(i < 0 ? ~i : i, (start, slot));
    }

    public void Detach(int slot)
    {
        _allocated[slot] = false;
        _bySlotStart.RemoveAll(s => s.Slot == slot);
        _totalLive -= _live[slot];
        _live[slot] = 0;
    }

    /// <summary>The slot whose segment holds <paramref name="addr"/>, or -1.</summary>
    public int SlotOf(ulong addr)
    {
        int lo = 0, hi = _bySlotStart.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (_bySlotStart[mid].Start <= addr) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0) return -1;
        var (start, slot) = _bySlotStart[found];
        return addr < start + _segBlocks ? slot : -1;
    }

    /// <summary>The block (or packed fragments) <paramref name="ptr"/> names became live (it was just appended, or is recounted).</summary>
    public void Add(ulong ptr, uint now)
    {
        ulong addr = LfsLayout.BlockOf(ptr);
        uint n = LfsLayout.IsPacked(ptr) ? (uint)LfsLayout.PackedFragments(ptr) : F;
        int s = SlotOf(addr);
        if (s < 0) { Anomaly ??= $"live block {addr} outside every segment"; return; }
        _live[s] += n;
        _lastWrite[s] = Math.Max(_lastWrite[s], now);
        _totalLive += n;
    }

    /// <summary>The block (or packed fragments) <paramref name="ptr"/> names is no longer referenced.</summary>
    public void Kill(ulong ptr)
    {
        if (ptr == 0) return;
        if (LfsLayout.IsPacked(ptr)) KillFragments(LfsLayout.PackedAddr(ptr), (uint)LfsLayout.PackedFragments(ptr));
        else KillFragments(ptr, F);
    }

    /// <summary><paramref name="n"/> fragments of the block at <paramref name="addr"/> are no longer referenced (a packed block's unused tail).</summary>
    public void KillFragments(ulong addr, uint n)
    {
        if (n == 0) return;
        int s = SlotOf(addr);
        if (s < 0) { Anomaly ??= $"dead block {addr} outside every segment"; return; }
        if (_live[s] < n) { Anomaly ??= $"segment {s} would go below zero live fragments (block {addr})"; return; }
        _live[s] -= n;
        _totalLive -= n;
    }

    public void Load(SegUsage[] usage)
    {
        _totalLive = 0;
        for (int s = 0; s < _live.Length && s < usage.Length; s++)
        {
            _live[s] = _allocated[s] ? usage[s].LiveFragments : 0;
            _lastWrite[s] = usage[s].LastWrite;
            _totalLive += _live[s];
        }
    }

    public void Reset()
    {
        Array.Clear(_live);
        _totalLive = 0;
        Anomaly = null;
    }

    public SegUsage[] Snapshot()
    {
        var u = new SegUsage[_live.Length];
        for (int s = 0; s < u.Length; s++) u[s] = new SegUsage(_live[s], _lastWrite[s]);
        return u;
    }

    public void Touch(int slot, uint now) => _lastWrite[slot] = Math.Max(_lastWrite[slot], now);
}
