namespace ExoFS.LibFs.Testing.Tests.Conformance;

/// <summary>
/// fallocate(2) with ext4's semantics, and the holes SEEK_DATA/SEEK_HOLE find afterwards. Files stay within
/// 12 blocks where st_blocks is compared exactly, so indirect blocks (which a libFS may or may not count) do
/// not enter; the larger cases bound st_blocks from below and check every byte.
/// </summary>
public sealed class FallocateTests : ConformanceBase
{
    private const int B = 4096;
    private const FallocateMode Keep = FallocateMode.KeepSize;
    private const FallocateMode Punch = FallocateMode.PunchHole | FallocateMode.KeepSize;

    /// <summary>A file of <paramref name="blocks"/> blocks, block k filled with byte k + 1, open read-write.</summary>
    private static (InodeNo Ino, FileHandle Fh, byte[] Content) Striped(IFileSystem fs, string name, int blocks)
    {
        var content = new byte[blocks * B];
        for (int k = 0; k < blocks; k++) content.AsSpan(k * B, B).Fill((byte)(k + 1));
        var f = fs.WriteFile(Root, name, content);
        return (f.Ino, fs.Open(f.Ino, OpenFlags.ReadWrite).Ok(), content);
    }

    private static (InodeNo Ino, FileHandle Fh) Empty(IFileSystem fs, string name = "f")
    {
        var (attr, fh) = fs.Create(Root, name, FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, User).Ok();
        return (attr.Ino, fh);
    }

    private static ulong Sectors(int blocks) => (ulong)blocks * (B / 512);

    private static void AssertShape(IFileSystem fs, InodeNo ino, ulong size, int blocks)
    {
        var a = fs.GetAttr(ino).Ok();
        Assert.Equal(size, a.Size);
        Assert.Equal(Sectors(blocks), a.Blocks512);
    }

    private static long Seek(IFileSystem fs, InodeNo ino, FileHandle fh, long offset, SeekWhence whence) =>
        fs.Lseek(ino, fh, offset, whence).Ok($"lseek {whence} {offset}");

