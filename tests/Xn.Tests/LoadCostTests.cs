using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>What makes a load cheap must not change what a load decides.</summary>
public class LoadCostTests
{
    [Fact]
    public void Loads_of_one_catalogue_share_the_verified_udfs_instead_of_reverifying()
    {
        using var f = new XnFixture();
        f.Vol.Dispose();
        var one = XnVolume.Load(f.Dev, new ExoKernel()).Value;
        var two = XnVolume.Load(f.Dev, new ExoKernel()).Value;
        var a = one.TypeTable.Find("t.inode")!;
        var b = two.TypeTable.Find("t.inode")!;
        Assert.Same(a.Owns, b.Owns);
        Assert.NotSame(a, b);   // the type (with this volume's ids) is per volume; only the verified code is shared
    }

    [Fact]
    public void A_rejected_udf_text_is_rejected_every_time()
    {
        using var f = new XnFixture();
        var bad = new TypeSpec("t.bad", ".udf bad\n.partitions 1\n.types xn.data\n.fuel 16\ntop:\n  jmp top\n  ret 0\n", [], []);
        var first = f.A.RegisterType(bad);
        var second = f.A.RegisterType(bad);
        Assert.False(first.Ok);
        Assert.Equal(first.Error, second.Error);
        Assert.Equal(first.Detail, second.Detail);
    }

    [Theory]
    [InlineData(1021UL)]      // not a multiple of 8: the last bitmap byte is partly past the disk
    [InlineData(32736UL)]     // exactly one free-map block of bits
    [InlineData(32737UL)]     // one bit into a second free-map block
    public void The_free_count_after_a_load_is_the_free_count_before_it(ulong blocks)
    {
        var dev = new MemoryDevice(blocks);
        var vol = XnVolume.Format(dev, new ExoKernel()).Value;
        var s = vol.Attach(vol.Kernel.CreateEnvironment("a"));
        Assert.True(s.RegisterType(TestTypes.Indirect).Ok);
        var root = s.InstallRoot("a", s.RegisterType(TestTypes.Inode).Value).Value.Block;
        var last = new BlockNo(blocks - 1);
        Assert.True(s.Alloc(root, 0, Set(Slot(0, 0), last.Value), XnTypes.Data, new Extent(last, 1)).Ok);
        ulong free = vol.FreeBlocks;
        vol.Dispose();
        var again = XnVolume.Load(dev, new ExoKernel()).Value;
        Assert.Equal(free, again.FreeBlocks);
        Assert.True(again.Check().Clean);
        Assert.NotEqual<BlockNo?>(last, again.FreeMap.FindFree(last, 1));
    }
}
