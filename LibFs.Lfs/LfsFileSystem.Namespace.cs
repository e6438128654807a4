using System.Text;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

// Names: lookup, creation, removal, rename, links. Every member takes the file system lock. Each call's
// changes land in one write unit (a flush happens only between calls), so rename and link are atomic
// under roll-forward: this is the LFS's directory-operation log.
public sealed partial class LfsFileSystem
{
    public Result<FileAttr> Lookup(InodeNo parent, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            var p = ParentDir(parent.Value, name, allowDots: true);
            if (!p.Ok) return p.Error;
            var e = Find(p.Value, name);
            if (!e.Ok) return e.Error;
            var child = GetInode(e.Value);
            if (!child.Ok) return Errno.EIO;
            child.Value.Lookups++;
            return ToAttr(child.Value);
        }
    }

    /// <summary>The inode a name in <paramref name="dir"/> binds ("." and ".." included). Lock held.</summary>
    private Result<ulong> Find(LfsInode dir, string name)
    {
        var d = Dir(dir);
        if (!d.Ok) return d.Error;
        if (name == ".") return dir.Ino;
        if (name == "..") return d.Value.Parent;
        return d.Value.ByName.TryGetValue(name, out var e) ? e.Ino : Errno.ENOENT;
    }

    public void Forget(InodeNo ino, ulong nlookup)
    {
        lock (_lock)
        {
            if (_disposed) return;
            if (!_cache.TryGetValue(ino.Value, out var i)) return;
            i.Lookups = i.Lookups > nlookup ? i.Lookups - nlookup : 0;
            ReapIfOrphan(i);
        }
    }

    public Result<FileAttr> GetAttr(InodeNo ino)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = GetInode(ino.Value);
            return r.Ok ? ToAttr(r.Value) : r.Error;
        }
    }

    public Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller)
    {
        uint type = FileMode.TypeOf(mode);
        if (type == 0) type = FileMode.Regular;
        if (type == FileMode.Directory) return Errno.EPERM;
        if (type is not (FileMode.Regular or FileMode.Fifo or FileMode.Socket or FileMode.Char or FileMode.Block)) return Errno.EINVAL;
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
            var p = ParentDir(parent.Value, name, allowDots: false);
            if (!p.Ok) return p.Error;
            if (bytes.Length == 0) return Errno.ENOENT;
            if (bytes.Length >= LfsLayout.BlockSize) return Errno.ENAMETOOLONG;
            return MakeNode(parent.Value, name, FileMode.Symlink | 0x1FF, 0, caller, bytes);
        }
    }

    /// <summary>Creates an inode named <paramref name="name"/> in a directory. Lock held.</summary>
    private Result<FileAttr> MakeNode(ulong parentIno, string name, uint mode, ulong rdev, Caller caller, byte[]? symlink)
    {
        var pr = ParentDir(parentIno, name, allowDots: false);
        if (!pr.Ok) return pr.Error;
        var parent = pr.Value;
        var existing = Find(parent, name);
        if (existing.Ok) return Errno.EEXIST;
        if (existing.Error != Errno.ENOENT) return existing.Error;
        var space = EnsureSpace(4);
        if (space != Errno.OK) return space;
        var ir = _imap.Allocate();
        if (!ir.Ok) return ir.Error;
        ulong ino = ir.Value;
        var now = Timespec.Now();
        var inode = NewInode(ino, mode, rdev, caller, parent, now);
        _cache[ino] = inode;
        bool dir = FileMode.IsDir(mode);
        if (dir)
        {
            inode.Rec.Nlink = 2;
            inode.Dir = DirState.Empty(parentIno);
            WriteDirBlock(inode, 0);
            parent.Rec.Nlink++;
        }
        else if (symlink is not null)
        {
            var blk = new byte[LfsLayout.BlockSize];
            symlink.CopyTo(blk, 0);
            PutBlock(inode, 0, blk);
            inode.Rec.Size = (ulong)symlink.Length;
        }
        MarkDirty(inode);
        var (b, _) = parent.Dir!.Add(name, ino, DirState.TypeOf(mode));
        WriteDirBlock(parent, b);
        if (b != 0) WriteDirBlock(parent, 0); // the next cookie lives in block 0
        Touch(parent, now);
        MarkDirty(parent);
        inode.Lookups++;
        AfterChange();
        return ToAttr(inode);
    }

    public Errno Unlink(InodeNo parent, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            if (_readOnly) return Errno.EROFS;
            var pr = ParentDir(parent.Value, name, allowDots: true);
            if (!pr.Ok) return pr.Error;
            if (IsDot(name)) return Errno.EISDIR;
            var e = Find(pr.Value, name);
            if (!e.Ok) return e.Error;
            var cr = GetInode(e.Value);
            if (!cr.Ok) return Errno.EIO;
            var child = cr.Value;
            if (FileMode.IsDir(child.Rec.Mode)) return Errno.EISDIR;
            var p = pr.Value;
            WriteDirBlock(p, p.Dir!.Remove(name));
            var now = Timespec.Now();
            if (child.Rec.Nlink > 0) child.Rec.Nlink--;
            Touch(child, now, mtime: false);
            Touch(p, now);
            MarkDirty(child);
            MarkDirty(p);
            ReapIfOrphan(child);
            AfterChange();
            AfterFreeing();
            return Errno.OK;
        }
    }

    public Errno RmDir(InodeNo parent, string name)
    {
        lock (_lock)
        {
            CheckOpen();
            if (_readOnly) return Errno.EROFS;
            var pr = ParentDir(parent.Value, name, allowDots: true);
            if (!pr.Ok) return pr.Error;
            if (name == ".") return Errno.EINVAL;
            if (name == "..") return Errno.ENOTEMPTY;
            var e = Find(pr.Value, name);
            if (!e.Ok) return e.Error;
            var cr = GetInode(e.Value);
            if (!cr.Ok) return Errno.EIO;
            var child = cr.Value;
            if (!FileMode.IsDir(child.Rec.Mode)) return Errno.ENOTDIR;
            var cd = Dir(child);
            if (!cd.Ok) return cd.Error;
            if (cd.Value.ByName.Count > 0) return Errno.ENOTEMPTY;
            var p = pr.Value;
            WriteDirBlock(p, p.Dir!.Remove(name));
            var now = Timespec.Now();
            child.Rec.Nlink = 0;
            Touch(child, now, mtime: false);
            if (p.Rec.Nlink > 0) p.Rec.Nlink--;
            Touch(p, now);
            MarkDirty(child);
            MarkDirty(p);
            ReapIfOrphan(child);
            AfterChange();
            AfterFreeing();
            return Errno.OK;
        }
    }

    public Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName)
    {
        lock (_lock)
        {
            CheckOpen();
            var ir = GetInode(ino.Value);
            if (!ir.Ok) return ir.Error;
            var inode = ir.Value;
            var pr = ParentDir(newParent.Value, newName, allowDots: true);
            if (!pr.Ok) return pr.Error;
            if (IsDot(newName)) return Errno.EEXIST;
            if (FileMode.IsDir(inode.Rec.Mode)) return Errno.EPERM;
            var existing = Find(pr.Value, newName);
            if (existing.Ok) return Errno.EEXIST;
            if (existing.Error != Errno.ENOENT) return existing.Error;
            if (inode.Rec.Nlink == 0) return Errno.ENOENT;
            if (inode.Rec.Nlink >= uint.MaxValue - 1) return Errno.EMLINK;
            var space = EnsureSpace(2);
            if (space != Errno.OK) return space;
            var p = pr.Value;
            var (b, _) = p.Dir!.Add(newName, ino.Value, DirState.TypeOf(inode.Rec.Mode));
            WriteDirBlock(p, b);
            if (b != 0) WriteDirBlock(p, 0);
            var now = Timespec.Now();
            inode.Rec.Nlink++;
            Touch(inode, now, mtime: false);
            Touch(p, now);
            MarkDirty(inode);
            MarkDirty(p);
            inode.Lookups++;
            AfterChange();
            return ToAttr(inode);
        }
    }

    /// <summary>True if directory <paramref name="ancestor"/> is <paramref name="dir"/> or one of its ancestors.</summary>
    private Result<bool> IsAncestorOrSelf(ulong ancestor, ulong dir)
    {
        ulong cur = dir;
        for (int depth = 0; depth < 1 << 16; depth++)
        {
            if (cur == ancestor) return true;
            if (cur == LfsLayout.RootIno) return false;
            var d = GetDir(cur);
            if (!d.Ok) return Errno.EIO;
            var up = Dir(d.Value);
            if (!up.Ok) return Errno.EIO;
            cur = up.Value.Parent;
        }
        return Errno.ELOOP;
    }

    public Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags)
    {
        if ((flags & ~(RenameFlags.NoReplace | RenameFlags.Exchange)) != 0 || flags == (RenameFlags.NoReplace | RenameFlags.Exchange))
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
            var np = npr.Value;
            if (IsDot(name) || IsDot(newName)) return Errno.EBUSY;
            var src = Find(p, name);
            if (!src.Ok) return src.Error;
            var dst = Find(np, newName);
            if (!dst.Ok && dst.Error != Errno.ENOENT) return dst.Error;
            bool exchange = flags.HasFlag(RenameFlags.Exchange);
            if (exchange && !dst.Ok) return Errno.ENOENT;
            if (flags.HasFlag(RenameFlags.NoReplace) && dst.Ok) return Errno.EEXIST;

            var sr = GetInode(src.Value);
            if (!sr.Ok) return Errno.EIO;
            var s = sr.Value;
            bool sDir = FileMode.IsDir(s.Rec.Mode);
            LfsInode? d = null;
            if (dst.Ok)
            {
                var dr = GetInode(dst.Value);
                if (!dr.Ok) return Errno.EIO;
                d = dr.Value;
            }
            if (sDir)
            {
                var loop = IsAncestorOrSelf(s.Ino, npIno);
                if (!loop.Ok) return loop.Error;
                if (loop.Value) return Errno.EINVAL;
            }
            if (d is not null && FileMode.IsDir(d.Rec.Mode))
            {
                var loop = IsAncestorOrSelf(d.Ino, pIno);
                if (!loop.Ok) return loop.Error;
                if (loop.Value) return exchange ? Errno.EINVAL : Errno.ENOTEMPTY;
            }
            if (d is not null && d.Ino == s.Ino) return Errno.OK;
            var now = Timespec.Now();
            var space = EnsureSpace(4);
            if (space != Errno.OK) return space;
            if (exchange)
            {
                bool dDir = FileMode.IsDir(d!.Rec.Mode);
                WriteDirBlock(p, p.Dir!.Retarget(name, d.Ino, DirState.TypeOf(d.Rec.Mode)));
                WriteDirBlock(np, np.Dir!.Retarget(newName, s.Ino, DirState.TypeOf(s.Rec.Mode)));
                if (pIno != npIno)
                {
                    if (sDir) { Dir(s).Value.Parent = npIno; WriteDirBlock(s, 0); }
                    if (dDir) { Dir(d).Value.Parent = pIno; WriteDirBlock(d, 0); }
                    int delta = (sDir ? 1 : 0) - (dDir ? 1 : 0);
                    p.Rec.Nlink = (uint)(p.Rec.Nlink - delta);
                    np.Rec.Nlink = (uint)(np.Rec.Nlink + delta);
                }
                Touch(s, now, mtime: false);
                Touch(d, now, mtime: false);
                Touch(p, now);
                Touch(np, now);
                MarkDirty(s); MarkDirty(d); MarkDirty(p); MarkDirty(np);
                AfterChange();
                return Errno.OK;
            }
            if (d is not null)
            {
                bool dDir = FileMode.IsDir(d.Rec.Mode);
                if (sDir && !dDir) return Errno.ENOTDIR;
                if (!sDir && dDir) return Errno.EISDIR;
                if (dDir)
                {
                    var dd = Dir(d);
                    if (!dd.Ok) return dd.Error;
                    if (dd.Value.ByName.Count > 0) return Errno.ENOTEMPTY;
                }
            }
            if (sDir)
            {
                var sd = Dir(s);
                if (!sd.Ok) return sd.Error;
            }
            byte sType = DirState.TypeOf(s.Rec.Mode);
            if (d is not null) WriteDirBlock(np, np.Dir!.Retarget(newName, s.Ino, sType));
            else
            {
                var (b, _) = np.Dir!.Add(newName, s.Ino, sType);
                WriteDirBlock(np, b);
                if (b != 0) WriteDirBlock(np, 0);
            }
            WriteDirBlock(p, p.Dir!.Remove(name));
            if (d is not null)
            {
                if (FileMode.IsDir(d.Rec.Mode))
                {
                    d.Rec.Nlink = 0;
                    if (np.Rec.Nlink > 0) np.Rec.Nlink--;
                }
                else if (d.Rec.Nlink > 0) d.Rec.Nlink--;
                Touch(d, now, mtime: false);
                MarkDirty(d);
            }
            if (sDir && pIno != npIno)
            {
                s.Dir!.Parent = npIno;
                WriteDirBlock(s, 0);
                if (p.Rec.Nlink > 0) p.Rec.Nlink--;
                np.Rec.Nlink++;
            }
            Touch(s, now, mtime: false);
            Touch(p, now);
            Touch(np, now);
            MarkDirty(s); MarkDirty(p); MarkDirty(np);
            if (d is not null) ReapIfOrphan(d);
            AfterChange();
            return Errno.OK;
        }
    }

    public Result<string> ReadLink(InodeNo ino)
    {
        lock (_lock)
        {
            CheckOpen();
            var r = GetInode(ino.Value);
            if (!r.Ok) return r.Error;
            var i = r.Value;
            if (!FileMode.IsSymlink(i.Rec.Mode)) return Errno.EINVAL;
            int len = (int)Math.Min(i.Rec.Size, LfsLayout.BlockSize);
            var buf = new byte[LfsLayout.BlockSize];
            var err = ReadBlock(i, 0, buf);
            return err != Errno.OK ? err : Encoding.UTF8.GetString(buf, 0, len);
        }
    }
}
