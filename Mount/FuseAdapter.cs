using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ExoFS.LibFs;
using FileMode = ExoFS.LibFs.FileMode;
using ExoFS.Mount.Native;

namespace ExoFS.Mount;

/// <summary>
/// Turns each libfuse low-level request into one <see cref="IFileSystem"/> call and its reply. No policy lives
/// here: permissions are the kernel's (default_permissions), semantics are the libFS's.
///
/// Callbacks are static <c>[UnmanagedCallersOnly]</c> methods running on libfuse's native worker threads; the
/// adapter instance comes back through the session's userdata (a GCHandle), so several mounts can share a
/// process. Invariants every callback keeps:
/// - exactly one reply per request, always the last thing the callback does;
/// - no exception crosses into native code: anything thrown is logged and answered with EIO;
/// - pointer arguments are read during the callback only (names are copied into strings at once).
/// Lookup counts: an entry or create reply the kernel did not receive (the reply call failed, e.g. the
/// request was interrupted) is forgotten again here, so the libFS's counts match the kernel's.
/// </summary>
internal sealed unsafe class FuseAdapter
{
    // EILSEQ: a name that is not valid UTF-8 cannot be represented in the contract's string names.
    private const int EILSEQ = 84;
    private const int ENOSYS = 38;
    private const int MaxIo = 1 << 20;

    private readonly IFileSystem _fs;
    private readonly Action<string> _log;
    private readonly bool _wantWriteback;
    private readonly double _entryTimeout, _attrTimeout, _negativeTimeout;
    private volatile bool _writeback;
    private readonly ManualResetEventSlim _initialized = new(false);

    public FuseAdapter(IFileSystem fs, FuseMountOptions options, Action<string> log)
    {
        _fs = fs;
        _log = log;
        _wantWriteback = options.WritebackCache;
        _entryTimeout = options.EntryTimeout.TotalSeconds;
        _attrTimeout = options.AttrTimeout.TotalSeconds;
        _negativeTimeout = options.NegativeTimeout.TotalSeconds;
    }

    /// <summary>Set once the kernel's INIT has been answered.</summary>
    public WaitHandle Initialized => _initialized.WaitHandle;

    /// <summary>The operations table; libfuse copies it in fuse_session_new.</summary>
    public static FuseLowLevelOps BuildOps() => new()
    {
        Init = &OnInit,
        Destroy = &OnDestroy,
        Lookup = &OnLookup,
        Forget = &OnForget,
        GetAttr = &OnGetAttr,
        SetAttr = &OnSetAttr,
        ReadLink = &OnReadLink,
        MkNod = &OnMkNod,
        MkDir = &OnMkDir,
        Unlink = &OnUnlink,
        RmDir = &OnRmDir,
        Symlink = &OnSymlink,
        Rename = &OnRename,
        Link = &OnLink,
        Open = &OnOpen,
        Read = &OnRead,
        Write = &OnWrite,
        Flush = &OnFlush,
        Release = &OnRelease,
        Fsync = &OnFsync,
        OpenDir = &OnOpenDir,
        ReadDir = &OnReadDir,
        ReleaseDir = &OnReleaseDir,
        FsyncDir = &OnFsyncDir,
        StatFs = &OnStatFs,
        SetXattr = &OnSetXattr,
        GetXattr = &OnGetXattr,
        ListXattr = &OnListXattr,
        RemoveXattr = &OnRemoveXattr,
        Create = &OnCreate,
        ForgetMulti = &OnForgetMulti,
        ReadDirPlus = &OnReadDirPlus,
        Fallocate = &OnFallocate,
        CopyFileRange = &OnCopyFileRange,
        Lseek = &OnLseek,
    };

    // ---------------------------------------------------------------- plumbing

    private static FuseAdapter FromUserdata(nint userdata) => (FuseAdapter)GCHandle.FromIntPtr(userdata).Target!;

