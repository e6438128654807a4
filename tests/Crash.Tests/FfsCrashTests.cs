using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Testing.Crash;
using ExoFS.Xn;
using Xunit.Abstractions;

namespace ExoFS.Crash.Tests;

/// <summary>FFS on XN under the crash explorer: CI's bounded campaigns, and FFS/XN with a rule switched off.</summary>
public sealed class FfsCrashTests(ITestOutputHelper output)
{
    /// <summary>
    /// CI's bound: at most 256 crash states per crash point, all of them where a point has fewer (most do).
    /// Full campaigns: <c>exofs crashtest --libfs ffs --seed 1 --cases 500 --states 256</c> and
    /// <c>exofs crashtest --libfs ffs --exhaustive 2 --states 256</c>.
    /// </summary>
    private static readonly CrashExplorerOptions CiOptions = new() { MaxStatesPerPoint = 256 };

    private void Report(CrashCampaignReport r)
    {
        output.WriteLine($"{r.Passed} passed, {r.Failed} failed; {r.StatesChecked} states at {r.CrashPoints} points in {r.Elapsed.TotalSeconds:F1} s ({r.StatesPerSecond:F0}/s)");
        foreach (var f in r.Failures.Take(3)) output.WriteLine(f.ToString());
    }

    /// <summary>600 random workloads (seed 1), each crashed at every point with up to 256 states.</summary>
    [Fact]
    public void Ffs_survives_a_bounded_random_campaign()
    {
        var r = CrashCampaign.Run(new FfsCrashTarget(), new CrashCampaignOptions { Seed = 1, Cases = 600, Explorer = CiOptions, ShrinkBudget = 100 });
        Report(r);
        Assert.Equal(0, r.Failed);
    }

    /// <summary>Every workload of the exhaustive length-2 set, each crash point with up to 256 states.</summary>
    [Fact]
    public void Ffs_survives_the_exhaustive_length_2_set()
    {
        var r = CrashCampaign.Run(new FfsCrashTarget(), new CrashCampaignOptions { Exhaustive = 2, Seed = 0, Explorer = CiOptions, ShrinkBudget = 50 });
        Report(r);
        Assert.Equal(0, r.Failed);
    }

    /// <summary>
    /// What the workloads reach on the crash target's small format: three allocation groups, /A and /B placed in
    /// groups of their own (so a create in /A lands in another group than the root's), and the core step at the
    /// triple-indirect offset mapped through the inode's triple indirect pointer.
    /// </summary>
    [Fact]
    public void Crash_workloads_reach_several_groups_and_the_triple_indirect_block()
    {
        var target = new FfsCrashTarget();
        var dev = new Kernel.Disk.MemoryDevice(target.DeviceBlocks);
        target.Format(dev);
        using var mount = target.Mount(dev);
        var fs = (FfsFileSystem)mount.Fs;
        foreach (var op in CrashWorkloads.StandardSetup.Concat(CrashWorkloads.CoreOps.Where(o => o.Kind == CrashOpKind.Create)))
            Assert.Equal(LibFs.Errno.OK, OpRunner.Run(fs, op, out _));
        var triple = CrashWorkloads.CoreOps.Single(o => o.Kind == CrashOpKind.Write && o.Offset == CrashWorkloads.TripleIndirectOffset);
        Assert.Equal(LibFs.Errno.OK, OpRunner.Run(fs, triple, out var foo));

        Assert.Equal(3, fs.Alloc.GroupCount);
        int Group(string path)
        {
            return fs.Alloc.GroupOfIno(LibFs.Testing.FsOps.Resolve(fs, path).Ino.Value);
        }
        Assert.Equal(0, Group("/bar"));
        Assert.Equal(new[] { 0, 1, 2 }, new[] { Group("/bar"), Group("/A"), Group("/B") }.Order());
        Assert.NotEqual(Group("/foo"), Group("/A/bar")); // the core creates: one in the root's group, one in /A's
        var inode = fs.Inodes.Get(foo.Value).Value;
        Assert.NotEqual(0UL, inode.Ptr[LibFs.Ffs.Format.DiskInode.Ind3Slot]);
        Assert.Equal(Group("/A"), fs.Alloc.GroupOfBlock(new Kernel.Disk.BlockNo(inode.Ptr[LibFs.Ffs.Format.DiskInode.Ind3Slot])));
    }

