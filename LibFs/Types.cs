namespace ExoFS.LibFs;

/// <summary>An inode number as the FUSE low-level API sees it. The root directory is always 1.</summary>
public readonly record struct InodeNo(ulong Value)
{
    public static readonly InodeNo Root = new(1);
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>An open-file or open-directory handle a libFS hands out and gets back.</summary>
public readonly record struct FileHandle(ulong Value);

/// <summary>Seconds and nanoseconds since the Unix epoch.</summary>
public readonly record struct Timespec(long Sec, uint Nsec) : IComparable<Timespec>
{
    /// <summary>The wall-clock time, unless the calling flow runs under a <see cref="LogicalClock"/>: then that clock's time.</summary>
    public static Timespec Now() =>
        LogicalClock.Current is { } clock ? clock.Read() : FromTicks(DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks);

    /// <summary>The time <paramref name="ticks"/> 100-ns ticks after the Unix epoch.</summary>
    public static Timespec FromTicks(long ticks) =>
        new(ticks / TimeSpan.TicksPerSecond, (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    public int CompareTo(Timespec other) => Sec != other.Sec ? Sec.CompareTo(other.Sec) : Nsec.CompareTo(other.Nsec);
}

/// <summary>File type and permission bits, with Linux's values (S_IFMT and friends).</summary>
public static class FileMode
{
    public const uint TypeMask = 0xF000; // S_IFMT
    public const uint Socket = 0xC000, Symlink = 0xA000, Regular = 0x8000, Block = 0x6000,
        Directory = 0x4000, Char = 0x2000, Fifo = 0x1000;
    public const uint PermMask = 0xFFF; // rwx for all plus setuid, setgid, sticky

    public static uint TypeOf(uint mode) => mode & TypeMask;
    public static bool IsDir(uint mode) => TypeOf(mode) == Directory;
    public static bool IsRegular(uint mode) => TypeOf(mode) == Regular;
    public static bool IsSymlink(uint mode) => TypeOf(mode) == Symlink;
}

/// <summary>Attributes of an inode, as stat(2) reports them.</summary>
public readonly record struct FileAttr(
    InodeNo Ino,
    uint Mode,
    uint Nlink,
    uint Uid,
    uint Gid,
    ulong Rdev,
    ulong Size,
    ulong Blocks512,
    Timespec Atime,
    Timespec Mtime,
    Timespec Ctime,
    ulong Generation = 0);

/// <summary>How a time attribute is set: left alone, set to now, or set to a given time.</summary>
public readonly record struct TimeSet(bool Now, Timespec Time)
{
    public static TimeSet ToNow => new(true, default);
    public static TimeSet To(Timespec t) => new(false, t);
}

/// <summary>A setattr request: each field that is non-null is changed (truncate when Size is set).</summary>
public sealed record SetAttrRequest
{
    public uint? Mode { get; init; }
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
    public ulong? Size { get; init; }
    public TimeSet? Atime { get; init; }
    public TimeSet? Mtime { get; init; }
}

/// <summary>Who is making a request: new inodes take this owner.</summary>
public readonly record struct Caller(uint Uid, uint Gid, uint Pid = 0)
{
    public static readonly Caller Root = new(0, 0);
}

[Flags]
public enum RenameFlags : uint
{
    None = 0,
    /// <summary>Fail with EEXIST if the target exists.</summary>
    NoReplace = 1,
    /// <summary>Atomically swap source and target; both must exist.</summary>
    Exchange = 2,
}

[Flags]
public enum XattrFlags
{
    None = 0,
    /// <summary>Fail with EEXIST if the attribute exists.</summary>
    Create = 1,
    /// <summary>Fail with ENODATA if the attribute does not exist.</summary>
    Replace = 2,
}

/// <summary>
/// fallocate(2)'s mode bits (Linux values, linux/falloc.h). 0 (<see cref="Allocate"/>) allocates the range and
/// extends the file; <see cref="KeepSize"/> allocates without changing the size (blocks past the end count in
/// st_blocks); <see cref="PunchHole"/> (only with KeepSize) frees the range's whole blocks and zeroes the rest;
/// <see cref="ZeroRange"/> makes the range read as zeros with its blocks allocated; <see cref="CollapseRange"/>
/// removes the range and shifts what follows down; <see cref="InsertRange"/> shifts the file up from the
/// offset, leaving a hole of the range's length.
/// </summary>
[Flags]
public enum FallocateMode
{
    Allocate = 0,
    KeepSize = 0x01,
    PunchHole = 0x02,
    /// <summary>Reserved by Linux (no file system accepts it).</summary>
    NoHideStale = 0x04,
    CollapseRange = 0x08,
    ZeroRange = 0x10,
    InsertRange = 0x20,
    /// <summary>Unshares shared (reflinked) blocks; no libFS here shares blocks between files.</summary>
    UnshareRange = 0x40,
}

/// <summary>
/// The checks Linux's VFS (vfs_fallocate) and ext4 make on a fallocate request before looking at the file, in
/// their order; every libFS applies them first so that all answer a bad request alike. The handle check (EBADF),
/// the file-size limit (EFBIG) and the per-mode checks that need the file come after, in the libFS.
/// </summary>
public static class FallocateRules
{
    private const FallocateMode Known = FallocateMode.KeepSize | FallocateMode.PunchHole | FallocateMode.CollapseRange |
        FallocateMode.ZeroRange | FallocateMode.InsertRange | FallocateMode.UnshareRange;

    /// <summary>OK, or the errno Linux gives this mode, offset and length on an ext4 file.</summary>
    public static Errno Check(FallocateMode mode, long offset, long length)
    {
        if (offset < 0 || length <= 0) return Errno.EINVAL;
        if ((mode & ~Known) != 0) return Errno.ENOTSUP;
        if ((mode & (FallocateMode.PunchHole | FallocateMode.ZeroRange)) == (FallocateMode.PunchHole | FallocateMode.ZeroRange)) return Errno.ENOTSUP;
        if (mode.HasFlag(FallocateMode.PunchHole) && !mode.HasFlag(FallocateMode.KeepSize)) return Errno.ENOTSUP;
        if (mode.HasFlag(FallocateMode.CollapseRange) && mode != FallocateMode.CollapseRange) return Errno.EINVAL;
        if (mode.HasFlag(FallocateMode.InsertRange) && mode != FallocateMode.InsertRange) return Errno.EINVAL;
        if (mode.HasFlag(FallocateMode.UnshareRange) && (mode & ~(FallocateMode.UnshareRange | FallocateMode.KeepSize)) != 0) return Errno.EINVAL;
        if (offset > long.MaxValue - length) return Errno.EFBIG; // the VFS's "wrap through zero"
        // ext4 shares no blocks between files, so it has nothing to unshare and refuses the mode.
        if (mode.HasFlag(FallocateMode.UnshareRange)) return Errno.ENOTSUP;
        return Errno.OK;
    }

    /// <summary>
    /// COLLAPSE_RANGE or INSERT_RANGE of [offset, offset+length) on a file of <paramref name="size"/> bytes: OK, or
    /// ext4's errno (EINVAL for a range not in whole blocks, a collapse reaching the end of file — that would be a
    /// truncate — or an insert at or past it — a plain extend; EFBIG for an insert past the largest file).
    /// </summary>
    public static Errno CheckShift(FallocateMode mode, ulong offset, ulong length, ulong size, ulong blockSize, ulong maxFileSize)
    {
        if (offset % blockSize != 0 || length % blockSize != 0) return Errno.EINVAL;
        if (mode == FallocateMode.CollapseRange) return offset + length >= size ? Errno.EINVAL : Errno.OK;
        if (length > maxFileSize - size) return Errno.EFBIG;
        return offset >= size ? Errno.EINVAL : Errno.OK;
    }
}

/// <summary>The lseek(2) whence values a libFS answers: the kernel resolves SEEK_SET, SEEK_CUR and SEEK_END itself.</summary>
public enum SeekWhence
{
    /// <summary>SEEK_DATA: the first offset at or after the given one that holds data.</summary>
    Data = 3,
    /// <summary>SEEK_HOLE: the first offset at or after the given one inside a hole (end of file counts as one).</summary>
    Hole = 4,
}

/// <summary>open(2) flags that matter to a libFS (Linux values).</summary>
[Flags]
public enum OpenFlags
{
    ReadOnly = 0, WriteOnly = 1, ReadWrite = 2, AccessMask = 3,
    Create = 0x40, Exclusive = 0x80, Truncate = 0x200, Append = 0x400, Directory = 0x10000,
}

/// <summary>One directory entry. <see cref="NextOffset"/> is the cookie that resumes after this entry.</summary>
public readonly record struct DirEntry(string Name, InodeNo Ino, uint Mode, long NextOffset);

/// <summary>Receives directory entries; returns false when it has no room for this one (it is sent again next time).</summary>
public delegate bool DirEntrySink(in DirEntry entry);

/// <summary>statfs(2) figures; <paramref name="ReadOnly"/> is statvfs(3)'s ST_RDONLY: the file system takes no writes now (mounted so, or turned so by damage: errors=remount-ro).</summary>
public readonly record struct FsStats(
    uint BlockSize, ulong Blocks, ulong BlocksFree, ulong BlocksAvailable,
    ulong Files, ulong FilesFree, uint NameMax, bool ReadOnly = false);
