using ExoFS.Kernel.Disk;
using static ExoFS.Kernel.Tests.Disk.TestUtil;

namespace ExoFS.Kernel.Tests.Disk;

public class MemoryDeviceTests
{
    [Fact]
    public void Unwritten_blocks_read_as_zero_and_writes_read_back()
    {
        using var dev = new MemoryDevice(8);
        Assert.All(ReadBlock(dev, 7), b => Assert.Equal(0, b));
        var data = Block(0x5A, 2);
        data[B + 17] = 1;
        dev.Write(new BlockNo(2), data);
        var back = new byte[2 * B];
        dev.Read(new BlockNo(2), back);
        Assert.Equal(data, back);
    }

    [Fact]
    public void Snapshot_and_FromBytes_round_trip()
    {
        using var dev = new MemoryDevice(4);
        dev.Write(new BlockNo(1), Block(9));
        byte[] image = dev.Snapshot();
        Assert.Equal(4 * B, image.Length);
        using var copy = MemoryDevice.FromBytes(image);
        Assert.Equal(image, copy.Snapshot());
        Assert.Throws<ArgumentException>(() => MemoryDevice.FromBytes(new byte[B + 1]));
    }

    [Fact]
    public void Caller_buffer_reuse_does_not_change_stored_data()
    {
        using var dev = new MemoryDevice(2);
        var data = Block(1);
        dev.Write(BlockNo.Zero, data);
        data[0] = 99;
        Assert.Equal(1, ReadBlock(dev, 0)[0]);
    }

    [Fact]
    public void Clone_is_independent_in_both_directions()
    {
        using var dev = new MemoryDevice(2);
        dev.Write(BlockNo.Zero, Block(1));
        using var clone = dev.Clone();
        dev.Write(BlockNo.Zero, Block(2));
        clone.Write(new BlockNo(1), Block(3));
        Assert.Equal(new byte[] { 2, 0 }, Tags(dev));
        Assert.Equal(new byte[] { 1, 3 }, Tags(clone));
    }

    [Fact]
    public void Stats_are_counted()
    {
        using var dev = new MemoryDevice(4);
        dev.Write(BlockNo.Zero, Block(1, 4));
        dev.Read(BlockNo.Zero, new byte[B]);
        dev.Flush();
        var s = dev.Stats.Snapshot();
        Assert.Equal((1L, 1L, (long)B, 4L * B, 1L, 0L), (s.Reads, s.Writes, s.BytesRead, s.BytesWritten, s.Flushes, s.Barriers));
    }

    [Fact]
    public void Use_after_dispose_is_refused()
    {
        var dev = new MemoryDevice(1);
        dev.Dispose();
        Assert.Throws<ObjectDisposedException>(() => dev.Read(BlockNo.Zero, new byte[B]));
    }
}
