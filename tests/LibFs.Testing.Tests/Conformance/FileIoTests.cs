namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class FileIoTests : ConformanceBase
{
    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Written_bytes_read_back_identically(string libfs) => Run(libfs, fs =>
    {
        var data = Bytes(10000);
        var f = fs.WriteFile(Root, "f", data);
        Assert.Equal(10000UL, f.Size);
        Assert.Equal(data, fs.ReadFile(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void One_MiB_file_with_random_content_round_trips(string libfs) => Run(libfs, fs =>
    {
        var data = Bytes(1 << 20, seed: 7);
        var f = fs.WriteFile(Root, "big", data);
        Assert.Equal(data, fs.ReadFile(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Empty_file_has_size_zero_and_reads_nothing(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "e", ReadOnlySpan<byte>.Empty);
        Assert.Equal(0UL, f.Size);
        Assert.Empty(fs.ReadAt(f.Ino, 0, 100));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Read_at_or_past_end_returns_zero_bytes(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        Assert.Empty(fs.ReadAt(f.Ino, 3, 10));
        Assert.Empty(fs.ReadAt(f.Ino, 1000, 10));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Read_spanning_end_returns_only_bytes_before_end(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abcdef");
        Assert.Equal("def"u8.ToArray(), fs.ReadAt(f.Ino, 3, 100));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Overwrite_in_middle_keeps_size_and_surrounding_bytes(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "0123456789");
        fs.WriteAt(f.Ino, 3, "abc"u8);
        Assert.Equal("012abc6789", fs.ReadText(f.Ino));
        Assert.Equal(10UL, fs.GetAttr(f.Ino).Ok().Size);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Write_past_end_extends_size(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        fs.WriteAt(f.Ino, 3, "defg"u8);
        Assert.Equal(7UL, fs.GetAttr(f.Ino).Ok().Size);
        Assert.Equal("abcdefg", fs.ReadText(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Write_beyond_end_leaves_a_gap_of_zeros(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "ab");
        fs.WriteAt(f.Ino, 10, "z"u8);
        var content = fs.ReadFile(f.Ino);
        Assert.Equal(11, content.Length);
        Assert.Equal((byte)'b', content[1]);
        Assert.All(content[2..10], b => Assert.Equal(0, b));
        Assert.Equal((byte)'z', content[10]);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Write_crossing_block_boundaries_reads_back(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", ReadOnlySpan<byte>.Empty);
        var data = Bytes(3 * 4096 + 10, seed: 3);
        fs.WriteAt(f.Ino, 4090, data);
        Assert.Equal(data, fs.ReadAt(f.Ino, 4090, data.Length));
        Assert.All(fs.ReadAt(f.Ino, 0, 4090), b => Assert.Equal(0, b));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Many_small_sequential_writes_concatenate(string libfs) => Run(libfs, fs =>
    {
        var (f, fh) = fs.Create(Root, "log", FileMode.Regular | 0x1A4, OpenFlags.WriteOnly, Caller.Root).Ok();
        var expected = new List<byte>();
        long pos = 0;
        for (int i = 0; i < 500; i++)
        {
            var chunk = Bytes(1 + i % 37, seed: i);
            Assert.Equal(chunk.Length, fs.Write(f.Ino, fh, pos, chunk).Ok());
            pos += chunk.Length;
            expected.AddRange(chunk);
        }
        fs.Release(f.Ino, fh).Ok();
        fs.Forget(f.Ino, 1);
        Assert.Equal(expected.ToArray(), fs.ReadFile(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Unaligned_reads_of_every_size_match_content(string libfs) => Run(libfs, fs =>
    {
        var data = Bytes(20000, seed: 11);
        var f = fs.WriteFile(Root, "f", data);
        foreach (var (off, len) in new[] { (0, 1), (1, 4095), (4095, 2), (4096, 4096), (5000, 9000), (19999, 5) })
            Assert.Equal(data.AsSpan(off, Math.Min(len, data.Length - off)).ToArray(), fs.ReadAt(f.Ino, off, len));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Create_returns_a_handle_that_reads_and_writes(string libfs) => Run(libfs, fs =>
    {
        var (f, fh) = fs.Create(Root, "f", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Ok();
        Assert.Equal(4, fs.Write(f.Ino, fh, 0, "data"u8).Ok());
        var buf = new byte[10];
        Assert.Equal(4, fs.Read(f.Ino, fh, 0, buf).Ok());
        Assert.Equal("data"u8.ToArray(), buf[..4]);
        Assert.Equal(Errno.OK, fs.Flush(f.Ino, fh));
        Assert.Equal(Errno.OK, fs.Fsync(f.Ino, fh, dataOnly: false));
        Assert.Equal(Errno.OK, fs.Fsync(f.Ino, fh, dataOnly: true));
        Assert.Equal(Errno.OK, fs.Release(f.Ino, fh));
        fs.Forget(f.Ino, 1);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Two_handles_on_one_file_see_each_others_writes(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "........");
        var a = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        var b = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        fs.Write(f.Ino, a, 0, "AAAA"u8).Ok();
        fs.Write(f.Ino, b, 4, "BBBB"u8).Ok();
        var buf = new byte[8];
        fs.Read(f.Ino, a, 0, buf).Ok();
        Assert.Equal("AAAABBBB"u8.ToArray(), buf);
        fs.Release(f.Ino, a).Ok();
        fs.Release(f.Ino, b).Ok();
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Read_through_write_only_handle_is_EBADF(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        var fh = fs.Open(f.Ino, OpenFlags.WriteOnly).Ok();
        Assert.Equal(Errno.EBADF, fs.Read(f.Ino, fh, 0, new byte[3]).Error);
        fs.Release(f.Ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Write_through_read_only_handle_is_EBADF(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Ok();
        Assert.Equal(Errno.EBADF, fs.Write(f.Ino, fh, 0, "x"u8).Error);
        fs.Release(f.Ino, fh).Ok();
        Assert.Equal("abc", fs.ReadText(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Released_handle_is_EBADF(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        var fh = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        fs.Release(f.Ino, fh).Ok();
        Assert.Equal(Errno.EBADF, fs.Read(f.Ino, fh, 0, new byte[3]).Error);
        Assert.Equal(Errno.EBADF, fs.Release(f.Ino, fh));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Open_of_directory_is_EISDIR(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.EISDIR, fs.Open(Root, OpenFlags.ReadOnly).Error));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Open_of_unknown_inode_is_ENOENT(string libfs) => Run(libfs, fs =>
        Assert.Equal(Errno.ENOENT, fs.Open(new InodeNo(987654321), OpenFlags.ReadOnly).Error));

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Open_with_truncate_empties_the_file(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", Bytes(9000));
        var fh = fs.Open(f.Ino, OpenFlags.WriteOnly | OpenFlags.Truncate).Ok();
        fs.Release(f.Ino, fh).Ok();
        Assert.Equal(0UL, fs.GetAttr(f.Ino).Ok().Size);
        Assert.Empty(fs.ReadFile(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Zero_length_write_changes_nothing(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        var fh = fs.Open(f.Ino, OpenFlags.WriteOnly).Ok();
        Assert.Equal(0, fs.Write(f.Ino, fh, 100, ReadOnlySpan<byte>.Empty).Ok());
        fs.Release(f.Ino, fh).Ok();
        var after = fs.GetAttr(f.Ino).Ok();
        Assert.Equal(3UL, after.Size);
        Assert.Equal(f.Mtime, after.Mtime);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Negative_offset_is_EINVAL(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", "abc");
        var fh = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        Assert.Equal(Errno.EINVAL, fs.Read(f.Ino, fh, -1, new byte[1]).Error);
        Assert.Equal(Errno.EINVAL, fs.Write(f.Ino, fh, -1, "x"u8).Error);
        fs.Release(f.Ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Blocks_grow_with_written_data(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "f", ReadOnlySpan<byte>.Empty);
        ulong before = fs.GetAttr(f.Ino).Ok().Blocks512;
        fs.WriteAt(f.Ino, 0, Bytes(64 * 1024));
        ulong after = fs.GetAttr(f.Ino).Ok().Blocks512;
        Assert.True(after >= before + 128, $"Blocks512 went from {before} to {after} for 64 KiB of data");
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Data_is_visible_after_release_and_reopen(string libfs) => Run(libfs, fs =>
    {
        var data = Bytes(5000, seed: 5);
        var f = fs.WriteFile(Root, "f", data);
        for (int i = 0; i < 3; i++) Assert.Equal(data, fs.ReadFile(f.Ino));
    });
}