    /// <summary>
    /// The exchange core step swaps names in two directories (the root's block and /A's, different blocks). FFS
    /// promises it atomic (no <see cref="CrashGuarantees.ExchangeMayOrphanOne"/>): every crash state passes. The
    /// mutant without the superblock's intent record (two ordered entry writes) reaches the crash state between them
    /// and fails with the inode left under neither name, so the explorer does reach that state.
    /// </summary>
    [Fact]
    public void Exchange_core_step_swaps_names_in_two_directory_blocks_and_reaches_the_crash_between_them()
    {
        var exchange = CrashWorkloads.CoreOps.Single(o => o.Kind == CrashOpKind.Exchange);
        var target = new FfsCrashTarget();
        var dev = new Kernel.Disk.MemoryDevice(target.DeviceBlocks);
        target.Format(dev);
        using (var mount = target.Mount(dev))
        {
            var fs = (FfsFileSystem)mount.Fs;
            foreach (var op in CrashWorkloads.StandardSetup) Assert.Equal(LibFs.Errno.OK, OpRunner.Run(fs, op, out _));
            ulong Block(string path)
            {
                int slash = path.LastIndexOf('/');
                var dirIno = slash == 0 ? LibFs.InodeNo.Root : LibFs.Testing.FsOps.Resolve(fs, path[..slash]).Ino;
                var dir = fs.Inodes.Get(dirIno.Value).Value;
                var entry = fs.Dirs.Find(dirIno.Value, dir, path[(slash + 1)..]).Value;
                return fs.Map.Lookup(dir, entry.Block);
            }
            ulong a = LibFs.Testing.FsOps.Resolve(fs, exchange.Path).Ino.Value, b = LibFs.Testing.FsOps.Resolve(fs, exchange.Target).Ino.Value;
            Assert.NotEqual(Block(exchange.Path), Block(exchange.Target));
            Assert.Equal(LibFs.Errno.OK, OpRunner.Run(fs, exchange, out _));
            Assert.Equal(b, LibFs.Testing.FsOps.Resolve(fs, exchange.Path).Ino.Value);
            Assert.Equal(a, LibFs.Testing.FsOps.Resolve(fs, exchange.Target).Ino.Value);
        }

        CrashOp[] ops = [exchange, CrashOp.Sync()];
        var promised = Explore.Run(new FfsCrashTarget(), ops);
        Assert.True(promised.Passed, promised.Failure?.ToString());
        Assert.False(FfsCrashTarget.FfsGuarantees.ExchangeMayOrphanOne);
        var mutant = Explore.Run(new FfsCrashTarget("ffs-no-exchange-intent", configureWorkloadFs: fs => fs.ExchangeIntents = false), ops);
        output.WriteLine(mutant.Failure?.ToString() ?? "passed");
        Assert.False(mutant.Passed);
        Assert.Contains(mutant.Failure!.Problems, p => p.Contains("lost: it was durably linked and never unlinked"));
        var allowed = Explore.Run(new WithGuarantees(new FfsCrashTarget("ffs-no-exchange-intent", configureWorkloadFs: fs => fs.ExchangeIntents = false),
            FfsCrashTarget.FfsGuarantees with { ExchangeMayOrphanOne = true }), ops);
        Assert.True(allowed.Passed, allowed.Failure?.ToString()); // the mutant fails only the atomicity rule
    }

