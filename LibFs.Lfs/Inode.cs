using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>A tree node in memory: 512 pointers, where it lives in the log (0: never written) and whether it changed.</summary>
internal sealed class TreeNode
{
    public readonly ulong[] Ptr = new ulong[LfsLayout.PointersPerBlock];
    public ulong Addr;
    /// <summary>Changed since the log last had it. Set and cleared only through <see cref="BlockTree"/>, which counts dirty nodes.</summary>
    public bool Dirty { get; private set; }

    /// <summary>Sets <see cref="Dirty"/>; returns the change in the count of dirty nodes (-1, 0 or 1).</summary>
    public int SetDirty(bool dirty)
    {
        if (Dirty == dirty) return 0;
        Dirty = dirty;
        return dirty ? 1 : -1;
    }
}

/// <summary>
/// An inode in memory: its record, plus what the log has not seen yet (dirty data blocks, dirty tree nodes,
/// a changed xattr set), the loaded directory, and the lookup and open counts. Lock held for every use.
/// </summary>
internal sealed class LfsInode
{
    public LfsInode(InodeRecord rec) { Rec = rec; }

    public InodeRecord Rec;
    public ulong Ino => Rec.Ino;
    /// <summary>File blocks written since the last flush, by file block number.</summary>
    public readonly SortedDictionary<ulong, byte[]> DirtyData = new();
    /// <summary>Tree nodes read or made, by key (see <see cref="BlockTree.Key"/>).</summary>
    public readonly Dictionary<ulong, TreeNode> Nodes = new();
    public List<KeyValuePair<string, byte[]>>? Xattrs;
    /// <summary>The xattr set changed since the log last had it. Set and cleared only through the file system, which counts such inodes.</summary>
    public bool XattrDirty { get; private set; }
    public DirState? Dir;
    public ulong Lookups;
    public int Opens;
    /// <summary>Deleted: a tombstone goes to the log at the next flush.</summary>
    public bool Deleted;
    /// <summary>
    /// The log clock when new data of this file last reached the log (0: not since mount). The cleaner stamps
    /// the file's copied blocks with it, so their segment's age is the data's age (not kept on disk).
    /// </summary>
    public uint DataClock;

    public Timespec Mtime => new(Rec.MtimeSec, Rec.MtimeNsec);

    /// <summary>Sets <see cref="XattrDirty"/>; returns the change in the count of inodes with a dirty xattr set (-1, 0 or 1).</summary>
    public int SetXattrDirty(bool dirty)
    {
        if (XattrDirty == dirty) return 0;
        XattrDirty = dirty;
        return dirty ? 1 : -1;
    }
}
