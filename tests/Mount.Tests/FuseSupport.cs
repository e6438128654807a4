namespace ExoFS.Mount.Tests;

/// <summary>
/// Whether real FUSE mounts can run here: the one condition every test that mounts is skipped on (this file
/// is also compiled into Cli.Tests). This machine and CI have /dev/fuse and run as root, so they run them.
/// </summary>
internal static class FuseSupport
{
    /// <summary>Why FUSE mounts cannot be tested here, or null when they can.</summary>
    public static string? Why()
    {
        if (!File.Exists("/dev/fuse")) return "/dev/fuse is absent: real FUSE mounts cannot be tested here";
        if (Environment.UserName != "root" && !File.Exists("/usr/bin/fusermount3") && !File.Exists("/bin/fusermount3"))
        {
            return "not root and fusermount3 is not installed: cannot mount FUSE file systems";
        }
        return null;
    }
}
