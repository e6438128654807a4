namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// Runs <see cref="CrashOp"/>s against any <see cref="IFileSystem"/> the way a program would through the
/// system-call layer: resolve the path by lookups, open, act, release, forget. The same code drives the
/// reference model and the libFS under test, so their outcomes are comparable.
/// </summary>
public static class OpRunner
{
    /// <summary>
    /// Runs one step; the errno it ends with (OK on success). Never keeps a handle or a lookup across calls.
    /// The inode the step created or acted on is reported in <paramref name="ino"/> (default if none).
    /// </summary>
    public static Errno Run(IFileSystem fs, CrashOp op, out InodeNo ino)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(op);
        ino = default;
        if (op.Kind == CrashOpKind.Sync) return fs.Sync();

        var (parent, name, err) = ResolveParent(fs, op.Path);
        if (err != Errno.OK) return err;
        switch (op.Kind)
        {
            case CrashOpKind.Create:
            {
                var r = fs.Create(parent, name, FileMode.Regular | FsOps.FileMode644, OpenFlags.ReadWrite, Caller.Root);
                if (!r.Ok) return r.Error;
                ino = r.Value.Attr.Ino;
                fs.Release(ino, r.Value.Handle);
                fs.Forget(ino, 1);
                return Errno.OK;
            }
            case CrashOpKind.Mkdir:
            {
                var r = fs.MkDir(parent, name, FsOps.DirMode755, Caller.Root);
                if (!r.Ok) return r.Error;
                ino = r.Value.Ino;
                fs.Forget(ino, 1);
                return Errno.OK;
            }
            case CrashOpKind.Unlink: return fs.Unlink(parent, name);
            case CrashOpKind.Rmdir: return fs.RmDir(parent, name);
            case CrashOpKind.Rename or CrashOpKind.Exchange:
            {
                var (newParent, newName, err2) = ResolveParent(fs, op.Target);
                var flags = op.Kind == CrashOpKind.Exchange ? RenameFlags.Exchange : RenameFlags.None;
                return err2 != Errno.OK ? err2 : fs.Rename(parent, name, newParent, newName, flags);
            }
            case CrashOpKind.Symlink:
            {
                var r = fs.Symlink(parent, name, op.Target, Caller.Root);
                if (!r.Ok) return r.Error;
                ino = r.Value.Ino;
                fs.Forget(ino, 1);
                return Errno.OK;
            }
        }

        // The remaining steps act on an existing inode.
        var look = fs.Lookup(parent, name);
        if (!look.Ok) return look.Error;
        var attr = look.Value;
        ino = attr.Ino;
        try
        {
            switch (op.Kind)
            {
                case CrashOpKind.Write:
                {
                    if (FileMode.IsDir(attr.Mode)) return Errno.EISDIR;
                    var h = fs.Open(attr.Ino, OpenFlags.WriteOnly);
                    if (!h.Ok) return h.Error;
                    try
                    {
                        var w = fs.Write(attr.Ino, h.Value, op.Offset, op.SharedData().Span);
                        if (!w.Ok) return w.Error;
                        return w.Value == op.Length ? Errno.OK : Errno.EIO; // a short write is a libFS bug here
                    }
                    finally { fs.Release(attr.Ino, h.Value); }
                }
                case CrashOpKind.Truncate:
                {
                    var r = fs.SetAttr(attr.Ino, new SetAttrRequest { Size = (ulong)op.Offset });
                    return r.Error;
                }
                case CrashOpKind.Link:
                {
                    var (newParent, newName, err2) = ResolveParent(fs, op.Target);
                    if (err2 != Errno.OK) return err2;
                    var r = fs.Link(attr.Ino, newParent, newName);
                    if (r.Ok) fs.Forget(r.Value.Ino, 1);
                    return r.Error;
                }
                case CrashOpKind.Fsync:
                {
                    if (FileMode.IsDir(attr.Mode))
                    {
                        var d = fs.OpenDir(attr.Ino);
                        if (!d.Ok) return d.Error;
                        try { return fs.FsyncDir(attr.Ino, d.Value, dataOnly: false); }
                        finally { fs.ReleaseDir(attr.Ino, d.Value); }
                    }
                    var h = fs.Open(attr.Ino, OpenFlags.ReadOnly);
                    if (!h.Ok) return h.Error;
                    try { return fs.Fsync(attr.Ino, h.Value, dataOnly: false); }
                    finally { fs.Release(attr.Ino, h.Value); }
                }
                case CrashOpKind.SetXattr: return fs.SetXattr(attr.Ino, op.Target, op.SharedData().Span, XattrFlags.None);
                case CrashOpKind.RemoveXattr: return fs.RemoveXattr(attr.Ino, op.Target);
                case CrashOpKind.Chmod:
                    return fs.SetAttr(attr.Ino, new SetAttrRequest { Mode = FileMode.TypeOf(attr.Mode) | ((uint)op.Offset & FileMode.PermMask) }).Error;
                case CrashOpKind.Chown:
                    return fs.SetAttr(attr.Ino, new SetAttrRequest { Uid = (uint)op.Offset, Gid = (uint)op.Length }).Error;
                case CrashOpKind.Utimes:
                {
                    var t = TimeSet.To(new Timespec(op.Offset, 0));
                    return fs.SetAttr(attr.Ino, new SetAttrRequest { Atime = t, Mtime = t }).Error;
                }
                default:
                    throw new ArgumentException($"unknown crash op {op.Kind}", nameof(op));
            }
        }
        finally { fs.Forget(attr.Ino, 1); }
    }

    /// <summary>The directory inode holding the last component of <paramref name="path"/>, and that component.</summary>
    private static (InodeNo Parent, string Name, Errno Error) ResolveParent(IFileSystem fs, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return (default, "", Errno.EINVAL);
        var dir = InodeNo.Root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            var r = fs.Lookup(dir, parts[i]);
            if (!r.Ok) return (default, "", r.Error);
            fs.Forget(r.Value.Ino, 1);
            if (!FileMode.IsDir(r.Value.Mode)) return (default, "", Errno.ENOTDIR);
            dir = r.Value.Ino;
        }
        return (dir, parts[^1], Errno.OK);
    }
}
