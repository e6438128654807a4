namespace ExoFS.LibFs.Testing.Tests.Conformance;

/// <summary>
/// State must survive an unmount and mount. Only libFSes registered with a Remount appear in this theory's
/// data (<see cref="LibFses.WithRemount"/>); the others are not run here, rather than passing vacuously.
/// </summary>
public sealed class PersistenceTests : ConformanceBase
{
    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void File_content_and_attributes_survive_remount(string libfs) => RunCase(libfs, c =>
    {
        var data = Bytes(100_000, seed: 12);
        var f = c.Fs.WriteFile(Root, "f", data, mode: 0x1C0);
        c.Fs.SetAttr(f.Ino, new SetAttrRequest { Uid = 11, Gid = 22, Mtime = TimeSet.To(new Timespec(1_600_000_000, 123_456_789)) }).Ok();
        var fs = c.Remount();
        var g = fs.Get(Root, "f");
        Assert.Equal(data, fs.ReadFile(g.Ino));
        Assert.Equal((FileMode.Regular | 0x1C0, 11U, 22U, 100_000UL), (g.Mode, g.Uid, g.Gid, g.Size));
        Assert.Equal(new Timespec(1_600_000_000, 123_456_789), g.Mtime);
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Directory_tree_symlinks_and_special_nodes_survive_remount(string libfs) => RunCase(libfs, c =>
    {
        var a = c.Fs.MakeDir(Root, "a");
        var b = c.Fs.MakeDir(a.Ino, "b");
        c.Fs.WriteFile(b.Ino, "leaf", "deep");
        c.Fs.MakeSymlink(a.Ino, "link", "b/leaf");
        c.Fs.Forget(c.Fs.MkNod(a.Ino, "dev", FileMode.Char | 0x1A4, 0x0501, Caller.Root).Ok().Ino, 1);
        var fs = c.Remount();
        Assert.Equal("deep", fs.ReadText(fs.Resolve("a/b/leaf").Ino));
        Assert.Equal("b/leaf", fs.ReadLink(fs.Resolve("a/link").Ino).Ok());
        Assert.Equal(0x0501UL, fs.Resolve("a/dev").Rdev);
        Assert.Equal(["b", "dev", "link"], fs.Names(fs.Resolve("a").Ino));
        Assert.Equal(3U, fs.Resolve("a").Nlink);
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Hard_links_survive_remount_with_their_count(string libfs) => RunCase(libfs, c =>
    {
        var f = c.Fs.WriteFile(Root, "a", "x");
        c.Fs.Forget(c.Fs.Link(f.Ino, Root, "b").Ok().Ino, 1);
        var fs = c.Remount();
        var a = fs.Get(Root, "a");
        Assert.Equal(a.Ino, fs.Get(Root, "b").Ino);
        Assert.Equal(2U, a.Nlink);
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Xattrs_survive_remount(string libfs) => RunCase(libfs, c =>
    {
        var f = c.Fs.WriteFile(Root, "f", "x");
        c.Fs.SetXattr(f.Ino, "user.k", "value"u8, XattrFlags.None).Ok();
        var fs = c.Remount();
        Assert.Equal("value"u8.ToArray(), fs.GetXattr(fs.Get(Root, "f").Ino, "user.k").Ok());
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Renames_and_unlinks_survive_remount(string libfs) => RunCase(libfs, c =>
    {
        var d = c.Fs.MakeDir(Root, "d");
        c.Fs.WriteFile(Root, "moved", "m");
        c.Fs.WriteFile(Root, "gone", "g");
        c.Fs.Rename(Root, "moved", d.Ino, "here", RenameFlags.None).Ok();
        c.Fs.Unlink(Root, "gone").Ok();
        var fs = c.Remount();
        Assert.Equal(["d"], fs.Names(Root));
        Assert.Equal("m", fs.ReadText(fs.Resolve("d/here").Ino));
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Sparse_file_over_4_GiB_survives_remount(string libfs) => RunCase(libfs, c =>
    {
        var f = c.Fs.WriteFile(Root, "s", "head");
        c.Fs.WriteAt(f.Ino, 5L << 30, "tail"u8);
        var fs = c.Remount();
        var g = fs.Get(Root, "s");
        Assert.Equal((5UL << 30) + 4, g.Size);
        Assert.Equal("tail"u8.ToArray(), fs.ReadAt(g.Ino, 5L << 30, 4));
        Assert.All(fs.ReadAt(g.Ino, 3L << 30, 4096), b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Orphan_held_open_at_unmount_is_gone_after_remount(string libfs) => RunCase(libfs, c =>
    {
        ulong free = c.Fs.StatFs().Ok().BlocksFree;
        var f = c.Fs.WriteFile(Root, "f", Bytes(128 * 1024));
        c.Fs.Open(f.Ino, OpenFlags.ReadOnly).Ok(); // never released: unmount ends it
        c.Fs.Unlink(Root, "f").Ok();
        var fs = c.Remount();
        Assert.Empty(fs.Names(Root));
        Assert.Equal(free, fs.StatFs().Ok().BlocksFree);
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Large_directory_survives_remount(string libfs) => RunCase(libfs, c =>
    {
        var d = c.Fs.MakeDir(Root, "big");
        for (int i = 0; i < 1500; i++) c.Fs.WriteFile(d.Ino, $"e{i}", $"{i}");
        var fs = c.Remount();
        var big = fs.Get(Root, "big");
        Assert.Equal(1500, fs.ListDir(big.Ino, pageSize: 200).Count);
        Assert.Equal("1234", fs.ReadText(fs.Get(big.Ino, "e1234").Ino));
    });

    [Theory, MemberData(nameof(LibFses.WithRemount), MemberType = typeof(LibFses))]
    public void Twice_remounted_state_is_still_consistent_and_writable(string libfs) => RunCase(libfs, c =>
    {
        c.Fs.WriteFile(Root, "one", "1");
        var fs = c.Remount();
        fs.WriteFile(Root, "two", "2");
        fs = c.Remount();
        Assert.Equal(["one", "two"], fs.Names(Root));
        Assert.Equal("2", fs.ReadText(fs.Get(Root, "two").Ino));
    });
}
