using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// Inodes: reading and writing them in their inode-table blocks, and the in-memory life of each inode
/// (lookup count and open handles) that decides when an unlinked inode is really freed.
///
/// Orphans: an inode whose link count reached zero stays allocated while the kernel still holds lookups or
/// handles; it is freed at the last Forget/Release, or at unmount. After a crash, the mount-time recovery
/// scan (run when the superblock's clean flag is not set) frees every allocated inode with link count zero.
/// Link counts follow soft updates' rules 1 and 2 (McKusick &amp; Ganger): an increment is written at once, so
/// it is on disk before the entry it pays for (the entry's block is ordered after the table block); a decrement
/// is a <em>link debt</em> kept in memory and written only after the sync that made the entry's removal durable
/// (<see cref="PayLinkDebts"/>). Until then the disk's count is the in-memory one plus the debt: a crash finds
/// a count too high (a leak fsck fixes), never one too low. <see cref="Get"/> and <see cref="Put"/> show and
/// take the in-memory count.
/// Caller must hold the file system lock.
/// </summary>
internal sealed class InodeTable
{
    private sealed class Live
    {
        public ulong Lookups;
        public int Opens;
    }

    private readonly IFfsDisk _disk;
    private readonly Allocator _alloc;
    private readonly Dictionary<ulong, Live> _live = new();

    public InodeTable(IFfsDisk disk, Allocator alloc)
    {
        _disk = disk;
        _alloc = alloc;
    }

    /// <summary>The inode, or ENOENT when <paramref name="ino"/> is out of range, free, or unlinked and forgotten.</summary>
    public Result<DiskInode> Get(ulong ino) => _awaiting.ContainsKey(ino) ? Errno.ENOENT : GetAny(ino);

    /// <summary>The inode, even one awaiting its free (ENOENT only when out of range or free).</summary>
    public Result<DiskInode> GetAny(ulong ino)
    {
        if (!_alloc.ValidIno(ino)) return Errno.ENOENT;
        var (block, offset, _) = _alloc.Locate(ino);
        Span<byte> buf = stackalloc byte[FfsLayout.InodeSize];
        var err = _disk.Read(block, offset, buf);
        if (err != Errno.OK) return err;
        var inode = DiskInode.ReadFrom(buf);
        if (inode.IsFree) return Errno.ENOENT;
        inode.Nlink -= LinkDebt(ino);
        return inode;
    }

    /// <summary>
    /// Writes the inode's raw attributes (mode, links, owner, size, times, ...); the link count written is
    /// <paramref name="inode"/>'s plus the inode's link debt. With <paramref name="after"/>, the table block
    /// reaches the disk only after that block's current contents (a new inode after its bitmap bit).
    /// </summary>
    public Errno Put(ulong ino, DiskInode inode, BlockNo? after = null)
    {
        var (block, offset, _) = _alloc.Locate(ino);
        Span<byte> buf = stackalloc byte[DiskInode.AttrBytes];
        uint debt = LinkDebt(ino);
        inode.Nlink += debt;
        inode.WriteAttrsTo(buf);
        inode.Nlink -= debt;
        // A pointer this inode gained needs no order here: XN writes the free-map bit before any pointer to the block.
        return after is { } a ? _disk.WriteRaw(block, offset, buf, a) : _disk.WriteRaw(block, offset, buf);
    }

    // Link decrements not yet written: the entries they pay for are removed in memory but maybe not on disk.
    private readonly Dictionary<ulong, uint> _linkDebt = new();

    /// <summary>Link decrements of <paramref name="ino"/> waiting for a sync (0 if none).</summary>
    public uint LinkDebt(ulong ino) => _linkDebt.GetValueOrDefault(ino);

