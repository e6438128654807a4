using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Testing.Crash;
using ExoFS.Xn;
using Xunit.Abstractions;

namespace ExoFS.Crash.Tests;

/// <summary>
/// Sharing one recovery between crash states that leave byte-identical images (<see cref="RecoveryCache"/>)
/// changes no verdict: against recovering every state, on intact and broken targets; each state is still
/// judged by its own oracle; recovery is a function of the image; the logical clock is what makes images
/// of a common prefix identical.
/// </summary>
public sealed class RecoverySharingTests(ITestOutputHelper output)
{
    private static readonly CrashExplorerOptions Shared = new() { MaxStatesPerPoint = 256 };
    private static readonly CrashExplorerOptions Unshared = Shared with { ShareRecoveries = false };

    /// <summary>
    /// Runs <paramref name="workloads"/> on one target object with sharing and on another without, and
    /// asserts the same outcome for each: pass or the same failure (point, state, problems), the same counts.
    /// Returns (states checked, recoveries) of the shared run.
    /// </summary>
    private (long Checked, long Recovered) AssertSameVerdicts(Func<ICrashTarget> make, IEnumerable<Workload> workloads)
    {
        ICrashTarget sharing = make(), alone = make();
        long states = 0, recoveries = 0;
        foreach (var w in workloads)
        {
            var a = CrashExplorer.Run(sharing, w, Shared);
            var b = CrashExplorer.Run(alone, w, Unshared);
            Assert.Equal(b.Failure?.ToString(), a.Failure?.ToString());
            Assert.Equal(b.StatesChecked, a.StatesChecked);
            Assert.Equal(b.StatesExplored, a.StatesExplored);
            Assert.Equal(b.CrashPoints, a.CrashPoints);
            // Without sharing every checked state is recovered (and the durable image after a clean unmount).
            Assert.InRange(b.Recoveries, b.StatesChecked, b.StatesChecked + 1);
            states += a.StatesChecked;
            recoveries += a.Recoveries;
        }
        output.WriteLine($"{states} states checked, {recoveries} recovered with sharing");
        return (states, recoveries);
    }

    [Fact]
    public void Intact_ffs_gets_the_same_verdicts_sharing_recoveries_and_shares_most_of_them()
    {
        // Workloads 0..39 of the exhaustive length-2 set: 32 one-unit workloads, then 8 that extend the first.
        var (states, recovered) = AssertSameVerdicts(() => new FfsCrashTarget(), CrashWorkloads.Exhaustive(2).Take(40));
        Assert.True(recovered * 2 < states, $"only {states - recovered} of {states} states shared a recovery");
    }

    [Fact]
    public void Broken_xn_and_ffs_fail_with_the_same_failure_sharing_recoveries()
    {
        var noRule1 = new Workload(CrashWorkloads.StandardSetup,
            [CrashOp.Unlink("/A/foo"), CrashOp.Sync(), CrashOp.Sync(), CrashOp.Create("/A/bar"), CrashOp.Write("/A/bar", 0, 8192, 3), CrashOp.Sync()]);
        var noRule2 = new Workload(CrashWorkloads.StandardSetup,
            [CrashOp.Truncate("/A/foo", 0), CrashOp.Create("/A/bar"), CrashOp.Write("/A/bar", 0, 8192, 3), CrashOp.Sync()]);
        var entryFirst = new Workload(CrashWorkloads.StandardSetup,
            [CrashOp.Unlink("/bar"), CrashOp.Create("/foo"), CrashOp.Write("/foo", 0, 5000, 3), CrashOp.Sync()]);
        // Each broken target runs its workload after a passing one, so the cache is warm when the bug shows.
        var warm = CrashWorkloads.Exhaustive(1).Take(4).ToList();
        AssertSameVerdicts(() => new FfsCrashTarget("ffs-xn-no-rule1", configureWorkloadVolume: v => v.OrderingEnabled = false), [.. warm, noRule1]);
        AssertSameVerdicts(() => new FfsCrashTarget("ffs-xn-no-rule2", configureWorkloadVolume: v => v.DeferFreesEnabled = false), [.. warm, noRule2]);
        AssertSameVerdicts(() => new FfsCrashTarget("ffs-entry-before-inode", configureWorkloadFs: fs => fs.OrderDirectoryWrites = false), [.. warm, entryFirst]);
        var r = CrashExplorer.Run(new FfsCrashTarget("ffs-xn-no-rule1", configureWorkloadVolume: v => v.OrderingEnabled = false), noRule1, Shared);
        Assert.False(r.Passed);
    }

    [Fact]
    public void Toy_bugs_fail_with_the_same_failure_sharing_recoveries()
    {
        foreach (var bug in new[] { ToyBug.MissingBarrier, ToyBug.InPlace, ToyBug.LazyFsync })
            AssertSameVerdicts(() => new ShadowToyTarget(bug), CrashWorkloads.Exhaustive(2).Skip(30).Take(12));
    }

