using System.Runtime.InteropServices;

namespace ExoFS.Cli.Mounting;

/// <summary>The few libc calls the mount daemon needs that .NET does not wrap (unmounting is Mount's: FuseMount.UnmountPath).</summary>
internal static partial class Posix
{
    public const int EPERM = 1;
    public const int O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_APPEND = 0x400;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>True while process <paramref name="pid"/> exists (a zombie counts until it is reaped).</summary>
    public static bool ProcessExists(int pid) => pid > 0 && (kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == EPERM);
}
