using System.Text;

namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class NamespaceTests : ConformanceBase
{
    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Root_is_inode_1_and_a_directory_with_nlink_2(string libfs) => Run(libfs, fs =>
    {
        var root = fs.GetAttr(Root).Ok();
        Assert.Equal(1UL, root.Ino.Value);
        Assert.True(FileMode.IsDir(root.Mode));
        Assert.Equal(2U, root.Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Created_file_is_found_by_lookup_with_same_attributes(string libfs) => Run(libfs, fs =>
    {
        var made = fs.WriteFile(Root, "f", "hello");
        var found = fs.Lookup(Root, "f").Ok();
        fs.Forget(found.Ino, 1);
        Assert.Equal(made.Ino, found.Ino);
        Assert.Equal(FileMode.Regular | 0x1A4, found.Mode);
        Assert.Equal(5UL, found.Size);
        Assert.Equal(1U, found.Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Lookup_of_missing_name_is_ENOENT(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.ENOENT, fs.Lookup(Root, "nothing").Error));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Names_are_case_sensitive(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "Name", "upper");
        fs.WriteFile(Root, "name", "lower");
        Assert.Equal("upper", fs.ReadText(fs.Get(Root, "Name").Ino));
        Assert.Equal("lower", fs.ReadText(fs.Get(Root, "name").Ino));
        Assert.Equal(Errno.ENOENT, fs.Lookup(Root, "NAME").Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unicode_names_round_trip(string libfs) => Run(libfs, fs =>
    {
        string[] names = ["héllo", "日本語のファイル", "emoji-😀", "tab\there", " leading space"];
        foreach (var n in names) fs.WriteFile(Root, n, n);
        Assert.Equal(names.Order(StringComparer.Ordinal), fs.Names(Root));
        foreach (var n in names) Assert.Equal(n, fs.ReadText(fs.Get(Root, n).Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Name_of_255_bytes_is_accepted(string libfs) => Run(libfs, fs =>
    {
        var name = Name(255);
        fs.WriteFile(Root, name, "x");
        Assert.Equal("x", fs.ReadText(fs.Get(Root, name).Ino));
        Assert.Contains(name, fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Create_with_256_byte_name_is_ENAMETOOLONG(string libfs) => Run(libfs, fs =>
    {
        Assert.Equal(Errno.ENAMETOOLONG, fs.Create(Root, Name(256), FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Error);
        Assert.Empty(fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Multibyte_name_counts_utf8_bytes_not_characters(string libfs) => Run(libfs, fs =>
    {
        // "é" is two UTF-8 bytes: 127 of them is 254 bytes (ok), 128 is 256 bytes (too long).
        var ok = new string('é', 127);
        var tooLong = new string('é', 128);
        Assert.Equal(254, Encoding.UTF8.GetByteCount(ok));
        fs.MakeDir(Root, ok);
        Assert.Equal(Errno.ENAMETOOLONG, fs.MkDir(Root, tooLong, 0x1ED, Caller.Root).Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Every_naming_call_rejects_256_byte_names(string libfs) => Run(libfs, fs =>
    {
        var n = Name(256);
        var file = fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.ENAMETOOLONG, fs.Lookup(Root, n).Error);
        Assert.Equal(Errno.ENAMETOOLONG, fs.MkDir(Root, n, 0x1ED, Caller.Root).Error);
        Assert.Equal(Errno.ENAMETOOLONG, fs.MkNod(Root, n, FileMode.Fifo | 0x1A4, 0, Caller.Root).Error);
        Assert.Equal(Errno.ENAMETOOLONG, fs.Symlink(Root, n, "target", Caller.Root).Error);
        Assert.Equal(Errno.ENAMETOOLONG, fs.Link(file.Ino, Root, n).Error);
        Assert.Equal(Errno.ENAMETOOLONG, fs.Rename(Root, "f", Root, n, RenameFlags.None));
        Assert.Equal(Errno.ENAMETOOLONG, fs.Unlink(Root, n));
        Assert.Equal(Errno.ENAMETOOLONG, fs.RmDir(Root, n));
        Assert.Equal(["f"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Create_over_existing_name_is_EEXIST(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "f", "keep");
        Assert.Equal(Errno.EEXIST, fs.Create(Root, "f", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Error);
        Assert.Equal("keep", fs.ReadText(fs.Get(Root, "f").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Mkdir_over_existing_file_is_EEXIST(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.EEXIST, fs.MkDir(Root, "f", 0x1ED, Caller.Root).Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Mknod_and_symlink_over_existing_directory_are_EEXIST(string libfs) => Run(libfs, fs =>
    {
        fs.MakeDir(Root, "d");
        Assert.Equal(Errno.EEXIST, fs.MkNod(Root, "d", FileMode.Fifo | 0x1A4, 0, Caller.Root).Error);
        Assert.Equal(Errno.EEXIST, fs.Symlink(Root, "d", "t", Caller.Root).Error);
        Assert.True(FileMode.IsDir(fs.Get(Root, "d").Mode));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Mkdir_dot_and_dotdot_are_EEXIST(string libfs) => Run(libfs, fs =>
    {
        Assert.Equal(Errno.EEXIST, fs.MkDir(Root, ".", 0x1ED, Caller.Root).Error);
        Assert.Equal(Errno.EEXIST, fs.MkDir(Root, "..", 0x1ED, Caller.Root).Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Non_directory_parent_is_ENOTDIR(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.ENOTDIR, fs.Lookup(f.Ino, "x").Error);
        Assert.Equal(Errno.ENOTDIR, fs.Create(f.Ino, "x", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Error);
        Assert.Equal(Errno.ENOTDIR, fs.MkDir(f.Ino, "x", 0x1ED, Caller.Root).Error);
        Assert.Equal(Errno.ENOTDIR, fs.Unlink(f.Ino, "x"));
        Assert.Equal(Errno.ENOTDIR, fs.OpenDir(f.Ino).Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Name_with_slash_or_empty_is_rejected(string libfs) => Run(libfs, fs =>
    {
        Assert.Equal(Errno.EINVAL, fs.MkDir(Root, "a/b", 0x1ED, Caller.Root).Error);
        Assert.NotEqual(Errno.OK, fs.MkDir(Root, "", 0x1ED, Caller.Root).Error);
        Assert.Empty(fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Nested_directories_resolve_by_path(string libfs) => Run(libfs, fs =>
    {
        var a = fs.MakeDir(Root, "a");
        var b = fs.MakeDir(a.Ino, "b");
        var c = fs.MakeDir(b.Ino, "c");
        fs.WriteFile(c.Ino, "leaf", "deep");
        Assert.Equal("deep", fs.ReadText(fs.Resolve("a/b/c/leaf").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void New_inodes_take_owner_from_caller_and_permission_bits_from_mode(string libfs) => Run(libfs, fs =>
    {
        var (f, fh) = fs.Create(Root, "f", FileMode.Regular | 0x1C0 /* 0700 */, OpenFlags.ReadWrite, User).Ok();
        fs.Release(f.Ino, fh);
        fs.Forget(f.Ino, 1);
        var d = fs.MkDir(Root, "d", 0x1E8 /* 0750 */, User).Ok();
        fs.Forget(d.Ino, 1);
        var got = fs.Get(Root, "f");
        Assert.Equal((1000U, 1000U, 0x1C0U), (got.Uid, got.Gid, PermOf(got.Mode)));
        var gotDir = fs.Get(Root, "d");
        Assert.Equal((1000U, 1000U, 0x1E8U), (gotDir.Uid, gotDir.Gid, PermOf(gotDir.Mode)));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Setgid_directory_passes_its_group_to_new_entries(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MkDir(Root, "d", 0x400 | 0x1FF /* 2777 */, new Caller(0, 50)).Ok();
        fs.Forget(d.Ino, 1);
        Assert.Equal(0x400U, fs.GetAttr(d.Ino).Ok().Mode & 0x400);
        var sub = fs.MkDir(d.Ino, "sub", 0x1ED, User).Ok();
        fs.Forget(sub.Ino, 1);
        var file = fs.MkNod(d.Ino, "f", FileMode.Regular | 0x1A4, 0, User).Ok();
        fs.Forget(file.Ino, 1);
        Assert.Equal(50U, fs.GetAttr(file.Ino).Ok().Gid);
        var subAttr = fs.GetAttr(sub.Ino).Ok();
        Assert.Equal(50U, subAttr.Gid);
        Assert.Equal(0x400U, subAttr.Mode & 0x400);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlink_of_missing_name_is_ENOENT(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.ENOENT, fs.Unlink(Root, "missing")));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlink_of_directory_is_EISDIR(string libfs) => Run(libfs, fs =>
    {
        fs.MakeDir(Root, "d");
        Assert.Equal(Errno.EISDIR, fs.Unlink(Root, "d"));
        Assert.NotNull(fs.Find(Root, "d"));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlink_of_dot_or_dotdot_is_EISDIR(string libfs) => Run(libfs, fs =>
    {
        Assert.Equal(Errno.EISDIR, fs.Unlink(Root, "."));
        Assert.Equal(Errno.EISDIR, fs.Unlink(Root, ".."));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rmdir_of_file_is_ENOTDIR(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.ENOTDIR, fs.RmDir(Root, "f"));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rmdir_of_missing_name_is_ENOENT(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.ENOENT, fs.RmDir(Root, "missing")));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rmdir_of_non_empty_directory_is_ENOTEMPTY(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        fs.WriteFile(d.Ino, "f", "x");
        Assert.Equal(Errno.ENOTEMPTY, fs.RmDir(Root, "d"));
        fs.Unlink(d.Ino, "f").Ok();
        Assert.Equal(Errno.OK, fs.RmDir(Root, "d"));
        Assert.Empty(fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Rmdir_dot_is_EINVAL_and_dotdot_is_ENOTEMPTY(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        Assert.Equal(Errno.EINVAL, fs.RmDir(d.Ino, "."));
        Assert.Equal(Errno.ENOTEMPTY, fs.RmDir(d.Ino, ".."));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Creating_in_a_removed_directory_is_ENOENT(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MkDir(Root, "d", 0x1ED, Caller.Root).Ok(); // keep the lookup: the inode outlives its name
        fs.RmDir(Root, "d").Ok();
        Assert.Equal(Errno.ENOENT, fs.Create(d.Ino, "f", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Error);
        Assert.Equal(Errno.ENOENT, fs.MkDir(d.Ino, "sub", 0x1ED, Caller.Root).Error);
        Assert.Equal(0U, fs.GetAttr(d.Ino).Ok().Nlink);
        fs.Forget(d.Ino, 1);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Removed_name_can_be_created_again(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "f", "one");
        fs.Unlink(Root, "f").Ok();
        fs.MakeDir(Root, "f");
        fs.RmDir(Root, "f").Ok();
        fs.WriteFile(Root, "f", "two");
        Assert.Equal("two", fs.ReadText(fs.Get(Root, "f").Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Getattr_of_unknown_inode_is_ENOENT(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.ENOENT, fs.GetAttr(new InodeNo(987654321)).Error));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Distinct_files_have_distinct_inode_numbers(string libfs) => Run(libfs, fs =>
    {
        var inos = Enumerable.Range(0, 50).Select(i => fs.WriteFile(Root, $"f{i}", "").Ino.Value).ToList();
        Assert.Equal(50, inos.Distinct().Count());
        Assert.DoesNotContain(1UL, inos);
    });
}
