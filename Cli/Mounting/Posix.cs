using System.Runtime.InteropServices;

namespace ExoFS.Cli.Mounting;

/// <summary>The few libc calls the mount daemon and <c>exofs umount</c> need that .NET does not wrap.</summary>
internal static partial class Posix
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EBUSY = 16, EINVAL = 22, ENOTCONN = 107;
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint realpath(string path, nint resolved);

    [LibraryImport("libc")]
    private static partial void free(nint p);

    /// <summary>The canonical, symlink-free form of <paramref name="path"/>; the absolute path as given when it
    /// cannot be resolved (missing, or a dead FUSE mount).</summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        nint resolved = realpath(full, 0);
        if (resolved == 0) return full;
        try { return Marshal.PtrToStringUTF8(resolved) ?? full; }
        finally { free(resolved); }
    }

    /// <summary>True while process <paramref name="pid"/> exists (a zombie counts until it is reaped).</summary>
    public static bool ProcessExists(int pid) => pid > 0 && (kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == EPERM);

    /// <summary>The message for the errno of the last P/Invoke.</summary>
    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
