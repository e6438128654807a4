namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class XattrTests : ConformanceBase
{
    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Set_then_get_returns_the_value(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.SetXattr(f.Ino, "user.color", "blue"u8, XattrFlags.None).Ok();
        Assert.Equal("blue"u8.ToArray(), fs.GetXattr(f.Ino, "user.color").Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Get_of_missing_attribute_is_ENODATA(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.ENODATA, fs.GetXattr(f.Ino, "user.none").Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Create_flag_on_existing_attribute_is_EEXIST(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.SetXattr(f.Ino, "user.a", "1"u8, XattrFlags.Create).Ok();
        Assert.Equal(Errno.EEXIST, fs.SetXattr(f.Ino, "user.a", "2"u8, XattrFlags.Create));
        Assert.Equal("1"u8.ToArray(), fs.GetXattr(f.Ino, "user.a").Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Replace_flag_on_missing_attribute_is_ENODATA(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.ENODATA, fs.SetXattr(f.Ino, "user.a", "1"u8, XattrFlags.Replace));
        Assert.Empty(fs.ListXattr(f.Ino).Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Replace_flag_on_existing_attribute_replaces(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.SetXattr(f.Ino, "user.a", "old value"u8, XattrFlags.None).Ok();
        fs.SetXattr(f.Ino, "user.a", "new"u8, XattrFlags.Replace).Ok();
        Assert.Equal("new"u8.ToArray(), fs.GetXattr(f.Ino, "user.a").Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void No_flags_creates_or_replaces(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.SetXattr(f.Ino, "user.a", "1"u8, XattrFlags.None).Ok();
        fs.SetXattr(f.Ino, "user.a", "2"u8, XattrFlags.None).Ok();
        Assert.Equal("2"u8.ToArray(), fs.GetXattr(f.Ino, "user.a").Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void List_returns_every_name_once(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Assert.Empty(fs.ListXattr(f.Ino).Ok());
        string[] names = ["user.b", "user.a", "trusted.t", "security.s", "user.zz"];
        foreach (var n in names) fs.SetXattr(f.Ino, n, "v"u8, XattrFlags.None).Ok();
        Assert.Equal(names.Order(StringComparer.Ordinal), fs.ListXattr(f.Ino).Ok().Order(StringComparer.Ordinal));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Remove_deletes_and_missing_remove_is_ENODATA(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.SetXattr(f.Ino, "user.a", "1"u8, XattrFlags.None).Ok();
        fs.RemoveXattr(f.Ino, "user.a").Ok();
        Assert.Equal(Errno.ENODATA, fs.GetXattr(f.Ino, "user.a").Error);
        Assert.Equal(Errno.ENODATA, fs.RemoveXattr(f.Ino, "user.a"));
        Assert.Empty(fs.ListXattr(f.Ino).Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Empty_and_binary_values_round_trip(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var binary = Bytes(256, seed: 2);
        binary[0] = 0;
        fs.SetXattr(f.Ino, "user.empty", ReadOnlySpan<byte>.Empty, XattrFlags.None).Ok();
        fs.SetXattr(f.Ino, "user.bin", binary, XattrFlags.None).Ok();
        Assert.Empty(fs.GetXattr(f.Ino, "user.empty").Ok());
        Assert.Equal(binary, fs.GetXattr(f.Ino, "user.bin").Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Value_of_one_KiB_round_trips(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var v = Bytes(1024, seed: 8);
        fs.SetXattr(f.Ino, "user.big", v, XattrFlags.None).Ok();
        Assert.Equal(v, fs.GetXattr(f.Ino, "user.big").Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Name_without_a_namespace_is_ENOTSUP(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.ENOTSUP, fs.SetXattr(f.Ino, "color", "1"u8, XattrFlags.None));
        Assert.Equal(Errno.ENOTSUP, fs.SetXattr(f.Ino, "bogus.color", "1"u8, XattrFlags.None));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Directories_and_symlinks_have_their_own_attributes(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        var f = fs.WriteFile(d.Ino, "f", "x");
        fs.SetXattr(d.Ino, "user.dir", "D"u8, XattrFlags.None).Ok();
        fs.SetXattr(f.Ino, "user.file", "F"u8, XattrFlags.None).Ok();
        Assert.Equal(["user.dir"], fs.ListXattr(d.Ino).Ok());
        Assert.Equal(["user.file"], fs.ListXattr(f.Ino).Ok());
        Assert.Equal(Errno.ENODATA, fs.GetXattr(d.Ino, "user.file").Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Many_attributes_on_one_inode(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        for (int i = 0; i < 40; i++) fs.SetXattr(f.Ino, $"user.k{i:D2}", Bytes(20, i), XattrFlags.Create).Ok();
        Assert.Equal(40, fs.ListXattr(f.Ino).Ok().Count);
        for (int i = 0; i < 40; i++) Assert.Equal(Bytes(20, i), fs.GetXattr(f.Ino, $"user.k{i:D2}").Ok());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Setxattr_updates_ctime(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Tick();
        fs.SetXattr(f.Ino, "user.a", "1"u8, XattrFlags.None).Ok();
        AssertLater(f.Ctime, fs.GetAttr(f.Ino).Ok().Ctime, "ctime");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Attributes_follow_the_inode_through_rename_and_link(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.SetXattr(f.Ino, "user.a", "1"u8, XattrFlags.None).Ok();
        fs.Rename(Root, "f", Root, "g", RenameFlags.None).Ok();
        fs.Forget(fs.Link(f.Ino, Root, "h").Ok().Ino, 1);
        Assert.Equal("1"u8.ToArray(), fs.GetXattr(fs.Get(Root, "h").Ino, "user.a").Ok());
    });
}
