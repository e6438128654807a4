using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>Rules 1 and 2, the persisted free map and Move ordering, checked over every crash state.</summary>
public class OrderingTests
{
    /// <summary>A fixture over a crash-model device whose blocks start full of stale bytes.</summary>
    private static (XnFixture F, CrashModelDevice Crash) StaleDisk(ulong blocks = 128, int seed = 1)
    {
        var stale = new byte[blocks * 4096];
        new Random(seed).NextBytes(stale);
        var crash = new CrashModelDevice(MemoryDevice.FromBytes(stale));
        return (new XnFixture(dev: crash), crash);
    }

    private static ulong U64(byte[] b, int off) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(off));

    /// <summary>Reads a block of a recovered image through a fresh session on root "a".</summary>
    private static byte[] ReadAs(XnVolume vol, ExoKernel k, BlockNo block, Func<XnSession, bool>? prepare = null)
    {
        var env = k.CreateEnvironment("a");
        var s = vol.Attach(env);
        Assert.True(s.MountRoot("a", vol.GrantRoot("a", env).Value).Ok);
        var buf = new byte[4096];
        prepare?.Invoke(s);
        Assert.True(s.Read(block, buf).Ok);
        return buf;
    }

    [Fact]
    public void No_crash_state_has_a_durable_pointer_to_unwritten_contents()
    {
        var (f, crash) = StaleDisk();
        var root = f.RootA.Block;
        ulong ind = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)).Ok);
        var data = new List<ulong>();
        for (int i = 0; i < 3; i++)
        {
            ulong d = f.FreeBlock();
            Assert.True(f.A.Alloc(new BlockNo(ind), 0, Set(8 * i, d), XnTypes.Data, One(d)).Ok);
            Assert.True(f.A.WriteRaw(new BlockNo(d), 0, BitConverter.GetBytes(0xC0FFEE00UL + (ulong)i)).Ok);
            data.Add(d);
        }
        int states = 0;
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(4096))
            {
                states++;
                var k = new ExoKernel();
                var vol = XnVolume.Load(dev.Materialize(st), k).Value;
                Assert.Empty(vol.Check().Errors);
                var rootBytes = ReadAs(vol, k, root);
                if (U64(rootBytes, Slot(0, 12)) != ind) continue;
                // The pointer to the indirect block is durable: its contents must be ours, not stale.
                var indBytes = ReadAs(vol, k, new BlockNo(ind), s => s.Read(root, new byte[4096]).Ok);
                for (int i = 0; i < 3; i++)
                {
                    Assert.Equal(data[i], U64(indBytes, 8 * i));
                    var d = ReadAs(vol, k, new BlockNo(data[i]), s => s.Read(root, new byte[4096]).Ok && s.Read(new BlockNo(ind), new byte[4096]).Ok);
                    Assert.Equal(0xC0FFEE00UL + (ulong)i, U64(d, 0));
                }
            }
        };
        Assert.True(f.A.Sync().Ok);
        Assert.True(states > 3);
    }

    [Fact]
    public void Writing_the_child_untaints_the_parent()
    {
        using var f = new XnFixture();
        var root = f.RootA.Block;
        ulong ind = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)).Ok);
        ulong d = f.FreeBlock();
        Assert.True(f.A.Alloc(new BlockNo(ind), 0, Set(0, d), XnTypes.Data, One(d)).Ok);
        Assert.Equal(XnError.Tainted, f.A.WriteBack(new BlockNo(ind)).Error);
        Assert.True(f.A.WriteBack(new BlockNo(d)).Ok);
        Assert.Equal(XnError.Tainted, f.A.WriteBack(root).Error);
        Assert.True(f.A.WriteBack(new BlockNo(ind)).Ok);
        Assert.True(f.A.WriteBack(root).Ok);
    }

    [Fact]
    public void A_freed_block_stays_allocated_on_disk_until_the_nullified_parent_is_durable()
    {
        var (f, crash) = StaleDisk(seed: 2);
        var root = f.RootA.Block;
        ulong d = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 0), d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.A.Sync().Ok);
        Assert.True(f.A.Free(root, 0, Clear(Slot(0, 0)), One(d)).Ok);
        int pointing = 0;
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(4096))
            {
                var k = new ExoKernel();
                var vol = XnVolume.Load(dev.Materialize(st), k).Value;
                var report = vol.Check();
                Assert.Empty(report.Errors);   // in particular no PointerToFree
                if (U64(ReadAs(vol, k, root), Slot(0, 0)) == d) pointing++;
            }
        };
        Assert.True(f.A.Sync().Ok);
        Assert.True(pointing > 0, "some crash state should still have the old pointer");
        Assert.True(f.A.Alloc(root, 1, Set(Slot(1, 0), d), XnTypes.Data, One(d)).Ok);
    }

    [Fact]
    public void A_cross_block_move_interrupted_by_a_crash_duplicates_but_never_loses_the_extent()
    {
        var (f, crash) = StaleDisk(seed: 3);
        var root = f.RootA.Block;
        ulong ind = f.FreeBlock(), d = f.FreeBlock(ind + 1);
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)).Ok);
        Assert.True(f.A.Alloc(root, 1, Set(Slot(1, 0), d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.A.Sync().Ok);
        Assert.True(f.A.Move(root, 1, Clear(Slot(1, 0)), new BlockNo(ind), 2, Set(8 * 130, d), One(d)).Ok);
        int dups = 0, states = 0;
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(4096))
            {
                states++;
                var vol = XnVolume.Load(dev.Materialize(st), new ExoKernel(), new XnOptions { Recovery = XnRecovery.Scan }).Value;
                var report = vol.Check();
                Assert.DoesNotContain(report.Findings, x => x.Kind == XnFindingKind.Leaked);
                foreach (var e in report.Errors)
                {
                    Assert.Equal(XnFindingKind.DoublyOwned, e.Kind);
                    Assert.Equal(d, e.Block);
                    dups++;
                }
            }
        };
        Assert.True(f.A.Sync().Ok);
        Assert.True(states > 0);
        Assert.True(dups > 0, "the interrupted move should be visible as a reported duplicate");
    }

    [Fact]
    public void Scan_recovery_reclaims_what_the_persisted_map_leaks()
    {
        var (f, crash) = StaleDisk(seed: 4);
        var root = f.RootA.Block;
        ulong d = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 0), d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.A.WriteBack(new BlockNo(d)).Ok);    // the child and its allocation bit reach the disk
        crash.Flush();                                   // ... durably; then the machine dies before the root is written
        var image = crash.MaterializeDurable();

        var fast = XnVolume.Load(image.Clone(), new ExoKernel(), new XnOptions { Recovery = XnRecovery.PersistedMap }).Value;
        Assert.False(fast.WasClean);
        var leaks = fast.Check();
        Assert.Empty(leaks.Errors);
        Assert.Contains(leaks.Leaks, l => l.Block == d);

        var scanned = XnVolume.Load(image.Clone(), new ExoKernel(), new XnOptions { Recovery = XnRecovery.Scan }).Value;
        Assert.True(scanned.Check().Clean);
        Assert.Equal(fast.FreeBlocks + 1, scanned.FreeBlocks);

        // The default recovery settles d from the in-flight record (the root's durable bytes do not own it).
        var settled = XnVolume.Load(image.Clone(), new ExoKernel()).Value;
        Assert.True(settled.Check().Clean);
        Assert.Equal(scanned.FreeBlocks, settled.FreeBlocks);

        var repaired = XnVolume.Load(image.Clone(), new ExoKernel()).Value;
        Assert.True(repaired.Repair().Value.Clean);
    }

    [Fact]
    public void Calls_after_dispose_are_refused()
    {
        var f = new XnFixture();
        f.Vol.Dispose();
        Assert.Equal(XnError.Io, f.A.Read(f.RootA.Block, new byte[4096]).Error);
        Assert.Equal(XnError.Io, f.A.WriteRaw(f.RootA.Block, 0, "x"u8).Error);
    }
}
