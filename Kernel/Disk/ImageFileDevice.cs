using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ExoFS.Kernel.Disk;

/// <summary>How <see cref="ImageFileDevice.Open"/> opens an image.</summary>
public enum ImageOpenMode
{
    /// <summary>Read and write; takes an exclusive lock, so no other open of the image may coexist.</summary>
    ReadWrite,

    /// <summary>Reads only; takes a shared lock, so it coexists with other read-only opens but not a read-write one.</summary>
    ReadOnly,
}

/// <summary>
/// The default ExoFS device: a disk image in a regular file of whole 4 KiB blocks, accessed with
/// pread/pwrite (<see cref="RandomAccess"/>), so concurrent calls need no lock and never share a file
/// position.
/// <para>
/// Durability: <see cref="IBlockDevice.Flush"/> is <c>fdatasync</c>. <see cref="IBlockDevice.Barrier"/> is
/// also <c>fdatasync</c>, because the host page cache writes dirty pages back in no particular order and
/// fdatasync is the only ordering point Linux offers a plain file; a barrier therefore costs as much as a
/// flush on this device.
/// </para>
/// <para>
/// Exclusion: the image is guarded by an advisory <c>flock</c> (exclusive for read-write, shared for
/// read-only, both non-blocking). An open that conflicts with one held elsewhere (another process, or
/// another open in this one) throws <see cref="ImageBusyException"/>. The lock goes with the file
/// descriptor, so it is released on <see cref="BlockDeviceBase.Dispose()"/> or process exit.
/// </para>
/// <para>
/// Errors: a missing, too-small or misaligned file, or a busy one, throws <see cref="ImageFileException"/>
/// with an <see cref="ImageError"/> saying which — these are configuration errors surfaced to the user, not
/// file-system results. I/O failures after opening are <see cref="IOException"/> (a broken disk).
/// </para>
/// </summary>
public sealed partial class ImageFileDevice : BlockDeviceBase
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
    private const int EINTR = 4, EWOULDBLOCK = 11;

    private readonly SafeFileHandle _handle;

    private ImageFileDevice(SafeFileHandle handle, string path, ulong blockCount, ImageOpenMode mode)
    {
        _handle = handle;
        Path = path;
        BlockCount = blockCount;
        Mode = mode;
    }

    /// <summary>Full path of the image file.</summary>
    public string Path { get; }

    /// <summary>How the image was opened.</summary>
    public ImageOpenMode Mode { get; }

    /// <inheritdoc />
    public override ulong BlockCount { get; }

    /// <summary>
    /// Creates a sparse image of <paramref name="blockCount"/> zero blocks and opens it read-write.
    /// Refuses to replace an existing file unless <paramref name="overwrite"/> is set.
    /// </summary>
    public static ImageFileDevice Create(string path, ulong blockCount, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (blockCount == 0 || blockCount > long.MaxValue / BlockSize)
            throw new ArgumentOutOfRangeException(nameof(blockCount), $"An image needs between 1 and {long.MaxValue / BlockSize} blocks.");
        string full = System.IO.Path.GetFullPath(path);
        SafeFileHandle handle = OpenHandle(full, overwrite ? FileMode.OpenOrCreate : FileMode.CreateNew, ImageOpenMode.ReadWrite);
        try
        {
            Lock(handle, full, ImageOpenMode.ReadWrite);
            // Truncate after locking, so an image busy elsewhere is never clobbered. Setting the length on an
            // empty file leaves a hole: the image takes no space until blocks are written.
            RandomAccess.SetLength(handle, 0);
            RandomAccess.SetLength(handle, (long)blockCount * BlockSize);
            return new ImageFileDevice(handle, full, blockCount, ImageOpenMode.ReadWrite);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens an existing image. Throws <see cref="ImageFileException"/> if the file is missing, shorter than
    /// one block or not a whole number of blocks, and <see cref="ImageBusyException"/> if it is locked elsewhere.
    /// </summary>
    public static ImageFileDevice Open(string path, ImageOpenMode mode = ImageOpenMode.ReadWrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        SafeFileHandle handle = OpenHandle(full, FileMode.Open, mode);
        try
        {
            Lock(handle, full, mode);
            long length = RandomAccess.GetLength(handle);
            if (length < BlockSize)
                throw new ImageFileException(ImageError.TooSmall, full,
                    $"Image '{full}' is {length} bytes; an image holds at least one {BlockSize}-byte block.");
            if (length % BlockSize != 0)
                throw new ImageFileException(ImageError.NotBlockMultiple, full,
                    $"Image '{full}' is {length} bytes, not a whole number of {BlockSize}-byte blocks.");
            return new ImageFileDevice(handle, full, (ulong)(length / BlockSize), mode);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static SafeFileHandle OpenHandle(string full, FileMode fileMode, ImageOpenMode mode)
    {
        var access = mode == ImageOpenMode.ReadOnly ? FileAccess.Read : FileAccess.ReadWrite;
        try
        {
            // FileShare.ReadWrite keeps .NET's own lock shared; the real exclusion is our flock below.
            return File.OpenHandle(full, fileMode, access, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageFileException(ImageError.NotFound, full, $"Image '{full}' does not exist.", e);
        }
        catch (IOException e) when (fileMode == FileMode.CreateNew && File.Exists(full))
        {
            throw new ImageFileException(ImageError.AlreadyExists, full, $"Image '{full}' already exists.", e);
        }
        catch (IOException e) when (e.HResult == EWOULDBLOCK)
        {
            // .NET's shared lock met our exclusive one held by another open.
            throw new ImageBusyException(full, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ImageFileException(ImageError.AccessDenied, full, $"Image '{full}' cannot be opened: {e.Message}", e);
        }
    }

    private static void Lock(SafeFileHandle handle, string full, ImageOpenMode mode)
    {
        int op = (mode == ImageOpenMode.ReadOnly ? LOCK_SH : LOCK_EX) | LOCK_NB;
        int rc, errno;
        do
        {
            rc = WithFd(handle, fd => flock(fd, op));
            errno = rc == 0 ? 0 : Marshal.GetLastPInvokeError();
        } while (rc != 0 && errno == EINTR);
        if (rc == 0) return;
        if (errno == EWOULDBLOCK) throw new ImageBusyException(full, null);
        throw new IOException($"flock on image '{full}' failed (errno {errno}).");
    }

    /// <inheritdoc />
    protected override void ReadCore(BlockNo start, Span<byte> buffer)
    {
        long offset = checked((long)start.Value * BlockSize);
        while (buffer.Length > 0)
        {
            int n = RandomAccess.Read(_handle, buffer, offset);
            if (n == 0)
                throw new IOException($"Image '{Path}' ended at byte {offset}; it was truncated while open.");
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        if (Mode == ImageOpenMode.ReadOnly)
            throw new NotSupportedException($"Image '{Path}' was opened read-only.");
        RandomAccess.Write(_handle, data, checked((long)start.Value * BlockSize));
    }

    /// <inheritdoc />
    protected override void FlushCore() => DataSync();

    /// <inheritdoc />
    protected override void BarrierCore() => DataSync();

    private void DataSync()
    {
        if (Mode == ImageOpenMode.ReadOnly) return; // nothing of ours can be dirty
        int rc, errno;
        do
        {
            rc = WithFd(_handle, fdatasync);
            errno = rc == 0 ? 0 : Marshal.GetLastPInvokeError();
        } while (rc != 0 && errno == EINTR);
        if (rc != 0) throw new IOException($"fdatasync on image '{Path}' failed (errno {errno}).");
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _handle.Dispose();
    }

    // Holds a reference on the handle so a concurrent Dispose cannot close (and the OS reuse) the fd mid-call.
    private static int WithFd(SafeFileHandle handle, Func<int, int> call)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return call((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);
}

/// <summary>Why an image could not be created or opened.</summary>
public enum ImageError
{
    NotFound,
    AlreadyExists,
    TooSmall,
    NotBlockMultiple,
    AccessDenied,
    /// <summary>Locked by another open (see <see cref="ImageBusyException"/>).</summary>
    Busy,
}

/// <summary>An image file that cannot be used; <see cref="Error"/> says why, the message says it for people.</summary>
public class ImageFileException : IOException
{
    public ImageFileException(ImageError error, string path, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        ImagePath = path;
    }

    /// <summary>The reason, for callers that react differently to each.</summary>
    public ImageError Error { get; }

    /// <summary>Full path of the image.</summary>
    public string ImagePath { get; }
}

/// <summary>The image is open elsewhere in a conflicting mode (its flock is held).</summary>
public sealed class ImageBusyException : ImageFileException
{
    public ImageBusyException(string path, Exception? inner)
        : base(ImageError.Busy, path, $"Image '{path}' is already open read-write elsewhere (or, for a read-write open, open at all).", inner)
    {
    }
}
