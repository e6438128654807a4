using System.Runtime.InteropServices;

namespace ExoFS.Mount.Native;

// Layouts of the libfuse 3.14 / glibc x86_64 structures this binding touches, checked with offsetof
// (see shared/notes/fuse-lowlevel.md). Only the fields the adapter reads or writes are named; the sizes are
// exact so arrays and embedded copies stay right.

/// <summary><c>struct timespec</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeTimespec
{
    public long Sec;
    public long Nsec;
}

/// <summary><c>struct stat</c> (144 bytes on x86_64 glibc).</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal struct NativeStat
{
    [FieldOffset(0)] public ulong Dev;
    [FieldOffset(8)] public ulong Ino;
    [FieldOffset(16)] public ulong Nlink;
    [FieldOffset(24)] public uint Mode;
    [FieldOffset(28)] public uint Uid;
    [FieldOffset(32)] public uint Gid;
    [FieldOffset(40)] public ulong Rdev;
    [FieldOffset(48)] public long Size;
    [FieldOffset(56)] public long BlkSize;
    [FieldOffset(64)] public long Blocks;
    [FieldOffset(72)] public NativeTimespec Atim;
    [FieldOffset(88)] public NativeTimespec Mtim;
    [FieldOffset(104)] public NativeTimespec Ctim;
}

/// <summary><c>struct fuse_entry_param</c> (176 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 176)]
internal struct FuseEntryParam
{
    [FieldOffset(0)] public ulong Ino;
    [FieldOffset(8)] public ulong Generation;
    [FieldOffset(16)] public NativeStat Attr;
    [FieldOffset(160)] public double AttrTimeout;
    [FieldOffset(168)] public double EntryTimeout;
}

/// <summary><c>struct fuse_file_info</c> (40 bytes). The bit fields share the 32-bit word at offset 4.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct FuseFileInfo
{
    [FieldOffset(0)] public int Flags;
    [FieldOffset(4)] public uint Bits;
    [FieldOffset(16)] public ulong Fh;
    [FieldOffset(24)] public ulong LockOwner;
}

/// <summary><c>struct fuse_conn_info</c> (128 bytes, all 32-bit fields at the front).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct FuseConnInfo
{
    [FieldOffset(0)] public uint ProtoMajor;
    [FieldOffset(4)] public uint ProtoMinor;
    [FieldOffset(8)] public uint MaxWrite;
    [FieldOffset(12)] public uint MaxRead;
    [FieldOffset(16)] public uint MaxReadahead;
    [FieldOffset(20)] public uint Capable;
    [FieldOffset(24)] public uint Want;
    [FieldOffset(28)] public uint MaxBackground;
    [FieldOffset(32)] public uint CongestionThreshold;
    [FieldOffset(36)] public uint TimeGran;
}

/// <summary><c>struct statvfs</c> (112 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
internal struct NativeStatVfs
{
    [FieldOffset(0)] public ulong Bsize;
    [FieldOffset(8)] public ulong Frsize;
    [FieldOffset(16)] public ulong Blocks;
    [FieldOffset(24)] public ulong Bfree;
    [FieldOffset(32)] public ulong Bavail;
    [FieldOffset(40)] public ulong Files;
    [FieldOffset(48)] public ulong Ffree;
    [FieldOffset(56)] public ulong Favail;
    [FieldOffset(64)] public ulong Fsid;
    [FieldOffset(72)] public ulong Flag;
    [FieldOffset(80)] public ulong Namemax;
}

/// <summary><c>struct fuse_ctx</c>: who sent a request.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseCtx
{
    public uint Uid;
    public uint Gid;
    public int Pid;
    public uint Umask;
}

/// <summary><c>struct fuse_forget_data</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetData
{
    public ulong Ino;
    public ulong Nlookup;
}

/// <summary><c>struct fuse_args</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseArgs
{
    public int Argc;
    public byte** Argv;
    public int Allocated;
}

