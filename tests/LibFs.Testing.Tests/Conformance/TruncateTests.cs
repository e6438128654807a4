namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class TruncateTests : ConformanceBase
{
    private static FileAttr Truncate(IFileSystem fs, InodeNo ino, ulong size) =>
        fs.SetAttr(ino, new SetAttrRequest { Size = size }).Ok($"truncate to {size}");

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Shrink_cuts_content_and_size(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "0123456789");
        Assert.Equal(4UL, Truncate(fs, f.Ino, 4).Size);
        Assert.Equal("0123", fs.ReadText(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Grow_adds_zeros(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        Assert.Equal(10000UL, Truncate(fs, f.Ino, 10000).Size);
        var all = fs.ReadFile(f.Ino);
        Assert.Equal("abc"u8.ToArray(), all[..3]);
        Assert.All(all[3..], b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Shrink_then_grow_reads_zeros_not_old_data(string libfs) => Run(libfs, fs =>
    {
        var data = Bytes(3 * 4096, seed: 9);
        Array.Fill<byte>(data, 0xFF);
        var f = fs.WriteFile(Root, "f", data);
        Truncate(fs, f.Ino, 100);
        Truncate(fs, f.Ino, (ulong)data.Length);
        var all = fs.ReadFile(f.Ino);
        Assert.All(all[..100], b => Assert.Equal(0xFF, b));
        Assert.All(all[100..], b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Shrink_at_block_boundary_then_grow_reads_zeros(string libfs) => Run(libfs, fs =>
    {
        var data = new byte[4 * 4096];
        Array.Fill<byte>(data, 0xAB);
        var f = fs.WriteFile(Root, "f", data);
        Truncate(fs, f.Ino, 8192);
        Truncate(fs, f.Ino, 16384);
        var all = fs.ReadFile(f.Ino);
        Assert.All(all[..8192], b => Assert.Equal(0xAB, b));
        Assert.All(all[8192..], b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Truncate_to_zero_frees_blocks(string libfs) => Run(libfs, fs =>
    {
        ulong free = fs.StatFs().Ok().BlocksFree;
        var f = fs.WriteFile(Root, "f", Bytes(256 * 1024));
        Assert.True(fs.StatFs().Ok().BlocksFree < free);
        var attr = Truncate(fs, f.Ino, 0);
        Assert.Equal(0UL, attr.Size);
        Assert.Equal(0UL, attr.Blocks512);
        Assert.Equal(free, fs.StatFs().Ok().BlocksFree);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Truncate_to_same_size_keeps_content(string libfs) => Run(libfs, fs =>
    {
        var data = Bytes(5000);
        var f = fs.WriteFile(Root, "f", data);
        Truncate(fs, f.Ino, 5000);
        Assert.Equal(data, fs.ReadFile(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Truncate_beyond_4_GiB_is_sparse_and_reads_zeros(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var attr = Truncate(fs, f.Ino, 6UL << 30);
        Assert.Equal(6UL << 30, attr.Size);
        Assert.True(attr.Blocks512 < 1024);
        Assert.All(fs.ReadAt(f.Ino, (6L << 30) - 100, 200), b => Assert.Equal(0, b));
        Assert.Equal(100, fs.ReadAt(f.Ino, (6L << 30) - 100, 200).Length);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Shrinking_a_huge_sparse_file_drops_far_data(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "head");
        fs.WriteAt(f.Ino, 5L << 30, "tail"u8);
        Truncate(fs, f.Ino, 4);
        Assert.Equal("head", fs.ReadText(f.Ino));
        Truncate(fs, f.Ino, (5UL << 30) + 4);
        Assert.All(fs.ReadAt(f.Ino, 5L << 30, 4), b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Truncate_of_directory_is_EISDIR(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        Assert.Equal(Errno.EISDIR, fs.SetAttr(d.Ino, new SetAttrRequest { Size = 0 }).Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Truncate_of_symlink_or_fifo_is_EINVAL(string libfs) => Run(libfs, fs =>
    {
        var l = fs.MakeSymlink(Root, "l", "target");
        var p = fs.MkNod(Root, "p", FileMode.Fifo | 0x1A4, 0, Caller.Root).Ok();
        fs.Forget(p.Ino, 1);
        Assert.Equal(Errno.EINVAL, fs.SetAttr(l.Ino, new SetAttrRequest { Size = 0 }).Error);
        Assert.Equal(Errno.EINVAL, fs.SetAttr(p.Ino, new SetAttrRequest { Size = 0 }).Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Truncate_updates_mtime_and_ctime(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abcdef");
        Tick();
        var after = Truncate(fs, f.Ino, 2);
        AssertLater(f.Mtime, after.Mtime, "mtime");
        AssertLater(f.Ctime, after.Ctime, "ctime");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Truncate_while_open_is_seen_through_the_handle(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abcdef");
        var fh = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        Truncate(fs, f.Ino, 3);
        var buf = new byte[10];
        Assert.Equal(3, fs.Read(f.Ino, fh, 0, buf).Ok());
        fs.Write(f.Ino, fh, 5, "Z"u8).Ok();
        fs.Release(f.Ino, fh).Ok();
        Assert.Equal("abc\0\0Z"u8.ToArray(), fs.ReadFile(f.Ino));
    });
}
