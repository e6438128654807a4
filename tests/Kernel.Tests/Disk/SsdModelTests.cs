using ExoFS.Kernel.Disk;

namespace ExoFS.Kernel.Tests.Disk;

public class SsdModelTests
{
    private const ulong Pages = 64 * 32; // 32 erase blocks of data

    private static void Fill(SsdModel ssd)
    {
        for (ulong p = 0; p < ssd.LogicalPages; p += 64) ssd.Service(DiskRequest.Write(new BlockNo(p), 64));
    }

    [Fact]
    public void Reads_are_cheaper_than_writes()
    {
        var ssd = new SsdModel(Pages);
        var write = ssd.Service(DiskRequest.Write(new BlockNo(7), 1));
        var read = ssd.Service(DiskRequest.Read(new BlockNo(7), 1));
        Assert.Equal(SsdModel.PageReadMs, read.TotalMilliseconds, precision: 6);
        Assert.Equal(SsdModel.PageProgramMs, write.TotalMilliseconds, precision: 6);
        Assert.True(read < write);
    }

    [Fact]
    public void First_fill_needs_no_erase()
    {
        var ssd = new SsdModel(Pages);
        Fill(ssd);
        Assert.Equal(0, ssd.Erases);
        Assert.Equal(1.0, ssd.WriteAmplification);
    }

    [Fact]
    public void Sustained_random_overwrites_of_a_full_device_erase_and_amplify_writes()
    {
        var ssd = new SsdModel(Pages);
        Fill(ssd);
        var rng = new Random(3);
        var before = ssd.Elapsed;
        for (int i = 0; i < 4 * (int)Pages; i++) ssd.Service(DiskRequest.Write(new BlockNo((ulong)rng.Next((int)Pages)), 1));
        Assert.True(ssd.Erases > 0);
        Assert.True(ssd.WriteAmplification > 1.5, $"write amplification {ssd.WriteAmplification}");
        // Average cost per host write now exceeds a bare program.
        Assert.True((ssd.Elapsed - before).TotalMilliseconds / (4 * Pages) > SsdModel.PageProgramMs * 1.5);
    }

    [Fact]
    public void Sequential_overwrites_erase_without_copying()
    {
        var ssd = new SsdModel(Pages);
        for (int pass = 0; pass < 3; pass++) Fill(ssd);
        Assert.True(ssd.Erases > 0);
        Assert.Equal(1.0, ssd.WriteAmplification); // greedy finds wholly invalid blocks
    }

    [Fact]
    public void Too_little_over_provisioning_is_refused_and_reset_clears_counters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SsdModel(Pages, spareEraseBlocks: 1));
        var ssd = new SsdModel(Pages);
        Fill(ssd);
        Fill(ssd);
        ssd.Reset();
        Assert.Equal((0L, 0L, TimeSpan.Zero), (ssd.Erases, ssd.HostPagesWritten, ssd.Elapsed));
    }
}
