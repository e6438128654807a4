using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;

namespace ExoFS.Xn.Tests;

/// <summary>
/// Both catalogue slots of a cleanly unmounted volume hold a valid catalogue (format writes both; a session that
/// loaded a torn one rewrites it before it marks the volume clean), so a slot that does not decode on a clean volume
/// is damage: a load reports it, though it uses the other slot. With the block-version table the catalogue is written
/// often and the other slot is as valid as the newest, so without this such damage went unnoticed.
/// </summary>
public class CatalogueSlotTests
{
    private const int Blocks = 512;

    /// <summary>A cleanly unmounted volume that has written its catalogue a few times, and the slot it loads.</summary>
    private static (MemoryDevice Dev, int Loaded) Clean()
    {
        var f = new XnFixture(Blocks);
        f.Vol.Dispose();
        var dev = (MemoryDevice)f.Dev;
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(dev, kernel).Value;
        var s = vol.Attach(kernel.CreateEnvironment("c"));
        var inode = vol.Types().Single(t => t.Spec.Name == "t.inode").Id;
        Assert.True(s.InstallRoot("c", inode).Ok);   // a catalogue write
        ulong gen = vol.Geometry.CatalogueGeneration;
        vol.Dispose();
        // The slot XN wrote last: generations alternate between the slots, the first write (1) going to slot 1.
        return (dev, (int)(gen % 2));
    }

    private static void ZeroFirstBlockOfSlot(MemoryDevice dev, int slot)
    {
        var layout = Layout.For(Blocks);
        dev.Write(new BlockNo(layout.SlotStart(slot)), new byte[4096]);
    }

    [Fact]
    public void A_clean_volume_has_no_slot_finding()
    {
        var (dev, _) = Clean();
        using var vol = XnVolume.Load(dev, new ExoKernel(), readOnly: true).Value;
        Assert.DoesNotContain(vol.LoadFindings, f => f.Contains("cleanly unmounted"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_damaged_slot_of_a_clean_volume_is_reported_though_the_other_loads(bool newest)
    {
        var (dev, loaded) = Clean();
        int damaged = newest ? loaded : 1 - loaded;
        ZeroFirstBlockOfSlot(dev, damaged);
        using var vol = XnVolume.Load(dev, new ExoKernel(), readOnly: true).Value;
        Assert.Contains(vol.LoadFindings, f => f.Contains($"slot {damaged}") && f.Contains("cleanly unmounted"));
        Assert.NotEmpty(vol.Roots());
    }

    [Fact]
    public void A_read_write_session_rewrites_a_slot_that_does_not_decode_before_it_marks_the_volume_clean()
    {
        var (dev, loaded) = Clean();
        ZeroFirstBlockOfSlot(dev, 1 - loaded);
        XnVolume.Load(dev, new ExoKernel()).Value.Dispose();   // writes nothing else: only the slot is rewritten
        using var vol = XnVolume.Load(dev, new ExoKernel(), readOnly: true).Value;
        Assert.DoesNotContain(vol.LoadFindings, f => f.Contains("cleanly unmounted"));
    }
}
