using System.Collections.Concurrent;
using ExoFS.LibFs;
using ExoFS.LibFs.Testing.Model;

namespace ExoFS.Mount.Tests;

/// <summary>
/// A libFS mounted on a fresh temporary directory for one test. Dispose always unmounts, falling back to
/// <c>fusermount3 -u -z</c>, so a failed test never leaves a mount behind to hang the next one; it also
/// fails the test if a callback logged an exception (unless the test expected one).
/// </summary>
internal sealed class TestMount : IDisposable
{
    private readonly ConcurrentQueue<string> _log = new();

    private TestMount(IFileSystem fs, string dir, FuseMountOptions? options)
    {
        Fs = fs;
        Dir = dir;
        var o = (options ?? new FuseMountOptions()) with
        {
            FsName = "exofs-test",
            UnmountTimeout = TimeSpan.FromSeconds(5),
            Log = _log.Enqueue,
        };
        Mount = FuseMount.Start(fs, dir, o);
    }

    public IFileSystem Fs { get; }
    public FuseMount Mount { get; }
    /// <summary>The mount point (created for this test, removed afterwards).</summary>
    public string Dir { get; }
    public ModelFileSystem Model => (ModelFileSystem)(Fs is InstrumentedFileSystem f ? f.Inner : Fs);
    public IReadOnlyCollection<string> Log => _log;
    public bool ExpectFaults { get; set; }

    public static TestMount Start(IFileSystem? fs = null, FuseMountOptions? options = null)
    {
        string dir = NewDirectory();
        try
        {
            return new TestMount(fs ?? new ModelFileSystem(), dir, options);
        }
        catch
        {
            Directory.Delete(dir);
            throw;
        }
    }

    public static string NewDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "exofs-mt-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public string P(string relative) => Path.Combine(Dir, relative);

    public void Dispose()
    {
        try
        {
            var unmount = Task.Run(Mount.Unmount);
            if (!unmount.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException($"unmounting {Dir} hung");
        }
        finally
        {
            if (MountTable.Find(Dir) is not null) Shell.Run($"fusermount3 -u -z {Shell.Quote(Dir)}", timeoutMs: 10_000);
            // Only an unmounted, empty directory is removed: never delete through a live mount.
            if (MountTable.Find(Dir) is null && Directory.Exists(Dir)) Directory.Delete(Dir);
        }
        if (!ExpectFaults)
        {
            var faults = _log.Where(l => l.Contains("exception", StringComparison.OrdinalIgnoreCase) || l.Contains("failed", StringComparison.Ordinal)).ToList();
            Assert.True(faults.Count == 0, "the mount logged failures:\n" + string.Join("\n", faults));
        }
    }
}
