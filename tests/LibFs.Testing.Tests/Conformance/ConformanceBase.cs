using ExoFS.LibFs.Testing.Conformance;

namespace ExoFS.LibFs.Testing.Tests.Conformance;

/// <summary>Theory data: the name of each registered libFS (or of those that support a feature).</summary>
public static class LibFses
{
    public static TheoryData<string> All => Names(LibFsRegistry.All);
    /// <summary>Only libFSes with a Remount: the persistence cases are not run (not passed) for the others.</summary>
    public static TheoryData<string> WithRemount => Names(LibFsRegistry.All.Where(u => u.Remount is not null));
    /// <summary>Only libFSes with a small configuration, for the ENOSPC cases.</summary>
    public static TheoryData<string> WithSmall => Names(LibFsRegistry.All.Where(u => u.CreateSmall is not null));
    /// <summary>Only libFSes that implement fallocate and SEEK_DATA/SEEK_HOLE.</summary>
    public static TheoryData<string> WithFallocate => Names(LibFsRegistry.All.Where(u => u.SupportsFallocate));
    public static TheoryData<string> WithSmallAndFallocate => Names(LibFsRegistry.All.Where(u => u.SupportsFallocate && u.CreateSmall is not null));
    public static TheoryData<string> WithRemountAndFallocate => Names(LibFsRegistry.All.Where(u => u.SupportsFallocate && u.Remount is not null));

    private static TheoryData<string> Names(IEnumerable<LibFsUnderTest> libfses)
    {
        var data = new TheoryData<string>();
        foreach (var u in libfses) data.Add(u.Name);
        return data;
    }
}

/// <summary>
/// Shared plumbing for the conformance cases: every case runs through <see cref="Run(string, Action{IFileSystem})"/>,
/// which makes a fresh instance of the named libFS and requires its fsck to be clean at the end.
/// </summary>
public abstract class ConformanceBase
{
    protected static readonly InodeNo Root = InodeNo.Root;
    protected static readonly Caller User = new(1000, 1000);

    protected static void Run(string libfs, Action<IFileSystem> body) => LibFsRegistry.Get(libfs).RunCase(body);
    protected static void RunCase(string libfs, Action<FsCase> body) => LibFsRegistry.Get(libfs).RunCase(body);
    protected static void RunSmall(string libfs, Action<IFileSystem> body) => LibFsRegistry.Get(libfs).RunCase(c => body(c.Fs), small: true);

    /// <summary>Deterministic pseudo-random bytes, different for each seed.</summary>
    protected static byte[] Bytes(int length, int seed = 1)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    protected static string Name(int bytes, char c = 'a') => new(c, bytes);

    /// <summary>Lets the clock move on so a timestamp set by the next call is strictly later.</summary>
    protected static void Tick() => Thread.Sleep(2);

    protected static void AssertLater(Timespec before, Timespec after, string what) =>
        Assert.True(after.CompareTo(before) > 0, $"{what}: {after} is not later than {before}");

    protected static uint PermOf(uint mode) => mode & FileMode.PermMask;
}