/// <summary>Capability bits of <see cref="FuseConnInfo.Capable"/> / <see cref="FuseConnInfo.Want"/> (fuse_common.h).</summary>
internal static class FuseCap
{
    public const uint AsyncRead = 1u << 0, AtomicOTrunc = 1u << 3, ExportSupport = 1u << 4,
        DontMask = 1u << 6, SpliceWrite = 1u << 7, SpliceMove = 1u << 8, SpliceRead = 1u << 9,
        AutoInvalData = 1u << 12, ReaddirPlus = 1u << 13, ReaddirPlusAuto = 1u << 14,
        WritebackCache = 1u << 16, ParallelDirops = 1u << 18, PosixAcl = 1u << 19, HandleKillpriv = 1u << 20;
}

/// <summary>The <c>to_set</c> bits of the setattr callback (fuse_lowlevel.h).</summary>
internal static class FuseSetAttr
{
    public const int Mode = 1 << 0, Uid = 1 << 1, Gid = 1 << 2, Size = 1 << 3, Atime = 1 << 4, Mtime = 1 << 5,
        AtimeNow = 1 << 7, MtimeNow = 1 << 8;
}

/// <summary>
/// <c>struct fuse_lowlevel_ops</c> of libfuse 3.14: 44 function pointer slots (352 bytes). Typed function
/// pointers make the compiler check each callback's signature against the C prototype. Slots the adapter
/// leaves null make the kernel fall back (access: default_permissions; locks: local to the kernel) or
/// get ENOSYS (bmap, ioctl, poll).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseLowLevelOps
{
    public delegate* unmanaged[Cdecl]<nint, FuseConnInfo*, void> Init;
    public delegate* unmanaged[Cdecl]<nint, void> Destroy;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> Lookup;
    public delegate* unmanaged[Cdecl]<nint, ulong, ulong, void> Forget;
    public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> GetAttr;
    public delegate* unmanaged[Cdecl]<nint, ulong, NativeStat*, int, FuseFileInfo*, void> SetAttr;
    public delegate* unmanaged[Cdecl]<nint, ulong, void> ReadLink;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, ulong, void> MkNod;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, void> MkDir;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> Unlink;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> RmDir;
    public delegate* unmanaged[Cdecl]<nint, byte*, ulong, byte*, void> Symlink;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, ulong, byte*, uint, void> Rename;
    public delegate* unmanaged[Cdecl]<nint, ulong, ulong, byte*, void> Link;
    public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> Open;
    public delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void> Read;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, nuint, long, FuseFileInfo*, void> Write;
    public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> Flush;
    public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> Release;
    public delegate* unmanaged[Cdecl]<nint, ulong, int, FuseFileInfo*, void> Fsync;
    public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> OpenDir;
    public delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void> ReadDir;
    public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> ReleaseDir;
    public delegate* unmanaged[Cdecl]<nint, ulong, int, FuseFileInfo*, void> FsyncDir;
    public delegate* unmanaged[Cdecl]<nint, ulong, void> StatFs;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, byte*, nuint, int, void> SetXattr;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, nuint, void> GetXattr;
    public delegate* unmanaged[Cdecl]<nint, ulong, nuint, void> ListXattr;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> RemoveXattr;
    public nint Access;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, FuseFileInfo*, void> Create;
    public nint GetLk;
    public nint SetLk;
    public nint Bmap;
    public nint Ioctl;
    public nint Poll;
    public nint WriteBuf;
    public nint RetrieveReply;
    public delegate* unmanaged[Cdecl]<nint, nuint, FuseForgetData*, void> ForgetMulti;
    public nint Flock;
    /// <summary>fallocate(req, ino, mode, offset, length, fi).</summary>
    public delegate* unmanaged[Cdecl]<nint, ulong, int, long, long, FuseFileInfo*, void> Fallocate;
    public delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void> ReadDirPlus;
    /// <summary>copy_file_range(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags).</summary>
    public delegate* unmanaged[Cdecl]<nint, ulong, long, FuseFileInfo*, ulong, long, FuseFileInfo*, nuint, int, void> CopyFileRange;
    /// <summary>lseek(req, ino, off, whence, fi).</summary>
    public delegate* unmanaged[Cdecl]<nint, ulong, long, int, FuseFileInfo*, void> Lseek;
}

/// <summary>struct fuse_buf (fuse_common.h): one request's bytes in memory (splice is not used here).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseBuf
{
    public nuint Size;
    public int Flags;       // enum fuse_buf_flags; 0 = plain memory
    public void* Mem;
    public int Fd;
    public long Pos;
}

/// <summary>struct pollfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}