    /// <summary>
    /// Lowers <paramref name="ino"/>'s in-memory link count by <paramref name="n"/> while its count on disk stays
    /// as it is until <see cref="PayLinkDebts"/> (soft updates' rule 2: an entry is removed durably before the
    /// count that pays for it drops). The caller then <see cref="Put"/>s the inode with the lower count.
    /// </summary>
    public void Unlinked(ulong ino, DiskInode inode, uint n)
    {
        n = Math.Min(n, inode.Nlink);
        if (n == 0) return;
        inode.Nlink -= n;
        _linkDebt[ino] = LinkDebt(ino) + n;
    }

    /// <summary>
    /// After a sync: every removal a debt waited for is durable, so each indebted inode's count is written as it
    /// is in memory (these writes go to the next sync).
    /// </summary>
    public Errno PayLinkDebts()
    {
        if (_linkDebt.Count == 0) return Errno.OK;
        var owed = _linkDebt.Keys.ToList();
        var err = Errno.OK;
        foreach (ulong ino in owed)
        {
            var r = GetAny(ino);
            _linkDebt.Remove(ino);
            if (!r.Ok) continue;
            var e = Put(ino, r.Value);
            if (err == Errno.OK) err = e;
        }
        return err;
    }

    /// <summary>Forgets <paramref name="ino"/>'s debt (it is being freed: its slot is cleared whole).</summary>
    public void ForgiveLinkDebt(ulong ino) => _linkDebt.Remove(ino);

    /// <summary>Writes the inode's inline area (a short symlink target).</summary>
    public Errno PutInline(ulong ino, DiskInode inode)
    {
        var (block, offset, _) = _alloc.Locate(ino);
        return _disk.WriteRaw(block, offset + DiskInode.InlineOffset, inode.Inline);
    }

    public void AddLookup(ulong ino, ulong n = 1) => LiveOf(ino).Lookups += n;
    public void AddOpen(ulong ino) => LiveOf(ino).Opens++;

    private Live LiveOf(ulong ino)
    {
        if (!_live.TryGetValue(ino, out var l)) _live[ino] = l = new Live();
        return l;
    }

    /// <summary>Drops <paramref name="n"/> lookups; true if the inode is now unreferenced in memory.</summary>
    public bool Forget(ulong ino, ulong n)
    {
        if (!_live.TryGetValue(ino, out var l)) return true;
        l.Lookups = n >= l.Lookups ? 0 : l.Lookups - n;
        return Unreferenced(ino, l);
    }

    /// <summary>Drops one open handle; true if the inode is now unreferenced in memory.</summary>
    public bool Release(ulong ino)
    {
        if (!_live.TryGetValue(ino, out var l)) return true;
        if (l.Opens > 0) l.Opens--;
        return Unreferenced(ino, l);
    }

    private bool Unreferenced(ulong ino, Live l)
    {
        if (l.Lookups != 0 || l.Opens != 0) return false;
        _live.Remove(ino);
        return true;
    }

    /// <summary>True while the kernel holds a lookup or a handle on <paramref name="ino"/>.</summary>
    public bool InUse(ulong ino) => _live.ContainsKey(ino);

    /// <summary>Inodes the kernel still references (for unmount and fsck of a live file system).</summary>
    public IReadOnlyCollection<ulong> Referenced => _live.Keys;

    public void ForgetAll() => _live.Clear();

    // Unlinked, unreferenced inodes waiting for a sync before they are freed, with the blocks they hold.
    private readonly Dictionary<ulong, ulong> _awaiting = new();

    public bool IsAwaitingFree(ulong ino) => _awaiting.ContainsKey(ino);
    public void AwaitFree(ulong ino, ulong blocks) => _awaiting[ino] = blocks;
    public IReadOnlyCollection<ulong> AwaitingFree => _awaiting.Keys;
    public ulong BlocksAwaitingFree => _awaiting.Values.Aggregate(0UL, (a, b) => a + b);

    /// <summary>Hands over (and forgets) every inode awaiting its free.</summary>
    public List<ulong> TakeAwaitingFree()
    {
        var list = _awaiting.Keys.ToList();
        _awaiting.Clear();
        return list;
    }
}
