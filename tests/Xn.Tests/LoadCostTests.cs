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
        // The same spec at the same id with its child types at the same ids: the validated type itself is shared.
        Assert.Same(a, b);
    }

    [Fact]
    public void A_validated_type_is_shared_only_where_its_ids_agree()
    {
        // t.inode names t.indirect as a child type. A table where t.indirect has another id (a type registered
        // before it) must validate t.inode afresh, with that id, not take the type another table validated.
        var first = new Types.TypeTable();
        var ind1 = first.Validate(TestTypes.Indirect).Value;
        first.Add(ind1);
        var inode1 = first.Validate(TestTypes.Inode).Value;

        var second = new Types.TypeTable();
        var filler = second.Validate(TestTypes.Indirect with { Name = "t.filler" }).Value;
        second.Add(filler);
        var ind2 = second.Validate(TestTypes.Indirect).Value;
        second.Add(ind2);
        var inode2 = second.Validate(TestTypes.Inode).Value;

        Assert.NotEqual(ind1.Id, ind2.Id);
        Assert.NotSame(inode1, inode2);
        Assert.Contains(ind2.Id, inode2.ChildTypes);
        Assert.DoesNotContain(ind1.Id, inode2.ChildTypes);
    }

    [Fact]
    public void Changing_a_spec_after_registering_it_changes_nothing_XN_keeps()
    {
        var raw = new List<ByteRange>(TestTypes.Inode.RawWrite);
        var spec = TestTypes.Inode with { RawWrite = raw };
        var table = new Types.TypeTable();
        table.Add(table.Validate(TestTypes.Indirect).Value);
        var t = table.Validate(spec).Value;
        raw.Add(new ByteRange(0, 4096));
        Assert.NotSame(spec.RawWrite, t.Spec.RawWrite);
        Assert.True(t.Spec.RawWrite.SequenceEqual(TestTypes.Inode.RawWrite));
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