    /// <summary>An FFS image after the standard setup and /foo created and synced, with the setup's oracle.</summary>
    private static (MemoryDevice Image, CrashOracle SetupOnly, CrashOracle WithFoo) ImageWithFoo()
    {
        var target = new FfsCrashTarget();
        var mem = new MemoryDevice(target.DeviceBlocks);
        target.Format(mem);
        var setupOnly = new CrashOracle(target.Guarantees);
        var withFoo = new CrashOracle(target.Guarantees);
        using (var m = target.Mount(mem))
        {
            foreach (var op in CrashWorkloads.StandardSetup)
            {
                Assert.Equal(Errno.OK, OpRunner.Run(m.Fs, op, out var ino));
                foreach (var o in new[] { setupOnly, withFoo })
                {
                    Assert.Equal(Errno.OK, o.Apply(op));
                    if (op.Kind is CrashOpKind.Create or CrashOpKind.Mkdir) o.RecordInode(op.Path, ino);
                    o.Completed(op);
                }
            }
            setupOnly.MarkAllDurable();
            Assert.Equal(Errno.OK, OpRunner.Run(m.Fs, CrashOp.Create("/foo"), out var foo));
            Assert.Equal(Errno.OK, withFoo.Apply(CrashOp.Create("/foo")));
            withFoo.RecordInode("/foo", foo);
            withFoo.Completed(CrashOp.Create("/foo"));
            withFoo.MarkAllDurable();
        }
        return (mem, setupOnly, withFoo);
    }

    [Fact]
    public void A_shared_recovery_is_judged_by_each_states_own_oracle()
    {
        var (image, setupOnly, withFoo) = ImageWithFoo();
        var recovered = RecoveredImage.Recover(new FfsCrashTarget(), image);
        Assert.Empty(recovered.Judge(withFoo));
        var problems = recovered.Judge(setupOnly);
        output.WriteLine(string.Join("\n", problems));
        Assert.Contains(problems, p => p.StartsWith("/foo: unexpected name", StringComparison.Ordinal));
    }

    [Fact]
    public void Recovering_the_same_bytes_twice_gives_the_same_result()
    {
        // A crash in the middle of a sync: recovery has repairs to make.
        var (image, _, _) = ImageWithFoo();
        var target = new FfsCrashTarget();
        using var dev = new CrashModelDevice(image);
        var crashImages = new List<byte[]>();
        dev.PersistencePoint += (d, _) =>
        {
            foreach (var s in d.EnumerateCrashStates(64)) crashImages.Add(d.Materialize(s).Snapshot());
        };
        using (var m = target.Mount(dev))
        {
            Assert.Equal(Errno.OK, OpRunner.Run(m.Fs, CrashOp.Rename("/A/foo", "/B/bar"), out _));
            Assert.Equal(Errno.OK, OpRunner.Run(m.Fs, CrashOp.Write("/bar", 50, 9000, 4), out _));
            Assert.Equal(Errno.OK, OpRunner.Run(m.Fs, CrashOp.Sync(), out _));
        }
        Assert.True(crashImages.Count > 4);
        foreach (var bytes in crashImages)
        {
            var first = RecoveredImage.Recover(target, MemoryDevice.FromBytes(bytes));
            var second = RecoveredImage.Recover(target, MemoryDevice.FromBytes(bytes));
            Assert.Equal(first.RecoveryProblems, second.RecoveryProblems);
            Assert.Equal(first.Mounted, second.Mounted);
            Assert.NotNull(first.Snapshot);
            Assert.Equal(first.Snapshot!.Paths, second.Snapshot!.Paths);
            Assert.Equal(first.Snapshot.Contents.Keys.Order(), second.Snapshot.Contents.Keys.Order());
            foreach (var (ino, data) in first.Snapshot.Contents) Assert.Equal(data, second.Snapshot.Contents[ino]);
        }
    }

    [Fact]
    public void Image_keys_name_content_over_a_base()
    {
        var baseDev = new MemoryDevice(8);
        var keys = new ImageKeys(1);
        OverlayDevice With(params (ulong Block, byte Tag)[] blocks)
        {
            var o = new OverlayDevice(baseDev);
            foreach (var (b, t) in blocks) { var d = new byte[IBlockDevice.BlockSize]; d[100] = t; o.Write(new BlockNo(b), d); }
            return o;
        }
        Assert.Equal(keys.Of(With((1, 5), (3, 6))), keys.Of(With((3, 6), (1, 5)))); // written in another order
        Assert.NotEqual(keys.Of(With((1, 5), (3, 6))), keys.Of(With((1, 5), (3, 7)))); // one byte differs
        Assert.NotEqual(keys.Of(With((1, 5))), keys.Of(With((2, 5))));                 // same bytes, another block
        Assert.NotEqual(keys.Of(With((1, 5))), keys.Of(With((1, 5), (2, 0))));         // one block more
        Assert.NotEqual(keys.Of(With((1, 5))), new ImageKeys(2).Of(With((1, 5))));     // another base
    }

    [Fact]
    public void Logical_clock_reads_its_start_until_ticked_and_only_in_its_flow()
    {
        var start = new Timespec(1_767_225_600, 500);
        var clock = new LogicalClock(start);
        using (LogicalClock.Use(clock))
        {
            Assert.Equal(start, Timespec.Now());
            Assert.Equal(start, Timespec.Now());
            clock.Tick();
            Assert.Equal(new Timespec(1_767_225_600, 600), Timespec.Now());
            using (LogicalClock.Use(new LogicalClock(new Timespec(5, 0)))) Assert.Equal(new Timespec(5, 0), Timespec.Now());
            Assert.Equal(new Timespec(1_767_225_600, 600), Timespec.Now());
            Timespec seen = default;
            var elsewhere = new Thread(() => seen = Timespec.Now());
            elsewhere.UnsafeStart(); // no execution context flows: that thread reads the wall clock
            elsewhere.Join();
            Assert.NotEqual(start.Sec, seen.Sec);
        }
        Assert.Null(LogicalClock.Current);
        Assert.NotEqual(start.Sec, Timespec.Now().Sec);
    }
}
