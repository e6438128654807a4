using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// WriteRaw with an <c>after</c> block: a libFS's own ordering (a directory entry after the inode table
/// block it names) that XN honours at Sync, at WriteBack and under cache pressure.
/// </summary>
public class WriteAfterTests
{
    private static ulong U64(byte[] b, int off) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(off));

    /// <summary>Two synced data blocks under root "a"; returns (first, then).</summary>
    private static (ulong First, ulong Then) TwoDataBlocks(XnFixture f)
    {
        var root = f.RootA.Block;
        ulong first = f.FreeBlock(), then = f.FreeBlock(first + 10);
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 0), first), XnTypes.Data, One(first)).Ok);
        Assert.True(f.A.Alloc(root, 1, Set(Slot(1, 0), then), XnTypes.Data, One(then)).Ok);
        Assert.True(f.A.Sync().Ok);
        return (first, then);
    }

    private static (ulong First, ulong Then) CrashStatesNeverShowThenWithoutFirst(Func<XnFixture, ulong, ulong, XnResult> persist)
    {
        var crash = new CrashModelDevice(new MemoryDevice(256));
        var f = new XnFixture(dev: crash);
        var (first, then) = TwoDataBlocks(f);
        Assert.True(f.A.WriteRaw(new BlockNo(first), 0, BitConverter.GetBytes(0x1111UL)).Ok);
        Assert.True(f.A.WriteRaw(new BlockNo(then), 0, BitConverter.GetBytes(0x2222UL), new BlockNo(first)).Ok);
        int states = 0, thenDurable = 0;
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(4096))
            {
                states++;
                var image = dev.Materialize(st);
                var t = new byte[4096];
                var fi = new byte[4096];
                image.Read(new BlockNo(then), t);
                image.Read(new BlockNo(first), fi);
                if (U64(t, 0) != 0x2222UL) continue;
                thenDurable++;
                Assert.Equal(0x1111UL, U64(fi, 0));
            }
        };
        Assert.True(persist(f, first, then).Ok);
        crash.Flush();
        Assert.True(states > 0);
        Assert.True(thenDurable > 0, "some crash state should hold the ordered write");
        return (first, then);
    }

    [Fact]
    public void Sync_writes_the_block_after_the_one_it_was_ordered_after()
    {
        CrashStatesNeverShowThenWithoutFirst((f, _, _) => f.A.Sync());
    }

    [Fact]
    public void WriteBack_writes_what_the_block_must_follow_first()
    {
        CrashStatesNeverShowThenWithoutFirst((f, _, then) => f.A.WriteBack(new BlockNo(then)));
    }

    [Fact]
    public void WriteBack_of_a_block_ordered_after_a_tainted_block_writes_that_block_and_its_children_first()
    {
        using var f = new XnFixture();
        var root = f.RootA.Block;
        var (_, then) = TwoDataBlocks(f);
        ulong child = f.FreeBlock(then + 1);
        Assert.True(f.A.Alloc(root, 2, Set(Slot(2, 0), child), XnTypes.Data, One(child)).Ok);   // root is tainted now
        Assert.True(f.A.WriteRaw(new BlockNo(then), 0, BitConverter.GetBytes(7UL), root).Ok);
        long before = ((BlockDeviceBase)f.Dev).Stats.Snapshot().Writes;
        Assert.True(f.A.WriteBack(new BlockNo(then)).Ok);
        Assert.True(((BlockDeviceBase)f.Dev).Stats.Snapshot().Writes >= before + 3, "child, root and the block itself");
        Assert.Empty(f.Vol.Check().Errors);
        Assert.Equal(0, f.Vol.DirtyBlocks);
    }

    [Fact]
    public void Cache_pressure_does_not_write_the_block_before_the_one_it_follows()
    {
        var crash = new CrashModelDevice(new MemoryDevice(2048));
        var formatKernel = new ExoKernel();
        var format = XnVolume.Format(crash, formatKernel).Value;
        var s0 = format.Attach(formatKernel.CreateEnvironment("a"));
        Assert.True(s0.RegisterType(TestTypes.Indirect).Ok);
        Assert.True(s0.InstallRoot("a", s0.RegisterType(TestTypes.Inode).Value).Ok);
        format.Dispose();
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(crash, kernel, new XnOptions { CachePages = 64 }).Value;
        var env = kernel.CreateEnvironment("a");
        var s = vol.Attach(env);
        var root = s.MountRoot("a", vol.GrantRoot("a", env).Value).Value.Block;
        ulong first = s.FindFree(new BlockNo(0), 1).Value.Value;
        Assert.True(s.Alloc(root, 0, Set(Slot(0, 0), first), XnTypes.Data, One(first)).Ok);
        ulong then = s.FindFree(new BlockNo(first + 1), 1).Value.Value;
        Assert.True(s.Alloc(root, 1, Set(Slot(1, 0), then), XnTypes.Data, One(then)).Ok);
        Assert.True(s.Sync().Ok);
        Assert.True(s.WriteRaw(new BlockNo(first), 0, BitConverter.GetBytes(0x1111UL)).Ok);
        Assert.True(s.WriteRaw(new BlockNo(then), 0, BitConverter.GetBytes(0x2222UL), new BlockNo(first)).Ok);
        int checkedStates = 0;
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(64))
            {
                var image = dev.Materialize(st);
                var t = new byte[4096];
                var fi = new byte[4096];
                image.Read(new BlockNo(then), t);
                image.Read(new BlockNo(first), fi);
                if (U64(t, 0) != 0x2222UL) continue;
                checkedStates++;
                Assert.Equal(0x1111UL, U64(fi, 0));
            }
        };
        // Fill the cache with dirty data blocks under other inodes until pressure has written ours.
        for (int i = 0; i < 200 && vol.IsDirty(then); i++)
        {
            ulong d = s.FindFree(new BlockNo(then + 1), 1).Value.Value;
            int inodeNo = 2 + i / 12, slot = i % 12;
            if (inodeNo >= 32) break;
            Assert.True(s.Alloc(root, inodeNo, Set(Slot(inodeNo, slot), d), XnTypes.Data, One(d)).Ok);
            Assert.True(s.WriteRaw(new BlockNo(d), 0, BitConverter.GetBytes((ulong)i + 1)).Ok);
        }
        Assert.False(vol.IsDirty(then), "pressure should have written the ordered block");
        Assert.True(s.Sync().Ok);   // a persistence point whose crash states include the pressure writes
        Assert.True(checkedStates > 0);
        vol.Dispose();
    }

    [Fact]
    public void An_after_block_the_caller_cannot_read_is_refused_and_nothing_changes()
    {
        using var f = new XnFixture();
        var (_, then) = TwoDataBlocks(f);
        var r = f.A.WriteRaw(new BlockNo(then), 0, BitConverter.GetBytes(5UL), f.RootB.Block);
        Assert.Equal(XnError.BadCapability, r.Error);
        Assert.False(f.Vol.IsDirty(then));
        var buf = new byte[8];
        Assert.True(f.A.ReadRaw(new BlockNo(then), 0, buf).Ok);
        Assert.Equal(0UL, BitConverter.ToUInt64(buf));
    }

    [Fact]
    public void An_order_the_pointers_already_reverse_is_not_recorded_and_sync_stays_legal()
    {
        using var f = new XnFixture();
        var root = f.RootA.Block;
        ulong child = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 0), child), XnTypes.Data, One(child)).Ok);
        // The root points at the new child, so the child goes first whatever the libFS asks; asking for the
        // reverse must neither deadlock the sync nor write the root while the child is unwritten.
        Assert.True(f.A.WriteRaw(new BlockNo(child), 0, BitConverter.GetBytes(9UL), root).Ok);
        Assert.True(f.A.WriteRaw(root, 0, BitConverter.GetBytes(3UL)).Ok);
        Assert.True(f.A.Sync().Ok);
        Assert.Empty(f.Vol.Check().Errors);
        Assert.Equal(0, f.Vol.DirtyBlocks);
    }
}
