using System.Buffers.Binary;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// Allocation groups: the FFS placement policy and the inode bitmaps.
///
/// XN's free map is the one record of which blocks are free (another libFS may share the disk), and XN exports it
/// read-only (<see cref="IFfsDisk.CountFree"/>, <see cref="IFfsDisk.FindFree"/>): a block is chosen with FindFree near
/// a goal the policy picks and claimed with an XN Alloc by the caller, and a group's free count is XN's count over
/// the group's range. FFS keeps no block bitmap (format 4; format 3's duplicated XN's map and fsck reconciled the
/// two). Inodes are FFS's own: the inode bitmaps are kept in memory and written through.
///
/// Policy (McKusick et al. 1984): a new directory goes to a group with at least the average number of free
/// inodes and the fewest directories; any other inode goes to its parent's group (or the next with a free
/// inode); a file's blocks go right after its previous block, its first block after its group's inode table.
/// Caller must hold the file system lock.
/// </summary>
internal sealed class Allocator
{
    private readonly IFfsDisk _disk;
    private readonly BlockNo _super;
    private readonly GroupEntry[] _groups;
    private readonly byte[][] _inodeBitmaps;
    private readonly uint[] _freeInodes;
    private readonly int[] _inodeCursor;
    private readonly bool[] _growFailed;
    // Each group's free blocks as XN counted them, recounted after this FFS changed a block of the group.
    private readonly ulong[] _groupFree;
    private readonly bool[] _groupFreeStale;

    public Allocator(IFfsDisk disk, BlockNo super, Superblock sb, GroupEntry[] groups, byte[][] inodeBitmaps)
    {
        _disk = disk;
        _super = super;
        Sb = sb;
        _groups = groups;
        _inodeBitmaps = inodeBitmaps;
        _freeInodes = new uint[groups.Length];
        _inodeCursor = new int[groups.Length];
        _growFailed = new bool[groups.Length];
        _groupFree = new ulong[groups.Length];
        _groupFreeStale = new bool[groups.Length];
        Array.Fill(_groupFreeStale, true);
        for (int g = 0; g < groups.Length; g++)
            _freeInodes[g] = (uint)(InodeCapacity(g) - PopCount(inodeBitmaps[g], InodeCapacity(g)));
    }

    public Superblock Sb { get; }
    public int GroupCount => _groups.Length;
    public IReadOnlyList<GroupEntry> Groups => _groups;
    public uint InodesPerGroup => Sb.InodesPerGroup;

    public ulong GroupBlocks(int g) => Math.Min(Sb.BlocksPerGroup, Sb.TotalBlocks - (ulong)g * Sb.BlocksPerGroup);
    /// <summary>Inodes whose table blocks exist in group <paramref name="g"/> (the table grows on demand).</summary>
    public int InodesInGroup(int g) => (int)_groups[g].InodeTableBlocks * FfsLayout.InodesPerBlock;
    /// <summary>Inodes group <paramref name="g"/> can hold once its table is fully grown.</summary>
    public int InodeCapacity(int g) => TableCapacityBlocks(GroupBlocks(g), Sb.InodesPerGroup) * FfsLayout.InodesPerBlock;

    /// <summary>Inode-table blocks reserved for a group of <paramref name="groupBlocks"/> blocks.</summary>
    public static int TableCapacityBlocks(ulong groupBlocks, uint inodesPerGroup) =>
        (int)(Math.Min(FfsLayout.InodesForGroup(groupBlocks), inodesPerGroup) / FfsLayout.InodesPerBlock);
    public ulong TotalInodes => (ulong)Enumerable.Range(0, _groups.Length).Sum(InodeCapacity);
    public ulong FreeInodes => _freeInodes.Aggregate(0UL, (a, b) => a + b);

    /// <summary>
    /// Free blocks of group <paramref name="g"/> by XN's free map: free now, or freed and reusable after the next
    /// sync (XN defers a freed block until its nullified pointer is durable). Every session's blocks count, so
    /// another libFS's blocks in the group are simply not free. Cached until this FFS changes a block of the group.
    /// </summary>
    public ulong GroupFreeBlocks(int g)
    {
        if (_groupFreeStale[g])
        {
            var r = _disk.CountFree(new BlockNo((ulong)g * Sb.BlocksPerGroup), GroupBlocks(g));
            _groupFree[g] = r.Ok ? r.Value.FreeOrDeferred : 0;
            _groupFreeStale[g] = !r.Ok;
        }
        return _groupFree[g];
    }