    /// <summary>
    /// Exchanges whose ".." entries change too (directories trading parents, a directory for a file), and an
    /// exchange in a directory past twelve blocks: every crash state passes the strict rule, and the mutant without
    /// the intent record fails where a directory or file is left under no name.
    /// </summary>
    [Theory]
    [InlineData("dirs")]
    [InlineData("dir-and-file")]
    [InlineData("full-directory")]
    public void Ffs_exchange_across_directory_blocks_is_atomic_in_every_crash_state(string shape)
    {
        string grown = "/B/" + "z".PadRight(200, 'z');
        var (setup, ops) = shape switch
        {
            "dirs" => (CrashWorkloads.StandardSetup, (CrashOp[])[CrashOp.Mkdir("/A/d1"), CrashOp.Mkdir("/B/d2"), CrashOp.Create("/B/d2/x"), CrashOp.Sync(), CrashOp.Exchange("/A/d1", "/B/d2"), CrashOp.Sync()]),
            "dir-and-file" => (CrashWorkloads.StandardSetup, [CrashOp.Mkdir("/B/d2"), CrashOp.Sync(), CrashOp.Exchange("/A/foo", "/B/d2"), CrashOp.Create("/A/foo/y"), CrashOp.Sync()]),
            _ => (CrashWorkloads.FullDirectorySetup, [CrashOp.Create(grown), CrashOp.Exchange(grown, "/A/foo"), CrashOp.Sync()]),
        };
        var r = CrashExplorer.Run(new FfsCrashTarget(), new Workload(setup, ops), Explore.Options);
        Assert.True(r.Passed, r.Failure?.ToString());
        output.WriteLine($"{shape}: {r.StatesChecked} crash states");
        var mutant = CrashExplorer.Run(new FfsCrashTarget("ffs-no-exchange-intent", configureWorkloadFs: fs => fs.ExchangeIntents = false),
            new Workload(setup, ops), Explore.Options);
        output.WriteLine(mutant.Failure?.ToString() ?? "mutant passed");
        Assert.False(mutant.Passed);
    }

    /// <summary>
    /// The directory corner: on <see cref="CrashWorkloads.FullDirectorySetup"/> /B fills exactly its twelve direct
    /// blocks, and <see cref="CrashWorkloads.GrowDirectory"/> puts the new name in logical block 12, reached through
    /// the directory's single indirect block (ffs.dind1); the explorer checks the crash states of that step.
    /// </summary>
    [Fact]
    public void Full_directory_setup_fills_twelve_blocks_and_the_grow_step_takes_the_indirect_directory_block()
    {
        var target = new FfsCrashTarget();
        var dev = new Kernel.Disk.MemoryDevice(target.DeviceBlocks);
        target.Format(dev);
        using (var mount = target.Mount(dev))
        {
            var fs = (FfsFileSystem)mount.Fs;
            foreach (var op in CrashWorkloads.FullDirectorySetup) Assert.Equal(LibFs.Errno.OK, OpRunner.Run(fs, op, out _));
            ulong bIno = LibFs.Testing.FsOps.Resolve(fs, "/B").Ino.Value;
            var full = fs.Inodes.Get(bIno).Value;
            Assert.Equal(12UL * 4096, full.Size);
            Assert.Equal(0UL, full.Ptr[LibFs.Ffs.Format.DiskInode.Ind1Slot]);
            Assert.Equal(11UL, fs.Dirs.Find(bIno, full, CrashWorkloads.FullDirectoryName(CrashWorkloads.FullDirectoryNames - 1)).Value.Block);

            Assert.Equal(LibFs.Errno.OK, OpRunner.Run(fs, CrashWorkloads.GrowDirectory, out _));
            var grown = fs.Inodes.Get(bIno).Value;
            Assert.Equal(13UL * 4096, grown.Size);
            Assert.NotEqual(0UL, grown.Ptr[LibFs.Ffs.Format.DiskInode.Ind1Slot]);
            Assert.Equal(12UL, fs.Dirs.Find(bIno, grown, "foo").Value.Block);
        }

        var r = CrashExplorer.Run(new FfsCrashTarget(), new Workload(CrashWorkloads.FullDirectorySetup, [CrashWorkloads.GrowDirectory, CrashOp.Fsync("/B/foo")]), CiOptions);
        output.WriteLine($"{r.CrashPoints} points, {r.StatesChecked} states, {r.Failure}");
        Assert.True(r.Passed, r.Failure?.ToString());
        Assert.True(r.StatesChecked > 5, $"only {r.StatesChecked} states checked");
    }

    /// <summary>
    /// Found by the full-directory campaign (<c>exofs crashtest --libfs ffs --full-directory --cases 2000</c>: 16 of
    /// 2000 fail, each shrinking to a rename into /B, e.g. seed 327): renaming a file into /B when /B's twelve direct blocks are full puts the
    /// new name in a new block behind a new ffs.dind1 block, and the crash model lets the old entry's removal reach
    /// the disk in the same epoch as those two (rule 3's forced write of the new name does not separate them), so a
    /// crash left the file under neither name. Fixed in FFS: a new name in a block the directory grew by since the
    /// last sync is made durable by a sync (the block, its indirect block and the directory's size), not by writing
    /// the block alone (FfsFileSystem.PersistNameBlock).
    /// </summary>
    [Fact]
    public void Ffs_rename_into_a_full_directory_never_loses_the_file()
    {
        var r = CrashExplorer.Run(new FfsCrashTarget(), new Workload(CrashWorkloads.FullDirectorySetup, [CrashOp.Rename("/A/foo", "/B/bar")]), CiOptions);
        Assert.True(r.Passed, r.Failure?.ToString());
    }

