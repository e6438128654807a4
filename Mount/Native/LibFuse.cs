using System.Runtime.InteropServices;

namespace ExoFS.Mount.Native;

/// <summary>
/// P/Invoke surface of Debian's libfuse3.so.3 (3.14), low-level API only. Pointers are passed raw so every
/// signature is blittable; strings are NUL-terminated UTF-8 owned by the caller.
/// </summary>
internal static unsafe partial class LibFuse
{
    private const string Lib = "libfuse3.so.3";

    [LibraryImport(Lib)]
    public static partial nint fuse_session_new(FuseArgs* args, FuseLowLevelOps* op, nuint opSize, nint userdata);

    [LibraryImport(Lib)]
    public static partial int fuse_session_mount(nint se, byte* mountpoint);

    // (fuse_session_loop_mt is not used: see FuseLoop. Had it been, note that the library exports it under three
    // symbol versions with different second arguments; only the explicitly named fuse_session_loop_mt_312 takes
    // the opaque struct fuse_loop_config* from fuse_loop_cfg_create.)

    [LibraryImport(Lib)]
    public static partial int fuse_session_fd(nint se);

    [LibraryImport(Lib)]
    public static partial int fuse_session_exited(nint se);

    /// <summary>Reads one request into <paramref name="buf"/> (allocating its memory on first use): its size, 0 once the session has ended, or -errno.</summary>
    [LibraryImport(Lib)]
    public static partial int fuse_session_receive_buf(nint se, FuseBuf* buf);

    /// <summary>Dispatches one request read by <see cref="fuse_session_receive_buf"/> to its callback.</summary>
    [LibraryImport(Lib)]
    public static partial void fuse_session_process_buf(nint se, FuseBuf* buf);

    [LibraryImport(Lib)]
    public static partial void fuse_session_unmount(nint se);

    [LibraryImport(Lib)]
    public static partial void fuse_session_destroy(nint se);

    [LibraryImport(Lib)]
    public static partial void fuse_opt_free_args(FuseArgs* args);

    [LibraryImport(Lib)]
    public static partial void fuse_set_log_func(delegate* unmanaged[Cdecl]<int, byte*, nint, void> func);

    [LibraryImport(Lib)]
    public static partial nint fuse_req_userdata(nint req);

    [LibraryImport(Lib)]
    public static partial FuseCtx* fuse_req_ctx(nint req);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_err(nint req, int err);

    [LibraryImport(Lib)]
    public static partial void fuse_reply_none(nint req);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_entry(nint req, FuseEntryParam* e);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_create(nint req, FuseEntryParam* e, FuseFileInfo* fi);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_attr(nint req, NativeStat* attr, double attrTimeout);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_readlink(nint req, byte* link);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_open(nint req, FuseFileInfo* fi);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_write(nint req, nuint count);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_buf(nint req, byte* buf, nuint size);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_statfs(nint req, NativeStatVfs* stbuf);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_xattr(nint req, nuint count);

    [LibraryImport(Lib)]
    public static partial int fuse_reply_lseek(nint req, long off);

    [LibraryImport(Lib)]
    public static partial nuint fuse_add_direntry(nint req, byte* buf, nuint bufsize, byte* name, NativeStat* stbuf, long off);

    [LibraryImport(Lib)]
    public static partial nuint fuse_add_direntry_plus(nint req, byte* buf, nuint bufsize, byte* name, FuseEntryParam* e, long off);
}

/// <summary>The few libc calls the mount lifecycle needs.</summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc.so.6";

    public const int MNT_DETACH = 2;
    public const int EBUSY = 16, EINVAL = 22;

    /// <summary><paramref name="s"/> as a NUL-terminated UTF-8 string for a native call.</summary>
    public static byte[] Utf8Z(string s)
    {
        byte[] b = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
        System.Text.Encoding.UTF8.GetBytes(s, b);
        return b;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int umount2(byte* target, int flags);

    [LibraryImport(Lib)]
    public static partial uint geteuid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int mount(byte* source, byte* target, byte* fstype, ulong flags, void* data);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int stat(byte* path, NativeStat* buf);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial byte* realpath(byte* path, byte* resolved);

    [LibraryImport(Lib)]
    public static partial void free(void* p);

    public const short POLLIN = 1;
    public const int F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0x800, EINTR = 4, EAGAIN = 11;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    // On x86_64 a va_list argument is a pointer to the caller's __va_list_tag, so it passes through as nint.
    [LibraryImport(Lib)]
    public static partial int vsnprintf(byte* buf, nuint size, byte* format, nint args);
}
