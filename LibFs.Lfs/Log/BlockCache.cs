using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs.Log;

/// <summary>
/// Clean log blocks this mount appended or read and checked, by log address, so that reading one again goes
/// neither to XN nor to the device nor through the CRC-32C again. The log's writes go around XN's page cache
/// (write-through runs), so without it every read of a block written since mount would be a device read.
///
/// A fixed number of 4 KiB frames (taken as they are first needed, so a small mount pays only for what it
/// uses), replaced by CLOCK. Each entry keeps the CRC-32C its bytes had when they were appended or checked:
/// its owner (<see cref="CheckedLfsDisk"/>) serves an entry only while the segment's summary still records
/// that CRC for that block, and drops a segment's entries when the segment is bound or released, so a reused
/// segment never serves the bytes of its previous life. Bytes read from the device enter only after their
/// check. Lock held, like every <see cref="ILfsDisk"/> call.
/// </summary>
internal sealed class BlockCache
{
    private const int B = LfsLayout.BlockSize;
    private readonly byte[]?[] _frames;
    private readonly ulong[] _addr;
    private readonly uint[] _crc;
    private readonly bool[] _referenced;
    private readonly Dictionary<ulong, int> _slots = new();
    private readonly Stack<int> _free = new();
    private int _hand, _made;

    /// <param name="capacity">The most blocks held at once.</param>
    public BlockCache(int capacity)
    {
        _frames = new byte[]?[capacity];
        _addr = new ulong[capacity];
        _crc = new uint[capacity];
        _referenced = new bool[capacity];
    }

    public int Capacity => _frames.Length;
    /// <summary>Blocks held now.</summary>
    public int Count => _slots.Count;
    /// <summary>Reads served since mount.</summary>
    public long Hits { get; private set; }

    /// <summary>Whether an entry holds <paramref name="block"/> (whatever its CRC).</summary>
    public bool Holds(ulong block) => _slots.ContainsKey(block);

    /// <summary>
    /// Copies <paramref name="block"/> into <paramref name="into"/> if an entry holds it with CRC
    /// <paramref name="crc"/> (what the block's summary records now); an entry with another CRC is dropped.
    /// </summary>
    public bool TryRead(ulong block, uint crc, Span<byte> into)
    {
        if (_slots.TryGetValue(block, out int s))
        {
            if (_crc[s] == crc)
            {
                _frames[s].AsSpan().CopyTo(into);
                _referenced[s] = true;
                Hits++;
                return true;
            }
            Remove(block, s);
        }
        return false;
    }

    /// <summary>Holds <paramref name="bytes"/> (one block, whose CRC-32C is <paramref name="crc"/>) as <paramref name="block"/>'s.</summary>
    public void Put(ulong block, uint crc, ReadOnlySpan<byte> bytes)
    {
        if (_frames.Length == 0) return;
        if (!_slots.TryGetValue(block, out int s))
        {
            s = FreeSlot();
            _slots[block] = s;
            _addr[s] = block;
        }
        bytes[..B].CopyTo(_frames[s] ??= new byte[B]);
        _crc[s] = crc;
        _referenced[s] = false; // a block is kept past one sweep of the hand only if it is read
    }

    /// <summary>Forgets <paramref name="count"/> blocks from <paramref name="start"/> (a segment bound, released, or rewritten).</summary>
    public void Drop(ulong start, ulong count)
    {
        if (_slots.Count == 0) return;
        if (count <= (ulong)_slots.Count)
        {
            for (ulong a = start; a < start + count; a++)
                if (_slots.TryGetValue(a, out int s)) Remove(a, s);
            return;
        }
        foreach (var (a, s) in _slots.Where(kv => kv.Key >= start && kv.Key - start < count).ToList()) Remove(a, s);
    }

    private void Remove(ulong block, int s)
    {
        _slots.Remove(block);
        _free.Push(s);
    }

    /// <summary>A slot to fill: a free one, a never used one, or CLOCK's victim (the first not read since the hand last passed).</summary>
    private int FreeSlot()
    {
        if (_free.TryPop(out int s)) return s;
        if (_made < _frames.Length) return _made++;
        while (true)
        {
            s = _hand;
            _hand = (_hand + 1) % _frames.Length;
            if (_referenced[s]) { _referenced[s] = false; continue; }
            _slots.Remove(_addr[s]);
            return s;
        }
    }
}
