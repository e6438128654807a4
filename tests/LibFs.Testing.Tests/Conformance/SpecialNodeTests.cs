namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class SpecialNodeTests : ConformanceBase
{
    private static FileAttr Node(IFileSystem fs, string name, uint mode, ulong rdev = 0)
    {
        var a = fs.MkNod(Root, name, mode, rdev, Caller.Root).Ok($"mknod {name}");
        fs.Forget(a.Ino, 1);
        return a;
    }

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Fifo_is_made_with_its_type_and_permissions(string libfs) => Run(libfs, fs =>
    {
        Node(fs, "p", FileMode.Fifo | 0x180);
        var a = fs.Get(Root, "p");
        Assert.Equal(FileMode.Fifo | 0x180, a.Mode);
        Assert.Equal(0UL, a.Size);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Socket_is_made_with_its_type(string libfs) => Run(libfs, fs =>
    {
        Node(fs, "s", FileMode.Socket | 0x1ED);
        Assert.Equal(FileMode.Socket, FileMode.TypeOf(fs.Get(Root, "s").Mode));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Character_device_keeps_its_rdev(string libfs) => Run(libfs, fs =>
    {
        ulong rdev = (1UL << 8) | 3; // /dev/null is 1:3
        Node(fs, "null", FileMode.Char | 0x1B6, rdev);
        var a = fs.Get(Root, "null");
        Assert.Equal(FileMode.Char | 0x1B6, a.Mode);
        Assert.Equal(rdev, a.Rdev);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Block_device_keeps_a_large_rdev(string libfs) => Run(libfs, fs =>
    {
        ulong rdev = (259UL << 8) | 0x12345; // a major/minor beyond 16 bits in the new encoding
        Node(fs, "blk", FileMode.Block | 0x1B0, rdev);
        Assert.Equal(rdev, fs.Get(Root, "blk").Rdev);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Mknod_of_a_regular_file_makes_an_empty_file(string libfs) => Run(libfs, fs =>
    {
        Node(fs, "f", FileMode.Regular | 0x1A4);
        var a = fs.Get(Root, "f");
        Assert.Equal(FileMode.Regular | 0x1A4, a.Mode);
        Assert.Empty(fs.ReadFile(a.Ino));
        fs.WriteAt(a.Ino, 0, "ok"u8);
        Assert.Equal("ok", fs.ReadText(a.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Special_nodes_list_with_their_types(string libfs) => Run(libfs, fs =>
    {
        Node(fs, "p", FileMode.Fifo | 0x1A4);
        Node(fs, "s", FileMode.Socket | 0x1A4);
        Node(fs, "c", FileMode.Char | 0x1A4, 0x0103);
        Node(fs, "b", FileMode.Block | 0x1A4, 0x0801);
        var types = fs.ListDir(Root).ToDictionary(e => e.Name, e => FileMode.TypeOf(e.Mode));
        Assert.Equal(FileMode.Fifo, types["p"]);
        Assert.Equal(FileMode.Socket, types["s"]);
        Assert.Equal(FileMode.Char, types["c"]);
        Assert.Equal(FileMode.Block, types["b"]);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Special_nodes_are_unlinked_like_files(string libfs) => Run(libfs, fs =>
    {
        Node(fs, "p", FileMode.Fifo | 0x1A4);
        Node(fs, "c", FileMode.Char | 0x1A4, 0x0103);
        fs.Unlink(Root, "p").Ok();
        fs.Unlink(Root, "c").Ok();
        Assert.Empty(fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Mknod_of_a_directory_is_EPERM(string libfs) => Run(libfs, fs =>
    {
        Assert.Equal(Errno.EPERM, fs.MkNod(Root, "d", FileMode.Directory | 0x1ED, 0, Caller.Root).Error);
        Assert.Empty(fs.Names(Root));
    });
}