    private static FuseAdapter From(nint req)
    {
        var a = FromUserdata(LibFuse.fuse_req_userdata(req));
        LibFuseLog.ServingFor(a._log);
        return a;
    }

    /// <summary>Answers a request whose handling threw: logs the bug and replies EIO.</summary>
    private static void Fault(nint req, string op, Exception e)
    {
        try
        {
            From(req)._log($"exofs: {op} failed with an exception, replying EIO: {e}");
        }
        catch
        {
            // Logging must not be what kills the process; the reply below still goes out.
        }
        LibFuse.fuse_reply_err(req, (int)Errno.EIO);
    }

    /// <summary>Copies a NUL-terminated UTF-8 name out of native memory; null if it is not valid UTF-8.</summary>
    private static string? Name(byte* p)
    {
        var bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(p);
        return System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : null;
    }

    private static int Err(Errno e) => (int)e;

    private static Caller CallerOf(nint req)
    {
        FuseCtx* ctx = LibFuse.fuse_req_ctx(req);
        return new Caller(ctx->Uid, ctx->Gid, (uint)ctx->Pid);
    }

    private static void FillStat(NativeStat* st, in FileAttr a)
    {
        *st = default;
        st->Ino = a.Ino.Value;
        st->Mode = a.Mode;
        st->Nlink = a.Nlink;
        st->Uid = a.Uid;
        st->Gid = a.Gid;
        st->Rdev = a.Rdev;
        st->Size = (long)a.Size;
        st->BlkSize = 4096;
        st->Blocks = (long)a.Blocks512;
        st->Atim = new NativeTimespec { Sec = a.Atime.Sec, Nsec = a.Atime.Nsec };
        st->Mtim = new NativeTimespec { Sec = a.Mtime.Sec, Nsec = a.Mtime.Nsec };
        st->Ctim = new NativeTimespec { Sec = a.Ctime.Sec, Nsec = a.Ctime.Nsec };
    }

    private void FillEntry(FuseEntryParam* e, in FileAttr a)
    {
        *e = default;
        e->Ino = a.Ino.Value;
        e->Generation = a.Generation;
        FillStat(&e->Attr, a);
        e->AttrTimeout = _attrTimeout;
        e->EntryTimeout = _entryTimeout;
    }

    /// <summary>Replies with a new entry; if the kernel never gets it, the lookup it would have counted is undone.</summary>
    private void ReplyEntry(nint req, Result<FileAttr> r)
    {
        if (!r.Ok)
        {
            LibFuse.fuse_reply_err(req, Err(r.Error));
            return;
        }
        FuseEntryParam e;
        FillEntry(&e, r.Value);
        if (LibFuse.fuse_reply_entry(req, &e) != 0)
        {
            InodeNo ino = r.Value.Ino;
            Undo("entry", () => _fs.Forget(ino, 1));
        }
    }

    /// <summary>
    /// Runs the compensation for a reply the kernel never received. The request is already answered (libfuse
    /// frees it even when sending fails), so a failure here is only logged.
    /// </summary>
    private void Undo(string op, Action undo)
    {
        try { undo(); }
        catch (Exception e) { _log($"exofs: undoing an unsent {op} reply failed: {e}"); }
    }

    private static void ReplyAttr(nint req, Result<FileAttr> r, double timeout)
    {
        if (!r.Ok)
        {
            LibFuse.fuse_reply_err(req, Err(r.Error));
            return;
        }
        NativeStat st;
        FillStat(&st, r.Value);
        LibFuse.fuse_reply_attr(req, &st, timeout);
    }

    private static OpenFlags KnownFlags(int flags) => (OpenFlags)flags &
        (OpenFlags.AccessMask | OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.Truncate | OpenFlags.Append | OpenFlags.Directory);

