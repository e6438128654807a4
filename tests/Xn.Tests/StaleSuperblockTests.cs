using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;

namespace ExoFS.Xn.Tests;

/// <summary>
/// An older copy of block 0, or of the catalogue, carries a valid CRC. The superblock names the generation of the
/// durable catalogue when it was written, so either rollback is told from the current block: reported by a
/// read-only load (fsck), repaired and named by a read-write one. Crash states never look stale (the catalogue is
/// flushed before the superblock that names it).
/// </summary>
public class StaleSuperblockTests
{
    private const int Blocks = 512;

    /// <summary>Two cleanly unmounted images of one volume: before and after a session that wrote the catalogue.</summary>
    private static (byte[] Before, byte[] After) TwoSessions()
    {
        var f = new XnFixture(Blocks);
        f.Vol.Dispose();
        var dev = (MemoryDevice)f.Dev;
        var before = dev.Snapshot();
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(dev, kernel).Value;
        var s = vol.Attach(kernel.CreateEnvironment("c"));
        var inode = vol.Types().Single(t => t.Spec.Name == "t.inode").Id;
        Assert.True(s.InstallRoot("c", inode).Ok);   // a catalogue write
        vol.Dispose();
        return (before, dev.Snapshot());
    }

    private static void CopyBlocks(byte[] from, byte[] to, ulong start, ulong count) =>
        from.AsSpan(checked((int)(start * 4096)), checked((int)(count * 4096))).CopyTo(to.AsSpan(checked((int)(start * 4096))));

    private static XnVolume Load(byte[] image, bool readOnly) =>
        XnVolume.Load(MemoryDevice.FromBytes(image), new ExoKernel(), readOnly).Value;

    [Fact]
    public void A_clean_current_image_has_no_finding()
    {
        var (before, after) = TwoSessions();
        foreach (var image in new[] { before, after })
        {
            using var vol = Load(image, readOnly: true);
            Assert.Empty(vol.LoadFindings);
            Assert.True(vol.Check().Clean, string.Join("\n", vol.Check().Findings));
        }
    }

    [Fact]
    public void An_older_copy_of_the_superblock_is_reported_read_only_and_rewritten_read_write()
    {
        var (before, after) = TwoSessions();
        var image = after.ToArray();
        CopyBlocks(before, image, 0, 1);

        using (var ro = Load(image, readOnly: true))
        {
            Assert.Contains(ro.LoadFindings, f => f.StartsWith("superblock: an older copy", StringComparison.Ordinal));
            Assert.False(ro.Check().Clean);
            Assert.Equal(["a", "b", "c"], ro.RootNames().Order());   // the catalogue is the current one
        }

        var dev = MemoryDevice.FromBytes(image);
        var rw = XnVolume.Load(dev, new ExoKernel()).Value;
        Assert.Contains(rw.LoadRepairs, r => r.StartsWith("superblock: an older copy", StringComparison.Ordinal) && r.EndsWith("the superblock is rewritten", StringComparison.Ordinal));
        rw.Dispose();
        using var again = XnVolume.Load(dev, new ExoKernel(), readOnly: true).Value;
        Assert.Empty(again.LoadFindings);
        Assert.True(again.Check().Clean);
    }

    [Fact]
    public void A_superblock_from_a_session_that_changed_nothing_is_still_told()
    {
        var f = new XnFixture(Blocks);
        f.Vol.Dispose();
        var dev = (MemoryDevice)f.Dev;
        var before = dev.Snapshot();
        XnVolume.Load(dev, new ExoKernel()).Value.Dispose();   // mounted and unmounted: no catalogue write
        var image = dev.Snapshot();
        CopyBlocks(before, image, 0, 1);
        using var ro = Load(image, readOnly: true);
        Assert.Contains(ro.LoadFindings, x => x.StartsWith("superblock: an older copy", StringComparison.Ordinal));
    }

    [Fact]
    public void An_older_copy_of_the_in_flight_record_after_a_clean_unmount_is_reported()
    {
        var (before, after) = TwoSessions();
        var layout = Layout.For(Blocks);
        var image = after.ToArray();
        CopyBlocks(before, image, layout.RecordStart, 2 * layout.RecordSlotBlocks);
        using var ro = Load(image, readOnly: true);
        Assert.Contains(ro.LoadFindings, x => x.StartsWith("in-flight record: the newest valid copy", StringComparison.Ordinal));
    }

    [Fact]
    public void An_older_copy_of_the_catalogue_is_reported()
    {
        var (before, after) = TwoSessions();
        var layout = Layout.For(Blocks);
        var image = after.ToArray();
        // Both slots rolled back to the previous session's: the newest valid catalogue is older than the superblock says.
        CopyBlocks(before, image, layout.CatalogueStart, 2 * layout.CatalogueSlotBlocks);

        using var ro = Load(image, readOnly: true);
        Assert.Contains(ro.LoadFindings, f => f.StartsWith("catalogue: the newest valid copy is generation", StringComparison.Ordinal));
        Assert.False(ro.Check().Clean);

        using var rw = Load(image, readOnly: false);
        Assert.Contains(rw.LoadRepairs, r => r.StartsWith("catalogue: the newest valid copy", StringComparison.Ordinal));
    }

    [Fact]
    public void A_superblock_without_the_field_is_read_as_before()
    {
        var (_, after) = TwoSessions();
        var image = after.ToArray();
        // An image written before the fields: zeros at 88..108, CRC recomputed.
        var block = image.AsSpan(0, 4096);
        block.Slice(88, 20).Clear();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(block[4092..], Crc32C.Compute(block[..4092]));
        using var ro = Load(image, readOnly: true);
        Assert.Empty(ro.LoadFindings);
        Assert.True(ro.Check().Clean);
    }

    [Fact]
    public void A_malformed_generation_field_is_refused()
    {
        var (_, after) = TwoSessions();
        var image = after.ToArray();
        var block = image.AsSpan(0, 4096);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(block[104..], 7);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(block[4092..], Crc32C.Compute(block[..4092]));
        var r = XnVolume.Load(MemoryDevice.FromBytes(image), new ExoKernel(), readOnly: true);
        Assert.Equal(XnError.Corrupt, r.Error);
        Assert.Contains("bad field at 88..108", r.ToString());
    }
}