    // ---------------------------------------------------------------- mode 0 and KEEP_SIZE

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Mode_0_allocates_the_range_extends_the_file_and_reads_zeros(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Fallocate(ino, fh, FallocateMode.Allocate, 0, 20000).Ok();
        AssertShape(fs, ino, 20000, 5);
        Assert.Equal(new byte[20000], fs.ReadFile(ino));
        // Preallocated blocks are data to SEEK_DATA (as on tmpfs): no hole before the end of file.
        Assert.Equal(20000, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Mode_0_inside_a_sparse_file_fills_the_holes_and_keeps_the_data(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, "abc"u8).Ok();
        fs.Write(ino, fh, 8 * B, "xyz"u8).Ok();
        AssertShape(fs, ino, 8 * B + 3, 2);
        Assert.Equal(B, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        var before = fs.ReadFile(ino);
        fs.Fallocate(ino, fh, FallocateMode.Allocate, 100, 8 * B - 100).Ok(); // up to block 8, inside the file
        AssertShape(fs, ino, 8 * B + 3, 9);
        Assert.Equal(before, fs.ReadFile(ino));
        Assert.Equal(8 * B + 3, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Mode_0_changes_ctime_and_changes_mtime_only_when_the_file_grows(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, Bytes(3 * B)).Ok();
        var a0 = fs.GetAttr(ino).Ok();
        Tick();
        fs.Fallocate(ino, fh, FallocateMode.Allocate, 0, B).Ok();
        var a1 = fs.GetAttr(ino).Ok();
        Assert.Equal(a0.Mtime, a1.Mtime);
        AssertLater(a0.Ctime, a1.Ctime, "ctime after fallocate");
        Tick();
        fs.Fallocate(ino, fh, FallocateMode.Allocate, 0, 4 * B).Ok();
        AssertLater(a1.Mtime, fs.GetAttr(ino).Ok().Mtime, "mtime after a growing fallocate");
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Keep_size_past_the_end_counts_in_st_blocks_but_not_in_the_size(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, Bytes(100)).Ok();
        fs.Fallocate(ino, fh, Keep, 0, 10 * B).Ok();
        AssertShape(fs, ino, 100, 10);
        Assert.Equal(100, fs.ReadFile(ino).Length);
        // A write into the preallocated range uses its blocks; the end moves, the block count does not.
        fs.Write(ino, fh, 2 * B, "q"u8).Ok();
        AssertShape(fs, ino, 2 * B + 1, 10);
        var expect = new byte[2 * B + 1];
        fs.ReadAt(ino, 0, 100).CopyTo(expect, 0);
        expect[2 * B] = (byte)'q';
        Assert.Equal(expect, fs.ReadFile(ino));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Keep_size_blocks_past_the_end_go_at_a_truncate_that_does_not_grow(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, Bytes(B + 10)).Ok();
        fs.Fallocate(ino, fh, Keep, 0, 8 * B).Ok();
        AssertShape(fs, ino, B + 10, 8);
        // Growing keeps them (ext4 truncates only when the size does not grow)...
        fs.SetAttr(ino, new SetAttrRequest { Size = 3 * B }).Ok();
        AssertShape(fs, ino, 3 * B, 8);
        // ...a truncate to the same size drops those past the end.
        fs.SetAttr(ino, new SetAttrRequest { Size = 3 * B }).Ok();
        AssertShape(fs, ino, 3 * B, 3);
        Assert.Equal(B + 10, Seek(fs, ino, fh, B + 10, SeekWhence.Data)); // the zeros in block 1 are allocated
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithRemountAndFallocate), MemberType = typeof(LibFses))]
    public void Keep_size_preallocation_survives_a_remount(string libfs) => RunCase(libfs, c =>
    {
        var (ino, fh) = Empty(c.Fs);
        c.Fs.Write(ino, fh, 0, "hello"u8).Ok();
        c.Fs.Fallocate(ino, fh, Keep, 0, 6 * B).Ok();
        c.Fs.Release(ino, fh).Ok();
        c.Fs.Forget(ino, 1);
        var fs = c.Remount();
        var f = fs.Get(Root, "f");
        AssertShape(fs, f.Ino, 5, 6);
        Assert.Equal("hello", fs.ReadText(f.Ino));
    });

    [Theory, MemberData(nameof(LibFses.WithSmallAndFallocate), MemberType = typeof(LibFses))]
    public void Preallocating_more_than_the_free_space_is_ENOSPC_and_changes_nothing(string libfs) => RunSmall(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, "x"u8).Ok();
        var before = fs.GetAttr(ino).Ok();
        Assert.Equal(Errno.ENOSPC, fs.Fallocate(ino, fh, FallocateMode.Allocate, 0, 1L << 30));
        Assert.Equal(Errno.ENOSPC, fs.Fallocate(ino, fh, Keep, 0, 1L << 30));
        var after = fs.GetAttr(ino).Ok();
        Assert.Equal(before.Size, after.Size);
        Assert.Equal(before.Blocks512, after.Blocks512);
        fs.Release(ino, fh).Ok();
    });

    // ---------------------------------------------------------------- PUNCH_HOLE

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Punch_hole_frees_whole_blocks_and_zeroes_the_partial_ones(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 10);
        var a0 = fs.GetAttr(ino).Ok();
        Tick();
        fs.Fallocate(ino, fh, Punch, 1000, 3 * B + 500).Ok(); // [1000, 13788): blocks 1 and 2 whole
        content.AsSpan(1000, 3 * B + 500).Clear();
        AssertShape(fs, ino, 10 * B, 8);
        Assert.Equal(content, fs.ReadFile(ino));
        Assert.Equal(B, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        Assert.Equal(3 * B, Seek(fs, ino, fh, B, SeekWhence.Data));
        Assert.Equal(1000, Seek(fs, ino, fh, 1000, SeekWhence.Data)); // block 0 holds zeros, but is data
        var a1 = fs.GetAttr(ino).Ok();
        AssertLater(a0.Mtime, a1.Mtime, "mtime after punch");
        AssertLater(a0.Ctime, a1.Ctime, "ctime after punch");
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Punch_hole_inside_one_block_zeroes_bytes_and_frees_nothing(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 3);
        fs.Fallocate(ino, fh, Punch, B + 10, 100).Ok();
        content.AsSpan(B + 10, 100).Clear();
        AssertShape(fs, ino, 3 * B, 3);
        Assert.Equal(content, fs.ReadFile(ino));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Punch_and_zero_ranges_straddling_one_block_boundary_touch_only_their_bytes(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 3);
        fs.Fallocate(ino, fh, Punch, B - 10, 30).Ok();
        content.AsSpan(B - 10, 30).Clear();
        fs.Fallocate(ino, fh, FallocateMode.ZeroRange, 2 * B - 100, 150).Ok();
        content.AsSpan(2 * B - 100, 150).Clear();
        AssertShape(fs, ino, 3 * B, 3);
        Assert.Equal(content, fs.ReadFile(ino));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Punch_hole_without_keep_size_or_with_zero_range_is_EOPNOTSUPP(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 3);
        Assert.Equal(Errno.ENOTSUP, fs.Fallocate(ino, fh, FallocateMode.PunchHole, 0, B));
        Assert.Equal(Errno.ENOTSUP, fs.Fallocate(ino, fh, Punch | FallocateMode.ZeroRange, 0, B));
        AssertShape(fs, ino, 3 * B, 3);
        Assert.Equal(content, fs.ReadFile(ino));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Punch_hole_ends_at_the_block_holding_the_last_byte(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, Bytes(B + 904)).Ok(); // 5000 bytes
        fs.Fallocate(ino, fh, Keep, 0, 10 * B).Ok();
        AssertShape(fs, ino, 5000, 10);
        // At or past the end of file nothing happens, even over preallocated blocks.
        fs.Fallocate(ino, fh, Punch, 5000, 4 * B).Ok();
        fs.Fallocate(ino, fh, Punch, 6 * B, 4 * B).Ok();
        AssertShape(fs, ino, 5000, 10);
        // From inside the file, ext4 stops the hole at the end of the block holding the last byte.
        fs.Fallocate(ino, fh, Punch, B, 1 << 20).Ok();
        AssertShape(fs, ino, 5000, 9);
        Assert.Equal(new byte[5000 - B], fs.ReadAt(ino, B, 5000));
        fs.Release(ino, fh).Ok();
    });

    // ---------------------------------------------------------------- ZERO_RANGE

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Zero_range_zeroes_the_bytes_and_leaves_every_block_allocated(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        var content = Bytes(4 * B);
        fs.Write(ino, fh, 0, content.AsSpan(0, B)).Ok();
        fs.Write(ino, fh, 3 * B, content.AsSpan(3 * B, B)).Ok();
        content.AsSpan(B, 2 * B).Clear();
        AssertShape(fs, ino, 4 * B, 2);
        fs.Fallocate(ino, fh, FallocateMode.ZeroRange, 100, 4 * B - 400).Ok();
        content.AsSpan(100, 4 * B - 400).Clear();
        AssertShape(fs, ino, 4 * B, 4);
        Assert.Equal(content, fs.ReadFile(ino));
        Assert.Equal(4 * B, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Zero_range_past_the_end_extends_the_file_unless_keep_size(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, Bytes(B)).Ok();
        fs.Fallocate(ino, fh, FallocateMode.ZeroRange | Keep, B, 2 * B).Ok();
        AssertShape(fs, ino, B, 3);
        fs.Fallocate(ino, fh, FallocateMode.ZeroRange, 2 * B, B + 7).Ok();
        AssertShape(fs, ino, 3 * B + 7, 4);
        Assert.Equal(new byte[2 * B + 7], fs.ReadAt(ino, B, 3 * B));
        fs.Release(ino, fh).Ok();
    });

    // ---------------------------------------------------------------- COLLAPSE_RANGE and INSERT_RANGE

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Collapse_range_removes_the_blocks_and_shifts_the_rest_down(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 10);
        fs.Write(ino, fh, 10 * B, "tail"u8).Ok();
        fs.Fallocate(ino, fh, FallocateMode.CollapseRange, 2 * B, 3 * B).Ok();
        var expect = content.AsSpan(0, 2 * B).ToArray().Concat(content.AsSpan(5 * B).ToArray()).Concat("tail"u8.ToArray()).ToArray();
        AssertShape(fs, ino, (ulong)expect.Length, 8);
        Assert.Equal(expect, fs.ReadFile(ino));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Collapse_range_moves_holes_with_the_data(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, "a"u8).Ok();
        fs.Write(ino, fh, 6 * B, "b"u8).Ok();
        fs.Fallocate(ino, fh, FallocateMode.CollapseRange, B, 2 * B).Ok();
        AssertShape(fs, ino, 4 * B + 1, 2);
        Assert.Equal(B, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        Assert.Equal(4 * B, Seek(fs, ino, fh, B, SeekWhence.Data));
        Assert.Equal("b"u8.ToArray(), fs.ReadAt(ino, 4 * B, 10));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Collapse_range_unaligned_or_reaching_the_end_is_EINVAL_and_changes_nothing(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 4);
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.CollapseRange, 100, B));
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.CollapseRange, B, B + 1));
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.CollapseRange, B, 3 * B)); // ends at EOF
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.CollapseRange, 2 * B, 4 * B)); // past EOF
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.CollapseRange | Keep, 0, B));
        AssertShape(fs, ino, 4 * B, 4);
        Assert.Equal(content, fs.ReadFile(ino));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Insert_range_shifts_the_file_up_and_leaves_a_hole(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 5);
        var a0 = fs.GetAttr(ino).Ok();
        Tick();
        fs.Fallocate(ino, fh, FallocateMode.InsertRange, B, 2 * B).Ok();
        var expect = content.AsSpan(0, B).ToArray().Concat(new byte[2 * B]).Concat(content.AsSpan(B).ToArray()).ToArray();
        AssertShape(fs, ino, 7 * B, 5);
        Assert.Equal(expect, fs.ReadFile(ino));
        Assert.Equal(B, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        Assert.Equal(3 * B, Seek(fs, ino, fh, B, SeekWhence.Data));
        AssertLater(a0.Mtime, fs.GetAttr(ino).Ok().Mtime, "mtime after insert");
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Insert_range_unaligned_or_at_the_end_is_EINVAL_and_changes_nothing(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 3);
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.InsertRange, 10, B));
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.InsertRange, B, 10));
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.InsertRange, 3 * B, B)); // at EOF
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.InsertRange, 5 * B, B)); // past EOF
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.InsertRange | Keep, 0, B));
        Assert.Equal(Errno.EFBIG, fs.Fallocate(ino, fh, FallocateMode.InsertRange, 0, 1L << 50));
        AssertShape(fs, ino, 3 * B, 3);
        Assert.Equal(content, fs.ReadFile(ino));
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Collapse_and_insert_across_indirect_blocks_keep_every_byte(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        var content = Bytes(300 * B, seed: 3);
        content.AsSpan(20 * B, 30 * B).Clear(); // a hole in the middle
        fs.Write(ino, fh, 0, content.AsSpan(0, 20 * B)).Ok();
        fs.Write(ino, fh, 50 * B, content.AsSpan(50 * B)).Ok();
        var expect = content.ToList();
        fs.Fallocate(ino, fh, FallocateMode.CollapseRange, 5 * B, 10 * B).Ok();
        expect.RemoveRange(5 * B, 10 * B);
        Assert.Equal(expect.ToArray(), fs.ReadFile(ino));
        fs.Fallocate(ino, fh, FallocateMode.InsertRange, 3 * B, 600 * B).Ok(); // into the double-indirect range
        expect.InsertRange(3 * B, new byte[600 * B]);
        Assert.Equal(expect.ToArray(), fs.ReadFile(ino));
        var a = fs.GetAttr(ino).Ok();
        Assert.Equal((ulong)expect.Count, a.Size);
        Assert.True(a.Blocks512 >= Sectors(260), $"{a.Blocks512} sectors for 260 data blocks");
        Assert.True(a.Blocks512 <= Sectors(270), $"{a.Blocks512} sectors for 260 data blocks and a few indirect ones");
        Assert.Equal(3 * B, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        Assert.Equal(603 * B, Seek(fs, ino, fh, 3 * B, SeekWhence.Data));
        // Blocks 603-609 were 3-9 (5-9 having been 15-19), then the old hole of 30 blocks.
        Assert.Equal(610 * B, Seek(fs, ino, fh, 603 * B, SeekWhence.Hole));
        Assert.Equal(640 * B, Seek(fs, ino, fh, 610 * B, SeekWhence.Data));
        fs.Release(ino, fh).Ok();
    });

    // ---------------------------------------------------------------- the checks every mode shares

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Bad_requests_get_the_errno_Linux_gives_and_change_nothing(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, content) = Striped(fs, "f", 2);
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.Allocate, -1, B));
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.Allocate, 0, 0));
        Assert.Equal(Errno.EINVAL, fs.Fallocate(ino, fh, FallocateMode.Allocate, 0, -5));
        Assert.Equal(Errno.ENOTSUP, fs.Fallocate(ino, fh, FallocateMode.NoHideStale, 0, B));
        Assert.Equal(Errno.ENOTSUP, fs.Fallocate(ino, fh, (FallocateMode)0x100, 0, B));
        Assert.Equal(Errno.ENOTSUP, fs.Fallocate(ino, fh, FallocateMode.UnshareRange, 0, B));
        Assert.Equal(Errno.EFBIG, fs.Fallocate(ino, fh, FallocateMode.Allocate, long.MaxValue - 10, 100));
        Assert.Equal(Errno.EFBIG, fs.Fallocate(ino, fh, Keep, 1L << 50, B));
        var ro = fs.Open(ino, OpenFlags.ReadOnly).Ok();
        Assert.Equal(Errno.EBADF, fs.Fallocate(ino, ro, FallocateMode.Allocate, 0, 8 * B));
        Assert.Equal(Errno.EBADF, fs.Fallocate(ino, new FileHandle(999_999), FallocateMode.Allocate, 0, B));
        AssertShape(fs, ino, 2 * B, 2);
        Assert.Equal(content, fs.ReadFile(ino));
        fs.Release(ino, ro).Ok();
        fs.Release(ino, fh).Ok();
    });

    // ---------------------------------------------------------------- SEEK_DATA and SEEK_HOLE

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Seek_data_and_hole_find_the_extents_of_a_sparse_file(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 2 * B + 5, "data"u8).Ok();
        fs.SetAttr(ino, new SetAttrRequest { Size = 5 * B + 10 }).Ok();
        long size = 5 * B + 10;
        Assert.Equal(2 * B, Seek(fs, ino, fh, 0, SeekWhence.Data));
        Assert.Equal(2 * B + 100, Seek(fs, ino, fh, 2 * B + 100, SeekWhence.Data));
        Assert.Equal(0, Seek(fs, ino, fh, 0, SeekWhence.Hole));
        Assert.Equal(3 * B, Seek(fs, ino, fh, 2 * B, SeekWhence.Hole));
        Assert.Equal(size - 1, Seek(fs, ino, fh, size - 1, SeekWhence.Hole));
        Assert.Equal(Errno.ENXIO, fs.Lseek(ino, fh, 3 * B, SeekWhence.Data).Error); // only holes up to the end
        Assert.Equal(Errno.ENXIO, fs.Lseek(ino, fh, size, SeekWhence.Data).Error);
        Assert.Equal(Errno.ENXIO, fs.Lseek(ino, fh, size, SeekWhence.Hole).Error);
        Assert.Equal(Errno.ENXIO, fs.Lseek(ino, fh, size + B, SeekWhence.Hole).Error);
        Assert.Equal(Errno.ENXIO, fs.Lseek(ino, fh, -1, SeekWhence.Data).Error);
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Seek_hole_in_a_dense_file_is_its_end_and_an_empty_file_has_neither(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh, _) = Striped(fs, "f", 3);
        fs.Write(ino, fh, 3 * B, "x"u8).Ok();
        Assert.Equal(3 * B + 1, Seek(fs, ino, fh, 10, SeekWhence.Hole));
        Assert.Equal(10, Seek(fs, ino, fh, 10, SeekWhence.Data));
        var (e, efh) = Empty(fs, "e");
        Assert.Equal(Errno.ENXIO, fs.Lseek(e, efh, 0, SeekWhence.Data).Error);
        Assert.Equal(Errno.ENXIO, fs.Lseek(e, efh, 0, SeekWhence.Hole).Error);
        fs.Release(e, efh).Ok();
        fs.Release(ino, fh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.WithFallocate), MemberType = typeof(LibFses))]
    public void Seek_data_skips_a_hole_of_gigabytes(string libfs) => Run(libfs, fs =>
    {
        var (ino, fh) = Empty(fs);
        fs.Write(ino, fh, 0, "a"u8).Ok();
        fs.Write(ino, fh, 5L << 30, "z"u8).Ok();
        Assert.Equal(B, Seek(fs, ino, fh, 1, SeekWhence.Hole));
        Assert.Equal(5L << 30, Seek(fs, ino, fh, B, SeekWhence.Data));
        Assert.Equal((5L << 30) + 1, Seek(fs, ino, fh, 5L << 30, SeekWhence.Hole));
        fs.Release(ino, fh).Ok();
    });
}
