namespace ExoFS.Mount;

/// <summary>How <see cref="FuseMount.Start"/> mounts a libFS. The defaults suit a root-run ExoFS mount.</summary>
public sealed record FuseMountOptions
{
    /// <summary>The "source" column of the mount table (the CLI passes the image path).</summary>
    public string FsName { get; init; } = "exofs";

    /// <summary>The file system type shows as <c>fuse.&lt;Subtype&gt;</c>.</summary>
    public string Subtype { get; init; } = "exofs";

    /// <summary>
    /// Let users other than the mounting one use the mount (non-root needs user_allow_other). Off here, for a
    /// library caller; <c>exofs mount</c> turns it on wherever <see cref="MayAllowOther"/> holds, as a kernel
    /// file system is shared, unless asked for <c>-o private</c>.
    /// </summary>
    public bool AllowOther { get; init; }

    /// <summary>
    /// Whether this process may mount with allow_other: root may; another user only when /etc/fuse.conf says
    /// user_allow_other (fusermount3 refuses it otherwise).
    /// </summary>
    public static bool MayAllowOther => Native.Libc.geteuid() == 0 || UserAllowOther(FuseConf);

    /// <summary>Where fusermount3 reads its configuration.</summary>
    internal const string FuseConf = "/etc/fuse.conf";

    /// <summary>True if the fuse.conf at <paramref name="path"/> has a user_allow_other line (comments and blanks ignored; missing file: false).</summary>
    internal static bool UserAllowOther(string path)
    {
        try
        {
            return File.ReadLines(path).Any(line =>
            {
                int hash = line.IndexOf('#');
                return (hash >= 0 ? line[..hash] : line).Trim() == "user_allow_other";
            });
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>The kernel checks permissions from the modes and owners the libFS reports (a libFS does not).</summary>
    public bool DefaultPermissions { get; init; } = true;

    /// <summary>Upper bound on threads serving requests concurrently (one serves alone while requests do not queue; see FuseLoop).</summary>
    public int MaxThreads { get; init; } = 16;

    /// <summary>
    /// How long the loop keeps looking for the next request after serving one before it sleeps (zero: sleep at
    /// once). A synchronous client's next request usually follows within microseconds, and sleeping costs a
    /// wakeup per request: on the 2-core VM measured, untar took 6.1 s without the wait and 2.4 s with 200 µs.
    /// </summary>
    public TimeSpan Spin { get; init; } = TimeSpan.FromMicroseconds(200);

    /// <summary>Ask the kernel for writeback caching (kernel-side write coalescing) when it offers it.</summary>
    public bool WritebackCache { get; init; } = true;

    /// <summary>Further <c>-o</c> mount options, each "name" or "name=value" (for example "ro", "noatime").</summary>
    public IReadOnlyList<string> ExtraOptions { get; init; } = [];

    /// <summary>libfuse's request trace (-d), written to <see cref="Log"/>.</summary>
    public bool Debug { get; init; }

    /// <summary>How long the kernel may cache a name → inode entry.</summary>
    public TimeSpan EntryTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the kernel may cache attributes.</summary>
    public TimeSpan AttrTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the kernel may remember that a name does not exist (zero: not at all).</summary>
    public TimeSpan NegativeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long <see cref="FuseMount.Start"/> waits for the kernel's INIT before giving up.</summary>
    public TimeSpan MountTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long <see cref="FuseMount.Unmount"/> waits for open files to close before aborting the connection.</summary>
    public TimeSpan UnmountTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where errors from callbacks and libfuse's messages go; standard error when null. Called from any thread.</summary>
    public Action<string>? Log { get; init; }
}