    /// <summary>
    /// Notes that this FFS claimed or freed <paramref name="b"/> (through XN): the group's free count is recounted
    /// from XN's map when next asked. XN keeps the only record; nothing is written here.
    /// </summary>
    public void BlockChanged(BlockNo b)
    {
        int g = GroupOfBlock(b);
        if (g < _groups.Length) _groupFreeStale[g] = true;
        BlockChangedHook?.Invoke(b);
    }

    /// <summary>Called by <see cref="BlockChanged"/> for each block (the file system drops read-ahead copies of it).</summary>
    public Action<BlockNo>? BlockChangedHook { get; set; }

    /// <summary>Free blocks of all groups by XN's free map, counted afresh (other libFSes may have changed it).</summary>
    public ulong FreeBlocks
    {
        get
        {
            Array.Fill(_groupFreeStale, true);
            ulong n = 0;
            for (int g = 0; g < _groups.Length; g++) n += GroupFreeBlocks(g);
            return n;
        }
    }

    /// <summary>Inode-table blocks reserved but not yet grown into (kept out of the free count, so a growing table does not show as space used).</summary>
    public ulong UngrownTableBlocks
    {
        get
        {
            ulong n = 0;
            for (int g = 0; g < _groups.Length; g++)
                n += (ulong)Math.Max(0, TableCapacityBlocks(GroupBlocks(g), Sb.InodesPerGroup) - (int)_groups[g].InodeTableBlocks);
            return n;
        }
    }

    /// <summary>
    /// Blocks statfs reports free: XN-free in the groups (or owned but about to be freed: <paramref name="pending"/>),
    /// not reserved for inode tables. On a full disk data may sit in the reserved run, so the difference is taken
    /// before clamping at zero.
    /// </summary>
    public ulong AvailableBlocks(ulong pending = 0)
    {
        ulong taken = UngrownTableBlocks;
        ulong free = FreeBlocks + pending;
        return free > taken ? free - taken : 0;
    }

    private static int PopCount(byte[] bitmap, int bits)
    {
        int n = 0;
        for (int i = 0; i < bits; i++)
            if ((bitmap[i >> 3] & (1 << (i & 7))) != 0) n++;
        return n;
    }

    public int GroupOfBlock(BlockNo b) => (int)(b.Value / Sb.BlocksPerGroup);
    public int GroupOfIno(ulong ino) => (int)((ino - 1) / Sb.InodesPerGroup);

    /// <summary>True if <paramref name="ino"/> names a slot of some group's inode table.</summary>
    public bool ValidIno(ulong ino)
    {
        if (ino == 0) return false;
        ulong g = (ino - 1) / Sb.InodesPerGroup;
        return g < (ulong)_groups.Length && (int)((ino - 1) % Sb.InodesPerGroup) < InodesInGroup((int)g);
    }

    /// <summary>Where inode <paramref name="ino"/> lives: its inode-table block, byte offset and partition.</summary>
    public (BlockNo Block, int Offset, int Partition) Locate(ulong ino)
    {
        int g = GroupOfIno(ino);
        int slot = (int)((ino - 1) % Sb.InodesPerGroup);
        int part = slot % FfsLayout.InodesPerBlock;
        return (new BlockNo(_groups[g].InodeTable + (ulong)(slot / FfsLayout.InodesPerBlock)), part * FfsLayout.InodeSize, part);
    }

    public bool InodeAllocated(ulong ino)
    {
        int g = GroupOfIno(ino);
        int slot = (int)((ino - 1) % Sb.InodesPerGroup);
        return (_inodeBitmaps[g][slot >> 3] & (1 << (slot & 7))) != 0;
    }

    /// <summary>
    /// Picks an inode for a new file (near <paramref name="parentIno"/>) or directory (spread out); marks it
    /// used. ENOSPC when no group has a free inode.
    /// </summary>
    public Result<ulong> AllocInode(ulong parentIno, bool directory)
    {
        var r = TryAllocInode(parentIno, directory);
        if (r.Ok || r.Error != Errno.ENOSPC || Reclaim() != Errno.OK) return r;
        return TryAllocInode(parentIno, directory);
    }

