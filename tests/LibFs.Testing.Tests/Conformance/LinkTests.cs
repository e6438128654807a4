namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class LinkTests : ConformanceBase
{
    private static FileAttr LinkOk(IFileSystem fs, InodeNo ino, InodeNo parent, string name)
    {
        var a = fs.Link(ino, parent, name).Ok($"link {name}");
        fs.Forget(a.Ino, 1);
        return a;
    }

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Link_adds_a_name_and_increments_nlink(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "a", "shared");
        var l = LinkOk(fs, f.Ino, Root, "b");
        Assert.Equal(f.Ino, l.Ino);
        Assert.Equal(2U, l.Nlink);
        Assert.Equal(f.Ino, fs.Get(Root, "b").Ino);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Writes_through_one_link_are_seen_through_another(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        var f = fs.WriteFile(Root, "a", "before");
        LinkOk(fs, f.Ino, d.Ino, "b");
        fs.WriteAt(fs.Get(d.Ino, "b").Ino, 0, "AFTER!"u8);
        Assert.Equal("AFTER!", fs.ReadText(fs.Get(Root, "a").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlinking_one_link_keeps_the_other(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "a", "data");
        LinkOk(fs, f.Ino, Root, "b");
        fs.Unlink(Root, "a").Ok();
        Assert.Equal(1U, fs.GetAttr(f.Ino).Ok().Nlink);
        Assert.Equal("data", fs.ReadText(fs.Get(Root, "b").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Many_links_count_up_and_down(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        for (int i = 0; i < 20; i++) LinkOk(fs, f.Ino, Root, $"l{i}");
        Assert.Equal(21U, fs.GetAttr(f.Ino).Ok().Nlink);
        for (int i = 0; i < 20; i += 2) fs.Unlink(Root, $"l{i}").Ok();
        Assert.Equal(11U, fs.GetAttr(f.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Link_to_a_directory_is_EPERM(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        Assert.Equal(Errno.EPERM, fs.Link(d.Ino, Root, "d2").Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Link_over_existing_name_is_EEXIST(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "a", "a");
        fs.WriteFile(Root, "b", "b");
        Assert.Equal(Errno.EEXIST, fs.Link(f.Ino, Root, "b").Error);
        Assert.Equal(1U, fs.GetAttr(f.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Link_updates_inode_ctime_and_directory_mtime(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "a", "a");
        var root = fs.GetAttr(Root).Ok();
        Tick();
        LinkOk(fs, f.Ino, Root, "b");
        AssertLater(f.Ctime, fs.GetAttr(f.Ino).Ok().Ctime, "inode ctime");
        AssertLater(root.Mtime, fs.GetAttr(Root).Ok().Mtime, "directory mtime");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Symlinks_and_special_nodes_can_be_hard_linked(string libfs) => Run(libfs, fs =>
    {
        var l = fs.MakeSymlink(Root, "l", "t");
        var p = fs.MkNod(Root, "p", FileMode.Fifo | 0x1A4, 0, Caller.Root).Ok();
        fs.Forget(p.Ino, 1);
        Assert.Equal(2U, LinkOk(fs, l.Ino, Root, "l2").Nlink);
        Assert.Equal(2U, LinkOk(fs, p.Ino, Root, "p2").Nlink);
        Assert.Equal("t", fs.ReadLink(fs.Get(Root, "l2").Ino).Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void New_directory_has_nlink_2_and_adds_one_to_its_parent(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        Assert.Equal(2U, d.Nlink);
        Assert.Equal(3U, fs.GetAttr(Root).Ok().Nlink);
        for (int i = 0; i < 5; i++) fs.MakeDir(d.Ino, $"s{i}");
        fs.WriteFile(d.Ino, "file", "not a subdirectory");
        Assert.Equal(7U, fs.GetAttr(d.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rmdir_removes_one_from_the_parent_nlink(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        fs.MakeDir(d.Ino, "s");
        Assert.Equal(3U, fs.GetAttr(d.Ino).Ok().Nlink);
        fs.RmDir(d.Ino, "s").Ok();
        Assert.Equal(2U, fs.GetAttr(d.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlinked_open_file_stays_readable_and_writable_until_release(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "still here");
        var fh = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        fs.Unlink(Root, "f").Ok();
        Assert.Empty(fs.Names(Root));
        Assert.Equal(0U, fs.GetAttr(f.Ino).Ok().Nlink);
        fs.Write(f.Ino, fh, 10, "!"u8).Ok();
        var buf = new byte[11];
        Assert.Equal(11, fs.Read(f.Ino, fh, 0, buf).Ok());
        Assert.Equal("still here!"u8.ToArray(), buf);
        fs.Release(f.Ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Orphan_space_is_freed_when_the_last_handle_is_released(string libfs) => Run(libfs, fs =>
    {
        ulong free = fs.StatFs().Ok().BlocksFree;
        var f = fs.WriteFile(Root, "f", Bytes(200 * 1024));
        var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Ok();
        fs.Unlink(Root, "f").Ok();
        Assert.True(fs.StatFs().Ok().BlocksFree < free, "data of an open orphan must not be freed yet");
        fs.Release(f.Ino, fh).Ok();
        Assert.Equal(free, fs.StatFs().Ok().BlocksFree);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Orphan_lives_while_its_lookup_count_is_held(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "held");
        var looked = fs.Lookup(Root, "f").Ok();
        fs.Unlink(Root, "f").Ok();
        Assert.Equal(0U, fs.GetAttr(looked.Ino).Ok().Nlink);
        Assert.Equal("held", fs.ReadText(looked.Ino));
        fs.Forget(looked.Ino, 1);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Link_of_an_unlinked_inode_is_ENOENT(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Ok();
        fs.Unlink(Root, "f").Ok();
        Assert.Equal(Errno.ENOENT, fs.Link(f.Ino, Root, "back").Error);
        fs.Release(f.Ino, fh).Ok();
    });
}
