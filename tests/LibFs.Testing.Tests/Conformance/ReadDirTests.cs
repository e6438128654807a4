namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class ReadDirTests : ConformanceBase
{
    /// <summary>Reads one page of at most <paramref name="max"/> entries from cookie <paramref name="offset"/>.</summary>
    private static List<DirEntry> Page(IFileSystem fs, InodeNo dir, FileHandle fh, long offset, int max)
    {
        var page = new List<DirEntry>();
        fs.ReadDir(dir, fh, offset, (in DirEntry e) =>
        {
            if (page.Count == max) return false;
            page.Add(e);
            return true;
        }).Ok();
        return page;
    }

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Empty_directory_lists_dot_and_dotdot_first(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        var all = fs.ListDir(d.Ino, includeDots: true);
        Assert.Equal([".", ".."], all.Select(e => e.Name));
        Assert.Equal(d.Ino, all[0].Ino);
        Assert.Equal(Root, all[1].Ino);
        Assert.All(all, e => Assert.True(FileMode.IsDir(e.Mode)));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Root_dotdot_is_the_root(string libfs) => Run(libfs, fs =>
        Assert.Equal(Root, fs.ListDir(Root, includeDots: true).Single(e => e.Name == "..").Ino));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Listing_has_every_entry_exactly_once_with_inode_and_type(string libfs) => Run(libfs, fs =>
    {
        var expected = new Dictionary<string, (InodeNo, uint)>();
        for (int i = 0; i < 30; i++)
        {
            var name = i % 3 == 0 ? $"d{i}" : $"f{i}";
            var a = i % 3 == 0 ? fs.MakeDir(Root, name) : fs.WriteFile(Root, name, "x");
            expected[name] = (a.Ino, FileMode.TypeOf(a.Mode));
        }
        var listed = fs.ListDir(Root, pageSize: 7);
        Assert.Equal(30, listed.Count);
        Assert.Equal(30, listed.Select(e => e.Name).Distinct().Count());
        foreach (var e in listed) Assert.Equal(expected[e.Name], (e.Ino, FileMode.TypeOf(e.Mode)));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Resuming_from_a_cookie_in_the_middle_continues_without_repeats(string libfs) => Run(libfs, fs =>
    {
        for (int i = 0; i < 40; i++) fs.WriteFile(Root, $"f{i:D2}", "");
        var fh = fs.OpenDir(Root).Ok();
        var first = Page(fs, Root, fh, 0, 20);
        var rest = new List<DirEntry>();
        long cookie = first[^1].NextOffset;
        while (true)
        {
            var p = Page(fs, Root, fh, cookie, 5);
            if (p.Count == 0) break;
            rest.AddRange(p);
            cookie = p[^1].NextOffset;
        }
        fs.ReleaseDir(Root, fh).Ok();
        var names = first.Concat(rest).Select(e => e.Name).Where(n => n is not ("." or "..")).ToList();
        Assert.Equal(40, names.Count);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"f{i:D2}").Order(), names.Order());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void A_cookie_can_be_reused_from_a_new_handle(string libfs) => Run(libfs, fs =>
    {
        for (int i = 0; i < 10; i++) fs.WriteFile(Root, $"f{i}", "");
        var fh = fs.OpenDir(Root).Ok();
        var first = Page(fs, Root, fh, 0, 6);
        fs.ReleaseDir(Root, fh).Ok();
        var fh2 = fs.OpenDir(Root).Ok();
        var again = Page(fs, Root, fh2, first[3].NextOffset, 2);
        fs.ReleaseDir(Root, fh2).Ok();
        Assert.Equal(first[4..6].Select(e => e.Name), again.Select(e => e.Name));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Sink_refusal_resends_the_refused_entry(string libfs) => Run(libfs, fs =>
    {
        for (int i = 0; i < 5; i++) fs.WriteFile(Root, $"f{i}", "");
        var fh = fs.OpenDir(Root).Ok();
        var seen = new List<string>();
        long cookie = 0;
        for (int round = 0; round < 20; round++)
        {
            var p = Page(fs, Root, fh, cookie, 1);
            if (p.Count == 0) break;
            seen.Add(p[0].Name);
            cookie = p[0].NextOffset;
        }
        fs.ReleaseDir(Root, fh).Ok();
        Assert.Equal(7, seen.Count);
        Assert.Equal(7, seen.Distinct().Count());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Entries_present_throughout_a_listing_with_concurrent_inserts_appear_exactly_once(string libfs) => Run(libfs, fs =>
    {
        for (int i = 0; i < 50; i++) fs.WriteFile(Root, $"old{i:D2}", "");
        var fh = fs.OpenDir(Root).Ok();
        var seen = new List<string>();
        long cookie = 0;
        int added = 0;
        while (true)
        {
            var p = Page(fs, Root, fh, cookie, 8);
            if (p.Count == 0) break;
            seen.AddRange(p.Select(e => e.Name));
            cookie = p[^1].NextOffset;
            for (int k = 0; k < 3; k++) fs.WriteFile(Root, $"new{added++:D3}", "");
            if (added > 300) break;
        }
        fs.ReleaseDir(Root, fh).Ok();
        for (int i = 0; i < 50; i++) Assert.Single(seen, $"old{i:D2}");
        Assert.Equal(seen.Count, seen.Distinct().Count());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Entries_removed_during_a_listing_do_not_disturb_the_others(string libfs) => Run(libfs, fs =>
    {
        for (int i = 0; i < 60; i++) fs.WriteFile(Root, $"f{i:D2}", "");
        var fh = fs.OpenDir(Root).Ok();
        var seen = new List<string>();
        long cookie = 0;
        int removed = 0;
        while (true)
        {
            var p = Page(fs, Root, fh, cookie, 6);
            if (p.Count == 0) break;
            seen.AddRange(p.Select(e => e.Name));
            cookie = p[^1].NextOffset;
            // Remove odd-numbered names, some already listed and some not yet.
            for (int k = 0; k < 3 && removed < 30; k++, removed++) fs.Unlink(Root, $"f{removed * 2 + 1:D2}").Ok();
        }
        fs.ReleaseDir(Root, fh).Ok();
        for (int i = 0; i < 60; i += 2) Assert.Single(seen, $"f{i:D2}");
        Assert.Equal(seen.Count, seen.Distinct().Count());
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Reading_from_the_last_cookie_returns_nothing(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "");
        var all = fs.ListDir(Root, includeDots: true);
        var fh = fs.OpenDir(Root).Ok();
        Assert.Empty(Page(fs, Root, fh, all[^1].NextOffset, 100));
        fs.ReleaseDir(Root, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Removed_entries_disappear_and_new_ones_appear(string libfs) => Run(libfs, fs =>
    {
        fs.WriteFile(Root, "a", "");
        fs.WriteFile(Root, "b", "");
        fs.Unlink(Root, "a").Ok();
        fs.MakeDir(Root, "c");
        Assert.Equal(["b", "c"], fs.Names(Root));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Readdir_with_unknown_handle_is_EBADF(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.EBADF, fs.ReadDir(Root, new FileHandle(123456789), 0, (in DirEntry _) => true)));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Large_directory_of_3000_entries_lists_and_looks_up_every_name(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "big");
        var inos = new Dictionary<string, InodeNo>();
        for (int i = 0; i < 3000; i++)
        {
            var name = $"entry-{i:D5}-{new string('x', i % 40)}";
            var (a, fh) = fs.Create(d.Ino, name, FileMode.Regular | 0x1A4, OpenFlags.WriteOnly, Caller.Root).Ok();
            fs.Release(a.Ino, fh).Ok();
            fs.Forget(a.Ino, 1);
            inos[name] = a.Ino;
        }
        var listed = fs.ListDir(d.Ino, pageSize: 100);
        Assert.Equal(3000, listed.Count);
        Assert.Equal(inos.Keys.Order(StringComparer.Ordinal), listed.Select(e => e.Name).Order(StringComparer.Ordinal));
        foreach (var (name, ino) in inos) Assert.Equal(ino, fs.Get(d.Ino, name).Ino);
        Assert.Equal(Errno.ENOENT, fs.Lookup(d.Ino, "entry-99999").Error);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Large_directory_shrinks_back_to_empty(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "big");
        for (int i = 0; i < 2000; i++) fs.WriteFile(d.Ino, $"n{i}", "");
        for (int i = 0; i < 2000; i += 2) fs.Unlink(d.Ino, $"n{i}").Ok();
        Assert.Equal(1000, fs.ListDir(d.Ino, pageSize: 128).Count);
        for (int i = 1; i < 2000; i += 2) fs.Unlink(d.Ino, $"n{i}").Ok();
        Assert.Empty(fs.ListDir(d.Ino));
        fs.RmDir(Root, "big").Ok();
    });
}
