using System.Buffers.Binary;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// The inode map: for each inode number, where its newest record is (<see cref="ImapEntry"/>). Held whole
/// in memory; its blocks go to the log at each checkpoint, which names them. Between checkpoints the map is
/// rebuilt after a crash from the inode blocks roll-forward finds. Also hands out inode numbers. Lock held.
/// </summary>
internal sealed class InodeMap
{
    private ulong[] _entries;
    private readonly uint _max;
    private readonly HashSet<int> _dirty = new();
    private readonly SortedSet<ulong> _free = new();
    private readonly Dictionary<ulong, int> _blockRefs = new();

    public InodeMap(uint maxInodes, ulong[] blockAddrs)
    {
        _max = maxInodes;
        BlockAddrs = new ulong[(maxInodes + LfsLayout.ImapEntriesPerBlock - 1) / LfsLayout.ImapEntriesPerBlock];
        Array.Copy(blockAddrs, BlockAddrs, Math.Min(blockAddrs.Length, BlockAddrs.Length));
        _entries = new ulong[BlockAddrs.Length * LfsLayout.ImapEntriesPerBlock];
    }

    /// <summary>Log address of each imap block (0: never written, all zero).</summary>
    public ulong[] BlockAddrs { get; }
    public ulong NextIno { get; set; } = 2;
    public uint MaxInodes => _max;
    public IReadOnlyCollection<int> DirtyBlocks => _dirty;
    public ulong FreeCount => _max - (NextIno - 1) + (ulong)_free.Count;
    /// <summary>Imap blocks in use (those up to the highest inode number handed out).</summary>
    public int UsedBlocks => (int)((NextIno + LfsLayout.ImapEntriesPerBlock - 1) / LfsLayout.ImapEntriesPerBlock);

    public void LoadBlock(int b, ReadOnlySpan<byte> block)
    {
        for (int i = 0; i < LfsLayout.ImapEntriesPerBlock; i++)
            _entries[b * LfsLayout.ImapEntriesPerBlock + i] = BinaryPrimitives.ReadUInt64LittleEndian(block[(i * 8)..]);
    }

    public byte[] EncodeBlock(int b)
    {
        var block = new byte[LfsLayout.BlockSize];
        for (int i = 0; i < LfsLayout.ImapEntriesPerBlock; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(i * 8), _entries[b * LfsLayout.ImapEntriesPerBlock + i]);
        return block;
    }

    public ulong Get(ulong ino) => ino < (ulong)_entries.Length ? _entries[ino] : 0;

    /// <summary>Sets the entry of <paramref name="ino"/>; returns true if the inode block it left has no live inode now.</summary>
    public bool Set(ulong ino, ulong entry, out ulong leftBlock)
    {
        ulong old = _entries[ino];
        leftBlock = 0;
        _entries[ino] = entry;
        _dirty.Add((int)(ino / LfsLayout.ImapEntriesPerBlock));
        if (entry != 0) _blockRefs[ImapEntry.Block(entry)] = _blockRefs.GetValueOrDefault(ImapEntry.Block(entry)) + 1;
        if (old == 0) return false;
        leftBlock = ImapEntry.Block(old);
        int n = _blockRefs.GetValueOrDefault(leftBlock) - 1;
        if (n <= 0) { _blockRefs.Remove(leftBlock); return true; }
        _blockRefs[leftBlock] = n;
        return false;
    }

    public int LiveInodesIn(ulong block) => _blockRefs.GetValueOrDefault(block);
    public IEnumerable<ulong> LiveInodeBlocks => _blockRefs.Keys;

    /// <summary>After loading: counts per inode block, the free numbers below the high-water mark.</summary>
    public void Rebuild()
    {
        _blockRefs.Clear();
        _free.Clear();
        for (ulong ino = 2; ino < NextIno && ino < (ulong)_entries.Length; ino++)
        {
            ulong e = _entries[ino];
            if (e == 0) _free.Add(ino);
            else _blockRefs[ImapEntry.Block(e)] = _blockRefs.GetValueOrDefault(ImapEntry.Block(e)) + 1;
        }
        if (_entries[LfsLayout.RootIno] != 0)
            _blockRefs[ImapEntry.Block(_entries[LfsLayout.RootIno])] = _blockRefs.GetValueOrDefault(ImapEntry.Block(_entries[LfsLayout.RootIno])) + 1;
    }

    public IEnumerable<ulong> LiveInodes()
    {
        for (ulong ino = 1; ino < NextIno && ino < (ulong)_entries.Length; ino++)
            if (_entries[ino] != 0) yield return ino;
    }

    public Result<ulong> Allocate()
    {
        if (_free.Count > 0)
        {
            ulong n = _free.Min;
            _free.Remove(n);
            return n;
        }
        if (NextIno >= _max) return Errno.ENOSPC;
        return NextIno++;
    }

    public void Release(ulong ino) { if (ino >= 2 && _entries[ino] == 0) _free.Add(ino); }

    public void MarkAllDirty() { for (int b = 0; b < UsedBlocks; b++) _dirty.Add(b); }
    public void MarkDirty(int b) => _dirty.Add(b);
    public void ClearDirty() => _dirty.Clear();
}
