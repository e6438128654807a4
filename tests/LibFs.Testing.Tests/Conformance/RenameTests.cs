namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class RenameTests : ConformanceBase
{
    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_within_a_directory_moves_the_name(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "a", "content");
        Assert.Equal(Errno.OK, fs.Rename(Root, "a", Root, "b", RenameFlags.None));
        Assert.Equal(["b"], fs.Names(Root));
        Assert.Equal(f.Ino, fs.Get(Root, "b").Ino);
        Assert.Equal("content", fs.ReadText(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_across_directories_moves_the_name(string libfs) => Run(libfs, fs =>
    {
        var d1 = fs.MakeDir(Root, "d1");
        var d2 = fs.MakeDir(Root, "d2");
        var f = fs.WriteFile(d1.Ino, "f", "x");
        fs.Rename(d1.Ino, "f", d2.Ino, "g", RenameFlags.None).Ok();
        Assert.Empty(fs.Names(d1.Ino));
        Assert.Equal(f.Ino, fs.Get(d2.Ino, "g").Ino);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_over_existing_file_replaces_it(string libfs) => Run(libfs, fs =>
    {
        var a = fs.WriteFile(Root, "a", "new");
        var b = fs.WriteFile(Root, "b", "old");
        fs.Rename(Root, "a", Root, "b", RenameFlags.None).Ok();
        Assert.Equal(["b"], fs.Names(Root));
        Assert.Equal(a.Ino, fs.Get(Root, "b").Ino);
        Assert.Equal("new", fs.ReadText(a.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Replaced_file_stays_readable_through_an_open_handle(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "new");
        var b = fs.WriteFile(Root, "b", "old");
        var fh = fs.Open(b.Ino, OpenFlags.ReadOnly).Ok();
        fs.Rename(Root, "a", Root, "b", RenameFlags.None).Ok();
        var buf = new byte[3];
        Assert.Equal(3, fs.Read(b.Ino, fh, 0, buf).Ok());
        Assert.Equal("old"u8.ToArray(), buf);
        Assert.Equal(0U, fs.GetAttr(b.Ino).Ok().Nlink);
        fs.Release(b.Ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_over_hard_linked_file_drops_one_link(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "a");
        var b = fs.WriteFile(Root, "b", "b");
        fs.Link(b.Ino, Root, "b2").Ok();
        fs.Forget(b.Ino, 1);
        fs.Rename(Root, "a", Root, "b", RenameFlags.None).Ok();
        Assert.Equal(1U, fs.GetAttr(b.Ino).Ok().Nlink);
        Assert.Equal("b", fs.ReadText(fs.Get(Root, "b2").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_directory_over_empty_directory_replaces_it(string libfs) => Run(libfs, fs =>
    {
        var src = fs.MakeDir(Root, "src");
        fs.WriteFile(src.Ino, "inside", "x");
        fs.MakeDir(Root, "dst");
        fs.Rename(Root, "src", Root, "dst", RenameFlags.None).Ok();
        Assert.Equal(["dst"], fs.Names(Root));
        Assert.Equal(src.Ino, fs.Get(Root, "dst").Ino);
        Assert.Equal(["inside"], fs.Names(src.Ino));
        Assert.Equal(3U, fs.GetAttr(Root).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_directory_over_non_empty_directory_is_ENOTEMPTY(string libfs) => Run(libfs, fs =>
    {
        fs.MakeDir(Root, "src");
        var dst = fs.MakeDir(Root, "dst");
        fs.WriteFile(dst.Ino, "f", "x");
        Assert.Equal(Errno.ENOTEMPTY, fs.Rename(Root, "src", Root, "dst", RenameFlags.None));
        Assert.Equal(["dst", "src"], fs.Names(Root));
        Assert.Equal(["f"], fs.Names(dst.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_file_over_directory_is_EISDIR(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "f", "x");
        fs.MakeDir(Root, "d");
        Assert.Equal(Errno.EISDIR, fs.Rename(Root, "f", Root, "d", RenameFlags.None));
        Assert.Equal(["d", "f"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_directory_over_file_is_ENOTDIR(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "f", "x");
        fs.MakeDir(Root, "d");
        Assert.Equal(Errno.ENOTDIR, fs.Rename(Root, "d", Root, "f", RenameFlags.None));
        Assert.Equal(["d", "f"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_directory_into_its_own_subtree_is_EINVAL(string libfs) => Run(libfs, fs =>
    {
        var a = fs.MakeDir(Root, "a");
        var b = fs.MakeDir(a.Ino, "b");
        var c = fs.MakeDir(b.Ino, "c");
        Assert.Equal(Errno.EINVAL, fs.Rename(Root, "a", c.Ino, "a", RenameFlags.None));
        Assert.Equal(Errno.EINVAL, fs.Rename(Root, "a", a.Ino, "x", RenameFlags.None));
        Assert.Equal(["a"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_over_an_ancestor_of_the_source_is_ENOTEMPTY(string libfs) => Run(libfs, fs =>
    {
        var a = fs.MakeDir(Root, "a");
        var b = fs.MakeDir(a.Ino, "b");
        fs.MakeDir(b.Ino, "c");
        Assert.Equal(Errno.ENOTEMPTY, fs.Rename(b.Ino, "c", Root, "a", RenameFlags.None));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_between_hard_links_of_one_inode_does_nothing(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "a", "x");
        fs.Link(f.Ino, Root, "b").Ok();
        fs.Forget(f.Ino, 1);
        Assert.Equal(Errno.OK, fs.Rename(Root, "a", Root, "b", RenameFlags.None));
        Assert.Equal(["a", "b"], fs.Names(Root));
        Assert.Equal(2U, fs.GetAttr(f.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_to_the_same_name_does_nothing(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "a", "x");
        Assert.Equal(Errno.OK, fs.Rename(Root, "a", Root, "a", RenameFlags.None));
        Assert.Equal(f.Ino, fs.Get(Root, "a").Ino);
        Assert.Equal(1U, fs.GetAttr(f.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_of_missing_source_is_ENOENT(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.ENOENT, fs.Rename(Root, "missing", Root, "x", RenameFlags.None)));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_into_a_non_directory_is_ENOTDIR(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.WriteFile(Root, "g", "y");
        Assert.Equal(Errno.ENOTDIR, fs.Rename(Root, "g", f.Ino, "g", RenameFlags.None));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_of_dot_or_dotdot_is_EBUSY(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        Assert.Equal(Errno.EBUSY, fs.Rename(d.Ino, ".", Root, "x", RenameFlags.None));
        Assert.Equal(Errno.EBUSY, fs.Rename(d.Ino, "..", Root, "x", RenameFlags.None));
        fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.EBUSY, fs.Rename(Root, "f", d.Ino, "..", RenameFlags.None));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void NoReplace_over_existing_target_is_EEXIST(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "a");
        fs.WriteFile(Root, "b", "b");
        Assert.Equal(Errno.EEXIST, fs.Rename(Root, "a", Root, "b", RenameFlags.NoReplace));
        Assert.Equal("a", fs.ReadText(fs.Get(Root, "a").Ino));
        Assert.Equal("b", fs.ReadText(fs.Get(Root, "b").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void NoReplace_to_free_name_renames(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "a");
        Assert.Equal(Errno.OK, fs.Rename(Root, "a", Root, "b", RenameFlags.NoReplace));
        Assert.Equal(["b"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Exchange_swaps_two_files(string libfs) => Run(libfs, fs =>
    {
        var a = fs.WriteFile(Root, "a", "A");
        var b = fs.WriteFile(Root, "b", "B");
        fs.Rename(Root, "a", Root, "b", RenameFlags.Exchange).Ok();
        Assert.Equal(b.Ino, fs.Get(Root, "a").Ino);
        Assert.Equal(a.Ino, fs.Get(Root, "b").Ino);
        Assert.Equal("B", fs.ReadText(fs.Get(Root, "a").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Exchange_of_directory_and_file_across_parents_fixes_link_counts(string libfs) => Run(libfs, fs =>
    {
        var p1 = fs.MakeDir(Root, "p1");
        var p2 = fs.MakeDir(Root, "p2");
        var dir = fs.MakeDir(p1.Ino, "x");
        var file = fs.WriteFile(p2.Ino, "y", "f");
        fs.Rename(p1.Ino, "x", p2.Ino, "y", RenameFlags.Exchange).Ok();
        Assert.Equal(file.Ino, fs.Get(p1.Ino, "x").Ino);
        Assert.Equal(dir.Ino, fs.Get(p2.Ino, "y").Ino);
        Assert.Equal(2U, fs.GetAttr(p1.Ino).Ok().Nlink);
        Assert.Equal(3U, fs.GetAttr(p2.Ino).Ok().Nlink);
        var dotdot = fs.ListDir(dir.Ino, includeDots: true).Single(e => e.Name == "..");
        Assert.Equal(p2.Ino, dotdot.Ino);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Exchange_with_missing_target_is_ENOENT(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "A");
        Assert.Equal(Errno.ENOENT, fs.Rename(Root, "a", Root, "b", RenameFlags.Exchange));
        Assert.Equal(["a"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Exchange_with_a_descendant_is_EINVAL(string libfs) => Run(libfs, fs =>
    {
        var a = fs.MakeDir(Root, "a");
        fs.MakeDir(a.Ino, "b");
        Assert.Equal(Errno.EINVAL, fs.Rename(Root, "a", a.Ino, "b", RenameFlags.Exchange));
        Assert.Equal(Errno.EINVAL, fs.Rename(a.Ino, "b", Root, "a", RenameFlags.Exchange));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void NoReplace_and_Exchange_together_are_EINVAL(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "A");
        fs.WriteFile(Root, "b", "B");
        Assert.Equal(Errno.EINVAL, fs.Rename(Root, "a", Root, "b", RenameFlags.NoReplace | RenameFlags.Exchange));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Moving_a_directory_updates_dotdot_and_parent_link_counts(string libfs) => Run(libfs, fs =>
    {
        var p1 = fs.MakeDir(Root, "p1");
        var p2 = fs.MakeDir(Root, "p2");
        var d = fs.MakeDir(p1.Ino, "d");
        Assert.Equal(3U, fs.GetAttr(p1.Ino).Ok().Nlink);
        fs.Rename(p1.Ino, "d", p2.Ino, "d", RenameFlags.None).Ok();
        Assert.Equal(2U, fs.GetAttr(p1.Ino).Ok().Nlink);
        Assert.Equal(3U, fs.GetAttr(p2.Ino).Ok().Nlink);
        Assert.Equal(p2.Ino, fs.ListDir(d.Ino, includeDots: true).Single(e => e.Name == "..").Ino);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Moving_a_directory_over_an_empty_one_in_another_parent_keeps_counts(string libfs) => Run(libfs, fs =>
    {
        var p1 = fs.MakeDir(Root, "p1");
        var p2 = fs.MakeDir(Root, "p2");
        fs.MakeDir(p1.Ino, "d");
        fs.MakeDir(p2.Ino, "e");
        fs.Rename(p1.Ino, "d", p2.Ino, "e", RenameFlags.None).Ok();
        Assert.Equal(2U, fs.GetAttr(p1.Ino).Ok().Nlink);
        Assert.Equal(3U, fs.GetAttr(p2.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_updates_parent_mtimes_and_the_inode_ctime(string libfs) => Run(libfs, fs =>
    {
        var p1 = fs.MakeDir(Root, "p1");
        var p2 = fs.MakeDir(Root, "p2");
        var f = fs.WriteFile(p1.Ino, "f", "x");
        var before1 = fs.GetAttr(p1.Ino).Ok();
        var before2 = fs.GetAttr(p2.Ino).Ok();
        Tick();
        fs.Rename(p1.Ino, "f", p2.Ino, "g", RenameFlags.None).Ok();
        AssertLater(before1.Mtime, fs.GetAttr(p1.Ino).Ok().Mtime, "old parent mtime");
        AssertLater(before2.Mtime, fs.GetAttr(p2.Ino).Ok().Mtime, "new parent mtime");
        AssertLater(f.Ctime, fs.GetAttr(f.Ino).Ok().Ctime, "renamed inode ctime");
        Assert.Equal(f.Mtime, fs.GetAttr(f.Ino).Ok().Mtime);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rename_of_symlink_and_fifo_keeps_their_kind(string libfs) => Run(libfs, fs =>
    {
        fs.MakeSymlink(Root, "l", "target");
        var p = fs.MkNod(Root, "p", FileMode.Fifo | 0x1A4, 0, Caller.Root).Ok();
        fs.Forget(p.Ino, 1);
        fs.Rename(Root, "l", Root, "l2", RenameFlags.None).Ok();
        fs.Rename(Root, "p", Root, "p2", RenameFlags.None).Ok();
        Assert.Equal("target", fs.ReadLink(fs.Get(Root, "l2").Ino).Ok());
        Assert.Equal(FileMode.Fifo, FileMode.TypeOf(fs.Get(Root, "p2").Mode));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Chain_of_renames_ends_with_one_name(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "n0", "x");
        for (int i = 0; i < 50; i++) fs.Rename(Root, $"n{i}", Root, $"n{i + 1}", RenameFlags.None).Ok();
        Assert.Equal(["n50"], fs.Names(Root));
        Assert.Equal(f.Ino, fs.Get(Root, "n50").Ino);
    });
}
