namespace ExoFS.Mount.Tests;

/// <summary>
/// A fact that needs real FUSE mounts: skipped, with the reason shown by the runner, where /dev/fuse is absent
/// (or the test runs unprivileged without fusermount3). Everywhere else (this machine, CI) it runs.
/// </summary>
public sealed class FuseFactAttribute : FactAttribute
{
    public FuseFactAttribute()
    {
        if (Why() is { } reason) Skip = reason;
        Timeout = 120_000;
    }

    internal static string? Why()
    {
        if (!File.Exists("/dev/fuse")) return "/dev/fuse is absent: real FUSE mounts cannot be tested here";
        if (Environment.UserName != "root" && !File.Exists("/usr/bin/fusermount3") && !File.Exists("/bin/fusermount3"))
        {
            return "not root and fusermount3 is not installed: cannot mount FUSE file systems";
        }
        return null;
    }
}

/// <summary>A theory that needs real FUSE mounts; skipped on the same condition as <see cref="FuseFactAttribute"/>.</summary>
public sealed class FuseTheoryAttribute : TheoryAttribute
{
    public FuseTheoryAttribute()
    {
        if (FuseFactAttribute.Why() is { } reason) Skip = reason;
        Timeout = 120_000;
    }
}
