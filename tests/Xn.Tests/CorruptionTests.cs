using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>Damaged images are reported with a reason and refused for read-write use — never a crash or hang.</summary>
public class CorruptionTests
{
    /// <summary>A synced, cleanly closed volume with some data, as a byte image.</summary>
    private static byte[] Image(out Layout layout)
    {
        var f = new XnFixture(512);
        ulong d = f.FreeBlock(), ind = f.FreeBlock(d + 1);
        Assert.True(f.A.Alloc(f.RootA.Block, 0, Set(Slot(0, 0), d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.A.Alloc(f.RootA.Block, 1, Set(Slot(1, 12), ind), f.Indirect, One(ind)).Ok);
        f.Vol.Dispose();
        layout = Layout.For(512);
        return ((MemoryDevice)f.Dev).Snapshot();
    }

    private static void Scribble(byte[] image, ulong block, int seed, int offset = 0, int length = 4096)
    {
        var rng = new Random(seed);
        rng.NextBytes(image.AsSpan(checked((int)block * 4096 + offset), length));
    }

    private static XnResult<XnVolume> Load(byte[] image, bool readOnly = false) =>
        XnVolume.Load(MemoryDevice.FromBytes(image), new ExoKernel(), readOnly);

    [Fact]
    public void Random_bytes_over_the_superblock_are_reported_and_refused()
    {
        var image = Image(out _);
        Scribble(image, 0, 1);
        var r = Load(image);
        Assert.Equal(XnError.Corrupt, r.Error);
        Assert.Contains("superblock", r.Detail);
        Assert.Equal(XnError.Corrupt, Load(image, readOnly: true).Error);
    }

    [Fact]
    public void A_single_flipped_bit_in_the_superblock_is_caught_by_its_checksum()
    {
        var image = Image(out _);
        image[20] ^= 0x04;  // inside the block count
        var r = Load(image);
        Assert.Equal(XnError.Corrupt, r.Error);
        Assert.Contains("checksum", r.Detail);
    }

    [Fact]
    public void Random_bytes_over_the_free_map_refuse_read_write_but_allow_a_checked_read_only_load()
    {
        var image = Image(out var layout);
        Scribble(image, layout.FreeMapStart, 2, 100, 200);
        var rw = Load(image);
        Assert.Equal(XnError.Corrupt, rw.Error);
        Assert.Contains("free map", rw.Detail);
        var ro = XnVolume.Load(MemoryDevice.FromBytes(image), new ExoKernel(), new XnOptions { ReadOnly = true, TolerateCorruptFreeMap = true });
        Assert.True(ro.Ok, ro.ToString());
        var report = ro.Value.Check();
        Assert.Contains(report.Findings, f => f.Kind == XnFindingKind.Corrupt && f.Detail.Contains("free map"));
    }

    [Fact]
    public void Random_bytes_over_both_catalogue_slots_are_reported()
    {
        var image = Image(out var layout);
        Scribble(image, layout.SlotStart(0), 3);
        Scribble(image, layout.SlotStart(1), 4);
        var r = Load(image);
        Assert.Equal(XnError.Corrupt, r.Error);
        Assert.Contains("catalogue", r.Detail);
    }

    [Fact]
    public void A_torn_newest_catalogue_slot_falls_back_to_the_other_copy()
    {
        var f = new XnFixture(512);
        f.Vol.Dispose();
        var image = ((MemoryDevice)f.Dev).Snapshot();
        var layout = Layout.For(512);
        // The fixture wrote 4 catalogues (2 types, 2 roots): generation 4 sits in slot 0.
        Scribble(image, layout.SlotStart(0), 5, 0, 64);
        var r = Load(image);
        Assert.True(r.Ok, r.ToString());
        Assert.Equal(["a"], r.Value.RootNames());
    }

    [Fact]
    public void A_stored_udf_that_no_longer_verifies_is_reported()
    {
        var image = Image(out var layout);
        var bad = new Catalogue(100, [], [new TypeSpec("t.bad", ".udf bad\n.read 0 8\n  time r1\n  ret 0\n", [], [])]);
        var slot = bad.Encode(checked((int)layout.CatalogueSlotBlocks * 4096))!;
        slot.CopyTo(image.AsSpan(checked((int)layout.SlotStart(0) * 4096)));
        var r = Load(image);
        Assert.Equal(XnError.Corrupt, r.Error);
        Assert.Contains("re-verification", r.Detail);
    }

    [Fact]
    public void A_stored_type_with_overlapping_partitions_is_reported()
    {
        var image = Image(out var layout);
        var bad = new Catalogue(100, [], [new TypeSpec("t.bad", ".udf bad\n.partitions 2\n.read 0 100 50\n  ret 0\n", [], [])]);
        bad.Encode(checked((int)layout.CatalogueSlotBlocks * 4096))!.CopyTo(image.AsSpan(checked((int)layout.SlotStart(1) * 4096)));
        Assert.Equal(XnError.Corrupt, Load(image).Error);
    }

    [Fact]
    public void A_device_shorter_than_the_superblock_says_is_reported()
    {
        var image = Image(out _);
        var r = Load(image[..(256 * 4096)]);
        Assert.Equal(XnError.Corrupt, r.Error);
        Assert.Contains("device", r.Detail);
    }

    [Fact]
    public void Random_bytes_over_a_metadata_block_are_reported_by_check()
    {
        var image = Image(out _);
        var vol = Load(image, readOnly: true).Value;
        var root = vol.Roots().First(r => r.Name == "a").Block.Value;
        Scribble(image, root, 6);
        var report = Load(image, readOnly: true).Value.Check();
        Assert.False(report.Clean);
    }

    [Fact]
    public void Random_damage_anywhere_in_the_reserved_area_or_roots_never_throws()
    {
        var clean = Image(out var layout);
        var rng = new Random(42);
        for (int i = 0; i < 300; i++)
        {
            var image = (byte[])clean.Clone();
            ulong block = (ulong)rng.Next((int)layout.ReservedEnd + 4);
            int off = rng.Next(4096), len = rng.Next(1, 4096 - off + 1);
            Scribble(image, block, i, off, len);
            foreach (bool ro in new[] { true, false })
            {
                var r = XnVolume.Load(MemoryDevice.FromBytes(image), new ExoKernel(), new XnOptions { ReadOnly = ro, TolerateCorruptFreeMap = ro });
                if (r.Ok) { _ = r.Value.Check(); r.Value.Dispose(); }
                else Assert.Equal(XnError.Corrupt, r.Error);
            }
        }
    }

    [Fact]
    public void Garbage_that_is_not_an_xn_image_is_reported_as_such()
    {
        var image = new byte[64 * 4096];
        new Random(7).NextBytes(image);
        var r = Load(image);
        Assert.Equal(XnError.Corrupt, r.Error);
        Assert.Contains("not an ExoFS XN image", r.Detail);
    }
}