    private Result<ulong> TryAllocInode(ulong parentIno, bool directory)
    {
        int start = directory ? DirectoryGroup() : GroupOfIno(parentIno);
        for (int k = 0; k < _groups.Length; k++)
        {
            int g = (start + k) % _groups.Length;
            if (_freeInodes[g] == 0) continue;
            int n = InodesInGroup(g);
            byte[] map = _inodeBitmaps[g];
            int found = -1;
            for (int j = 0; j < n && found < 0; j++)
            {
                int slot = (_inodeCursor[g] + j) % n;
                if ((map[slot >> 3] & (1 << (slot & 7))) == 0) found = slot;
            }
            if (found < 0)
            {
                var grown = GrowInodeTable(g);
                if (grown == Errno.ENOSPC) continue;
                if (grown != Errno.OK) return grown;
                found = n;
            }
            var err = SetBit(_groups[g].InodeBitmap, map, found, true);
            if (err != Errno.OK) return err;
            _freeInodes[g]--;
            _inodeCursor[g] = (found + 1) % InodesInGroup(g);
            if (directory) AdjustDirectories(g, +1);
            return (ulong)g * Sb.InodesPerGroup + (ulong)found + 1;
        }
        return Errno.ENOSPC;
    }

    /// <summary>
    /// Adds one block to group <paramref name="g"/>'s inode table (an XN Alloc on the superblock that grows
    /// the table's count by one). The table's reserved run lies before the group's data goal, so the next
    /// block is normally free; if something else took it, the group takes no more inodes (ENOSPC).
    /// </summary>
    private Errno GrowInodeTable(int g)
    {
        var ge = _groups[g];
        if (_growFailed[g] || ge.InodeTableBlocks >= TableCapacityBlocks(GroupBlocks(g), Sb.InodesPerGroup)) return Errno.ENOSPC;
        var next = new BlockNo(ge.InodeTable + ge.InodeTableBlocks);
        var free = _disk.FindFree(next, 1);
        if (!free.Ok || free.Value != next)
        {
            _growFailed[g] = true;
            return Errno.ENOSPC;
        }
        var err = _disk.Alloc(_super, g, new[] { FieldEdit.U32(Superblock.GroupOffset(g) + GroupEntry.InodeTableBlocksOffset, ge.InodeTableBlocks + 1) },
            BlockKind.Inodes, next);
        if (err != Errno.OK)
        {
            _growFailed[g] = true;
            return err == Errno.EIO ? Errno.ENOSPC : err;
        }
        _groups[g] = ge with { InodeTableBlocks = ge.InodeTableBlocks + 1 };
        BlockChanged(next);
        return Errno.OK;
    }

    /// <summary>
    /// Returns an inode to its group's free pool once its cleared slot is durable: the bit stays set until
    /// <see cref="CommitInodeFrees"/> (called after a sync), so the number cannot be reused while the disk
    /// still holds the old inode. Otherwise a crash could leave a new name bound to the old inode's contents.
    /// </summary>
    public Errno FreeInode(ulong ino, bool directory)
    {
        _inodesToRelease.Add((ino, directory));
        return Errno.OK;
    }

    private readonly List<(ulong Ino, bool Directory)> _inodesToRelease = new();

    /// <summary>Inodes cleared but not yet returned to the free pool (fsck accepts their set bits).</summary>
    public IReadOnlyList<(ulong Ino, bool Directory)> InodesAwaitingRelease => _inodesToRelease;

    /// <summary>Returns to the free pool every inode cleared before the sync that just completed.</summary>
    public Errno CommitInodeFrees()
    {
        foreach (var (ino, directory) in _inodesToRelease)
        {
            int g = GroupOfIno(ino);
            int slot = (int)((ino - 1) % Sb.InodesPerGroup);
            var err = SetBit(_groups[g].InodeBitmap, _inodeBitmaps[g], slot, false);
            if (err != Errno.OK) return err;
            _freeInodes[g]++;
            if (slot < _inodeCursor[g]) _inodeCursor[g] = slot;
            if (directory) AdjustDirectories(g, -1);
        }
        _inodesToRelease.Clear();
        return Errno.OK;
    }

    /// <summary>FFS's directory placement: above-average free inodes, then fewest directories.</summary>
    private int DirectoryGroup()
    {
        double avg = (double)FreeInodes / _groups.Length;
        int best = -1;
        for (int g = 0; g < _groups.Length; g++)
        {
            if (_freeInodes[g] == 0 || _freeInodes[g] < avg) continue;
            if (best < 0 || _groups[g].Directories < _groups[best].Directories
                || (_groups[g].Directories == _groups[best].Directories && GroupFreeBlocks(g) > GroupFreeBlocks(best)))
                best = g;
        }
        return best < 0 ? 0 : best;
    }

