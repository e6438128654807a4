using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>The buffer cache registry: shared pages in kernel frames, read-only views, cache pressure.</summary>
public class CacheTests
{
    [Fact]
    public void Two_environments_reading_one_block_share_one_page()
    {
        using var f = new XnFixture();
        ulong d = f.FreeBlock();
        Assert.True(f.A.Alloc(f.RootA.Block, 0, Set(Slot(0, 0), d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.A.WriteRaw(new BlockNo(d), 0, "v1"u8).Ok);
        var readCap = f.Kernel.Delegate(f.EnvA, f.RootA.Capability, f.EnvB, Rights.Read).Capability!;
        Assert.True(f.B.MountRoot("a", readCap).Ok);
        Assert.True(f.B.Read(f.RootA.Block, new byte[4096]).Ok);

        var viewA = f.A.View(new BlockNo(d)).Value;
        var viewB = f.B.View(new BlockNo(d)).Value;
        Assert.Equal("v1"u8.ToArray(), viewB[..2].ToArray());
        // One page: a change through A shows in B's view without B reading again.
        Assert.True(f.A.WriteRaw(new BlockNo(d), 0, "v2"u8).Ok);
        Assert.Equal("v2"u8.ToArray(), viewB[..2].ToArray());
        Assert.Equal("v2"u8.ToArray(), viewA[..2].ToArray());
        // B holds read rights only.
        Assert.Equal(XnError.BadCapability, f.B.WriteRaw(new BlockNo(d), 0, "v3"u8).Error);
    }

    [Fact]
    public void A_cache_much_smaller_than_the_working_set_still_works()
    {
        var kernel = new ExoKernel(new KernelOptions { PageFrames = 48 });
        var dev = new MemoryDevice(1024);
        var vol = XnVolume.Format(dev, kernel).Value;
        var s = vol.Attach(kernel.CreateEnvironment("a"));
        var ind = s.RegisterType(TestTypes.Indirect).Value;
        var inode = s.RegisterType(TestTypes.Inode).Value;
        var root = s.InstallRoot("a", inode).Value.Block;
        var blocks = new List<ulong>();
        // 32 inodes x 12 data blocks = 384 blocks written through a 48-frame cache.
        for (int i = 0; i < 32; i++)
            for (int k = 0; k < 12; k++)
            {
                var b = s.FindFree(root, 1).Value;
                Assert.True(s.Alloc(root, i, Set(Slot(i, k), b.Value), XnTypes.Data, new Extent(b, 1)).Ok);
                Assert.True(s.WriteRaw(b, 0, BitConverter.GetBytes(b.Value)).Ok);
                blocks.Add(b.Value);
            }
        foreach (var b in blocks)
        {
            var buf = new byte[4096];
            Assert.True(s.Read(new BlockNo(b), buf).Ok);
            Assert.Equal(b, BitConverter.ToUInt64(buf));
        }
        Assert.True(vol.Check().Clean);
        vol.Dispose();
        var again = XnVolume.Load(dev, new ExoKernel()).Value;
        Assert.True(again.Check().Clean);
    }

    [Fact]
    public void Under_memory_pressure_xn_gives_frames_back_writing_dirty_pages_in_a_legal_order()
    {
        var kernel = new ExoKernel(new KernelOptions { PageFrames = 64 });
        var crash = new CrashModelDevice(new MemoryDevice(512));
        var vol = XnVolume.Format(crash, kernel).Value;
        var s = vol.Attach(kernel.CreateEnvironment("a"));
        var ind = s.RegisterType(TestTypes.Indirect).Value;
        var inode = s.RegisterType(TestTypes.Inode).Value;
        var root = s.InstallRoot("a", inode).Value.Block;
        var indBlock = s.FindFree(root, 1).Value;
        Assert.True(s.Alloc(root, 0, Set(Slot(0, 12), indBlock.Value), ind, new Extent(indBlock, 1)).Ok);
        for (int k = 0; k < 40; k++)
        {
            var b = s.FindFree(root, 1).Value;
            Assert.True(s.Alloc(indBlock, k / 64, Set(8 * k, b.Value), XnTypes.Data, new Extent(b, 1)).Ok);
            Assert.True(s.WriteRaw(b, 0, "dirty"u8).Ok);
        }
        var xnEnvFrames = 42;   // root, indirect, 40 data pages: all dirty
        Assert.True(kernel.Memory.FreeFrames <= 64 - xnEnvFrames);

        // Another environment needs memory: the kernel asks XN to give frames back (visible revocation).
        var hog = kernel.CreateEnvironment("hog");
        var got = kernel.Memory.Allocate(hog, 30);
        Assert.True(got.Ok, got.Status.ToString());
        // XN complied by itself: nothing was taken by force, and what it wrote is consistent on disk.
        var xn = Enumerable.Range(1, 10).Select(i => kernel.FindEnvironment(new EnvId(i))).First(e => e?.Name == "xn")!;
        Assert.Empty(kernel.Memory.RepossessionVector(xn));
        var durable = XnVolume.Load(crash.MaterializeDurable(), new ExoKernel(), new XnOptions { Recovery = XnRecovery.Scan });
        Assert.True(durable.Ok);
        Assert.True(durable.Value.Check().Clean);
        Assert.Equal(42UL, durable.Value.Check().ReachableBlocks);   // root, indirect, 40 data blocks
        Assert.True(vol.Check().Clean);
        // The pages come back on demand.
        var buf = new byte[4096];
        Assert.True(s.Read(indBlock, buf).Ok);
        vol.Dispose();
    }
}
