namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// Every crash target <c>exofs crashtest --libfs</c> knows, real libFSes first (the first is the default).
/// To add a libFS, add one line. The toy targets are a deliberately tiny file system and its broken
/// variants: they show the explorer catching real ordering, atomicity and durability bugs.
/// </summary>
public static class CrashTargets
{
    /// <summary>The targets, in a fixed order.</summary>
    public static IReadOnlyList<ICrashTarget> All { get; } =
    [
        new FfsCrashTarget(),
        new LfsCrashTarget(),
        new ShadowToyTarget(),
        new ShadowToyTarget(ToyBug.MissingBarrier),
        new ShadowToyTarget(ToyBug.InPlace),
        new ShadowToyTarget(ToyBug.LazyFsync),
        new XnToyTarget(),
    ];

    /// <summary>The target named <paramref name="name"/>, or null.</summary>
    public static ICrashTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
