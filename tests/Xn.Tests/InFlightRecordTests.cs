using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;
using FsCheck;
using FsCheck.Fluent;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// Recovery without a scan: in every crash state, the free map XN settles from its in-flight record is
/// exactly the map a scan of every root computes (no leak, no lost block), including states where the
/// record itself is torn, where the record is durable but the pointers are not, and where the nullifying
/// writes are durable but the release is not.
/// </summary>
public class InFlightRecordTests
{
    private static (XnFixture F, CrashModelDevice Crash) StaleDisk(ulong blocks, int seed)
    {
        var stale = new byte[blocks * 4096];
        new Random(seed).NextBytes(stale);
        var crash = new CrashModelDevice(MemoryDevice.FromBytes(stale));
        return (new XnFixture(dev: crash), crash);
    }

    private static string MapOf(XnVolume v)
    {
        var bits = new char[v.BlockCount];
        for (ulong b = 0; b < v.BlockCount; b++) bits[b] = v.FreeMap.IsAllocated(b) ? '1' : '0';
        return new string(bits);
    }

    /// <summary>Tallies over the crash states one test examined.</summary>
    private sealed class Tally
    {
        public int States, Leaky, Torn;
    }

    /// <summary>
    /// Recovers <paramref name="image"/> as a mount does (the default) and by scan; asserts the maps are equal,
    /// the settled volume has no error and no leak but the duplicates a cross-block move may leave, and a
    /// second crash right after the settling load (record emptied, map rewritten) changes nothing.
    /// </summary>
    private static void AssertSettlesLikeAScan(MemoryDevice image, Tally tally, Func<XnFinding, bool>? allowed = null, string log = "")
    {
        tally.States++;
        var settledImage = image.Clone();
        var scanned = XnVolume.Load(image.Clone(), new ExoKernel(), new XnOptions { Recovery = XnRecovery.Scan });
        Assert.True(scanned.Ok, scanned.ToString());
        var trusted = XnVolume.Load(image.Clone(), new ExoKernel(), new XnOptions { Recovery = XnRecovery.PersistedMap, ReadOnly = true });
        Assert.True(trusted.Ok, trusted.ToString());
        var settled = XnVolume.Load(settledImage, new ExoKernel());
        Assert.True(settled.Ok, settled.ToString());
        string scanMap = MapOf(scanned.Value), settledMap = MapOf(settled.Value);
        if (MapOf(trusted.Value) != scanMap) tally.Leaky++;
        Assert.True(scanMap == settledMap, $"settled map differs from the scan's at block(s) " +
            string.Join(",", Enumerable.Range(0, scanMap.Length).Where(i => scanMap[i] != settledMap[i]).Take(10)) +
            "; " + string.Join("; ", settled.Value.RecoveryActions) + "\n" + log);
        var findings = settled.Value.Check().Findings.Where(x => allowed is null || !allowed(x)).ToList();
        Assert.True(findings.Count == 0, string.Join("\n", findings) + "\n" + log);

        // The settling load persisted the map and emptied the record: a crash now needs nothing more.
        var again = XnVolume.Load(settledImage, new ExoKernel(), new XnOptions { Recovery = XnRecovery.PersistedMap });
        Assert.True(again.Ok, again.ToString());
        Assert.Equal(scanMap, MapOf(again.Value));
    }

    /// <summary>Whether the image's newer record slot is torn (its magic is there but it does not decode).</summary>
    private static bool RecordTorn(MemoryDevice image, XnVolume like)
    {
        var layout = like.Layout;
        var slot = new byte[layout.RecordSlotBlocks * 4096];
        for (int s = 0; s < 2; s++)
        {
            image.Read(new BlockNo(layout.RecordSlotStart(s)), slot);
            if (slot.AsSpan(0, 8).SequenceEqual("XNFLIGHT"u8) && InFlightRecord.Decode(slot, out _) is null) return true;
        }
        return false;
    }

