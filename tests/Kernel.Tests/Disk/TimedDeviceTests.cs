using ExoFS.Kernel.Disk;
using static ExoFS.Kernel.Tests.Disk.TestUtil;

namespace ExoFS.Kernel.Tests.Disk;

public class TimedDeviceTests
{
    [Fact]
    public void Passes_data_through_and_charges_the_model()
    {
        using var inner = new MemoryDevice(1000);
        var hdd = new HddModel();
        using var dev = new TimedDevice(inner, hdd);
        dev.Write(new BlockNo(900), Block(4, 2));
        Assert.Equal(4, ReadBlock(inner, 901)[0]);
        Assert.Equal(4, ReadBlock(dev, 900)[0]);
        dev.Barrier();
        dev.Flush();
        Assert.Equal(5, hdd.CurrentCylinder); // block 900 / 171 blocks per cylinder
        Assert.Equal(hdd.Elapsed, dev.ModeledTime);
        Assert.True(dev.ModeledTime > TimeSpan.FromMilliseconds(3 * HddModel.ControllerOverheadMs));
        var s = dev.Stats.Snapshot();
        Assert.Equal((1L, 1L, 1L, 1L), (s.Reads, s.Writes, s.Flushes, s.Barriers));
        Assert.Equal(1, inner.Stats.Snapshot().Barriers);
    }

    [Fact]
    public void Modeled_time_is_independent_of_wall_clock()
    {
        using var inner = new MemoryDevice(64);
        var ssd = new SsdModel(64);
        using var dev = new TimedDevice(inner, ssd);
        for (int i = 0; i < 10; i++) dev.Write(new BlockNo((ulong)i), Block(1));
        Assert.Equal(10 * SsdModel.PageProgramMs, dev.ModeledTime.TotalMilliseconds, precision: 6);
    }
}
