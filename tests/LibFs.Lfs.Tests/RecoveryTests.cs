using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>Checkpoints, roll-forward and write-unit atomicity, on the fake disk (XN's durability model, crashes on demand).</summary>
public sealed class RecoveryTests
{
    private static readonly InodeNo Root = InodeNo.Root;

    private static LfsFileSystem Format(FakeLfsDisk disk)
    {
        var fs = LfsFileSystem.FormatOn(disk);
        Assert.True(fs.Ok, $"format: {fs}");
        return fs.Value;
    }

    private static LfsFileSystem Mount(FakeLfsDisk disk, bool rollForward = true)
    {
        var fs = LfsFileSystem.MountOn(disk, rollForward: rollForward);
        Assert.True(fs.Ok, $"mount: {fs}");
        return fs.Value;
    }

    private static void Fsync(IFileSystem fs, InodeNo ino)
    {
        var fh = fs.Open(ino, OpenFlags.ReadOnly).Ok();
        fs.Fsync(ino, fh, false).Ok();
        fs.Release(ino, fh).Ok();
    }

    [Fact]
    public void Fsynced_writes_are_rolled_forward_after_a_crash_without_a_checkpoint()
    {
        var disk = new FakeLfsDisk(8192);
        var fs = Format(disk);
        var f = fs.WriteFile(Root, "f", "durable by fsync");
        Fsync(fs, f.Ino);
        ulong cp = fs.CheckpointSeq;
        var after = Mount(disk.Crash(_ => false));
        Assert.Equal(cp + 1, after.CheckpointSeq); // the mount's own checkpoint, after the old one
        Assert.True(after.Recovery.UnitsRolledForward >= 1);
        Assert.Equal("durable by fsync", after.ReadText(after.Get(Root, "f").Ino));
        LfsTestKit.AssertClean(after);
    }

    [Fact]
    public void Roll_forward_ends_at_a_partial_whose_XN_claim_disagrees_with_its_summary()
    {
        foreach (bool lie in new[] { false, true })
        {
            var disk = new FakeLfsDisk(8192);
            var fs = Format(disk);
            int slot = fs.Log.HeadSlot;
            uint off = fs.Log.HeadOffset;
            var f = fs.WriteFile(Root, "f", new byte[20 * LfsLayout.BlockSize]); // data blocks, a tree node, an inode block
            Fsync(fs, f.Ino);
            var crashed = disk.Crash(_ => false);
            ulong start = crashed.SegmentStart(slot) + off;
            var block = new byte[LfsLayout.BlockSize];
            Assert.Equal(Errno.OK, crashed.Read(start, block));
            var honest = ClaimEntry.For(start, Summary.ReadFrom(block)!);
            Assert.Equal(1u, honest.Typed.Nodes);
            // The lie: XN holds the unit's tree node as xn.data.
            var claim = lie ? honest with { Typed = honest.Typed with { Nodes = 0 } } : honest;
            crashed.ClaimsOf = s => s == slot ? [claim] : [];
            var after = Mount(crashed);
            if (lie)
            {
                Assert.Equal(0, after.Recovery.UnitsRolledForward);
                Assert.Contains(after.RecoveryActions, a => a.Contains("XN's claim of that partial types 0 node, 1 inode, 0 imap blocks"));
                Assert.False(after.Lookup(Root, "f").Ok);
                // The lie stays in XN's head: fsck reports it too.
                Assert.Contains(LfsFsck.Check(after).Problems, p => p.Contains("types 0 node, 1 inode, 0 imap blocks, its summary's entries say 1 node"));
                continue;
            }
            else
            {
                Assert.True(after.Recovery.UnitsRolledForward >= 1);
                Assert.Null(after.Recovery.RollForwardStopped);
                Assert.Equal(20L * LfsLayout.BlockSize, (long)after.Get(Root, "f").Size);
            }
            LfsTestKit.AssertClean(after);
        }
    }

    [Fact]
    public void A_write_unit_whose_last_block_fills_its_segment_is_rolled_forward()
    {
        // The unit's last block fills the segment (or its partial): that partial must still close as the
        // unit's end, or roll-forward, which applies a unit only at its last partial, loses the fsynced write.
        // File sizes step over the boundary, so some fsync's unit ends exactly at a segment's end.
        int atBoundary = 0;
        for (int blocks = 40; blocks <= 90; blocks++)
        {
            var disk = new FakeLfsDisk(8192);
            var fs = Format(disk);
            var data = new byte[blocks * LfsLayout.BlockSize - 100];
            new Random(blocks).NextBytes(data);
            var f = fs.WriteFile(Root, "f", data);
            Fsync(fs, f.Ino);
            if (fs.Log.HeadSlot != 0 && fs.Log.HeadOffset == ((ILfsDisk)disk).FirstOffset) atBoundary++;
            var after = Mount(disk.Crash(_ => false));
            var got = after.Find(Root, "f");
            Assert.True(got is not null, $"{blocks} blocks: the fsynced file is lost (log head slot {fs.Log.HeadSlot} offset {fs.Log.HeadOffset})");
            Assert.True(data.AsSpan().SequenceEqual(after.ReadFile(got.Value.Ino)), $"{blocks} blocks: the fsynced contents are lost");
            LfsTestKit.AssertClean(after);
        }
        Assert.True(atBoundary > 0, "no fsync's unit ended at a segment's end: the test checks nothing");
    }

    [Fact]
    public void A_next_segment_whose_binding_a_crash_lost_is_not_written_as_the_head()
    {
        // A unit fills segment 0 and its last summary names the next segment; the crash keeps segment 0's
        // blocks but not the next segment's binding. Roll-forward applies the unit; the log must go on in a
        // segment bound anew, not at offsets of the unbound slot (device blocks 0, 1, 2, ...).
        int lostBinding = 0;
        for (int blocks = 40; blocks <= 90; blocks++)
        {
            var disk = new FakeLfsDisk(8192);
            var fs = Format(disk);
            var data = new byte[blocks * LfsLayout.BlockSize - 100];
            new Random(blocks).NextBytes(data);
            fs.WriteFile(Root, "f", data);
            lock (fs.Lock) fs.Flush(withImap: false).Ok();
            ulong seg0 = disk.SegmentStart(0), segBlocks = disk.Super.SegmentBlocks;
            if (fs.Log.HeadSlot != 0 && fs.Log.HeadOffset == 0) lostBinding++;
            var crashed = disk.CrashKeepingBlocks(b => b >= seg0 && b < seg0 + segBlocks);
            var after = Mount(crashed);
            LfsTestKit.AssertClean(after);
            if (after.Find(Root, "f") is { } got) Assert.True(data.AsSpan().SequenceEqual(after.ReadFile(got.Ino)), $"{blocks} blocks: contents differ");
            // The recovered file system writes on: a sync and a remount still see it whole.
            after.WriteFile(Root, "g", "after recovery");
            after.Sync().Ok();
            var again = Mount(crashed.Crash(_ => false));
            Assert.Equal("after recovery", again.ReadText(again.Get(Root, "g").Ino));
            LfsTestKit.AssertClean(again);
        }
        Assert.True(lostBinding > 0, "no unit ended at a segment's end: the test checks nothing");
    }

    [Fact]
    public void Without_roll_forward_the_fsynced_file_is_lost()
    {
        // The "roll-forward off" mutant: the test above must be able to fail.
        var disk = new FakeLfsDisk(8192);
        var fs = Format(disk);
        var f = fs.WriteFile(Root, "f", "durable by fsync");
        Fsync(fs, f.Ino);
        var after = Mount(disk.Crash(_ => false), rollForward: false);
        Assert.Null(after.Find(Root, "f"));
    }

    [Fact]
    public void A_torn_newest_checkpoint_falls_back_to_the_other_region_and_rolls_forward()
    {
        var disk = new FakeLfsDisk(8192);
        var fs = Format(disk);
        fs.WriteFile(Root, "a", "first");
        fs.Sync().Ok();
        ulong older = fs.CheckpointSeq;
        fs.WriteFile(Root, "b", "second");
        fs.Sync().Ok();
        ulong newest = fs.CheckpointSeq;
        Assert.Equal(older + 1, newest);
        // Damage the newest region's last block, as a torn multi-block write would.
        disk.Corrupt(disk.CheckpointStart((int)(newest % 2)) + disk.Super.CheckpointBlocks - 1, 4000);
        var after = Mount(disk.Crash(_ => false));
        Assert.Equal(1, after.Recovery.ValidCheckpoints);
        Assert.Equal((int)(older % 2), after.Recovery.CheckpointRegion);
        // The log written after the older checkpoint is durable, so roll-forward brings "b" back too.
        Assert.Equal("first", after.ReadText(after.Get(Root, "a").Ino));
        Assert.Equal("second", after.ReadText(after.Get(Root, "b").Ino));
        LfsTestKit.AssertClean(after);
    }

    [Fact]
    public void Both_checkpoints_damaged_is_refused_with_EUCLEAN()
    {
        var disk = new FakeLfsDisk(8192);
        var fs = Format(disk);
        fs.Sync().Ok();
        disk.Corrupt(disk.CheckpointStart(0), 8);
        disk.Corrupt(disk.CheckpointStart(1), 8);
        var r = LfsFileSystem.MountOn(disk.Crash(_ => false));
        Assert.Equal(Errno.EUCLEAN, r.Error);
    }

    [Fact]
    public void A_unit_missing_one_block_is_not_applied()
    {
        var disk = new FakeLfsDisk(8192);
        var fs = Format(disk);
        fs.WriteFile(Root, "old", "x");
        fs.Sync().Ok();
        var data = new byte[20_000];
        new Random(5).NextBytes(data);
        var f = fs.WriteFile(Root, "new", data);
        fs.Rename(Root, "old", Root, "renamed", RenameFlags.None).Ok();
        var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Ok();
        // Flush the unit but crash before it is synced, losing one of its blocks.
        lock (fs.Lock) fs.Flush(withImap: false).Ok();
        int n = disk.PendingCount;
        Assert.True(n > 2);
        var after = Mount(disk.Crash(i => i != n - 2));
        Assert.Equal(0, after.Recovery.UnitsRolledForward);
        Assert.NotNull(after.Find(Root, "old"));
        Assert.Null(after.Find(Root, "renamed"));
        Assert.Null(after.Find(Root, "new"));
        LfsTestKit.AssertClean(after);
        fs.Release(f.Ino, fh);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Checkpoint_written_before_its_log_is_durable_is_caught(bool mutant)
    {
        // The "checkpoint before the segments it names" mutant: a crash right after the checkpoint's write
        // may keep it but not the log it names. With the log synced first the crash state cannot exist.
        var disk = new FakeLfsDisk(8192);
        var fs = Format(disk);
        fs.SkipLogSyncBeforeCheckpoint = mutant;
        fs.WriteFile(Root, "f", new byte[50_000]);
        disk.SyncsHonored = mutant ? 0 : 1; // crash before the sync that would make the checkpoint durable
        lock (fs.Lock) fs.WriteCheckpoint(clean: false).Ok();
        ulong cp0 = disk.CheckpointStart(0), cp1 = disk.CheckpointStart(1), n = disk.Super.CheckpointBlocks;
        var crashed = disk.CrashKeepingBlocks(b => (b >= cp0 && b < cp0 + n) || (b >= cp1 && b < cp1 + n));
        var r = LfsFileSystem.MountOn(crashed);
        bool intact = r.Ok && r.Value.Find(Root, "f") is { } f && r.Value.ReadFile(f.Ino).Length == 50_000 && LfsFsck.Check(r.Value).Clean;
        Assert.Equal(!mutant, intact);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cleaner_releases_a_victim_only_after_its_survivors_are_durable(bool mutant)
    {
        // Crash at every sync of a cleaning pass (the syncs before it honoured, nothing after it issued), with
        // the releases in flight kept and every block write in flight lost: the worst legal crash state.
        var broken = new List<string>();
        for (int honoured = 0; honoured < 4; honoured++)
        {
            var disk = new FakeLfsDisk(4096, segBlocks: 64, maxInodes: 1024);
            var fs = Format(disk);
            var rng = new Random(1);
            var files = new Dictionary<string, byte[]>();
            for (int i = 0; i < 40; i++)
            {
                var d = new byte[16 << 10];
                rng.NextBytes(d);
                files[$"f{i}"] = d;
                fs.WriteFile(Root, $"f{i}", d);
            }
            fs.Sync().Ok();
            for (int i = 0; i < 40; i += 2) fs.Unlink(Root, $"f{i}").Ok(); // half of every segment dies
            for (int i = 0; i < 40; i += 2) files.Remove($"f{i}");
            fs.Sync().Ok();
            fs.Cleaner.ReleaseBeforeDurable = mutant;
            disk.SyncsHonored = honoured;
            Assert.True(fs.Cleaner.CleanOnce(), "nothing to clean");
            var crashed = disk.CrashKeepingBlocks(_ => false, keepReleases: true);
            var r = LfsFileSystem.MountOn(crashed);
            if (!r.Ok) { broken.Add($"crash at sync {honoured}: mount {r.Error}"); continue; }
            foreach (var (name, data) in files)
                if (r.Value.Find(Root, name) is not { } f || !r.Value.ReadFile(f.Ino).SequenceEqual(data)) broken.Add($"crash at sync {honoured}: {name} lost");
            if (!LfsFsck.Check(r.Value).Clean) broken.Add($"crash at sync {honoured}: fsck");
        }
        if (mutant) Assert.NotEmpty(broken);
        else Assert.True(broken.Count == 0, string.Join("\n", broken));
    }

    [Fact]
    public void A_damaged_image_is_refused_or_mounts_but_never_throws()
    {
        var disk = new FakeLfsDisk(4096);
        var fs = Format(disk);
        var d = fs.MakeDir(Root, "d");
        for (int i = 0; i < 30; i++) fs.WriteFile(d.Ino, $"f{i}", new byte[(i % 5) * 5000 + 1]);
        fs.Symlink(Root, "s", "d/f1", Caller.Root).Ok();
        fs.Sync().Ok();
        fs.WriteFile(Root, "late", "after the checkpoint");
        var f = fs.Get(Root, "late");
        Fsync(fs, f.Ino);
        var blocks = disk.DurableBlocks;
        var rng = new Random(42);
        int refused = 0, mounted = 0;
        for (int round = 0; round < 150; round++)
        {
            var damaged = disk.Crash(_ => true);
            for (int k = 0; k < 1 + round % 3; k++) damaged.Corrupt(blocks[rng.Next(blocks.Count)], rng.Next(4096));
            var r = LfsFileSystem.MountOn(damaged);
            if (!r.Ok) { refused++; continue; }
            mounted++;
            // Whatever mounted must also survive being read and checked (errors are results, not exceptions).
            r.Value.ListDir(Root);
            LfsFsck.Check(r.Value);
        }
        Assert.Equal(150, refused + mounted);
    }
}