    /// <summary>A target judged under other guarantees than its own (to show which promise a passing workload needs).</summary>
    private sealed class WithGuarantees(ICrashTarget inner, CrashGuarantees guarantees) : ICrashTarget
    {
        public string Name => inner.Name + "-strict";
        public CrashGuarantees Guarantees => guarantees;
        public bool Supports(CrashOp op) => inner.Supports(op);
        public ulong DeviceBlocks => inner.DeviceBlocks;
        public void Format(Kernel.Disk.IBlockDevice device) => inner.Format(device);
        public CrashMount Mount(Kernel.Disk.IBlockDevice device) => inner.Mount(device);
        public CrashRecovery Recover(Kernel.Disk.IBlockDevice image) => inner.Recover(image);
    }

    /// <summary>The workload passes on the intact target and fails on the broken one: the switch is what is caught.</summary>
    private CrashFailure AssertCaughtOnlyWhenBroken(ICrashTarget broken, params CrashOp[] ops)
    {
        var intact = Explore.Run(new FfsCrashTarget(), ops);
        Assert.True(intact.Passed, "intact FFS fails the same workload: " + intact.Failure);
        var r = Explore.Run(broken, ops);
        output.WriteLine(r.Failure?.ToString() ?? "passed");
        Assert.False(r.Passed);
        return r.Failure!;
    }

    [Fact]
    public void Ffs_writing_a_directory_entry_before_the_link_count_it_needs_is_caught_by_leaks_only()
    {
        // link writes /B/bar unordered and raises /A/foo's count after it: a crash can leave two names and a
        // count of one. Recovery finds a link count too low, which is damage, not a leak.
        var f = AssertCaughtOnlyWhenBroken(
            new FfsCrashTarget("ffs-entry-before-link-count", configureWorkloadFs: fs => fs.OrderLinkCounts = false),
            CrashOp.Link("/A/foo", "/B/bar"), CrashOp.Sync());
        Assert.Contains(f.Problems, p => p.StartsWith("recovery found more than leaks: ", StringComparison.Ordinal) && p.Contains("link count 1, should be 2"));
    }

    [Fact]
    public void Ffs_dropping_rule_3_on_rename_is_caught_by_leaks_only()
    {
        // Without the forced write of the new name, the old entry's block (no ordering edge) goes to disk in an
        // earlier level than the new one (ordered after the inode): a crash between them leaves the file under
        // neither name. fsck calls that inode a leak; the leaks-only rule says a durably linked file never is one.
        var f = AssertCaughtOnlyWhenBroken(
            new FfsCrashTarget("ffs-no-rule-3", configureWorkloadFs: fs => fs.OrderRenames = false),
            CrashOp.Rename("/A/foo", "/B/foo"), CrashOp.Sync());
        Assert.Contains(f.Problems, p => p.Contains("lost: it was durably linked and never unlinked"));
    }

    [Fact]
    public void Ffs_dropping_rule_3_when_moving_a_directory_is_caught()
    {
        var f = AssertCaughtOnlyWhenBroken(
            new FfsCrashTarget("ffs-no-rule-3", configureWorkloadFs: fs => fs.OrderRenames = false),
            CrashOp.Mkdir("/A/foo2"), CrashOp.Sync(), CrashOp.Rename("/A/foo2", "/B/baz"), CrashOp.Sync());
        Assert.NotEmpty(f.Problems);
    }

    /// <summary>
    /// The leaks-only promise is checked on the unrepaired image: an intact FFS crashed in the middle of a rename
    /// across directories recovers with leaks (a raised link count) and nothing else, and the same state passes.
    /// </summary>
    [Fact]
    public void Ffs_guarantees_promise_leaks_only()
    {
        Assert.True(FfsCrashTarget.FfsGuarantees.LeaksOnly);
        var r = Explore.Run(new FfsCrashTarget(), CrashOp.Rename("/A/foo", "/B/foo"), CrashOp.Rename("/B", "/A/sub"), CrashOp.Sync());
        Assert.True(r.Passed, r.Failure?.ToString());
    }

