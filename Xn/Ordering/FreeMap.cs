using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;

namespace ExoFS.Xn.Ordering;

/// <summary>
/// XN's free map in memory, and the rule-2 state on top of it. A block is free, allocated, or
/// deferred-free (freed by its parent, but the parent's nullifying write is not durable yet: it stays
/// allocated on disk and cannot be handed out). The persisted bitmap is exactly "allocated or deferred",
/// so it is conservative after a crash: a block is marked allocated before any pointer to it is written
/// (XN writes dirty map blocks, then a barrier, then metadata) and marked free only after the nullifying
/// parent write is durable (release happens after a flush). Not thread-safe: the volume lock guards it.
/// </summary>
internal sealed class FreeMap
{
    private readonly byte[] _bits;       // persisted image of the bitmap: set = allocated or deferred
    private readonly HashSet<ulong> _deferred = new();
    private readonly bool[] _dirty;      // per free-map block: changed since last persisted
    private readonly Layout _layout;

    public FreeMap(Layout layout)
    {
        _layout = layout;
        _bits = new byte[checked((int)layout.FreeMapBlocks * FreeMapBlock.BitmapBytes)];
        _dirty = new bool[layout.FreeMapBlocks];
        // Bits past the end of the disk read as allocated so they are never handed out.
        MarkTailAllocated();
        for (ulong i = (layout.BlockCount >> 3) / FreeMapBlock.BitmapBytes; i < (ulong)_dirty.Length; i++) _dirty[i] = true;
        FreeCount = layout.BlockCount;
    }

    public ulong FreeCount { get; private set; }
    public int DeferredCount => _deferred.Count;
    public bool AnyDirty => _dirty.Any(d => d);

    public bool IsAllocated(ulong b) => (_bits[b >> 3] & (1 << (int)(b & 7))) != 0;
    public bool IsDeferred(ulong b) => _deferred.Contains(b);

    /// <summary>
    /// The blocks of [<paramref name="start"/>, <paramref name="end"/>) that are free now, and those allocated
    /// whose free is deferred until a later sync (rule 2): the read-only view sessions get (XnSession.CountFree).
    /// </summary>
    public (ulong Free, ulong Deferred) Count(ulong start, ulong end)
    {
        if (end <= start) return (0, 0);
        ulong allocated = 0, b = start;
        for (; b < end && (b & 7) != 0; b++)
            if (IsAllocated(b)) allocated++;
        // Whole bytes, eight at a time where they run that long.
        var bytes = _bits.AsSpan((int)(b >> 3), (int)((end - b) >> 3));
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(bytes);
        foreach (ulong w in words) allocated += (ulong)System.Numerics.BitOperations.PopCount(w);
        foreach (byte x in bytes[(words.Length * 8)..]) allocated += (ulong)System.Numerics.BitOperations.PopCount(x);
        for (b += (ulong)bytes.Length * 8; b < end; b++)
            if (IsAllocated(b)) allocated++;
        ulong deferred = 0;
        foreach (ulong d in _deferred)
            if (d >= start && d < end) deferred++;
        return (end - start - allocated, deferred);
    }

    private void SetBit(ulong b, bool on)
    {
        if (on) _bits[b >> 3] |= (byte)(1 << (int)(b & 7));
        else _bits[b >> 3] &= (byte)~(1 << (int)(b & 7));
        _dirty[(b >> 3) / FreeMapBlock.BitmapBytes] = true;
    }

    /// <summary>None if every block of <paramref name="e"/> can be allocated; else why not.</summary>
    public XnError CheckFree(Extent e)
    {
        for (ulong b = e.Start.Value; b < e.Start.Value + e.Count; b++)
        {
            if (_deferred.Contains(b)) return XnError.FreeDeferred;
            if (IsAllocated(b)) return XnError.NotFree;
        }
        return XnError.None;
    }

    public void Allocate(Extent e)
    {
        for (ulong b = e.Start.Value; b < e.Start.Value + e.Count; b++)
        {
            if (!IsAllocated(b)) FreeCount--;
            SetBit(b, true);
        }
    }

    /// <summary>Rule 2: the extent stays allocated (on disk and for Alloc) until <see cref="Release"/>.</summary>
    public void Defer(Extent e)
    {
        for (ulong b = e.Start.Value; b < e.Start.Value + e.Count; b++) _deferred.Add(b);
    }

