using System.Text;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

// Names: lookup, creation, removal, rename, links. Every member takes the file system lock.
public sealed partial class FfsFileSystem
{
    public Result<FileAttr> Lookup(InodeNo parent, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            var p = ParentDir(parent.Value, name, allowDots: true);
            if (!p.Ok) return p.Error;
            var e = _dirs.Find(parent.Value, p.Value, name);
            if (!e.Ok) return e.Error;
            var child = _inodes.Get(e.Value.Ino);
            if (!child.Ok) return Errno.EIO;
            _inodes.AddLookup(e.Value.Ino);
            return ToAttr(e.Value.Ino, child.Value);
        }
    }

    public void Forget(InodeNo ino, ulong nlookup)
    {
        lock (_lock)
        {
            if (_disposed) return;
            if (_inodes.Forget(ino.Value, nlookup)) ReapIfOrphan(ino.Value);
        }
    }

    public Result<FileAttr> GetAttr(InodeNo ino)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            return r.Ok ? ToAttr(ino.Value, r.Value) : r.Error;
        }
    }

    public Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller)
    {
        uint type = FileMode.TypeOf(mode);
        if (type == 0) type = FileMode.Regular; // mknod(2): a zero type means a regular file
        if (type == FileMode.Directory) return Errno.EPERM; // as Linux: directories come from mkdir
        if (type is not (FileMode.Regular or FileMode.Fifo or FileMode.Socket or FileMode.Char or FileMode.Block))
            return Errno.EINVAL;
        bool device = type is FileMode.Char or FileMode.Block;
        lock (_lock)
        {
            CheckOpen();
            return MakeNode(parent.Value, name, type | (mode & FileMode.PermMask), device ? rdev : 0, caller, null);
        }
    }

    public Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller)
    {
        lock (_lock)
        {
            CheckOpen();
            return MakeNode(parent.Value, name, FileMode.Directory | (mode & FileMode.PermMask), 0, caller, null);
        }
    }

    public Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller)
    {
        ArgumentNullException.ThrowIfNull(target);
        byte[] bytes = Encoding.UTF8.GetBytes(target);
        lock (_lock)
        {
            CheckOpen();
            // Parent and name errors come before target errors, as in Linux's path walk.
            var p = ParentDir(parent.Value, name, allowDots: false);
            if (!p.Ok) return p.Error;
            if (bytes.Length == 0) return Errno.ENOENT;
            if (bytes.Length >= FfsLayout.BlockSize) return Errno.ENAMETOOLONG;
            return MakeNode(parent.Value, name, FileMode.Symlink | 0x1FF, 0, caller, bytes);
        }
    }

    /// <summary>Creates an inode of <paramref name="mode"/> named <paramref name="name"/> in a directory. Lock held.</summary>
    private Result<FileAttr> MakeNode(ulong parentIno, string name, uint mode, ulong rdev, Caller caller, byte[]? symlink)
    {
        // XN's acl-UDFs see the caller this request is for (Xn/README.md, "acl and size").
        using var actAs = _disk.ActAs(caller.Uid, caller.Gid);
        var pr = ParentDir(parentIno, name, allowDots: false);
        if (!pr.Ok) return pr.Error;
        var parent = pr.Value;
        var existing = _dirs.Find(parentIno, parent, name);
        if (existing.Ok) return Errno.EEXIST;
        if (existing.Error != Errno.ENOENT) return existing.Error;

        bool dir = FileMode.IsDir(mode);
        var ir = _alloc.AllocInode(parentIno, dir);
        if (!ir.Ok) return ir.Error;
        ulong ino = ir.Value;
        var now = Timespec.Now();
        var inode = NewDiskInode(mode, rdev, caller, parent, now);
        var hint = _alloc.DataGoal(ino);
        var err = Errno.OK;
        if (dir)
        {
            inode.Nlink = 2;
            err = _dirs.Init(ino, inode, parentIno, hint);
        }
        else if (symlink is not null)
        {
            inode.Size = (ulong)symlink.Length;
            if (symlink.Length <= FfsLayout.InlineBytes)
            {
                symlink.CopyTo(inode.Inline, 0);
                err = _inodes.PutInline(ino, inode);
            }
            else
            {
                var b = _map.Ensure(ino, inode, 0, hint);
                err = b.Ok ? _disk.WriteRaw(new(b.Value), 0, symlink) : b.Error;
            }
        }
        // Rule 1, all ordered at write-back, nothing written now: the inode's bitmap bit before the inode (else a
        // crash could show a live inode its bitmap calls free), a new directory's group count before it (a
        // placement hint: a crash may leave it too high, never too low), the inode before the entry naming it
        // (see Directory), and for a directory the parent's raised link count (paying for the new "..") before
        // the entry too.
        if (err == Errno.OK) err = _inodes.Put(ino, inode, after: InodeBitmapBlock(ino));
        if (err == Errno.OK && dir && OrderDirectoryWrites) err = _inodes.Put(ino, inode, after: _superBlock);
        bool parentCounted = false;
        if (err == Errno.OK && dir && OrderLinkCounts)
        {
            parent.Nlink++;
            parentCounted = true;
            err = _inodes.Put(parentIno, parent);
        }
        BlockNo? parentTable = parentCounted ? _alloc.Locate(parentIno).Block : null;
        if (err == Errno.OK) err = _dirs.Add(parentIno, parent, name, ino, DirBlock.FileTypeOf(mode), _alloc.DataGoal(parentIno), parentTable);
        if (err != Errno.OK)
        {
            // Undo: nothing names the new inode yet, so it and the parent's count can go at once.
            _inodes.Put(ino, inode);
            Destroy(ino, inode);
            if (parentCounted) parent.Nlink--;
            _inodes.Put(parentIno, parent); // the directory may have grown a block before failing
            return err;
        }
        if (dir && !parentCounted) parent.Nlink++; // the broken variant: the count after the entry
        Touch(parent, now);
        if ((err = _inodes.Put(parentIno, parent)) != Errno.OK) return err;
        _inodes.AddLookup(ino);
        Dirtied(3); // inode block, directory block, maybe a first data block
        return ToAttr(ino, inode);
    }

    public Errno Unlink(InodeNo parent, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            var pr = ParentDir(parent.Value, name, allowDots: true);
            if (!pr.Ok) return pr.Error;
            if (IsDot(name)) return Errno.EISDIR;
            var e = _dirs.Find(parent.Value, pr.Value, name);
            if (!e.Ok) return e.Error;
            var cr = _inodes.Get(e.Value.Ino);
            if (!cr.Ok) return Errno.EIO;
            var child = cr.Value;
            if (FileMode.IsDir(child.Mode)) return Errno.EISDIR;
            var err = PersistNewNamesOf(e.Value.Ino, _map.Lookup(pr.Value, e.Value.Block));
            if (err != Errno.OK) return err;
            err = _dirs.Remove(parent.Value, pr.Value, name);
            if (err != Errno.OK) return err;
            var now = Timespec.Now();
            // Rule 2: the count drops on disk only once the removal is (a link debt, paid after the next sync).
            _inodes.Unlinked(e.Value.Ino, child, 1);
            Touch(child, now, mtime: false);
            Touch(pr.Value, now);
            if ((err = _inodes.Put(e.Value.Ino, child)) != Errno.OK) return err;
            if ((err = _inodes.Put(parent.Value, pr.Value)) != Errno.OK) return err;
            if (child.Nlink == 0) ReapIfOrphan(e.Value.Ino);
            Dirtied(2);
            return Errno.OK;
        }
    }

    /// <summary>
    /// While leaks a deferred recovery left are pending (<see cref="LeaksPending"/>), a directory moved across
    /// parents at the crash may still have its old entry (fsck's stale entry, a leak: its ".." names the new
    /// parent). Removing or moving the directory through that entry would drop counts its real parent pays, turning
    /// a leak into damage, so it is refused (EUCLEAN) until fsck --repair removes the entry. Lock held.
    /// </summary>
    private bool IsStaleDirEntry(ulong parent, ulong ino, DiskInode dir)
    {
        if (!_leaksPending || !FileMode.IsDir(dir.Mode)) return false;
        var up = _dirs.Find(ino, dir, "..");
        return up.Ok && up.Value.Ino != parent;
    }

    public Errno RmDir(InodeNo parent, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            var pr = ParentDir(parent.Value, name, allowDots: true);
            if (!pr.Ok) return pr.Error;
            if (name == ".") return Errno.EINVAL;
            if (name == "..") return Errno.ENOTEMPTY;
            var e = _dirs.Find(parent.Value, pr.Value, name);
            if (!e.Ok) return e.Error;
            ulong ino = e.Value.Ino;
            var cr = _inodes.Get(ino);
            if (!cr.Ok) return Errno.EIO;
            var child = cr.Value;
            if (!FileMode.IsDir(child.Mode)) return Errno.ENOTDIR;
            if (IsStaleDirEntry(parent.Value, ino, child)) return Errno.EUCLEAN;
            var n = _dirs.CountEntries(ino, child);
            if (!n.Ok) return n.Error;
            if (n.Value > 0) return Errno.ENOTEMPTY;
            var err = _dirs.Remove(parent.Value, pr.Value, name);
            if (err != Errno.OK) return err;
            var now = Timespec.Now();
            // Rule 2: both counts drop on disk only once the removal is (link debts, paid after the next sync).
            _inodes.Unlinked(ino, child, child.Nlink);
            Touch(child, now, mtime: false);
            _inodes.Unlinked(parent.Value, pr.Value, 1);
            Touch(pr.Value, now);
            if ((err = _inodes.Put(ino, child)) != Errno.OK) return err;
            if ((err = _inodes.Put(parent.Value, pr.Value)) != Errno.OK) return err;
            ReapIfOrphan(ino);
            return Errno.OK;
        }
    }

    public Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName)
    {
        lock (_lock)
        {
            CheckOpen();
            var ir = _inodes.Get(ino.Value);
            if (!ir.Ok) return ir.Error;
            var inode = ir.Value;
            var pr = ParentDir(newParent.Value, newName, allowDots: true);
            if (!pr.Ok) return pr.Error;
            if (IsDot(newName)) return Errno.EEXIST;
            if (FileMode.IsDir(inode.Mode)) return Errno.EPERM;
            var existing = _dirs.Find(newParent.Value, pr.Value, newName);
            if (existing.Ok) return Errno.EEXIST;
            if (existing.Error != Errno.ENOENT) return existing.Error;
            if (inode.Nlink == 0) return Errno.ENOENT; // an unlinked inode cannot be linked back
            if (inode.Nlink >= uint.MaxValue - 1) return Errno.EMLINK;
            var now = Timespec.Now();
            var err = Errno.OK;
            // Rule 1: the raised count is written first and the new name's block is ordered after the inode's
            // table block (see Directory), so a crash leaves the count too high at worst, never too low.
            if (OrderLinkCounts)
            {
                inode.Nlink++;
                if ((err = _inodes.Put(ino.Value, inode)) != Errno.OK) return err;
            }
            _unorderedEntries = !OrderLinkCounts;
            BlockNo linkedIn;
            try { err = _dirs.Add(newParent.Value, pr.Value, newName, ino.Value, DirBlock.FileTypeOf(inode.Mode), _alloc.DataGoal(newParent.Value), out linkedIn); }
            finally { _unorderedEntries = false; }
            if (err == Errno.OK)
            {
                if (!_linkedSinceSync.TryGetValue(ino.Value, out var blocks)) _linkedSinceSync[ino.Value] = blocks = new HashSet<ulong>();
                blocks.Add(linkedIn.Value);
            }
            if (err != Errno.OK)
            {
                if (OrderLinkCounts) { inode.Nlink--; _inodes.Put(ino.Value, inode); } // no entry names it: at once
                _inodes.Put(newParent.Value, pr.Value);
                return err;
            }
            if (!OrderLinkCounts) inode.Nlink++; // the broken variant: the count after the entry, unordered
            Touch(inode, now, mtime: false);
            Touch(pr.Value, now);
            if ((err = _inodes.Put(ino.Value, inode)) != Errno.OK) return err;
            if ((err = _inodes.Put(newParent.Value, pr.Value)) != Errno.OK) return err;
            _inodes.AddLookup(ino.Value);
            return ToAttr(ino.Value, inode);
        }
    }

    /// <summary>Writes back every block of directory <paramref name="dir"/> (data blocks: never tainted). Lock held.</summary>
    private Errno PersistDirectoryBlocks(DiskInode dir)
    {
        ulong blocks = (dir.Size + FfsLayout.BlockSize - 1) / FfsLayout.BlockSize;
        for (ulong n = 0; n < blocks; n++)
        {
            ulong b = _map.Lookup(dir, n);
            if (b == 0) continue;
            var err = _disk.WriteBack(new BlockNo(b));
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }

    /// <summary>
    /// Crash tests only: false drops the ordering of a directory entry after the table block of the inode it
    /// names (the "entry before its inode" broken variant the crash explorer must catch).
    /// </summary>
    internal bool OrderDirectoryWrites { get; set; } = true;

    /// <summary>
    /// Crash tests only: false breaks rule 1 for link counts (the "entry before its link count" broken variant):
    /// link writes its new entry unordered and raises the count after it, mkdir does not order the entry after the
    /// parent's raised count, and rename does not raise the count of a file while it has two names.
    /// </summary>
    internal bool OrderLinkCounts { get; set; } = true;

    /// <summary>
    /// Crash tests only: false drops rule 3 on rename (the new name durable before the old one goes): no forced
    /// write of the new entry, of a moved directory's "..", before the old entry is removed.
    /// </summary>
    internal bool OrderRenames { get; set; } = true;

    /// <summary>
    /// Tests only (the buggy FFS XN must refuse): true writes every directory entry malformed (its record's length
    /// off the 8-byte grain, so the records no longer tile the block), which ffs.dir's acl refuses.
    /// </summary>
    internal bool MalformedDirectoryEntries { get => _dirs.Malformed; set => _dirs.Malformed = value; }

    /// <summary>
    /// Tests only (the buggy FFS XN must refuse): false lets a truncate shrink the size without freeing the blocks
    /// past it, and an Alloc into the inode's direct slots not grow the size (<see cref="BlockMap.GrowSizeWithBlocks"/>):
    /// a size that disagrees with the blocks the inode owns, which XN's size check refuses.
    /// </summary>
    internal bool SizeAgreesWithBlocks
    {
        get => _sizeAgrees;
        set { _sizeAgrees = value; _map.GrowSizeWithBlocks = value; }
    }
    private bool _sizeAgrees = true;

    // Set around one entry write of the "entry before its link count" broken variant.
    private bool _unorderedEntries;

    // Directory blocks holding names link made since the last sync, by inode (cleared at each sync).
    private readonly Dictionary<ulong, HashSet<ulong>> _linkedSinceSync = new();

    /// <summary>
    /// Rule 3 beyond rename: before a name of <paramref name="ino"/> is removed (in directory block
    /// <paramref name="removedIn"/>), the names link gave it since the last sync in other blocks are written
    /// back, so that a crash between the two cannot leave a file that kept a name under none. Lock held.
    /// </summary>
    private Errno PersistNewNamesOf(ulong ino, ulong removedIn)
    {
        if (!OrderRenames || !_linkedSinceSync.TryGetValue(ino, out var blocks)) return Errno.OK;
        foreach (ulong b in blocks)
        {
            if (b == removedIn) continue; // one block: one write carries both
            var err = PersistNameBlock(new BlockNo(b));
            if (err != Errno.OK) return err;
        }
        _linkedSinceSync.Remove(ino);
        return Errno.OK;
    }

    /// <summary>
    /// Makes the directory block holding a new name durable (rule 3). A block the directory grew by since the
    /// last sync is reachable only through the directory's size and a pointer (in the inode, or in an indirect
    /// block past the twelfth) that are not on disk yet, so writing the block alone would not make the name
    /// durable: then everything is synced, in XN's dependency order (the block, its indirect block, the inode).
    /// The directory's inode must be put first. Lock held.
    /// </summary>
    private Errno PersistNameBlock(BlockNo block)
    {
        return _dirs.GrownSinceSync.Contains(block.Value) ? SyncNames() : _disk.WriteBack(block);
    }

    /// <summary>The inode-bitmap block holding <paramref name="ino"/>'s bit.</summary>
    private BlockNo InodeBitmapBlock(ulong ino) => new(_alloc.Groups[_alloc.GroupOfIno(ino)].InodeBitmap);

    /// <summary>True if directory <paramref name="ancestor"/> is <paramref name="dir"/> or one of its ancestors.</summary>
    private Result<bool> IsAncestorOrSelf(ulong ancestor, ulong dir)
    {
        ulong cur = dir;
        for (int depth = 0; depth < 1 << 16; depth++)
        {
            if (cur == ancestor) return true;
            if (cur == FfsLayout.RootIno) return false;
            var d = GetDir(cur);
            if (!d.Ok) return Errno.EIO;
            var up = _dirs.Find(cur, d.Value, "..");
            if (!up.Ok) return Errno.EIO;
            cur = up.Value.Ino;
        }
        return Errno.ELOOP;
    }

    public Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags)
    {
        if ((flags & ~(RenameFlags.NoReplace | RenameFlags.Exchange)) != 0
            || flags == (RenameFlags.NoReplace | RenameFlags.Exchange))
            return Errno.EINVAL;
        lock (_lock)
        {
            CheckOpen();
            ulong pIno = parent.Value, npIno = newParent.Value;
            var pr = ParentDir(pIno, name, allowDots: true);
            if (!pr.Ok) return pr.Error;
            var p = pr.Value;
            var npr = ParentDir(npIno, newName, allowDots: true);
            if (!npr.Ok) return npr.Error;
            var np = npIno == pIno ? p : npr.Value; // one object per inode, so both views see every change
            if (IsDot(name) || IsDot(newName)) return Errno.EBUSY;
            var src = _dirs.Find(pIno, p, name);
            if (!src.Ok) return src.Error;
            var dst = _dirs.Find(npIno, np, newName);
            if (!dst.Ok && dst.Error != Errno.ENOENT) return dst.Error;
            bool exchange = flags.HasFlag(RenameFlags.Exchange);
            if (exchange && !dst.Ok) return Errno.ENOENT;
            if (flags.HasFlag(RenameFlags.NoReplace) && dst.Ok) return Errno.EEXIST;

            ulong sIno = src.Value.Ino;
            var sr = _inodes.Get(sIno);
            if (!sr.Ok) return Errno.EIO;
            var s = sr.Value;
            bool sDir = FileMode.IsDir(s.Mode);
            if (IsStaleDirEntry(pIno, sIno, s)) return Errno.EUCLEAN;
            DiskInode? d = null;
            ulong dIno = 0;
            if (dst.Ok)
            {
                dIno = dst.Value.Ino;
                var dr = _inodes.Get(dIno);
                if (!dr.Ok) return Errno.EIO;
                d = dr.Value;
                if (IsStaleDirEntry(npIno, dIno, d)) return Errno.EUCLEAN;
            }
            // Loops, in Linux's order: the source may not be an ancestor of the new parent (EINVAL); the
            // target may not be an ancestor of the old parent (ENOTEMPTY, or EINVAL for an exchange).
            if (sDir)
            {
                var loop = IsAncestorOrSelf(sIno, npIno);
                if (!loop.Ok) return loop.Error;
                if (loop.Value) return Errno.EINVAL;
            }
            if (d is not null && FileMode.IsDir(d.Mode))
            {
                var loop = IsAncestorOrSelf(dIno, pIno);
                if (!loop.Ok) return loop.Error;
                if (loop.Value) return exchange ? Errno.EINVAL : Errno.ENOTEMPTY;
            }
            if (d is not null && dIno == sIno) return Errno.OK; // two names of one inode: POSIX says do nothing
            var now = Timespec.Now();
            if (exchange) return Exchange(pIno, p, name, sIno, s, npIno, np, newName, dIno, d!, now);

            if (d is not null)
            {
                bool dDir = FileMode.IsDir(d.Mode);
                if (sDir && !dDir) return Errno.ENOTDIR;
                if (!sDir && dDir) return Errno.EISDIR;
                if (dDir)
                {
                    var n = _dirs.CountEntries(dIno, d);
                    if (!n.Ok) return n.Error;
                    if (n.Value > 0) return Errno.ENOTEMPTY;
                }
            }

            byte sType = DirBlock.FileTypeOf(s.Mode);
            bool moveDir = sDir && pIno != npIno;
            Errno err;
            // A renamed directory's earlier entry changes go to disk before its new name does: otherwise a
            // crash could show a name (unlinked before the rename) under a path it never had.
            if (sDir && OrderDirectoryWrites && (err = PersistDirectoryBlocks(s)) != Errno.OK) return err;

            // Soft updates' order (McKusick & Ganger). Rule 1, counts up first: a file about to have two names
            // has its count raised now (and lowered, a link debt, once the old name's removal is durable); a
            // directory moving to another parent raises that parent's count (for the moved "..") now, and the
            // old parent's drops last.
            bool sCounted = false, npCounted = false;
            if (OrderLinkCounts && !sDir)
            {
                s.Nlink++;
                sCounted = true;
                if ((err = _inodes.Put(sIno, s)) != Errno.OK) return err;
            }
            if (OrderLinkCounts && moveDir)
            {
                np.Nlink++;
                npCounted = true;
                if ((err = _inodes.Put(npIno, np)) != Errno.OK) return err;
            }
            Errno Undo(Errno why)
            {
                // Nothing names the inode twice yet: the raised counts go back at once.
                if (sCounted) { s.Nlink--; _inodes.Put(sIno, s); }
                if (npCounted) np.Nlink--;
                _inodes.Put(npIno, np);
                return why;
            }

            // A replaced file's other names made since the last sync reach the disk before this one goes (rule 3).
            if (d is not null && !FileMode.IsDir(d.Mode)
                && (err = PersistNewNamesOf(dIno, _map.Lookup(np, dst.Value.Block))) != Errno.OK) return Undo(err);
            if ((err = PersistNewNamesOf(sIno, _map.Lookup(p, src.Value.Block))) != Errno.OK) return Undo(err);

            // Within one directory block the rename is one write: atomic, no crash sees two names or none.
            err = pIno == npIno ? _dirs.RenameInBlock(pIno, p, name, newName, sIno, sType) : Errno.EXDEV;
            if (err != Errno.OK && err != Errno.EXDEV) return Undo(err);
            if (err == Errno.EXDEV)
            {
                var oldEntry = _dirs.Find(pIno, p, name);
                if (!oldEntry.Ok) return Undo(oldEntry.Error);
                ulong oldEntryBlock = _map.Lookup(p, oldEntry.Value.Block);
                // The new name is made before the old one goes, so a failure (ENOSPC growing the target
                // directory) leaves the source where it was. Its block is ordered after the inode's (Directory).
                BlockNo newEntryBlock;
                ulong sizeBefore = np.Size;
                if (d is not null) err = _dirs.Retarget(npIno, np, newName, sIno, sType, out newEntryBlock);
                else err = _dirs.Add(npIno, np, newName, sIno, sType, _alloc.DataGoal(npIno), out newEntryBlock);
                if (err != Errno.OK) return Undo(err);
                // The name went into a block the directory grew by: its size must reach the disk with it.
                if (np.Size != sizeBefore && (err = _inodes.Put(npIno, np)) != Errno.OK) return err;
                // Rule 3 (XN leaves it to the libFS): the new name reaches the disk before the old one is
                // removed, so a crash in between leaves the inode under both names (a file: its raised count
                // matches them), never under neither. XN orders every later write after this one.
                if (OrderRenames && newEntryBlock.Value != oldEntryBlock && (err = PersistNameBlock(newEntryBlock)) != Errno.OK) return err;
                if (moveDir)
                {
                    // A moved directory's ".." is the move's commit point: after the new entry is durable (fsck
                    // then keeps the name in the parent ".." names and drops the other as stale), before the old
                    // entry goes; ordered after the new parent's raised count (Directory).
                    if ((err = _dirs.Retarget(sIno, s, "..", npIno, DirBlock.FileTypeOf(FileMode.Directory), out var dotdot)) != Errno.OK) return err;
                    if (OrderRenames && (err = _disk.WriteBack(dotdot)) != Errno.OK) return err;
                }
                if ((err = _dirs.Remove(pIno, p, name)) != Errno.OK) return err;
                if (sDir && OrderDirectoryWrites && (err = _disk.WriteBack(new BlockNo(oldEntryBlock))) != Errno.OK) return err;
            }
            else if (sDir && OrderDirectoryWrites)
            {
                var moved = _dirs.Find(pIno, p, newName);
                if (!moved.Ok) return moved.Error;
                if ((err = _disk.WriteBack(new BlockNo(_map.Lookup(p, moved.Value.Block)))) != Errno.OK) return err;
            }
            // (A renamed directory's name is on disk before anything later changes inside it: else a crash could
            // show a later entry under the directory's old path, which that entry never had.)

            // Rule 2, counts down last: link debts, written once the removals are durable (InodeTable).
            if (sCounted) _inodes.Unlinked(sIno, s, 1);
            if (moveDir)
            {
                if (OrderLinkCounts) _inodes.Unlinked(pIno, p, 1);
                else { if (p.Nlink > 0) p.Nlink--; np.Nlink++; } // the broken variant: at once
            }
            if (d is not null)
            {
                if (FileMode.IsDir(d.Mode))
                {
                    _inodes.Unlinked(dIno, d, d.Nlink);
                    _inodes.Unlinked(npIno, np, 1); // the replaced directory's ".." no longer counts
                }
                else _inodes.Unlinked(dIno, d, 1);
                Touch(d, now, mtime: false);
                if ((err = _inodes.Put(dIno, d)) != Errno.OK) return err;
            }
            Touch(s, now, mtime: false);
            Touch(p, now);
            Touch(np, now);
            if ((err = _inodes.Put(sIno, s)) != Errno.OK) return err;
            if ((err = _inodes.Put(pIno, p)) != Errno.OK) return err;
            if (npIno != pIno && (err = _inodes.Put(npIno, np)) != Errno.OK) return err;
            if (d is not null && d.Nlink == 0) ReapIfOrphan(dIno);
            return Errno.OK;
        }
    }

    /// <summary>
    /// RENAME_EXCHANGE: the two names swap inodes (atomically under the lock). Lock held. On disk: in one
    /// directory block it is one write, atomic. Across two blocks each write takes a name from one inode, so a
    /// crash between them leaves one inode under both names and the other under none (a leak: the counts are
    /// raised first, so none is too low); the two writes are ordered, the first forced out.
    /// </summary>
    private Errno Exchange(ulong pIno, DiskInode p, string name, ulong sIno, DiskInode s,
        ulong npIno, DiskInode np, string newName, ulong dIno, DiskInode d, Timespec now)
    {
        bool sDir = FileMode.IsDir(s.Mode), dDir = FileMode.IsDir(d.Mode);
        bool across = pIno != npIno;
        Errno err;
        // Rule 1, counts up first: each file may have both names for a moment; a directory changing parent
        // raises its new parent's count now, and its old parent's drops last.
        bool counted = OrderLinkCounts;
        if (counted)
        {
            if (!sDir) s.Nlink++;
            if (!dDir) d.Nlink++;
            if (across && dDir) p.Nlink++;
            if (across && sDir) np.Nlink++;
            if ((err = _inodes.Put(sIno, s)) != Errno.OK) return err;
            if ((err = _inodes.Put(dIno, d)) != Errno.OK) return err;
            if ((err = _inodes.Put(pIno, p)) != Errno.OK) return err;
            if (across && (err = _inodes.Put(npIno, np)) != Errno.OK) return err;
        }
        err = across ? Errno.EXDEV : _dirs.ExchangeInBlock(pIno, p, name, newName);
        if (err == Errno.EXDEV && OrderRenames && ExchangeIntents)
        {
            if ((err = ExchangeByIntent(pIno, p, name, sIno, s, npIno, np, newName, dIno, d, across)) != Errno.OK) return err;
        }
        else if (err == Errno.EXDEV)
        {
            // Each name will bind the other inode: each entry's block is ordered after the table block of the
            // inode it now names (see Directory), so neither can reach the disk ahead of that inode.
            err = _dirs.Retarget(npIno, np, newName, sIno, DirBlock.FileTypeOf(s.Mode), out var first);
            if (err == Errno.OK && OrderRenames) err = PersistNameBlock(first);
            if (err == Errno.OK) err = _dirs.Retarget(pIno, p, name, dIno, DirBlock.FileTypeOf(d.Mode));
            if (err != Errno.OK) return err;
            if (across)
            {
                byte dirType = DirBlock.FileTypeOf(FileMode.Directory);
                if (sDir && (err = _dirs.Retarget(sIno, s, "..", npIno, dirType)) != Errno.OK) return err;
                if (dDir && (err = _dirs.Retarget(dIno, d, "..", pIno, dirType)) != Errno.OK) return err;
            }
        }
        else if (err != Errno.OK) return err;
        // Rule 2, counts down last (link debts).
        if (counted)
        {
            if (!sDir) _inodes.Unlinked(sIno, s, 1);
            if (!dDir) _inodes.Unlinked(dIno, d, 1);
            if (across && sDir) _inodes.Unlinked(pIno, p, 1);
            if (across && dDir) _inodes.Unlinked(npIno, np, 1);
        }
        else if (across)
        {
            int delta = (sDir ? 1 : 0) - (dDir ? 1 : 0);
            p.Nlink = (uint)(p.Nlink - delta);
            np.Nlink = (uint)(np.Nlink + delta);
        }
        Touch(s, now, mtime: false);
        Touch(d, now, mtime: false);
        Touch(p, now);
        Touch(np, now);
        if ((err = _inodes.Put(sIno, s)) != Errno.OK) return err;
        if ((err = _inodes.Put(dIno, d)) != Errno.OK) return err;
        if ((err = _inodes.Put(pIno, p)) != Errno.OK) return err;
        if (npIno != pIno && (err = _inodes.Put(npIno, np)) != Errno.OK) return err;
        return Errno.OK;
    }

    /// <summary>
    /// Tests only: false makes an exchange between two directory blocks two ordered entry writes without an intent
    /// record (a crash between them leaves one inode under no name), the mutant the crash explorer must catch.
    /// </summary>
    internal bool ExchangeIntents { get; set; } = true;

    /// <summary>Tests only: an exchange across blocks stops (EIO) once its intent is on disk, as a process dying there.</summary>
    internal bool StopAfterExchangeIntent { get; set; }

    /// <summary>
    /// RENAME_EXCHANGE across two directory blocks, crash-atomic: no crash leaves either inode under no name. The
    /// raised counts and everything before are synced; a <see cref="NameIntent"/> naming every entry to retarget
    /// (the two names, and each moved directory's "..") is forced out; the entries change and are synced; the intent
    /// is cleared and forced out, so any later change to these blocks reaches the disk after the clear. A mount that
    /// finds the intent applies it (<see cref="ApplyNameIntent"/>). Lock held.
    /// </summary>
    private Errno ExchangeByIntent(ulong pIno, DiskInode p, string name, ulong sIno, DiskInode s,
        ulong npIno, DiskInode np, string newName, ulong dIno, DiskInode d, bool across)
    {
        bool sDir = FileMode.IsDir(s.Mode), dDir = FileMode.IsDir(d.Mode);
        byte dirType = DirBlock.FileTypeOf(FileMode.Directory);
        var steps = new List<(ulong DirIno, DiskInode Dir, string Name, ulong Ino, byte Type)>
        {
            (npIno, np, newName, sIno, DirBlock.FileTypeOf(s.Mode)),
            (pIno, p, name, dIno, DirBlock.FileTypeOf(d.Mode)),
        };
        if (across && sDir) steps.Add((sIno, s, "..", npIno, dirType));
        if (across && dDir) steps.Add((dIno, d, "..", pIno, dirType));
        // Every entry's old state and every raised count durable first: the intent names places on the disk.
        var err = SyncNames();
        if (err != Errno.OK) return err;
        var intent = new List<NameIntent.Retarget>(steps.Count);
        foreach (var st in steps)
        {
            var at = _dirs.Find(st.DirIno, st.Dir, st.Name);
            if (!at.Ok) return at.Error;
            intent.Add(new NameIntent.Retarget(st.DirIno, at.Value.Block, at.Value.Offset, st.Ino, st.Type));
        }
        if ((err = _disk.WriteRaw(_superBlock, Superblock.IntentOffset, NameIntent.Encode(intent))) != Errno.OK) return err;
        if ((err = ForceOut(_superBlock)) != Errno.OK) return err;
        if (StopAfterExchangeIntent) return Errno.EIO;
        foreach (var st in steps)
            if ((err = _dirs.Retarget(st.DirIno, st.Dir, st.Name, st.Ino, st.Type)) != Errno.OK) return err;
        if ((err = SyncNames()) != Errno.OK) return err;
        if ((err = _disk.WriteRaw(_superBlock, Superblock.IntentOffset, new byte[NameIntent.Size])) != Errno.OK) return err;
        return ForceOut(_superBlock);
    }

    /// <summary>An XN sync that also ends the directories' grown-since-sync set.</summary>
    private Errno SyncNames()
    {
        var err = _disk.Sync();
        if (err == Errno.OK) _dirs.GrownSinceSync.Clear();
        return err;
    }

    /// <summary>Writes one block ahead of the rest (<see cref="IFfsDisk.WriteBack"/>); a sync when XN must write its children first.</summary>
    private Errno ForceOut(BlockNo block)
    {
        var err = _disk.WriteBack(block);
        return err == Errno.EAGAIN ? SyncNames() : err;
    }

    /// <summary>
    /// At mount, before anything is served: completes a RENAME_EXCHANGE a crash interrupted (the superblock's
    /// <see cref="NameIntent"/>), then syncs, so the entries are durable before a header without the intent is
    /// written. Returns the number of entries applied (0 when none was pending).
    /// </summary>
    private Result<int> ApplyNameIntent(ReadOnlySpan<byte> superblock)
    {
        var intent = NameIntent.Decode(superblock);
        if (intent is null) return Errno.EUCLEAN;
        if (intent.Count == 0) return 0;
        foreach (var r in intent)
        {
            var dir = GetDir(r.Dir);
            if (!dir.Ok) return Errno.EUCLEAN;
            var err = _dirs.SetEntry(r.Dir, dir.Value, r.Block, r.Offset, r.Ino, r.FileType);
            if (err != Errno.OK) return err;
        }
        var synced = _disk.Sync();
        return synced == Errno.OK ? intent.Count : synced;
    }

    public Result<string> ReadLink(InodeNo ino)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = _inodes.Get(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if (!FileMode.IsSymlink(i.Mode)) return Errno.EINVAL;
            int len = (int)Math.Min(i.Size, FfsLayout.BlockSize);
            if (len <= FfsLayout.InlineBytes) return Encoding.UTF8.GetString(i.Inline, 0, len);
            ulong b = _map.Lookup(i, 0);
            if (b == 0) return Errno.EIO;
            var buf = new byte[len];
            var err = _disk.Read(new(b), 0, buf);
            return err != Errno.OK ? err : Encoding.UTF8.GetString(buf);
        }
    }
}
