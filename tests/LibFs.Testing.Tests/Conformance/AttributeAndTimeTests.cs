namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class AttributeAndTimeTests : ConformanceBase
{
    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Chmod_changes_permissions_and_keeps_the_type(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Mode = 0x1C0 }).Ok();
        Assert.Equal(FileMode.Regular | 0x1C0, a.Mode);
        var d = fs.MakeDir(Root, "d");
        // A type in the requested mode is ignored: chmod never changes what an inode is.
        var b = fs.SetAttr(d.Ino, new SetAttrRequest { Mode = FileMode.Regular | 0x1C0 }).Ok();
        Assert.Equal(FileMode.Directory | 0x1C0, b.Mode);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Chmod_keeps_setuid_setgid_and_sticky_bits(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Assert.Equal(0xFFFU, PermOf(fs.SetAttr(f.Ino, new SetAttrRequest { Mode = 0xFFF }).Ok().Mode));
        Assert.Equal(0xFFFU, PermOf(fs.GetAttr(f.Ino).Ok().Mode));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Chown_changes_owner_and_group(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Uid = 1234, Gid = 5678 }).Ok();
        Assert.Equal((1234U, 5678U), (a.Uid, a.Gid));
        var b = fs.SetAttr(f.Ino, new SetAttrRequest { Gid = 42 }).Ok();
        Assert.Equal((1234U, 42U), (b.Uid, b.Gid));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Chown_of_a_file_clears_setuid_and_group_executable_setgid(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x"u8, mode: 0xDED); // 6755
        Assert.Equal(0xDEDU, PermOf(fs.GetAttr(f.Ino).Ok().Mode));
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Uid = 7 }).Ok();
        Assert.Equal(0x1EDU, PermOf(a.Mode));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Chown_with_explicit_mode_keeps_the_given_mode(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Uid = 7, Mode = 0x9ED }).Ok(); // 4755
        Assert.Equal(0x9EDU, PermOf(a.Mode));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Utimens_sets_atime_and_mtime_to_the_nanosecond(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var at = new Timespec(1_000_000_000, 123_456_789);
        var mt = new Timespec(1_500_000_000, 987_654_321);
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Atime = TimeSet.To(at), Mtime = TimeSet.To(mt) }).Ok();
        Assert.Equal((at, mt), (a.Atime, a.Mtime));
        var g = fs.GetAttr(f.Ino).Ok();
        Assert.Equal((at, mt), (g.Atime, g.Mtime));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Utimens_accepts_times_beyond_2038_and_before_1970(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var future = new Timespec(5_000_000_000, 1);
        var past = new Timespec(-86_400, 500);
        fs.SetAttr(f.Ino, new SetAttrRequest { Atime = TimeSet.To(past), Mtime = TimeSet.To(future) }).Ok();
        var g = fs.GetAttr(f.Ino).Ok();
        Assert.Equal((past, future), (g.Atime, g.Mtime));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Utimens_now_sets_times_close_to_the_clock(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        fs.SetAttr(f.Ino, new SetAttrRequest { Atime = TimeSet.To(new Timespec(1, 0)), Mtime = TimeSet.To(new Timespec(1, 0)) }).Ok();
        var before = Timespec.Now();
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Atime = TimeSet.ToNow, Mtime = TimeSet.ToNow }).Ok();
        Assert.True(a.Mtime.Sec >= before.Sec - 1 && a.Atime.Sec >= before.Sec - 1, $"{a.Mtime} {a.Atime} vs {before}");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Setting_only_mtime_leaves_atime(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var at = new Timespec(1000, 1);
        fs.SetAttr(f.Ino, new SetAttrRequest { Atime = TimeSet.To(at) }).Ok();
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Mtime = TimeSet.To(new Timespec(2000, 2)) }).Ok();
        Assert.Equal(at, a.Atime);
        Assert.Equal(new Timespec(2000, 2), a.Mtime);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Every_setattr_updates_ctime(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        var last = f.Ctime;
        foreach (var req in new[]
        {
            new SetAttrRequest { Mode = 0x180 }, new SetAttrRequest { Uid = 5 },
            new SetAttrRequest { Mtime = TimeSet.To(new Timespec(10, 0)) }, new SetAttrRequest { Size = 0 },
        })
        {
            Tick();
            var now = fs.SetAttr(f.Ino, req).Ok().Ctime;
            AssertLater(last, now, $"ctime after {req}");
            last = now;
        }
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void New_file_times_are_now_and_equal(string libfs) => Run(libfs, fs =>
    {
        var before = Timespec.Now();
        var f = fs.WriteFile(Root, "f", ReadOnlySpan<byte>.Empty);
        Assert.True(f.Mtime.Sec >= before.Sec - 1, $"mtime {f.Mtime}, clock {before}");
        Assert.Equal(f.Mtime, f.Ctime);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Write_updates_mtime_and_ctime(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Tick();
        fs.WriteAt(f.Ino, 0, "y"u8);
        var a = fs.GetAttr(f.Ino).Ok();
        AssertLater(f.Mtime, a.Mtime, "mtime");
        AssertLater(f.Ctime, a.Ctime, "ctime");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Read_does_not_change_mtime_or_ctime(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "x");
        Tick();
        fs.ReadFile(f.Ino);
        var a = fs.GetAttr(f.Ino).Ok();
        Assert.Equal((f.Mtime, f.Ctime), (a.Mtime, a.Ctime));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Creating_an_entry_updates_the_directory_mtime_and_ctime(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        Tick();
        fs.WriteFile(d.Ino, "f", "x");
        var a = fs.GetAttr(d.Ino).Ok();
        AssertLater(d.Mtime, a.Mtime, "mtime");
        AssertLater(d.Ctime, a.Ctime, "ctime");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlink_updates_directory_mtime_and_remaining_link_ctime(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        var f = fs.WriteFile(d.Ino, "a", "x");
        var l = fs.Link(f.Ino, d.Ino, "b").Ok();
        fs.Forget(l.Ino, 1);
        var dBefore = fs.GetAttr(d.Ino).Ok();
        Tick();
        fs.Unlink(d.Ino, "a").Ok();
        AssertLater(dBefore.Mtime, fs.GetAttr(d.Ino).Ok().Mtime, "directory mtime");
        AssertLater(l.Ctime, fs.GetAttr(f.Ino).Ok().Ctime, "inode ctime");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Mkdir_and_rmdir_update_the_parent_mtime(string libfs) => Run(libfs, fs =>
    {
        var p = fs.MakeDir(Root, "p");
        Tick();
        fs.MakeDir(p.Ino, "c");
        var afterMk = fs.GetAttr(p.Ino).Ok();
        AssertLater(p.Mtime, afterMk.Mtime, "mtime after mkdir");
        Tick();
        fs.RmDir(p.Ino, "c").Ok();
        AssertLater(afterMk.Mtime, fs.GetAttr(p.Ino).Ok().Mtime, "mtime after rmdir");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Failed_operations_do_not_change_directory_times(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        fs.WriteFile(d.Ino, "f", "x");
        var before = fs.GetAttr(d.Ino).Ok();
        Tick();
        Assert.Equal(Errno.EEXIST, fs.MkDir(d.Ino, "f", 0x1ED, Caller.Root).Error);
        Assert.Equal(Errno.ENOENT, fs.Unlink(d.Ino, "nope"));
        var after = fs.GetAttr(d.Ino).Ok();
        Assert.Equal((before.Mtime, before.Ctime), (after.Mtime, after.Ctime));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Setattr_of_unknown_inode_is_ENOENT(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.ENOENT, fs.SetAttr(new InodeNo(987654321), new SetAttrRequest { Mode = 0x1A4 }).Error));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Statfs_reports_name_max_255_and_consistent_counts(string libfs) => Run(libfs, fs =>
    {
        var s = fs.StatFs().Ok();
        Assert.Equal(255U, s.NameMax);
        Assert.True(s.BlockSize >= 512);
        Assert.True(s.BlocksFree <= s.Blocks && s.BlocksAvailable <= s.BlocksFree);
        Assert.True(s.FilesFree <= s.Files);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Statfs_free_blocks_drop_when_data_is_written_and_return_on_unlink(string libfs) => Run(libfs, fs =>
    {
        var before = fs.StatFs().Ok();
        fs.WriteFile(Root, "f", Bytes(1 << 20));
        var mid = fs.StatFs().Ok();
        Assert.True(before.BlocksFree - mid.BlocksFree >= (ulong)((1 << 20) / before.BlockSize));
        fs.Unlink(Root, "f").Ok();
        Assert.Equal(before.BlocksFree, fs.StatFs().Ok().BlocksFree);
    });
}
