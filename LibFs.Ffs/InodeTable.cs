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
        return inode.IsFree ? Errno.ENOENT : inode;
    }

    /// <summary>Writes the inode's raw attributes (mode, links, owner, size, times, ...).</summary>
    public Errno Put(ulong ino, DiskInode inode)
    {
        var (block, offset, _) = _alloc.Locate(ino);
        Span<byte> buf = stackalloc byte[DiskInode.AttrBytes];
        inode.WriteAttrsTo(buf);
        return _disk.WriteRaw(block, offset, buf);
    }

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
