using ExoFS.Kernel.Disk;
using FsCheck;
using FsCheck.Fluent;
using static ExoFS.Kernel.Tests.Disk.TestUtil;

namespace ExoFS.Kernel.Tests.Disk;

public class CrashModelDeviceTests
{
    private static void W(IBlockDevice d, ulong block, byte tag) => d.Write(new BlockNo(block), Block(tag));

    /// <summary>Tags expected for a state, computed from the write log independently of Materialize.</summary>
    private static byte[] Expected(byte[] durable, IReadOnlyList<InFlightWrite> log, CrashState s)
    {
        var tags = (byte[])durable.Clone();
        foreach (var w in log.Where(w => w.Epoch < s.Epoch)) tags[w.Block.Value] = w.Data[0];
        foreach (int i in s.Chosen) tags[log[i].Block.Value] = log[i].Data[0];
        return tags;
    }

    [Fact]
    public void Count_of_states_is_sum_of_per_epoch_subsets_and_all_materialize_distinctly()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(8));
        W(dev, 0, 1); W(dev, 1, 2);            // epoch 0: 2 writes
        dev.Barrier();
        W(dev, 2, 3); W(dev, 3, 4); W(dev, 4, 5); // epoch 1: 3 writes
        Assert.Equal(2, dev.EpochCount);
        Assert.Equal(11, (int)dev.CountCrashStates()); // (2²−1) + (2³−1) + 1

        var states = dev.EnumerateCrashStates(100).ToList();
        Assert.Equal(11, states.Count);
        var log = dev.InFlightWrites;
        var images = new HashSet<string>();
        foreach (var s in states)
        {
            byte[] tags = Tags(dev.Materialize(s));
            Assert.Equal(Expected(new byte[8], log, s), tags);
            Assert.True(images.Add(Convert.ToHexString(tags)), $"state {s} duplicates another image");
        }
    }

    [Fact]
    public void Overlay_states_equal_copied_states_and_stay_private()
    {
        var inner = new MemoryDevice(8);
        W(inner, 6, 40);
        using var dev = new CrashModelDevice(inner);
        W(dev, 0, 1); W(dev, 6, 2);
        dev.Flush();                                // durable: block 0 = 1, block 6 = 2 (inner still 40)
        W(dev, 1, 3); W(dev, 0, 4);
        dev.Barrier();
        W(dev, 2, 5); W(dev, 1, 6); dev.Write(new BlockNo(3), Block(7, 2));
        var log = dev.InFlightWrites;
        var durable = new byte[] { 1, 0, 0, 0, 0, 0, 2, 0 };
        foreach (var s in dev.EnumerateCrashStates(1000))
        {
            using var overlay = dev.MaterializeOverlay(s);
            Assert.Equal(Expected(durable, log, s), Tags(overlay));
            Assert.Equal(Tags(dev.Materialize(s)), Tags(overlay));
            // Writing the materialized state changes neither the crash model nor the next state built.
            overlay.Write(new BlockNo(7), Block(99));
            overlay.Write(new BlockNo(0), Block(98));
            Assert.Equal(Expected(durable, log, s), Tags(dev.MaterializeOverlay(s)));
        }
        Assert.Equal(durable, Tags(dev.MaterializeDurableOverlay()));
        Assert.Equal(40, ReadBlock(inner, 6)[0]);
    }

    [Fact]
    public void Every_subset_of_the_last_epoch_is_a_state()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(8));
        W(dev, 7, 9);
        dev.Barrier();
        for (byte i = 0; i < 4; i++) W(dev, i, (byte)(i + 1));
        var lastEpoch = dev.EnumerateCrashStates(1000).Where(s => s.Epoch == 1).ToList();
        Assert.Equal(16, lastEpoch.Count);
        Assert.Equal(16, lastEpoch.Select(s => string.Join(",", s.Chosen)).Distinct().Count());
    }

    [Fact]
    public void States_reaching_a_later_epoch_have_every_earlier_epoch_fully_applied()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(16));
        byte tag = 1;
        for (int epoch = 0; epoch < 4; epoch++)
        {
            for (int i = 0; i < 3; i++) W(dev, (ulong)(epoch * 4 + i), tag++);
            dev.Barrier();
        }
        var log = dev.InFlightWrites;
        foreach (var s in dev.EnumerateCrashStates(1000))
        {
            byte[] tags = Tags(dev.Materialize(s));
            foreach (var w in log.Where(w => w.Epoch < s.Epoch))
                Assert.Equal(w.Data[0], tags[w.Block.Value]);
            foreach (var w in log.Where(w => w.Epoch > s.Epoch))
                Assert.Equal(0, tags[w.Block.Value]);
        }
    }

    [Fact]
    public void Later_write_to_a_block_wins_when_both_are_chosen()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(2));
        W(dev, 0, 1);
        W(dev, 0, 2);
        var tagsByState = dev.EnumerateCrashStates(10).ToDictionary(s => string.Join(",", s.Chosen), s => Tags(dev.Materialize(s))[0]);
        Assert.Equal(new Dictionary<string, byte> { [""] = 0, ["0"] = 1, ["1"] = 2, ["0,1"] = 2 }, tagsByState);
    }

    [Fact]
    public void Multi_block_write_can_be_torn()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(2));
        dev.Write(BlockNo.Zero, Block(7, 2));
        var images = dev.EnumerateCrashStates(10).Select(s => Convert.ToHexString(Tags(dev.Materialize(s)))).ToHashSet();
        Assert.Equal(new HashSet<string> { "0000", "0700", "0007", "0707" }, images);
    }

    [Fact]
    public void Flush_makes_writes_durable_and_leaves_one_state()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(4));
        W(dev, 1, 5);
        var stale = dev.EnumerateCrashStates(10).First();
        dev.Flush();
        Assert.Equal(1, (int)dev.CountCrashStates());
        var only = Assert.Single(dev.EnumerateCrashStates(10));
        Assert.Equal(new byte[] { 0, 5, 0, 0 }, Tags(dev.Materialize(only)));
        Assert.Equal(new byte[] { 0, 5, 0, 0 }, Tags(dev.MaterializeDurable()));
        Assert.Throws<InvalidOperationException>(() => dev.Materialize(stale));
    }

    [Fact]
    public void Reads_see_latest_write_and_inner_device_is_never_written()
    {
        var inner = new MemoryDevice(4);
        W(inner, 3, 8);
        using var dev = new CrashModelDevice(inner);
        W(dev, 0, 1);
        W(dev, 0, 2);
        Assert.Equal(2, ReadBlock(dev, 0)[0]);
        Assert.Equal(8, ReadBlock(dev, 3)[0]);
        dev.Flush();
        W(dev, 0, 3);
        Assert.Equal(3, ReadBlock(dev, 0)[0]);
        Assert.Equal(0, ReadBlock(inner, 0)[0]);
        W(inner, 3, 9); // a change to the inner device after wrapping does not leak into crash images
        Assert.Equal(8, Tags(dev.MaterializeDurable())[3]);
    }

    [Fact]
    public void Barriers_without_writes_between_them_add_no_epochs()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(4));
        dev.Barrier();
        W(dev, 0, 1);
        dev.Barrier();
        dev.Barrier();
        W(dev, 1, 2);
        dev.Barrier();
        Assert.Equal(2, dev.EpochCount);
        Assert.Equal(3, (int)dev.CountCrashStates());
    }

    [Fact]
    public void Persistence_points_fire_before_barrier_and_flush_take_effect()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(4));
        var seen = new List<(PersistencePoint Point, int States)>();
        dev.PersistencePoint += (d, p) => seen.Add((p, d.EnumerateCrashStates(100).Count()));
        W(dev, 0, 1);
        dev.Barrier();
        W(dev, 1, 2);
        dev.Flush();
        Assert.Equal(2, seen.Count);
        Assert.Equal(new PersistencePoint(PersistenceKind.Barrier, 0, 1, 1), seen[0].Point);
        Assert.Equal(2, seen[0].States);
        Assert.Equal(new PersistencePoint(PersistenceKind.Flush, 0, 2, 2), seen[1].Point);
        Assert.Equal(3, seen[1].States);
    }

    [Fact]
    public void Beyond_the_bound_states_are_sampled_distinct_and_reproducible()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(64));
        for (byte i = 0; i < 20; i++) W(dev, i, (byte)(i + 1));
        dev.Barrier();
        for (byte i = 20; i < 40; i++) W(dev, i, (byte)(i + 1));
        var a = dev.EnumerateCrashStates(50, seed: 7).ToList();
        var b = dev.EnumerateCrashStates(50, seed: 7).ToList();
        Assert.Equal(50, a.Count);
        Assert.Equal(50, a.Distinct().Count());
        Assert.Equal(a, b);
        Assert.Contains(new CrashState(0, 0, []), a); // nothing applied
        Assert.Contains(a, s => s.Epoch == 1 && s.Chosen.Count == 20); // everything applied
        var log = dev.InFlightWrites;
        foreach (var s in a.Take(10)) Assert.Equal(Expected(new byte[64], log, s), Tags(dev.Materialize(s)));
    }

    [Fact]
    public void Works_over_a_non_memory_inner_device()
    {
        using var dir = new TempDir();
        using var image = ImageFileDevice.Create(dir.File("c.img"), 4);
        W(image, 2, 6);
        using var dev = new CrashModelDevice(image);
        W(dev, 0, 1);
        var all = dev.EnumerateCrashStates(10).Select(s => Convert.ToHexString(Tags(dev.Materialize(s)))).ToList();
        Assert.Equal(new[] { "00000600", "01000600" }, all);
    }

    [Fact]
    public void Concurrent_writes_are_all_recorded_and_readable()
    {
        using var dev = new CrashModelDevice(new MemoryDevice(256));
        Parallel.For(0, 256, i => W(dev, (ulong)i, (byte)i));
        Assert.Equal(256, dev.InFlightWrites.Count);
        Assert.Equal(256, dev.InFlightWrites.Select(w => w.Sequence).Distinct().Count());
        for (int i = 0; i < 256; i++) Assert.Equal((byte)i, ReadBlock(dev, (ulong)i)[0]);
        dev.Flush();
        Assert.Equal(Enumerable.Range(0, 256).Select(i => (byte)i), Tags(dev.MaterializeDurable()));
    }

    // Operations for the property: write (block, tag), barrier, flush.
    private abstract record Op;
    private sealed record WriteOp(int Block, byte Tag) : Op;
    private sealed record BarrierOp : Op;
    private sealed record FlushOp : Op;

    [Fact]
    public void No_write_acknowledged_by_a_flush_is_lost_in_any_crash_state()
    {
        const int blocks = 6;
        Gen<Op> op = Gen.Frequency(
            (6, from b in Gen.Choose(0, blocks - 1) from t in Gen.Choose(1, 255) select (Op)new WriteOp(b, (byte)t)),
            (2, Gen.Constant((Op)new BarrierOp())),
            (1, Gen.Constant((Op)new FlushOp())));
        var ops = Arb.From(op.ListOf().Select(l => l.ToArray()));

        var prop = Prop.ForAll(ops, (Op[] program) =>
        {
            using var dev = new CrashModelDevice(new MemoryDevice(blocks));
            var durable = new byte[blocks];   // model: what the last Flush acknowledged
            var pending = new List<(int Block, byte Tag)>();
            foreach (var o in program)
            {
                switch (o)
                {
                    case WriteOp w: W(dev, (ulong)w.Block, w.Tag); pending.Add((w.Block, w.Tag)); break;
                    case BarrierOp: dev.Barrier(); break;
                    case FlushOp:
                        dev.Flush();
                        foreach (var (b, t) in pending) durable[b] = t;
                        pending.Clear();
                        break;
                }
            }
            foreach (var s in dev.EnumerateCrashStates(64, seed: program.Length))
            {
                byte[] tags = Tags(dev.Materialize(s));
                for (int b = 0; b < blocks; b++)
                {
                    // A block holds its flushed value, or one of the values written to it since.
                    bool ok = tags[b] == durable[b] || pending.Any(p => p.Block == b && p.Tag == tags[b]);
                    if (!ok) return false;
                }
            }
            return true;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), prop);
    }
}