    /// <summary>
    /// With writeback caching the kernel reads pages of files opened write-only (to fill partial pages) and
    /// resolves O_APPEND itself, so the libFS sees such opens as read-write without append.
    /// </summary>
    private OpenFlags FileOpenFlags(int flags)
    {
        OpenFlags f = KnownFlags(flags);
        if (_writeback)
        {
            if ((f & OpenFlags.AccessMask) == OpenFlags.WriteOnly) f = (f & ~OpenFlags.AccessMask) | OpenFlags.ReadWrite;
            f &= ~OpenFlags.Append;
        }
        return f;
    }

    // ---------------------------------------------------------------- session

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnInit(nint userdata, FuseConnInfo* conn)
    {
        FuseAdapter? a = null;
        try
        {
            a = FromUserdata(userdata);
            if (a._wantWriteback && (conn->Capable & FuseCap.WritebackCache) != 0)
            {
                conn->Want |= FuseCap.WritebackCache;
                a._writeback = true;
            }
            // Every IFileSystem member is thread-safe, so lookups and creates in one directory may run in parallel.
            if ((conn->Capable & FuseCap.ParallelDirops) != 0) conn->Want |= FuseCap.ParallelDirops;
            // O_TRUNC arrives as a separate setattr(size 0) and suid/sgid clearing stays in the kernel: both keep
            // one request to one plain libFS call.
            conn->Want &= ~(FuseCap.AtomicOTrunc | FuseCap.HandleKillpriv);
            // libfuse sizes max_pages from max_write; its receive buffer holds 1 MiB of payload.
            conn->MaxWrite = Math.Min(conn->MaxWrite, MaxIo);
            conn->TimeGran = 1;
        }
        catch (Exception e)
        {
            try { (a?._log ?? Console.Error.WriteLine)($"exofs: init failed: {e}"); }
            catch { /* nothing left to report to */ }
        }
        finally
        {
            a?._initialized.Set();
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDestroy(nint userdata)
    {
        // Nothing to do: FuseMount syncs the libFS once the loop has ended, whoever unmounted.
    }

    // ---------------------------------------------------------------- names and attributes

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLookup(nint req, ulong parent, byte* name)
    {
        try
        {
            var a = From(req);
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            var r = a._fs.Lookup(new InodeNo(parent), n);
            if (r.Error == Errno.ENOENT && a._negativeTimeout > 0)
            {
                // An entry with inode 0 is a cacheable "no such name"; the kernel drops it when the name is created.
                FuseEntryParam e = default;
                e.EntryTimeout = a._negativeTimeout;
                LibFuse.fuse_reply_entry(req, &e);
                return;
            }
            a.ReplyEntry(req, r);
        }
        catch (Exception e) { Fault(req, "lookup", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnForget(nint req, ulong ino, ulong nlookup)
    {
        try
        {
            From(req)._fs.Forget(new InodeNo(ino), nlookup);
        }
        catch (Exception e)
        {
            LogQuietly(req, "forget", e);
        }
        LibFuse.fuse_reply_none(req);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnForgetMulti(nint req, nuint count, FuseForgetData* forgets)
    {
        try
        {
            var fs = From(req)._fs;
            for (nuint i = 0; i < count; i++) fs.Forget(new InodeNo(forgets[i].Ino), forgets[i].Nlookup);
        }
        catch (Exception e)
        {
            LogQuietly(req, "forget_multi", e);
        }
        LibFuse.fuse_reply_none(req);
    }

    private static void LogQuietly(nint req, string op, Exception e)
    {
        try { From(req)._log($"exofs: {op} failed with an exception: {e}"); }
        catch { /* forget has no error reply; nothing more can be done */ }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnGetAttr(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            var a = From(req);
            ReplyAttr(req, a._fs.GetAttr(new InodeNo(ino)), a._attrTimeout);
        }
        catch (Exception e) { Fault(req, "getattr", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnSetAttr(nint req, ulong ino, NativeStat* attr, int toSet, FuseFileInfo* fi)
    {
        try
        {
            var a = From(req);
            var request = new SetAttrRequest
            {
                // chmod never changes the file type; only the permission bits travel.
                Mode = (toSet & FuseSetAttr.Mode) != 0 ? attr->Mode & FileMode.PermMask : null,
                Uid = (toSet & FuseSetAttr.Uid) != 0 ? attr->Uid : null,
                Gid = (toSet & FuseSetAttr.Gid) != 0 ? attr->Gid : null,
                Size = (toSet & FuseSetAttr.Size) != 0 ? (ulong)attr->Size : null,
                Atime = TimeOf(toSet, FuseSetAttr.Atime, FuseSetAttr.AtimeNow, attr->Atim),
                Mtime = TimeOf(toSet, FuseSetAttr.Mtime, FuseSetAttr.MtimeNow, attr->Mtim),
            };
            ReplyAttr(req, a._fs.SetAttr(new InodeNo(ino), request), a._attrTimeout);
        }
        catch (Exception e) { Fault(req, "setattr", e); }
    }

    private static TimeSet? TimeOf(int toSet, int setBit, int nowBit, NativeTimespec t)
    {
        if ((toSet & nowBit) != 0) return TimeSet.ToNow;
        if ((toSet & setBit) != 0) return TimeSet.To(new Timespec(t.Sec, (uint)t.Nsec));
        return null;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnReadLink(nint req, ulong ino)
    {
        try
        {
            var r = From(req)._fs.ReadLink(new InodeNo(ino));
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            byte[] target = Libc.Utf8Z(r.Value);
            fixed (byte* p = target) LibFuse.fuse_reply_readlink(req, p);
        }
        catch (Exception e) { Fault(req, "readlink", e); }
    }

    // ---------------------------------------------------------------- namespace changes

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMkNod(nint req, ulong parent, byte* name, uint mode, ulong rdev)
    {
        try
        {
            var a = From(req);
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            a.ReplyEntry(req, a._fs.MkNod(new InodeNo(parent), n, mode, rdev, CallerOf(req)));
        }
        catch (Exception e) { Fault(req, "mknod", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMkDir(nint req, ulong parent, byte* name, uint mode)
    {
        try
        {
            var a = From(req);
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            // The kernel sends only permission bits for mkdir; the type bit makes the mode complete.
            uint full = FileMode.Directory | (mode & FileMode.PermMask);
            a.ReplyEntry(req, a._fs.MkDir(new InodeNo(parent), n, full, CallerOf(req)));
        }
        catch (Exception e) { Fault(req, "mkdir", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnUnlink(nint req, ulong parent, byte* name)
    {
        try
        {
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            LibFuse.fuse_reply_err(req, Err(From(req)._fs.Unlink(new InodeNo(parent), n)));
        }
        catch (Exception e) { Fault(req, "unlink", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRmDir(nint req, ulong parent, byte* name)
    {
        try
        {
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            LibFuse.fuse_reply_err(req, Err(From(req)._fs.RmDir(new InodeNo(parent), n)));
        }
        catch (Exception e) { Fault(req, "rmdir", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnSymlink(nint req, byte* link, ulong parent, byte* name)
    {
        try
        {
            var a = From(req);
            string? n = Name(name), target = Name(link);
            if (n is null || target is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            a.ReplyEntry(req, a._fs.Symlink(new InodeNo(parent), n, target, CallerOf(req)));
        }
        catch (Exception e) { Fault(req, "symlink", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRename(nint req, ulong parent, byte* name, ulong newParent, byte* newName, uint flags)
    {
        try
        {
            string? n = Name(name), nn = Name(newName);
            if (n is null || nn is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            // RENAME_WHITEOUT (4) is for overlay file systems; the contract has no whiteouts.
            if ((flags & ~(uint)(RenameFlags.NoReplace | RenameFlags.Exchange)) != 0)
            {
                LibFuse.fuse_reply_err(req, Err(Errno.EINVAL));
                return;
            }
            var err = From(req)._fs.Rename(new InodeNo(parent), n, new InodeNo(newParent), nn, (RenameFlags)flags);
            LibFuse.fuse_reply_err(req, Err(err));
        }
        catch (Exception e) { Fault(req, "rename", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLink(nint req, ulong ino, ulong newParent, byte* newName)
    {
        try
        {
            var a = From(req);
            string? n = Name(newName);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            a.ReplyEntry(req, a._fs.Link(new InodeNo(ino), new InodeNo(newParent), n));
        }
        catch (Exception e) { Fault(req, "link", e); }
    }

    // ---------------------------------------------------------------- files

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnOpen(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            var a = From(req);
            var r = a._fs.Open(new InodeNo(ino), a.FileOpenFlags(fi->Flags));
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            fi->Fh = r.Value.Value;
            if (LibFuse.fuse_reply_open(req, fi) != 0) a.Undo("open", () => a._fs.Release(new InodeNo(ino), r.Value));
        }
        catch (Exception e) { Fault(req, "open", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnCreate(nint req, ulong parent, byte* name, uint mode, FuseFileInfo* fi)
    {
        try
        {
            var a = From(req);
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            uint full = FileMode.Regular | (mode & FileMode.PermMask);
            var r = a._fs.Create(new InodeNo(parent), n, full, a.FileOpenFlags(fi->Flags), CallerOf(req));
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            var (attr, handle) = r.Value;
            fi->Fh = handle.Value;
            FuseEntryParam e;
            a.FillEntry(&e, attr);
            if (LibFuse.fuse_reply_create(req, &e, fi) != 0)
            {
                a.Undo("create", () =>
                {
                    a._fs.Release(attr.Ino, handle);
                    a._fs.Forget(attr.Ino, 1);
                });
            }
        }
        catch (Exception e) { Fault(req, "create", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRead(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        byte[]? buf = null;
        try
        {
            var a = From(req);
            int n = (int)Math.Min((ulong)size, MaxIo);
            buf = ArrayPool<byte>.Shared.Rent(Math.Max(n, 1));
            var r = a._fs.Read(new InodeNo(ino), new FileHandle(fi->Fh), off, buf.AsSpan(0, n));
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            int got = Math.Clamp(r.Value, 0, n);
            fixed (byte* p = buf) LibFuse.fuse_reply_buf(req, p, (nuint)got);
        }
        catch (Exception e) { Fault(req, "read", e); }
        finally
        {
            if (buf is not null) ArrayPool<byte>.Shared.Return(buf);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnWrite(nint req, ulong ino, byte* data, nuint size, long off, FuseFileInfo* fi)
    {
        try
        {
            // The span points into libfuse's receive buffer, valid for this callback only; the libFS copies
            // what it keeps (a span cannot be stored).
            var r = From(req)._fs.Write(new InodeNo(ino), new FileHandle(fi->Fh), off, new ReadOnlySpan<byte>(data, checked((int)size)));
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            LibFuse.fuse_reply_write(req, (nuint)r.Value);
        }
        catch (Exception e) { Fault(req, "write", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFlush(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            var fs = From(req)._fs;
            // ENOSYS tells the kernel to stop sending flushes (it still writes dirty pages back at close).
            LibFuse.fuse_reply_err(req, fs.FlushHasEffect ? Err(fs.Flush(new InodeNo(ino), new FileHandle(fi->Fh))) : ENOSYS);
        }
        catch (Exception e) { Fault(req, "flush", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRelease(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            LibFuse.fuse_reply_err(req, Err(From(req)._fs.Release(new InodeNo(ino), new FileHandle(fi->Fh))));
        }
        catch (Exception e) { Fault(req, "release", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFsync(nint req, ulong ino, int datasync, FuseFileInfo* fi)
    {
        try
        {
            LibFuse.fuse_reply_err(req, Err(From(req)._fs.Fsync(new InodeNo(ino), new FileHandle(fi->Fh), datasync != 0)));
        }
        catch (Exception e) { Fault(req, "fsync", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFallocate(nint req, ulong ino, int mode, long offset, long length, FuseFileInfo* fi)
    {
        try
        {
            // The mode bits travel unchanged: the libFS applies the VFS's checks and its own (FallocateRules).
            var err = From(req)._fs.Fallocate(new InodeNo(ino), new FileHandle(fi->Fh), (FallocateMode)mode, offset, length);
            LibFuse.fuse_reply_err(req, Err(err));
        }
        catch (Exception e) { Fault(req, "fallocate", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLseek(nint req, ulong ino, long off, int whence, FuseFileInfo* fi)
    {
        try
        {
            var a = From(req);
            // With the writeback cache the kernel may hold dirty pages the libFS has not seen (it writes them back
            // before fallocate's punch and zero and before copy_file_range, but not before lseek), so the libFS's
            // holes and size can be out of date: an answer from it could call freshly written data a hole or say
            // ENXIO inside the file. ENOSYS makes the kernel answer from its own size for this connection (all
            // data, the hole at the end), which is always right; without the writeback cache the libFS answers.
            if (a._writeback)
            {
                LibFuse.fuse_reply_err(req, ENOSYS);
                return;
            }
            // The kernel resolves SEEK_SET, SEEK_CUR and SEEK_END itself and sends only SEEK_DATA and SEEK_HOLE.
            if (whence is not ((int)SeekWhence.Data or (int)SeekWhence.Hole))
            {
                LibFuse.fuse_reply_err(req, Err(Errno.EINVAL));
                return;
            }
            var r = a._fs.Lseek(new InodeNo(ino), new FileHandle(fi->Fh), off, (SeekWhence)whence);
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            LibFuse.fuse_reply_lseek(req, r.Value);
        }
        catch (Exception e) { Fault(req, "lseek", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnCopyFileRange(nint req, ulong inIno, long inOff, FuseFileInfo* inFi, ulong outIno, long outOff,
        FuseFileInfo* outFi, nuint len, int flags)
    {
        try
        {
            // copy_file_range(2) defines no flags yet; the kernel passes them on unchecked.
            if (flags != 0) { LibFuse.fuse_reply_err(req, Err(Errno.EINVAL)); return; }
            // The reply's count is 32-bit in the FUSE protocol (the kernel asks for at most that much anyway).
            long length = (long)Math.Min((ulong)len, uint.MaxValue & ~(ulong)(MaxIo - 1));
            var r = From(req)._fs.CopyFileRange(new InodeNo(inIno), new FileHandle(inFi->Fh), inOff,
                new InodeNo(outIno), new FileHandle(outFi->Fh), outOff, length);
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            LibFuse.fuse_reply_write(req, (nuint)r.Value);
        }
        catch (Exception e) { Fault(req, "copy_file_range", e); }
    }

    // ---------------------------------------------------------------- directories

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnOpenDir(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            var a = From(req);
            var r = a._fs.OpenDir(new InodeNo(ino));
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            fi->Fh = r.Value.Value;
            if (LibFuse.fuse_reply_open(req, fi) != 0) a.Undo("opendir", () => a._fs.ReleaseDir(new InodeNo(ino), r.Value));
        }
        catch (Exception e) { Fault(req, "opendir", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnReadDir(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        try { From(req).ReadDir(req, ino, size, off, fi->Fh, plus: false); }
        catch (Exception e) { Fault(req, "readdir", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnReadDirPlus(nint req, ulong ino, nuint size, long off, FuseFileInfo* fi)
    {
        try { From(req).ReadDir(req, ino, size, off, fi->Fh, plus: true); }
        catch (Exception e) { Fault(req, "readdirplus", e); }
    }

    /// <summary>
    /// Fills one readdir(plus) reply of at most <paramref name="size"/> bytes. Entries are chosen while the
    /// libFS enumerates (an entry's size depends only on its name); for readdirplus the lookups that give
    /// each entry its attributes (and add to its lookup count, as the kernel expects) run after the
    /// enumeration returns, so the libFS is never re-entered from inside its own ReadDir.
    /// </summary>
    private void ReadDir(nint req, ulong ino, nuint size, long off, ulong fh, bool plus)
    {
        int cap = (int)Math.Min((ulong)size, MaxIo);
        var picked = new List<(DirEntry Entry, byte[] Name)>();
        int used = 0;
        bool tooSmall = false;
        Errno err = _fs.ReadDir(new InodeNo(ino), new FileHandle(fh), off, (in DirEntry e) =>
        {
            byte[] name = Libc.Utf8Z(e.Name);
            int need;
            fixed (byte* p = name)
            {
                need = (int)(plus
                    ? LibFuse.fuse_add_direntry_plus(req, null, 0, p, null, 0)
                    : LibFuse.fuse_add_direntry(req, null, 0, p, null, 0));
            }
            if (used + need > cap)
            {
                tooSmall |= picked.Count == 0; // not even one entry fits the caller's buffer
                return false;
            }
            used += need;
            picked.Add((e, name));
            return true;
        });
        if (picked.Count == 0)
        {
            if (err != Errno.OK) LibFuse.fuse_reply_err(req, Err(err));
            else if (tooSmall) LibFuse.fuse_reply_err(req, Err(Errno.EINVAL));
            else LibFuse.fuse_reply_buf(req, null, 0); // an empty reply is the end of the directory
            return;
        }
        // An error after some entries: send those; the next call resumes at the failing cookie and reports it.
        byte[] buf = ArrayPool<byte>.Shared.Rent(Math.Max(used, 1));
        var counted = new List<InodeNo>();
        try
        {
            fixed (byte* b = buf)
            {
                int pos;
                try
                {
                    pos = FillDirBuffer(req, b, used, picked, plus, new InodeNo(ino), counted);
                }
                catch
                {
                    // Nothing was sent: the lookups made for this reply must not stay counted.
                    Undo("readdirplus", () => { foreach (var c in counted) _fs.Forget(c, 1); });
                    throw;
                }
                if (LibFuse.fuse_reply_buf(req, b, (nuint)pos) != 0 && counted.Count > 0)
                {
                    Undo("readdirplus", () => { foreach (var c in counted) _fs.Forget(c, 1); });
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    private int FillDirBuffer(nint req, byte* b, int used, List<(DirEntry Entry, byte[] Name)> picked, bool plus, InodeNo dir, List<InodeNo> counted)
    {
        int pos = 0;
        foreach (var (e, name) in picked)
        {
            fixed (byte* p = name)
            {
                if (plus)
                {
                    pos += (int)AddPlus(req, b + pos, (nuint)(used - pos), p, e, dir, counted);
                }
                else
                {
                    NativeStat st = default;
                    st.Ino = e.Ino.Value;
                    st.Mode = e.Mode;
                    pos += (int)LibFuse.fuse_add_direntry(req, b + pos, (nuint)(used - pos), p, &st, e.NextOffset);
                }
            }
        }
        return pos;
    }

    private nuint AddPlus(nint req, byte* buf, nuint room, byte* name, in DirEntry e, InodeNo dir, List<InodeNo> counted)
    {
        FuseEntryParam ep = default;
        // "." and ".." carry no entry (inode 0): the kernel neither caches nor counts them.
        if (e.Name is not ("." or ".."))
        {
            var r = _fs.Lookup(dir, e.Name);
            if (r.Ok)
            {
                FillEntry(&ep, r.Value);
                counted.Add(r.Value.Ino);
            }
        }
        if (ep.Ino == 0)
        {
            ep.Attr.Ino = e.Ino.Value;
            ep.Attr.Mode = e.Mode;
        }
        return LibFuse.fuse_add_direntry_plus(req, buf, room, name, &ep, e.NextOffset);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnReleaseDir(nint req, ulong ino, FuseFileInfo* fi)
    {
        try
        {
            LibFuse.fuse_reply_err(req, Err(From(req)._fs.ReleaseDir(new InodeNo(ino), new FileHandle(fi->Fh))));
        }
        catch (Exception e) { Fault(req, "releasedir", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFsyncDir(nint req, ulong ino, int datasync, FuseFileInfo* fi)
    {
        try
        {
            LibFuse.fuse_reply_err(req, Err(From(req)._fs.FsyncDir(new InodeNo(ino), new FileHandle(fi->Fh), datasync != 0)));
        }
        catch (Exception e) { Fault(req, "fsyncdir", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnStatFs(nint req, ulong ino)
    {
        try
        {
            var r = From(req)._fs.StatFs();
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            FsStats s = r.Value;
            NativeStatVfs v = default;
            v.Bsize = s.BlockSize;
            v.Frsize = s.BlockSize;
            v.Blocks = s.Blocks;
            v.Bfree = s.BlocksFree;
            v.Bavail = s.BlocksAvailable;
            v.Files = s.Files;
            v.Ffree = s.FilesFree;
            v.Favail = s.FilesFree;
            v.Namemax = s.NameMax;
            LibFuse.fuse_reply_statfs(req, &v);
        }
        catch (Exception e) { Fault(req, "statfs", e); }
    }

    // ---------------------------------------------------------------- extended attributes

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnSetXattr(nint req, ulong ino, byte* name, byte* value, nuint size, int flags)
    {
        try
        {
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            if ((flags & ~(int)(XattrFlags.Create | XattrFlags.Replace)) != 0)
            {
                LibFuse.fuse_reply_err(req, Err(Errno.EINVAL));
                return;
            }
            var err = From(req)._fs.SetXattr(new InodeNo(ino), n, new ReadOnlySpan<byte>(value, checked((int)size)), (XattrFlags)flags);
            LibFuse.fuse_reply_err(req, Err(err));
        }
        catch (Exception e) { Fault(req, "setxattr", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnGetXattr(nint req, ulong ino, byte* name, nuint size)
    {
        try
        {
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            var r = From(req)._fs.GetXattr(new InodeNo(ino), n);
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            ReplySized(req, r.Value, size);
        }
        catch (Exception e) { Fault(req, "getxattr", e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnListXattr(nint req, ulong ino, nuint size)
    {
        try
        {
            var r = From(req)._fs.ListXattr(new InodeNo(ino));
            if (!r.Ok) { LibFuse.fuse_reply_err(req, Err(r.Error)); return; }
            var list = new List<byte>();
            foreach (string name in r.Value)
            {
                list.AddRange(Encoding.UTF8.GetBytes(name));
                list.Add(0);
            }
            ReplySized(req, list.ToArray(), size);
        }
        catch (Exception e) { Fault(req, "listxattr", e); }
    }

    /// <summary>The xattr size protocol: size 0 asks for the length; a buffer too small is ERANGE.</summary>
    private static void ReplySized(nint req, byte[] data, nuint size)
    {
        if (size == 0)
        {
            LibFuse.fuse_reply_xattr(req, (nuint)data.Length);
        }
        else if ((nuint)data.Length > size)
        {
            LibFuse.fuse_reply_err(req, Err(Errno.ERANGE));
        }
        else
        {
            fixed (byte* p = data) LibFuse.fuse_reply_buf(req, p, (nuint)data.Length);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRemoveXattr(nint req, ulong ino, byte* name)
    {
        try
        {
            string? n = Name(name);
            if (n is null) { LibFuse.fuse_reply_err(req, EILSEQ); return; }
            LibFuse.fuse_reply_err(req, Err(From(req)._fs.RemoveXattr(new InodeNo(ino), n)));
        }
        catch (Exception e) { Fault(req, "removexattr", e); }
    }
}
