namespace ExoFS.LibFs.Testing.Tests.Conformance;

/// <summary>Runs on each libFS's small configuration (a few MiB of data capacity).</summary>
public sealed class EnospcTests : ConformanceBase
{
    /// <summary>Writes 64 KiB pieces into new files until the libFS says ENOSPC; returns the files written whole.</summary>
    private static List<(string Name, InodeNo Ino, byte[] Data)> FillUp(IFileSystem fs, InodeNo dir)
    {
        var files = new List<(string, InodeNo, byte[])>();
        for (int i = 0; i < 100_000; i++)
        {
            var name = $"fill{i}";
            var c = fs.Create(dir, name, FileMode.Regular | 0x1A4, OpenFlags.WriteOnly, Caller.Root);
            if (c.Error == Errno.ENOSPC) return files;
            var (attr, fh) = c.Ok();
            var data = new byte[64 * 1024];
            new Random(i).NextBytes(data);
            var w = fs.Write(attr.Ino, fh, 0, data);
            fs.Release(attr.Ino, fh).Ok();
            fs.Forget(attr.Ino, 1);
            if (w.Error == Errno.ENOSPC || (w.Ok && w.Value < data.Length))
            {
                fs.Unlink(dir, name).Ok(); // keep only whole files so content checks are exact
                return files;
            }
            Assert.Equal(data.Length, w.Ok());
            files.Add((name, attr.Ino, data));
        }
        throw new InvalidOperationException("the small configuration never filled up");
    }

    [Theory, MemberData(nameof(LibFses.WithSmall), MemberType = typeof(LibFses))]
    public void Filling_the_disk_ends_in_ENOSPC_with_earlier_files_intact(string libfs) => RunSmall(libfs, fs =>
    {
        var files = FillUp(fs, Root);
        Assert.NotEmpty(files);
        foreach (var (_, ino, data) in files) Assert.Equal(data, fs.ReadFile(ino));
        Assert.Equal(files.Count, fs.ListDir(Root).Count);
    });

    [Theory, MemberData(nameof(LibFses.WithSmall), MemberType = typeof(LibFses))]
    public void Space_is_usable_again_after_deleting_files(string libfs) => RunSmall(libfs, fs =>
    {
        var files = FillUp(fs, Root);
        foreach (var (name, _, _) in files.Take(files.Count / 2)) fs.Unlink(Root, name).Ok();
        var more = fs.WriteFile(Root, "after", Bytes(256 * 1024, seed: 99));
        Assert.Equal(Bytes(256 * 1024, seed: 99), fs.ReadFile(more.Ino));
    });

    [Theory, MemberData(nameof(LibFses.WithSmall), MemberType = typeof(LibFses))]
    public void Deleting_everything_returns_free_space_to_the_start(string libfs) => RunSmall(libfs, fs =>
    {
        ulong free = fs.StatFs().Ok().BlocksFree;
        var files = FillUp(fs, Root);
        Assert.True(fs.StatFs().Ok().BlocksFree < free / 4);
        foreach (var (name, _, _) in files) fs.Unlink(Root, name).Ok();
        Assert.Equal(free, fs.StatFs().Ok().BlocksFree);
    });

    [Theory, MemberData(nameof(LibFses.WithSmall), MemberType = typeof(LibFses))]
    public void Failed_write_on_a_full_disk_leaves_the_file_readable(string libfs) => RunSmall(libfs, fs =>
    {
        var keep = fs.WriteFile(Root, "keep", "precious");
        FillUp(fs, Root);
        var fh = fs.Open(keep.Ino, OpenFlags.WriteOnly).Ok();
        var w = fs.Write(keep.Ino, fh, 1 << 20, Bytes(1 << 20));
        fs.Release(keep.Ino, fh).Ok();
        Assert.True(w.Error == Errno.ENOSPC || (w.Ok && w.Value < (1 << 20)), $"write on a full disk gave {w}");
        Assert.Equal("precious"u8.ToArray(), fs.ReadAt(keep.Ino, 0, 8));
    });

    [Theory, MemberData(nameof(LibFses.WithSmall), MemberType = typeof(LibFses))]
    public void Growing_by_truncate_needs_no_space_on_a_full_disk(string libfs) => RunSmall(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "sparse", "x");
        FillUp(fs, Root);
        var a = fs.SetAttr(f.Ino, new SetAttrRequest { Size = 1UL << 30 }).Ok();
        Assert.Equal(1UL << 30, a.Size);
        Assert.All(fs.ReadAt(f.Ino, 1 << 29, 4096), b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.WithSmall), MemberType = typeof(LibFses))]
    public void Statfs_reports_little_free_space_when_full(string libfs) => RunSmall(libfs, fs =>
    {
        var s0 = fs.StatFs().Ok();
        FillUp(fs, Root);
        var s1 = fs.StatFs().Ok();
        Assert.True(s1.BlocksFree * s1.BlockSize < 64 * 1024 + 64 * 1024UL, $"{s1.BlocksFree} blocks still free");
        Assert.True(s1.BlocksFree < s0.BlocksFree);
    });
}
