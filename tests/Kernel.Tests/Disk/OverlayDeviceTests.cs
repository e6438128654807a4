using ExoFS.Kernel.Disk;
using static ExoFS.Kernel.Tests.Disk.TestUtil;

namespace ExoFS.Kernel.Tests.Disk;

/// <summary>The overlay device's contract: reads see the overlay over the base, writes go to the overlay, the base is never modified.</summary>
public class OverlayDeviceTests
{
    private static MemoryDevice TaggedBase(int blocks)
    {
        var dev = new MemoryDevice((ulong)blocks);
        for (int b = 0; b < blocks; b++) dev.Write(new BlockNo((ulong)b), Block((byte)(10 + b)));
        return dev;
    }

    [Fact]
    public void Reads_see_the_overlay_over_the_base()
    {
        var baseDev = TaggedBase(6);
        using var overlay = new OverlayDevice(baseDev);
        Assert.Equal(new byte[] { 10, 11, 12, 13, 14, 15 }, Tags(overlay));
        overlay.Write(new BlockNo(1), Block(1));
        overlay.Write(new BlockNo(4), Block(4));
        Assert.Equal(new byte[] { 10, 1, 12, 13, 4, 15 }, Tags(overlay));
        // A multi-block read mixes both sources block by block.
        var span = new byte[4 * B];
        overlay.Read(new BlockNo(1), span);
        Assert.Equal(new byte[] { 1, 12, 13, 4 }, Enumerable.Range(0, 4).Select(i => span[i * B]).ToArray());
        Assert.Equal(Block(1), ReadBlock(overlay, 1));
    }

    [Fact]
    public void Writes_go_to_the_overlay_and_the_base_is_never_modified()
    {
        var baseDev = TaggedBase(4);
        byte[] before = baseDev.Snapshot();
        var baseWrites = baseDev.Stats.Snapshot();
        using (var overlay = new OverlayDevice(baseDev))
        {
            overlay.Write(new BlockNo(0), Block(7, 3)); // one request over three blocks
            overlay.Write(new BlockNo(2), Block(8));    // a block of the overlay rewritten
            overlay.Flush();
            overlay.Barrier();
            Assert.Equal(new byte[] { 7, 7, 8, 13 }, Tags(overlay));
            Assert.Equal(3, overlay.OverlayCount);
            Assert.Equal(new ulong[] { 0, 1, 2 }, overlay.OverlayBlocks().Select(b => b.Block).Order().ToArray());
            Assert.Equal(8, overlay.OverlayBlocks().Single(b => b.Block == 2).Data.Span[0]);
        }
        Assert.Equal(before, baseDev.Snapshot());
        var after = baseDev.Stats.Snapshot();
        Assert.Equal(baseWrites.Writes, after.Writes);
        Assert.Equal(baseWrites.Flushes, after.Flushes);
        Assert.Equal(baseWrites.Barriers, after.Barriers);
    }

    [Fact]
    public void Overlay_keeps_a_copy_of_what_was_written()
    {
        using var overlay = new OverlayDevice(new MemoryDevice(2));
        var data = Block(5);
        overlay.Write(new BlockNo(1), data);
        data.AsSpan().Fill(6); // the caller's buffer changes after the write
        Assert.Equal(Block(5), ReadBlock(overlay, 1));
    }

    [Fact]
    public void Overlays_on_one_base_do_not_see_each_other()
    {
        var baseDev = TaggedBase(3);
        using var a = new OverlayDevice(baseDev);
        using var b = new OverlayDevice(baseDev);
        a.Write(new BlockNo(0), Block(1));
        b.Write(new BlockNo(2), Block(2));
        Assert.Equal(new byte[] { 1, 11, 12 }, Tags(a));
        Assert.Equal(new byte[] { 10, 11, 2 }, Tags(b));
        Assert.Same(baseDev, a.Base);
    }

    [Fact]
    public void Out_of_range_and_disposed_use_are_refused()
    {
        var overlay = new OverlayDevice(new MemoryDevice(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => overlay.Write(new BlockNo(2), Block(1)));
        Assert.Throws<ArgumentException>(() => overlay.Read(BlockNo.Zero, new byte[100]));
        overlay.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ReadBlock(overlay, 0));
    }
}