    [Fact]
    public void A_torn_record_leaves_the_previous_one_in_force_and_recovery_still_equals_a_scan()
    {
        // 1024 blocks: record slots of 4 blocks. 200 allocations that cannot coalesce (every other block) make a
        // record of two blocks, which the crash model may persist one without the other.
        var (f, crash) = StaleDisk(1024, seed: 21);
        var root = f.RootA.Block;
        ulong ind = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)).Ok);
        Assert.True(f.A.Sync().Ok);
        ulong d = f.FreeBlock(ind + 1);
        for (int i = 0; i < 200; i++, d += 2)
            Assert.True(f.A.Alloc(new BlockNo(ind), i / 64, Set(8 * i, d), XnTypes.Data, One(d)).Ok);
        var tally = new Tally();
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(64, tally.States))
            {
                var image = dev.Materialize(st);
                if (RecordTorn(image, f.Vol)) tally.Torn++;
                AssertSettlesLikeAScan(image, tally);
            }
        };
        Assert.True(f.A.Sync().Ok);
        Assert.True(tally.Torn > 0, $"no torn record among {tally.States} states");
        Assert.True(tally.Leaky > 0, "no state where the persisted map alone leaks");
    }

    [Fact]
    public void A_crash_between_the_record_and_the_pointer_write_frees_the_unreached_blocks()
    {
        // The child, its allocation bit and the record are durable; the parent naming the child is not.
        var (f, crash) = StaleDisk(256, seed: 22);
        var root = f.RootA.Block;
        ulong ind = f.FreeBlock(), d = f.FreeBlock(ind + 1);
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)).Ok);
        Assert.True(f.A.Alloc(new BlockNo(ind), 3, Set(8 * 200, d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.A.WriteBack(new BlockNo(d)).Ok);
        Assert.True(f.A.WriteBack(new BlockNo(ind)).Ok);
        crash.Flush();
        var image = crash.MaterializeDurable();
        var tally = new Tally();
        AssertSettlesLikeAScan(image, tally);
        Assert.Equal(1, tally.Leaky);
        var settled = XnVolume.Load(image, new ExoKernel()).Value;
        Assert.False(settled.FreeMap.IsAllocated(ind));
        Assert.False(settled.FreeMap.IsAllocated(d));
        Assert.Contains(settled.RecoveryActions, a => a.Contains("2 freed", StringComparison.Ordinal));
    }

    [Fact]
    public void A_crash_between_the_nullifying_write_and_the_release_frees_the_blocks()
    {
        // Free a subtree (an indirect block and its data): every crash state of the sync that makes the frees
        // durable, and of the release after it, settles exactly.
        var (f, crash) = StaleDisk(256, seed: 23);
        var root = f.RootA.Block;
        ulong ind = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)).Ok);
        var data = new List<ulong>();
        for (int i = 0; i < 5; i++)
        {
            ulong d = f.FreeBlock(ind + 1 + (ulong)i);
            Assert.True(f.A.Alloc(new BlockNo(ind), 0, Set(8 * i, d), XnTypes.Data, One(d)).Ok);
            data.Add(d);
        }
        Assert.True(f.A.Sync().Ok);
        for (int i = 0; i < 5; i++) Assert.True(f.A.Free(new BlockNo(ind), 0, Clear(8 * i), One(data[i])).Ok);
        Assert.True(f.A.Free(root, 0, Clear(Slot(0, 12)), One(ind)).Ok);
        var tally = new Tally();
        var kinds = new HashSet<PersistenceKind>();
        crash.PersistencePoint += (dev, point) =>
        {
            kinds.Add(point.Kind);
            foreach (var st in dev.EnumerateCrashStates(4096)) AssertSettlesLikeAScan(dev.Materialize(st), tally);
        };
        Assert.True(f.A.Sync().Ok);
        Assert.True(tally.Leaky > 0, $"no state among {tally.States} where the persisted map alone leaks");
        // After the sync the record is empty again and the blocks are free on disk.
        var after = XnVolume.Load(crash.MaterializeDurable(), new ExoKernel(), new XnOptions { Recovery = XnRecovery.PersistedMap }).Value;
        Assert.All(data.Append(ind), b => Assert.False(after.FreeMap.IsAllocated(b)));
    }

    [Fact]
    public void More_blocks_in_flight_than_the_record_holds_fall_back_to_a_scan()
    {
        // 512 blocks: a record slot of two blocks holds 340 entries. 345 allocations alternating between two
        // parents cannot coalesce (each parent's next block is not adjacent to its last), so they do not fit.
        var (f, crash) = StaleDisk(512, seed: 24);
        var root = f.RootA.Block;
        ulong ind1 = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind1), f.Indirect, One(ind1)).Ok);
        ulong ind2 = f.FreeBlock(ind1 + 1);
        Assert.True(f.A.Alloc(root, 1, Set(Slot(1, 12), ind2), f.Indirect, One(ind2)).Ok);
        ulong d = f.FreeBlock(ind2 + 1);
        for (int i = 0; i < 345; i++, d++)
            Assert.True(f.A.Alloc(new BlockNo(i % 2 == 0 ? ind1 : ind2), i / 2 / 64, Set(8 * (i / 2), d), XnTypes.Data, One(d)).Ok);
        var tally = new Tally();
        bool sawOverflow = false;
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(16, tally.States))
            {
                var image = dev.Materialize(st);
                var v = XnVolume.Load(image.Clone(), new ExoKernel(), new XnOptions { ReadOnly = true }).Value;
                sawOverflow |= v.RecoveryActions.Any(a => a.Contains("overflowed", StringComparison.Ordinal));
                AssertSettlesLikeAScan(image, tally);
            }
        };
        Assert.True(f.A.Sync().Ok);
        Assert.True(sawOverflow, "no crash state recovered from an overflowed record");
    }

    [Fact]
    public void Write_backs_without_a_sync_settle_the_record_before_it_overflows()
    {
        // 420 unmergeable allocations as above (the record holds 340), but the libFS writes its blocks back as
        // it goes and never syncs: a write-back's record settles what earlier write-backs made durable, so no
        // record on disk ever overflows and every crash state still settles like a scan.
        var (f, crash) = StaleDisk(512, seed: 25);
        var root = f.RootA.Block;
        ulong ind1 = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind1), f.Indirect, One(ind1)).Ok);
        ulong ind2 = f.FreeBlock(ind1 + 1);
        Assert.True(f.A.Alloc(root, 1, Set(Slot(1, 12), ind2), f.Indirect, One(ind2)).Ok);
        var tally = new Tally();
        int overflowed = 0;
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(4, tally.States))
            {
                var image = dev.Materialize(st);
                var v = XnVolume.Load(image.Clone(), new ExoKernel(), new XnOptions { ReadOnly = true }).Value;
                if (v.RecoveryActions.Any(a => a.Contains("overflowed", StringComparison.Ordinal))) overflowed++;
                AssertSettlesLikeAScan(image, tally);
            }
        };
        ulong d = f.FreeBlock(ind2 + 1);
        var written = new List<ulong>();
        for (int i = 0; i < 420; i++, d++)
        {
            Assert.True(f.A.Alloc(new BlockNo(i % 2 == 0 ? ind1 : ind2), i / 2 / 64, Set(8 * (i / 2), d), XnTypes.Data, One(d)).Ok);
            written.Add(d);
            if (i % 30 != 29) continue;
            foreach (var b in written) Assert.True(f.A.WriteBack(new BlockNo(b)).Ok);
            written.Clear();
            Assert.True(f.A.WriteBack(new BlockNo(ind1)).Ok);
            Assert.True(f.A.WriteBack(new BlockNo(ind2)).Ok);
            Assert.True(f.A.WriteBack(root).Ok);
        }
        Assert.Equal(0, overflowed);
        Assert.True(tally.States > 0);
        // Everything written so far made durable, as the device's own write-back would: the newest record holds.
        crash.Flush();
        var durable = XnVolume.Load(crash.MaterializeDurable(), new ExoKernel(), new XnOptions { ReadOnly = true }).Value;
        Assert.DoesNotContain(durable.RecoveryActions, a => a.Contains("overflowed", StringComparison.Ordinal) || a.Contains("scan", StringComparison.Ordinal));
    }

    /// <summary>
    /// The strongest form: random operations by two environments (allocations, frees, cross-block moves,
    /// write-backs, syncs) on a disk of stale bytes, crashed at every barrier and flush with sampled subsets of
    /// the writes in flight; in every state the settled map equals the scan's.
    /// </summary>
    [Fact]
    public void After_a_crash_at_any_point_the_settled_map_equals_a_scan()
    {
        var tally = new Tally();
        var prop = Prop.ForAll(ArbMap.Default.ArbFor<int[]>(), codes =>
        {
            var stale = new byte[256 * 4096];
            new Random(codes.Length + 31).NextBytes(stale);
            var crash = new CrashModelDevice(MemoryDevice.FromBytes(stale));
            using var f = new XnFixture(dev: crash);
            bool moves = codes.Length % 2 == 0;
            var d = new Driver(f, crossBlockMoves: moves);
            int seed = codes.Length;
            crash.PersistencePoint += (dev, _) =>
            {
                foreach (var state in dev.EnumerateCrashStates(3, seed++))
                    AssertSettlesLikeAScan(dev.Materialize(state), tally,
                        allowed: x => x.Kind == XnFindingKind.DoublyOwned && d.CrossMoved.Contains(x.Block), log: string.Join("\n", d.Log));
            };
            foreach (int c in codes) d.Apply(c);
            Assert.True(f.Vol.Sync().Ok);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40), prop);
        Assert.True(tally.States > 200, $"only {tally.States} crash states examined");
        Assert.True(tally.Leaky > 20, $"only {tally.Leaky} of {tally.States} states had anything in flight to settle");
    }
}
