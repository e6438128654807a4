using ExoFS.LibFs.Testing.Model;

namespace ExoFS.LibFs.Testing.Conformance;

/// <summary>
/// Every libFS the conformance suite and the model-equivalence property run against. To add one, add one
/// line to <see cref="All"/>: a <see cref="LibFsUnderTest"/> with its name, a factory for a fresh instance,
/// its fsck, and (if it has storage) Remount and CreateSmall.
/// </summary>
public static class LibFsRegistry
{
    /// <summary>The reference model: remount keeps the state in memory; the small instance holds 2 MiB of data.</summary>
    public static readonly LibFsUnderTest Model = new(
        "model",
        () => new ModelFileSystem(),
        fs => ((ModelFileSystem)fs).Check())
    {
        Remount = fs => ((ModelFileSystem)fs).Remount(),
        CreateSmall = () => new ModelFileSystem(capacityBytes: 2 << 20),
    };

    /// <summary>The libFSes under test, in a fixed order.</summary>
    public static IReadOnlyList<LibFsUnderTest> All { get; } =
    [
        Model,
        FfsUnderTest.Entry,
        LfsUnderTest.Entry,
        // New libFSes register here, one line each.
    ];

    /// <summary>The registered libFS with this name; throws if none (a test data bug).</summary>
    public static LibFsUnderTest Get(string name) =>
        All.FirstOrDefault(u => u.Name == name) ?? throw new ArgumentException($"no libFS named '{name}' is registered", nameof(name));
}