    [Fact]
    public void Ffs_persisting_a_directory_entry_before_its_inode_is_caught()
    {
        // Reusing /bar's inode number for /foo: an entry that lands before its inode shows /bar's old inode;
        // an entry naming a fresh inode shows as recovery repairing an entry that names a free inode.
        AssertCaughtOnlyWhenBroken(
            new FfsCrashTarget("ffs-entry-before-inode", configureWorkloadFs: fs => fs.OrderDirectoryWrites = false),
            CrashOp.Unlink("/bar"), CrashOp.Create("/foo"), CrashOp.Write("/foo", 0, 5000, 3), CrashOp.Sync());
    }

    [Fact]
    public void Ffs_dropping_a_chmod_inode_write_is_caught_by_the_attribute_rule()
    {
        // The chmod is acknowledged but its inode never reaches the disk: after the fsync (which persists a file's
        // attributes) the only legal mode is the new one, and the recovered image still shows the old.
        var f = AssertCaughtOnlyWhenBroken(
            new FfsCrashTarget("ffs-drops-attribute-writes", configureWorkloadFs: fs => fs.WriteAttributeChanges = false),
            CrashOp.Chmod("/A/foo", 0x180 /* 0600 */), CrashOp.Fsync("/A/foo"));
        Assert.Contains(f.Problems, p => p.StartsWith("/A/foo: ", StringComparison.Ordinal) && p.Contains("mode 0644 is none it had (0600)"));
    }

    [Fact]
    public void Ffs_dropping_a_chown_or_utimes_inode_write_is_caught_by_the_attribute_rule()
    {
        var broken = new FfsCrashTarget("ffs-drops-attribute-writes", configureWorkloadFs: fs => fs.WriteAttributeChanges = false);
        var chown = AssertCaughtOnlyWhenBroken(broken, CrashOp.Chown("/bar", 1000, 500), CrashOp.Sync());
        Assert.Contains(chown.Problems, p => p.StartsWith("/bar: ", StringComparison.Ordinal) && p.Contains("owner 0:0 is none it had (1000:500)"));
        var utimes = AssertCaughtOnlyWhenBroken(broken, CrashOp.Utimes("/A", 1_000_000_000), CrashOp.Fsync("/A"));
        Assert.Contains(utimes.Problems, p => p.StartsWith("/A: ", StringComparison.Ordinal) && p.Contains("mtime") && p.Contains("(1000000000.000000000)"));
    }

    [Fact]
    public void Ffs_on_xn_with_rule_1_off_is_caught()
    {
        // /A/foo's blocks are freed (after the first sync) and made reusable (after the second), then reused
        // by /A/bar (in /A's group): a pointer that lands before the block's new contents shows /A/foo's old bytes.
        AssertCaughtOnlyWhenBroken(
            new FfsCrashTarget("ffs-xn-no-rule1", configureWorkloadVolume: vol => vol.OrderingEnabled = false),
            CrashOp.Unlink("/A/foo"), CrashOp.Sync(), CrashOp.Sync(), CrashOp.Create("/A/bar"), CrashOp.Write("/A/bar", 0, 8192, 3), CrashOp.Sync());
    }

    [Fact]
    public void Ffs_on_xn_with_rule_2_off_is_caught()
    {
        // Truncating /A/foo frees its blocks without waiting for its nullified pointers to be durable, and /A/bar
        // (in /A's allocation group) reuses them at once: a crash after /A/bar's data reached the disk but before
        // /A/foo's truncated inode did shows /A/bar's bytes in /A/foo. Recovery is a mount's (the default: the free map settled from XN's
        // in-flight record, which mends the map the mutant persisted, so what is caught is the reuse itself).
        AssertCaughtOnlyWhenBroken(
            new FfsCrashTarget("ffs-xn-no-rule2", configureWorkloadVolume: vol => vol.DeferFreesEnabled = false),
            CrashOp.Truncate("/A/foo", 0), CrashOp.Create("/A/bar"), CrashOp.Write("/A/bar", 0, 8192, 3), CrashOp.Sync());
    }
}
