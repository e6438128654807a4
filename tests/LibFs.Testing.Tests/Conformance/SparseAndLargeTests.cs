namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class SparseAndLargeTests : ConformanceBase
{
    private const long FiveGiB = 5L << 30;

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void One_byte_at_5_GiB_gives_size_5_GiB_plus_1(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "sparse", ReadOnlySpan<byte>.Empty);
        fs.WriteAt(f.Ino, FiveGiB, "X"u8);
        var attr = fs.GetAttr(f.Ino).Ok();
        Assert.Equal((ulong)FiveGiB + 1, attr.Size);
        Assert.True(attr.Blocks512 < 1024, $"a 1-byte sparse file uses {attr.Blocks512} sectors");
        Assert.Equal("X"u8.ToArray(), fs.ReadAt(f.Ino, FiveGiB, 10));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Holes_of_a_huge_sparse_file_read_as_zeros(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "sparse", ReadOnlySpan<byte>.Empty);
        fs.WriteAt(f.Ino, FiveGiB, "X"u8);
        foreach (long off in new[] { 0L, 4096, 1L << 30, (4L << 30) - 10, 4L << 30, FiveGiB - 4096 })
            Assert.All(fs.ReadAt(f.Ino, off, 4096), b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Read_across_hole_boundary_returns_zeros_then_data(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "sparse", ReadOnlySpan<byte>.Empty);
        fs.WriteAt(f.Ino, FiveGiB, "XYZ"u8);
        var got = fs.ReadAt(f.Ino, FiveGiB - 5000, 6000);
        Assert.Equal(5003, got.Length);
        Assert.All(got[..5000], b => Assert.Equal(0, b));
        Assert.Equal("XYZ"u8.ToArray(), got[5000..]);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Write_straddling_4_GiB_reads_back(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", ReadOnlySpan<byte>.Empty);
        var data = Bytes(10000, seed: 4);
        long at = (4L << 30) - 5000;
        fs.WriteAt(f.Ino, at, data);
        Assert.Equal(data, fs.ReadAt(f.Ino, at, data.Length));
        Assert.Equal((ulong)(at + data.Length), fs.GetAttr(f.Ino).Ok().Size);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Data_written_at_several_far_offsets_stays_separate(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", ReadOnlySpan<byte>.Empty);
        long[] offsets = [0, 48 * 1024, 4L << 20, 1L << 30, 3L << 30, 6L << 30];
        for (int i = 0; i < offsets.Length; i++) fs.WriteAt(f.Ino, offsets[i], Bytes(100, seed: i));
        for (int i = 0; i < offsets.Length; i++) Assert.Equal(Bytes(100, seed: i), fs.ReadAt(f.Ino, offsets[i], 100));
        Assert.All(fs.ReadAt(f.Ino, 2L << 30, 8192), b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Filling_part_of_a_hole_keeps_the_rest_zero(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", ReadOnlySpan<byte>.Empty);
        fs.WriteAt(f.Ino, 100_000, "end"u8);
        fs.WriteAt(f.Ino, 50_000, "mid"u8);
        var all = fs.ReadFile(f.Ino);
        Assert.Equal(100_003, all.Length);
        Assert.Equal("mid"u8.ToArray(), all[50_000..50_003]);
        Assert.Equal(6, all.Count(b => b != 0));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Sparse_file_at_offset_zero_hole_then_data_in_same_block(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", ReadOnlySpan<byte>.Empty);
        fs.WriteAt(f.Ino, 4000, "ab"u8);
        var all = fs.ReadFile(f.Ino);
        Assert.Equal(4002, all.Length);
        Assert.All(all[..4000], b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unlinking_a_huge_sparse_file_leaves_the_fs_clean(string libfs) => Run(libfs, fs =>
    {
        ulong freeBefore = fs.StatFs().Ok().BlocksFree;
        var f = fs.WriteFile(Root, "sparse", ReadOnlySpan<byte>.Empty);
        fs.WriteAt(f.Ino, FiveGiB, "X"u8);
        fs.WriteAt(f.Ino, 1L << 30, "Y"u8);
        fs.Unlink(Root, "sparse").Ok();
        Assert.Equal(freeBefore, fs.StatFs().Ok().BlocksFree);
    });
}
