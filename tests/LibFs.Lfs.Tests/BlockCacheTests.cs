using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Lfs.Log;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// The cache of checked log blocks (<see cref="BlockCache"/> in <see cref="CheckedLfsDisk"/>): a block appended or
/// read and checked is served from memory after, a segment released and bound again never serves its old bytes,
/// a damaged block is never cached, and the lane-wise block CRC it and the log use is the plain CRC-32C.
/// </summary>
public sealed class BlockCacheTests
{
    private const int B = LfsLayout.BlockSize;
    private static readonly InodeNo Root = InodeNo.Root;

    private static CheckedLfsDisk Checked(LfsFileSystem fs) => (CheckedLfsDisk)fs.Disk;

    [Fact]
    public void Blocks_appended_or_read_once_are_served_from_memory_after()
    {
        var (fs, dev) = LfsTestKit.Fresh(16UL << 20);
        var data = new byte[40 * B];
        new Random(5).NextBytes(data);
        var f = fs.WriteFile(Root, "f", data);
        fs.Sync().Ok();
        long checked0 = Checked(fs).BlocksChecked;
        Assert.Equal(data, fs.ReadFile(f.Ino));
        Assert.Equal(checked0, Checked(fs).BlocksChecked); // appended this mount: none read from the device
        fs.Dispose();

        fs = LfsTestKit.Mount(dev);
        f = fs.Get(Root, "f");
        Assert.Equal(data, fs.ReadFile(f.Ino));
        long afterFirst = Checked(fs).BlocksChecked, hits = Checked(fs).Cache.Hits;
        Assert.True(afterFirst >= 40, $"{afterFirst} blocks checked reading 40 after a remount");
        Assert.Equal(data, fs.ReadFile(f.Ino));
        Assert.Equal(afterFirst, Checked(fs).BlocksChecked);
        Assert.True(Checked(fs).Cache.Hits >= hits + 40);
        fs.Dispose();
    }

    [Fact]
    public void A_segment_released_and_bound_again_serves_its_new_blocks_only()
    {
        // Small segments on a small volume, so released ones are soon bound again at the same addresses.
        var (fs, _) = LfsTestKit.Fresh(6UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var seen = new HashSet<ulong>();
        bool reused = false;
        for (int round = 0; round < 150; round++)
        {
            var data = new byte[24 * B];
            new Random(round).NextBytes(data);
            var f = fs.WriteFile(Root, $"f{round}", data);
            fs.Sync().Ok();
            Assert.Equal(data, fs.ReadFile(f.Ino));
            lock (fs.Lock)
            {
                var i = fs.GetInode(f.Ino.Value).Value;
                for (ulong b = 0; b < 24; b++)
                    if (!seen.Add(fs.Tree.Lookup(i, b).Value)) reused = true;
            }
            if (round > 0) fs.Unlink(Root, $"f{round - 1}").Ok();
            fs.Sync().Ok();
        }
        Assert.True(reused, "no log address was used twice: the test did not reuse a segment");
        Assert.True(Checked(fs).Cache.Hits > 0);
        LfsTestKit.AssertClean(fs);
    }

    [Fact]
    public void A_segment_bound_again_never_serves_its_previous_life_from_memory()
    {
        var inner = new FakeLfsDisk(4096);
        var disk = CheckedLfsDisk.Wrap(inner);
        int slot = disk.AllocSegment(0).Value;
        ulong start = disk.SegmentStart(slot);
        byte[] Partial(int inSlot, byte fill)
        {
            var run = new byte[2 * B];
            run.AsSpan(B).Fill(fill);
            uint crc = ExoFS.Xn.XnCrc32C.Compute(run.AsSpan(B));
            new Summary(1, (uint)inSlot, 0, 0, Summary.NoSlot, 0, ExoFS.Xn.XnCrc32C.AppendBlock(0, crc), [new SummaryEntry(LogKind.Data, 5, 0, crc)]).WriteTo(run);
            return run;
        }
        Assert.Equal(Errno.OK, disk.Write(start, Partial(slot, 0xAA)));
        Assert.Equal(Errno.OK, disk.Sync());
        var buf = new byte[B];
        Assert.Equal(Errno.OK, disk.Read(start + 1, buf));
        Assert.All(buf, x => Assert.Equal(0xAA, x));
        Assert.Equal(1, disk.Cache.Hits); // the block appended is served from memory
        Assert.Equal(Errno.OK, disk.FreeSegment(slot));
        Assert.Equal(Errno.OK, disk.Sync());
        int again = disk.AllocSegment(0).Value;
        Assert.Equal(start, disk.SegmentStart(again));
        // Bound again and not written yet: nothing describes the block, whatever memory held (EIO, not 0xAA).
        disk.Log = _ => { };
        Assert.Equal(Errno.EIO, disk.Read(start + 1, buf));
        // Written again: its new bytes.
        Assert.Equal(Errno.OK, disk.Write(start, Partial(again, 0xBB)));
        Assert.Equal(Errno.OK, disk.Read(start + 1, buf));
        Assert.All(buf, x => Assert.Equal(0xBB, x));
        Assert.Equal(1, disk.Cache.Count);
    }

    [Fact]
    public void A_damaged_block_is_never_cached()
    {
        var (fs, dev) = LfsTestKit.Fresh(16UL << 20);
        var data = new byte[4 * B];
        new Random(9).NextBytes(data);
        var f = fs.WriteFile(Root, "f", data);
        fs.Sync().Ok();
        ulong addr;
        lock (fs.Lock) addr = fs.Tree.Lookup(fs.GetInode(f.Ino.Value).Value, 2).Value;
        fs.Dispose();
        var bad = new byte[B];
        dev.Read(new ExoFS.Kernel.Disk.BlockNo(addr), bad);
        bad[100] ^= 0x40;
        dev.Write(new ExoFS.Kernel.Disk.BlockNo(addr), bad);
        dev.Flush();

        fs = LfsTestKit.Mount(dev);
        fs.DamageLog = _ => { };
        f = fs.Get(Root, "f");
        var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Ok();
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(Errno.EIO, fs.Read(f.Ino, fh, 0, new byte[4 * B]).Error);
            Assert.Equal(Errno.EIO, fs.Read(f.Ino, fh, 2 * B, new byte[B]).Error);
            Assert.Equal(data.AsSpan(0, 2 * B).ToArray(), fs.ReadAt(f.Ino, 0, 2 * B));
        }
        Assert.Equal([addr], fs.DamagedBlocks);
        fs.Release(f.Ino, fh).Ok();
        fs.Dispose();
    }
}
