using ExoFS.LibFs.Testing;
using ExoFS.LibFs.Ffs;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary><c>exofs fsck</c> on an FFS image: FFS's own problems are found, and repaired with --repair.</summary>
public sealed class FsckCommandTests : IDisposable
{
    private readonly string _dir = System.IO.Directory.CreateTempSubdirectory("exofs-fsck-").FullName;

    public void Dispose() => System.IO.Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out) Fsck(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = ExoFS.Cli.Program.Dispatch(["fsck", .. args], o, e);
        return (code, o.ToString() + e.ToString());
    }

    [Fact]
    public void Fsck_repair_fixes_a_wrong_ffs_link_count_and_then_the_image_is_clean()
    {
        string img = Path.Combine(_dir, "a.img");
        var fs = HostedFfs.Create(img, 64UL << 20, out string? error).Value;
        var f = fs.MkNod(InodeNo.Root, "f", FileMode.Regular | 0x1A4, 0, Caller.Root).Value;
        var inode = fs.Inodes.Get(f.Ino.Value).Value;
        inode.Nlink = 3; // damage: a wrong link count
        fs.Inodes.Put(f.Ino.Value, inode);
        fs.Dispose();

        var check = Fsck(img);
        Assert.True(check.Code == 4, check.Out);
        Assert.Contains("link count 3", check.Out);

        var repair = Fsck(img, "--repair");
        Assert.True(repair.Code == 1, repair.Out);
        Assert.Contains("repaired", repair.Out);

        var again = Fsck(img);
        Assert.True(again.Code == 0, again.Out);

        var reopened = HostedFfs.Open(img, out error).Value;
        Assert.Equal(1u, reopened.Lookup(InodeNo.Root, "f").Value.Nlink);
        reopened.Dispose();
    }
}
