using System.Text;

namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class SymlinkTests : ConformanceBase
{
    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Symlink_reads_back_its_target(string libfs) => Run(libfs, fs =>
    {
        var l = fs.MakeSymlink(Root, "l", "../some/where");
        Assert.Equal("../some/where", fs.ReadLink(l.Ino).Ok());
        Assert.Equal("../some/where", fs.ReadLink(fs.Get(Root, "l").Ino).Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Symlink_has_type_symlink_mode_0777_and_size_of_target_bytes(string libfs) => Run(libfs, fs =>
    {
        var target = "tårget/ünïcode";
        var l = fs.MakeSymlink(Root, "l", target);
        Assert.Equal(FileMode.Symlink | 0x1FF, l.Mode);
        Assert.Equal((ulong)Encoding.UTF8.GetByteCount(target), l.Size);
        Assert.Equal(1U, l.Nlink);
        Assert.Equal(target, fs.ReadLink(l.Ino).Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Long_symlink_target_of_4095_bytes_round_trips(string libfs) => Run(libfs, fs =>
    {
        var target = string.Concat(Enumerable.Range(0, 4095).Select(i => (char)('a' + i % 26)));
        var l = fs.MakeSymlink(Root, "l", target);
        Assert.Equal(target, fs.ReadLink(l.Ino).Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Dangling_symlink_is_allowed(string libfs) => Run(libfs, fs =>
    {
        var l = fs.MakeSymlink(Root, "l", "/does/not/exist");
        Assert.Equal("/does/not/exist", fs.ReadLink(l.Ino).Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Readlink_of_non_symlink_is_EINVAL(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.EINVAL, fs.ReadLink(f.Ino).Error);
        Assert.Equal(Errno.EINVAL, fs.ReadLink(Root).Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Symlink_with_empty_target_is_ENOENT(string libfs) => Run(libfs, fs =>
    {
        Assert.Equal(Errno.ENOENT, fs.Symlink(Root, "l", "", Caller.Root).Error);
        Assert.Empty(fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Symlink_takes_owner_from_caller(string libfs) => Run(libfs, fs =>
    {
        var l = fs.Symlink(Root, "l", "t", User).Ok();
        fs.Forget(l.Ino, 1);
        Assert.Equal((1000U, 1000U), (l.Uid, l.Gid));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlink_removes_the_symlink_not_its_target(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "target", "t");
        fs.MakeSymlink(Root, "l", "target");
        fs.Unlink(Root, "l").Ok();
        Assert.Equal(["target"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Open_of_symlink_is_refused(string libfs) => Run(libfs, fs =>
    {
        var l = fs.MakeSymlink(Root, "l", "t");
        Assert.NotEqual(Errno.OK, fs.Open(l.Ino, OpenFlags.ReadOnly).Error);
    });
}