    private void AdjustDirectories(int g, int delta)
    {
        uint n = (uint)Math.Max(0, (long)_groups[g].Directories + delta);
        _groups[g] = _groups[g] with { Directories = n };
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, n);
        // A hint for placement only; fsck recomputes it, so it needs no ordering.
        _disk.WriteRaw(_super, Superblock.GroupOffset(g) + GroupEntry.DirectoriesOffset, b);
    }

    /// <summary>Overwrites group <paramref name="g"/>'s directory count (fsck repair).</summary>
    public void SetDirectories(int g, uint n) => AdjustDirectories(g, (int)n - (int)_groups[g].Directories);

    /// <summary>The first place to look for a new block of a file whose inode is <paramref name="ino"/>.</summary>
    public BlockNo DataGoal(ulong ino)
    {
        int g = GroupOfIno(ino);
        var ge = _groups[g];
        // Past the inode table's reserved run, so the table can keep growing in place.
        return new BlockNo(ge.InodeTable + (ulong)TableCapacityBlocks(GroupBlocks(g), Sb.InodesPerGroup));
    }

    /// <summary>
    /// Where a file's double and triple indirect blocks and the single indirect blocks under them go: the pointer
    /// zone, the last 1/256 of the group <paramref name="dataHint"/> lies in (127 blocks of a full group, enough
    /// for the pointer blocks of the group's data), not the next block of the data stream. A pointer block in the
    /// stream every 511 data blocks splits each sequential write and read there into two device requests and is
    /// written back alone at the sync; in the zone the data stays one contiguous run and the pointer blocks are
    /// written back as one run. The first single indirect block (the file's blocks 12–522) stays in the stream
    /// (a small file's one pointer block is read next to its data). Groups too small for a zone (tests' groups
    /// of under 2,048 blocks) keep the hint.
    /// </summary>
    public BlockNo PointerZone(BlockNo dataHint)
    {
        if (dataHint.Value >= _disk.DeviceBlocks) return dataHint;
        int g = Math.Min(GroupOfBlock(dataHint), _groups.Length - 1);
        ulong blocks = GroupBlocks(g), zone = blocks / 256;
        if (zone < 8) return dataHint;
        return new BlockNo((ulong)g * Sb.BlocksPerGroup + blocks - zone);
    }

    /// <summary>
    /// A free block near <paramref name="hint"/> (not yet claimed: the caller claims it with an XN Alloc and
    /// then calls <see cref="BlockChanged"/>). On ENOSPC, syncs once so that frees XN deferred until their parents
    /// were durable become reusable, then tries again.
    /// </summary>
    public Result<BlockNo> PickBlock(BlockNo hint)
    {
        if (hint.Value >= _disk.DeviceBlocks) hint = BlockNo.Zero;
        var r = _disk.FindFree(hint, 1);
        if (r.Ok || r.Error != Errno.ENOSPC) return r;
        if (Reclaim() != Errno.OK) return Errno.EIO;
        return _disk.FindFree(hint, 1);
    }

    /// <summary>
    /// What to do when space runs out before giving up: the file system frees what waits for a sync and
    /// syncs (XN makes freed blocks reusable only once the pointers to them are gone on disk).
    /// </summary>
    public Func<Errno> Reclaim { get; set; } = () => Errno.OK;

    private Errno SetBit(ulong bitmapBlock, byte[] map, int bit, bool value)
    {
        byte old = map[bit >> 3];
        byte now = value ? (byte)(old | (1 << (bit & 7))) : (byte)(old & ~(1 << (bit & 7)));
        var err = _disk.WriteRaw(new BlockNo(bitmapBlock), bit >> 3, new[] { now });
        if (err == Errno.OK) map[bit >> 3] = now;
        return err;
    }

    /// <summary>Replaces group <paramref name="g"/>'s inode bitmap wholesale (fsck repair), recomputing its free inode count.</summary>
    public Errno RewriteInodeBitmap(int g, byte[] inodeBitmap)
    {
        var err = _disk.WriteRaw(new BlockNo(_groups[g].InodeBitmap), 0, inodeBitmap.AsSpan(0, CsumBlock.InodeBitmapBytes));
        if (err != Errno.OK) return err;
        inodeBitmap.AsSpan(0, CsumBlock.InodeBitmapBytes).CopyTo(_inodeBitmaps[g]);
        _freeInodes[g] = (uint)(InodeCapacity(g) - PopCount(_inodeBitmaps[g], InodeCapacity(g)));
        _inodeCursor[g] = 0;
        return Errno.OK;
    }

    public byte[] InodeBitmap(int g) => _inodeBitmaps[g];
}
