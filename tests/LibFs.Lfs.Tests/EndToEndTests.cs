using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

public sealed class EndToEndTests
{
    private static readonly InodeNo Root = InodeNo.Root;

    [Fact]
    public void Files_written_before_unmount_are_there_after_remount()
    {
        var (fs, dev) = LfsTestKit.Fresh();
        var dir = fs.MakeDir(Root, "d");
        var data = new byte[100_000];
        new Random(3).NextBytes(data);
        fs.WriteFile(dir.Ino, "big", data);
        fs.WriteFile(Root, "small", "hello");
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsTestKit.Mount(dev);
        Assert.Equal(new[] { "d", "small" }, again.Names(Root).OrderBy(n => n));
        Assert.Equal(data, again.ReadFile(again.Get(again.Get(Root, "d").Ino, "big").Ino));
        Assert.Equal("hello", again.ReadText(again.Get(Root, "small").Ino));
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }
}
