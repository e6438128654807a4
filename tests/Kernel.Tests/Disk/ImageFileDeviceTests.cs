using ExoFS.Kernel.Disk;
using static ExoFS.Kernel.Tests.Disk.TestUtil;

namespace ExoFS.Kernel.Tests.Disk;

public sealed class ImageFileDeviceTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Created_image_is_sparse_zeroed_and_sized_in_blocks()
    {
        string path = _dir.File("a.img");
        using (var dev = ImageFileDevice.Create(path, 1024))
        {
            Assert.Equal(1024UL, dev.BlockCount);
            Assert.All(ReadBlock(dev, 1023), b => Assert.Equal(0, b));
        }
        Assert.Equal(1024L * B, new FileInfo(path).Length);
    }

    [Fact]
    public void Writes_survive_close_and_reopen()
    {
        string path = _dir.File("a.img");
        using (var dev = ImageFileDevice.Create(path, 64))
        {
            dev.Write(new BlockNo(3), Block(0xAB, 2));
            dev.Flush();
        }
        using var again = ImageFileDevice.Open(path);
        Assert.Equal(64UL, again.BlockCount);
        Assert.All(ReadBlock(again, 3), b => Assert.Equal(0xAB, b));
        Assert.All(ReadBlock(again, 4), b => Assert.Equal(0xAB, b));
        Assert.All(ReadBlock(again, 5), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Missing_file_is_refused_as_not_found()
    {
        var e = Assert.Throws<ImageFileException>(() => ImageFileDevice.Open(_dir.File("none.img")));
        Assert.Equal(ImageError.NotFound, e.Error);
    }

    [Theory]
    [InlineData(0, ImageError.TooSmall)]
    [InlineData(100, ImageError.TooSmall)]
    [InlineData(4096 + 1, ImageError.NotBlockMultiple)]
    [InlineData(3 * 4096 - 512, ImageError.NotBlockMultiple)]
    public void Badly_sized_file_is_refused(int length, ImageError expected)
    {
        string path = _dir.File("bad.img");
        File.WriteAllBytes(path, new byte[length]);
        var e = Assert.Throws<ImageFileException>(() => ImageFileDevice.Open(path));
        Assert.Equal(expected, e.Error);
        Assert.Contains(length.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void Create_refuses_to_clobber_an_existing_file()
    {
        string path = _dir.File("a.img");
        File.WriteAllBytes(path, Block(7));
        var e = Assert.Throws<ImageFileException>(() => ImageFileDevice.Create(path, 8));
        Assert.Equal(ImageError.AlreadyExists, e.Error);
        Assert.Equal(7, File.ReadAllBytes(path)[0]);
    }

    [Fact]
    public void Second_read_write_open_is_refused_while_first_is_open()
    {
        string path = _dir.File("a.img");
        using (ImageFileDevice.Create(path, 8))
        {
            Assert.Throws<ImageBusyException>(() => ImageFileDevice.Open(path));
            Assert.Throws<ImageBusyException>(() => ImageFileDevice.Open(path, ImageOpenMode.ReadOnly));
            Assert.Throws<ImageBusyException>(() => ImageFileDevice.Create(path, 8, overwrite: true));
        }
        using var reopened = ImageFileDevice.Open(path); // lock released on dispose
    }

    [Fact]
    public void Read_only_opens_share_but_exclude_a_writer()
    {
        string path = _dir.File("a.img");
        ImageFileDevice.Create(path, 8).Dispose();
        using var r1 = ImageFileDevice.Open(path, ImageOpenMode.ReadOnly);
        using var r2 = ImageFileDevice.Open(path, ImageOpenMode.ReadOnly);
        Assert.Throws<ImageBusyException>(() => ImageFileDevice.Open(path));
        Assert.Throws<NotSupportedException>(() => r1.Write(BlockNo.Zero, Block(1)));
    }

    [Fact]
    public void Out_of_range_and_partial_block_requests_are_rejected()
    {
        using var dev = ImageFileDevice.Create(_dir.File("a.img"), 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => dev.Read(new BlockNo(3), new byte[2 * B]));
        Assert.Throws<ArgumentException>(() => dev.Write(BlockNo.Zero, new byte[100]));
    }

    [Fact]
    public void Concurrent_writers_on_distinct_blocks_all_land()
    {
        using var dev = ImageFileDevice.Create(_dir.File("a.img"), 64);
        Parallel.For(0, 64, i => dev.Write(new BlockNo((ulong)i), Block((byte)i)));
        dev.Flush();
        for (int i = 0; i < 64; i++) Assert.Equal((byte)i, ReadBlock(dev, (ulong)i)[B - 1]);
    }

    [Fact]
    public void Stats_count_each_operation_and_byte()
    {
        using var dev = ImageFileDevice.Create(_dir.File("a.img"), 16);
        var before = dev.Stats.Snapshot();
        dev.Write(BlockNo.Zero, Block(1, 3));
        dev.Read(BlockNo.Zero, new byte[2 * B]);
        dev.Read(BlockNo.Zero, new byte[B]);
        dev.Barrier();
        dev.Flush();
        var d = dev.Stats.Snapshot() - before;
        Assert.Equal(new IoStatsSnapshot(Reads: 2, Writes: 1, BytesRead: 3 * B, BytesWritten: 3 * B, Flushes: 1, Barriers: 1), d);
        Assert.Equal(3, d.BlocksWritten);
    }
}
