namespace ExoFS.Mount.Tests;

/// <summary>
/// A fact that needs real FUSE mounts: skipped, with the reason shown by the runner, where /dev/fuse is absent
/// (or the test runs unprivileged without fusermount3). Everywhere else (this machine, CI) it runs.
/// </summary>
public sealed class FuseFactAttribute : FactAttribute
{
    public FuseFactAttribute()
    {
        if (FuseSupport.Why() is { } reason) Skip = reason;
        Timeout = 120_000;
    }
}

/// <summary>A theory that needs real FUSE mounts; skipped on the same condition as <see cref="FuseFactAttribute"/>.</summary>
public sealed class FuseTheoryAttribute : TheoryAttribute
{
    public FuseTheoryAttribute()
    {
        if (FuseSupport.Why() is { } reason) Skip = reason;
        Timeout = 120_000;
    }
}