    /// <summary>Makes the extent free; called once every on-disk pointer to it is durably gone.</summary>
    public void Release(Extent e)
    {
        for (ulong b = e.Start.Value; b < e.Start.Value + e.Count; b++)
        {
            _deferred.Remove(b);
            if (IsAllocated(b)) FreeCount++;
            SetBit(b, false);
        }
    }

    /// <summary>
    /// The first run of <paramref name="count"/> free (not deferred) blocks at or after
    /// <paramref name="hint"/>, wrapping around to the start of the disk; null if there is none.
    /// </summary>
    public BlockNo? FindFree(BlockNo hint, ulong count)
    {
        ulong n = _layout.BlockCount;
        if (count == 0 || count > n) return null;
        ulong start = hint.Value < n ? hint.Value : 0;
        var found = Scan(start, n, count) ?? Scan(0, Math.Min(n, start + count), count);
        return found is { } f ? new BlockNo(f) : null;
    }

    private ulong? Scan(ulong from, ulong to, ulong count)
    {
        ulong run = 0;
        for (ulong b = from; b < to; b++)
        {
            // Skip whole allocated bytes quickly: most of a busy map is 0xFF.
            if ((b & 7) == 0 && _bits[b >> 3] == 0xFF && b + 8 <= to) { run = 0; b += 7; continue; }
            if (IsAllocated(b)) { run = 0; continue; }
            if (++run == count) return b + 1 - count;
        }
        return null;
    }

    /// <summary>Indices of free-map blocks changed since they were last persisted.</summary>
    public IEnumerable<int> DirtyBlocks()
    {
        for (int i = 0; i < _dirty.Length; i++) if (_dirty[i]) yield return i;
    }

    /// <summary>The on-disk image of free-map block <paramref name="index"/> (and marks it clean).</summary>
    public void Encode(int index, Span<byte> block)
    {
        _bits.AsSpan(index * FreeMapBlock.BitmapBytes, FreeMapBlock.BitmapBytes).CopyTo(block);
        FreeMapBlock.Seal(block);
        _dirty[index] = false;
    }

    /// <summary>Loads block <paramref name="index"/> from disk; false if its checksum is wrong.</summary>
    public bool Decode(int index, ReadOnlySpan<byte> block)
    {
        if (!FreeMapBlock.IsValid(block)) return false;
        block[..FreeMapBlock.BitmapBytes].CopyTo(_bits.AsSpan(index * FreeMapBlock.BitmapBytes));
        _dirty[index] = false;
        return true;
    }

    /// <summary>Recomputes <see cref="FreeCount"/> and re-marks the tail and reserved area after decoding.</summary>
    public void AfterDecode()
    {
        // Not through SetBit: loading must not make map blocks look changed.
        MarkTailAllocated();
        // Whole bytes at a time (this runs on every load): the tail bits are set, so the zero bits are
        // exactly the free blocks.
        ulong allocated = 0;
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(_bits.AsSpan(0, _bits.Length & ~7));
        foreach (ulong w in words) allocated += (ulong)System.Numerics.BitOperations.PopCount(w);
        for (int i = _bits.Length & ~7; i < _bits.Length; i++) allocated += (ulong)System.Numerics.BitOperations.PopCount(_bits[i]);
        FreeCount = (ulong)_bits.Length * 8 - allocated;
    }

    /// <summary>Sets every bit from block <see cref="Layout.BlockCount"/> to the end of the bitmap.</summary>
    private void MarkTailAllocated()
    {
        ulong b = _layout.BlockCount, end = (ulong)_bits.Length * 8;
        for (; b < end && (b & 7) != 0; b++) _bits[b >> 3] |= (byte)(1 << (int)(b & 7));
        if (b < end) _bits.AsSpan((int)(b >> 3)).Fill(0xFF);
    }

    /// <summary>Replaces the whole map with "allocated = <paramref name="allocated"/>" (recovery by scan).</summary>
    public void Rebuild(Func<ulong, bool> allocated)
    {
        _deferred.Clear();
        ulong free = 0;
        for (ulong b = 0; b < _layout.BlockCount; b++)
        {
            bool a = allocated(b);
            if (a != IsAllocated(b)) SetBit(b, a);
            if (!a) free++;
        }
        FreeCount = free;
    }

    public void MarkAllDirty() => Array.Fill(_dirty, true);
}
