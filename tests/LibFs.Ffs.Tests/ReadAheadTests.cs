using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs.Tests;

public class ReadAheadTests
{
    private static readonly Caller Me = new(1000, 1000);
    private const int Chunk = 128 * 1024;   // what the kernel's FUSE read-ahead asks for at a time

    private static (FfsFileSystem Fs, FakeXnDisk Disk, InodeNo Ino, FileHandle Fh, byte[] Data) File(int bytes, int readAheadBlocks = 256)
    {
        var (fs, disk, _) = LogicTests.Fresh(32768);
        fs.ReadAheadWindows.Blocks = readAheadBlocks;
        var (f, fh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var data = new byte[bytes];
        new Random(bytes).NextBytes(data);
        Assert.Equal(bytes, fs.Write(f.Ino, fh, 0, data).Value);
        return (fs, disk, f.Ino, fh, data);
    }

    private static byte[] ReadAll(FfsFileSystem fs, InodeNo ino, FileHandle fh, int bytes, int chunk = Chunk)
    {
        var back = new byte[bytes];
        for (int off = 0; off < bytes; off += chunk)
            Assert.Equal(Math.Min(chunk, bytes - off), fs.Read(ino, fh, off, back.AsSpan(off, Math.Min(chunk, bytes - off))).Value);
        return back;
    }

    [Fact]
    public void A_sequential_reader_is_served_from_windows_read_past_its_requests()
    {
        var (fs, disk, ino, fh, data) = File(4 << 20);
        disk.DataReads = 0;
        Assert.Equal(data, ReadAll(fs, ino, fh, data.Length));
        int withReadAhead = disk.DataReads;

        fs.ReadAheadWindows.Blocks = 0;
        fs.ReadAheadWindows.Clear();
        disk.DataReads = 0;
        Assert.Equal(data, ReadAll(fs, ino, fh, data.Length));
        int without = disk.DataReads;
        // 32 requests of 128 KiB: one device read each without read-ahead; one per 1 MiB + 128 KiB window with it
        // (the file's blocks are contiguous on disk but for its indirect blocks, which end a run).
        Assert.True(without >= 32, $"{without} reads without read-ahead");
        Assert.True(withReadAhead <= 10, $"{withReadAhead} reads with read-ahead ({without} without)");
        fs.Release(ino, fh);
    }

    [Fact]
    public void Requests_of_one_stream_arriving_out_of_order_keep_their_windows()
    {
        var (fs, disk, ino, fh, data) = File(4 << 20);
        var buf = new byte[Chunk];
        disk.DataReads = 0;
        // The first window ends at chunk 9 (the request and 1 MiB past it); the kernel then has chunks 9 and 3 in flight.
        foreach (int k in new[] { 0, 9, 3, 10, 4 })
        {
            Assert.Equal(Chunk, fs.Read(ino, fh, (long)k * Chunk, buf).Value);
            Assert.Equal(data.AsSpan(k * Chunk, Chunk).ToArray(), buf);
        }
        Assert.Equal(2, fs.ReadAheadWindows.Fills);
        Assert.Equal(3, disk.DataReads);   // the 12 direct blocks (an indirect block follows them on disk), then two windows
        fs.Release(ino, fh);
    }

    [Fact]
    public void Random_reads_read_only_what_they_ask_for()
    {
        var (fs, disk, ino, fh, data) = File(4 << 20);
        disk.DataReads = 0;
        var buf = new byte[Chunk];
        foreach (int k in new[] { 17, 3, 25, 9 })
        {
            Assert.Equal(Chunk, fs.Read(ino, fh, (long)k * Chunk, buf).Value);
            Assert.Equal(data.AsSpan(k * Chunk, Chunk).ToArray(), buf);
        }
        Assert.Equal(0, fs.ReadAheadWindows.Fills);
        fs.Release(ino, fh);
    }

    [Fact]
    public void A_write_a_truncate_or_a_punched_hole_inside_a_window_is_what_the_next_read_sees()
    {
        var (fs, _, ino, fh, data) = File(2 << 20);
        var buf = new byte[Chunk];
        Assert.Equal(Chunk, fs.Read(ino, fh, 0, buf).Value);
        Assert.Equal(1, fs.ReadAheadWindows.Fills);   // the window now holds blocks up to 1 MiB + 128 KiB

        var patch = new byte[8192];
        Array.Fill(patch, (byte)0xAB);
        Assert.Equal(patch.Length, fs.Write(ino, fh, Chunk + 4096, patch).Value);
        patch.CopyTo(data, Chunk + 4096);
        Assert.Equal(Chunk, fs.Read(ino, fh, Chunk, buf).Value);
        Assert.Equal(data.AsSpan(Chunk, Chunk).ToArray(), buf);

        Assert.Equal(Chunk, fs.Read(ino, fh, 2 * Chunk, buf).Value);
        Assert.Equal(Errno.OK, fs.Fallocate(ino, fh, FallocateMode.PunchHole | FallocateMode.KeepSize, 3 * Chunk, Chunk));
        Array.Clear(data, 3 * Chunk, Chunk);
        Assert.Equal(Chunk, fs.Read(ino, fh, 3 * Chunk, buf).Value);
        Assert.Equal(data.AsSpan(3 * Chunk, Chunk).ToArray(), buf);

        Assert.Equal(Chunk, fs.Read(ino, fh, 4 * Chunk, buf).Value);
        Assert.True(fs.SetAttr(ino, new SetAttrRequest { Size = 5 * Chunk }).Ok);
        Assert.True(fs.SetAttr(ino, new SetAttrRequest { Size = 2 << 20 }).Ok);
        Array.Clear(data, 5 * Chunk, data.Length - 5 * Chunk);
        Assert.Equal(data, ReadAll(fs, ino, fh, data.Length));
        fs.Release(ino, fh);
    }

    [Fact]
    public void A_collapsed_range_inside_a_window_moves_the_data_the_next_read_sees()
    {
        var (fs, _, ino, fh, data) = File(2 << 20);
        var buf = new byte[Chunk];
        Assert.Equal(Chunk, fs.Read(ino, fh, 0, buf).Value);
        Assert.Equal(Errno.OK, fs.Fallocate(ino, fh, FallocateMode.CollapseRange, Chunk, Chunk));
        var want = data.Take(Chunk).Concat(data.Skip(2 * Chunk)).ToArray();
        Assert.Equal(want, ReadAll(fs, ino, fh, want.Length));
        fs.Release(ino, fh);
    }

    [Fact]
    public void A_window_never_reaches_past_the_end_of_the_file_or_into_another_files_blocks()
    {
        var (fs, _, ino, fh, data) = File(Chunk + 3 * FfsLayout.BlockSize + 100);
        var (g, gh) = fs.Create(InodeNo.Root, "next", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var other = new byte[16 * FfsLayout.BlockSize];
        Array.Fill(other, (byte)7);
        Assert.Equal(other.Length, fs.Write(g.Ino, gh, 0, other).Value);
        Assert.Equal(data, ReadAll(fs, ino, fh, data.Length));
        // Extending the first file over blocks it never wrote reads zeros, not what a window might have held.
        Assert.True(fs.SetAttr(ino, new SetAttrRequest { Size = (ulong)data.Length + 8 * FfsLayout.BlockSize }).Ok);
        var tail = new byte[8 * FfsLayout.BlockSize];
        Assert.Equal(tail.Length, fs.Read(ino, fh, data.Length, tail).Value);
        Assert.All(tail, b => Assert.Equal(0, b));
        fs.Release(ino, fh);
        fs.Release(g.Ino, gh);
    }

    [Fact]
    public void The_ffs_readahead_mount_option_sets_the_window_and_a_bad_value_is_refused_with_one_line()
    {
        var dev = new MemoryDevice(8192);
        var made = ExoHost.Format(dev, [new RootRequest("ffs", "ffs")], out string? error, libFses: [new FfsLibFs()]);
        Assert.True(made.Ok, error);
        made.Value.Dispose();
        using var host = ExoHost.Load(dev, out error).Value;
        using (var guest = host.Attach("ffs", out error, options: new Dictionary<string, string> { [FfsLibFs.ReadAheadOption] = "256" }, libFs: new FfsLibFs()).Value)
            Assert.Equal(64, ((FfsFileSystem)guest.FileSystem).ReadAheadBlocks);
        var bad = host.Attach("ffs", out error, options: new Dictionary<string, string> { [FfsLibFs.ReadAheadOption] = "6" }, libFs: new FfsLibFs());
        Assert.False(bad.Ok);
        Assert.Equal(Errno.EINVAL, bad.Error);
        Assert.Equal("cannot mount root 'ffs': ffs: ffs-readahead= takes KiB, a multiple of 4 from 0 (off) to 16384, not '6'", error);
    }
}
