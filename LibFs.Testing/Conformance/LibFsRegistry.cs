using ExoFS.LibFs.Runtime;
using ExoFS.LibFs.Testing.Model;

namespace ExoFS.LibFs.Testing.Conformance;

/// <summary>
/// Every libFS the conformance suite and the model-equivalence property run against: the reference model, then
/// every libFS registered with <see cref="LibFsRegistrationAttribute"/> that this process can load (a test
/// project that references a libFS's assembly gets it), each run by <see cref="HostedUnderTest"/>. A libFS
/// joins by registering itself; nothing here names it.
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
        [Model, .. LibFsCatalog.All.Select(HostedUnderTest.For)];

    /// <summary>The registered libFS with this name; throws if none (a test data bug).</summary>
    public static LibFsUnderTest Get(string name) =>
        All.FirstOrDefault(u => u.Name == name) ?? throw new ArgumentException($"no libFS named '{name}' is registered", nameof(name));
}
