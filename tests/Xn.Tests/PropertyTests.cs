using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using FsCheck;
using FsCheck.Fluent;

namespace ExoFS.Xn.Tests;

/// <summary>FsCheck properties: legal operations keep every invariant; every crash state recovers.</summary>
public class PropertyTests
{
    private static string Findings(XnCheckReport r) => string.Join("\n", r.Findings);

    [Fact]
    public void Random_legal_operations_by_two_environments_keep_every_invariant()
    {
        var prop = Prop.ForAll(ArbMap.Default.ArbFor<int[]>(), codes =>
        {
            using var f = new XnFixture(512);
            var d = new Driver(f, crossBlockMoves: true);
            foreach (int c in codes)
            {
                d.Apply(c);
                var report = f.Vol.Check();
                Assert.True(report.Clean, Findings(report) + "\n" + string.Join("\n", d.Log));
            }
            Assert.True(f.Vol.Sync().Ok);
            Assert.True(f.Vol.Check().Clean);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), prop);
    }

    [Fact]
    public void A_clean_reload_after_random_operations_has_no_leaks_and_the_same_free_count()
    {
        var prop = Prop.ForAll(ArbMap.Default.ArbFor<int[]>(), codes =>
        {
            var f = new XnFixture(512);
            var d = new Driver(f, crossBlockMoves: true);
            foreach (int c in codes) d.Apply(c);
            Assert.True(f.Vol.Sync().Ok);
            ulong free = f.Vol.FreeBlocks;
            f.Vol.Dispose();
            var vol = XnVolume.Load(f.Dev, new ExoKernel()).Value;
            var report = vol.Check();
            Assert.True(report.Clean, Findings(report));
            Assert.Equal(free, vol.FreeBlocks);
            vol.Dispose();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40), prop);
    }

    /// <summary>
    /// Crash at every barrier and flush (a few sampled subsets of the writes in flight each time): the
    /// persisted free map never marks a reachable block free and nothing is owned twice (only leaks are
    /// allowed), and recovery by scan leaves a completely clean volume.
    /// </summary>
    [Fact]
    public void After_a_crash_at_any_point_recovery_restores_the_invariants()
    {
        int states = 0;
        var prop = Prop.ForAll(ArbMap.Default.ArbFor<int[]>(), codes =>
        {
            // Stale bytes everywhere, as on a used disk: a pointer made durable before its block's
            // contents would expose them to owns() and to readers.
            var stale = new byte[256 * 4096];
            new Random(codes.Length).NextBytes(stale);
            var crash = new CrashModelDevice(MemoryDevice.FromBytes(stale));
            using var f = new XnFixture(dev: crash);
            var d = new Driver(f, crossBlockMoves: false);
            int seed = codes.Length;
            crash.PersistencePoint += (dev, _) =>
            {
                foreach (var state in dev.EnumerateCrashStates(3, seed++))
                {
                    states++;
                    VerifyRecovery(dev.Materialize(state), d);
                }
            };
            foreach (int c in codes) d.Apply(c);
            Assert.True(f.Vol.Sync().Ok);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25), prop);
        Assert.True(states > 100, $"only {states} crash states examined");
    }

    private static void VerifyRecovery(MemoryDevice image, Driver d)
    {
        var scanImage = image.Clone();
        var fast = XnVolume.Load(image, new ExoKernel());
        Assert.True(fast.Ok, fast.ToString());
        var report = fast.Value.Check();
        Assert.True(!report.Errors.Any(), "persisted map: " + Findings(report) + "\n" + string.Join("\n", d.Log));

        var scanned = XnVolume.Load(scanImage, new ExoKernel(), new XnOptions { Recovery = XnRecovery.Scan });
        Assert.True(scanned.Ok, scanned.ToString());
        var clean = scanned.Value.Check();
        Assert.True(clean.Clean, "scan: " + Findings(clean));
        // The persisted map may only over-approximate: everything it calls free, the scan does too.
        Assert.True(fast.Value.FreeBlocks <= scanned.Value.FreeBlocks);
    }

    /// <summary>
    /// Cross-block moves are two parent writes; XN orders the new parent first (rule 3), so a crash
    /// between them may duplicate the moved extent — reported, for the libFS to repair — but never lose
    /// it. Every other invariant holds in every crash state.
    /// </summary>
    [Fact]
    public void After_a_crash_during_cross_block_moves_the_only_damage_is_a_reported_duplicate_of_a_moved_block()
    {
        var prop = Prop.ForAll(ArbMap.Default.ArbFor<int[]>(), codes =>
        {
            var stale = new byte[256 * 4096];
            new Random(codes.Length + 7).NextBytes(stale);
            var crash = new CrashModelDevice(MemoryDevice.FromBytes(stale));
            using var f = new XnFixture(dev: crash);
            var d = new Driver(f, crossBlockMoves: true);
            int seed = codes.Length;
            crash.PersistencePoint += (dev, _) =>
            {
                foreach (var state in dev.EnumerateCrashStates(3, seed++))
                {
                    var vol = XnVolume.Load(dev.Materialize(state), new ExoKernel(), new XnOptions { Recovery = XnRecovery.Scan });
                    Assert.True(vol.Ok, vol.ToString());
                    foreach (var e in vol.Value.Check().Findings)
                    {
                        Assert.True(e.Kind == XnFindingKind.DoublyOwned && d.CrossMoved.Contains(e.Block),
                            $"{e}\n{string.Join("\n", d.Log)}");
                    }
                }
            };
            foreach (int c in codes) d.Apply(c);
            Assert.True(f.Vol.Sync().Ok);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20), prop);
    }

    [Fact]
    public void Two_environments_working_concurrently_keep_every_invariant()
    {
        using var f = new XnFixture(1024);
        var rng = new Random(11);
        int[] Codes(int env) => Enumerable.Range(0, 400).Select(_ => (rng.Next() & ~1) | env).ToArray();
        var (codesA, codesB) = (Codes(0), Codes(1));
        // Each driver models only its own environment's root.
        var da = new Driver(f, crossBlockMoves: true);
        var db = new Driver(f, crossBlockMoves: true);
        var ta = Task.Run(() => { foreach (int c in codesA) da.Apply(c); });
        var tb = Task.Run(() => { foreach (int c in codesB) db.Apply(c); });
        Task.WaitAll(ta, tb);
        var report = f.Vol.Check();
        Assert.True(report.Clean, Findings(report));
        Assert.True(f.Vol.Sync().Ok);
        Assert.True(f.Vol.Check().Clean);
    }
}
