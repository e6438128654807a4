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
    public void Overwrites_in_place_never_show_in_a_clone_or_in_the_clone_of_a_clone()
    {
        using var dev = new MemoryDevice(600);   // more blocks than the first slabs hold
        for (int b = 0; b < 600; b++) dev.Write(new BlockNo((ulong)b), Block((byte)(b % 200 + 1)));
        dev.Write(new BlockNo(5), Block(250));     // an owned slot: overwritten in place
        using var clone = dev.Clone();
        dev.Write(new BlockNo(5), Block(251));
        dev.Write(new BlockNo(599), Block(252));
        using var grandchild = clone.Clone();
        clone.Write(new BlockNo(5), Block(253));
        clone.Write(new BlockNo(5), Block(254));   // the clone's own slot now
        Assert.Equal(251, ReadBlock(dev, 5)[0]);
        Assert.Equal(252, ReadBlock(dev, 599)[0]);
        Assert.Equal(254, ReadBlock(clone, 5)[0]);
        Assert.Equal(200, ReadBlock(clone, 599)[0]);
        Assert.Equal(250, ReadBlock(grandchild, 5)[0]);
        Assert.Equal(200, ReadBlock(grandchild, 599)[0]);
        Assert.Equal(1 + 300 % 200, ReadBlock(grandchild, 300)[0]);
    }

    [Fact]
    public void A_long_write_stream_keeps_every_block_through_the_slabs_taken_ahead()
    {
        // 3,000 blocks: past the growing slabs (511 blocks) into several largest ones, some taken ahead on a pool
        // thread; in 1 MiB requests, as a file system's runs, then blocks alone, with a clone between.
        const int blocks = 3000, run = MemoryDevice.MaxSlabBlocks;
        using var dev = new MemoryDevice(blocks);
        var request = new byte[run * IBlockDevice.BlockSize];
        for (int start = 0; start < blocks; start += run)
        {
            int n = Math.Min(run, blocks - start);
            for (int k = 0; k < n; k++) request.AsSpan(k * IBlockDevice.BlockSize, IBlockDevice.BlockSize).Fill((byte)((start + k) % 251 + 1));
            dev.Write(new BlockNo((ulong)start), request.AsSpan(0, n * IBlockDevice.BlockSize));
        }
        using var clone = dev.Clone();
        for (int b = 0; b < blocks; b += 7) clone.Write(new BlockNo((ulong)b), Block(0xFF)); // fresh slots for the clone
        for (int b = 0; b < blocks; b++)
        {
            var got = ReadBlock(dev, (ulong)b);
            Assert.True(got.AsSpan().IndexOfAnyExcept((byte)(b % 251 + 1)) < 0, $"block {b} of the device");
            Assert.Equal(b % 7 == 0 ? 0xFF : b % 251 + 1, ReadBlock(clone, (ulong)b)[0]);
        }
    }

    [Fact]
    public void A_write_over_an_installed_block_leaves_the_installed_array_unchanged()
    {
        using var dev = new MemoryDevice(4);
        var shared = Block(7);
        dev.InstallBlock(2, shared);
        Assert.Equal(7, ReadBlock(dev, 2)[0]);
        dev.Write(new BlockNo(2), Block(8));
        dev.Write(new BlockNo(2), Block(9));
        Assert.Equal(9, ReadBlock(dev, 2)[0]);
        Assert.All(shared, b => Assert.Equal(7, b));
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
