using ExoFS.LibFs;
using ExoFS.LibFs.Testing.Crash;

namespace ExoFS.Crash.Tests;

/// <summary>The oracle's rules, one at a time, against hand-built observed states.</summary>
public sealed class CrashOracleTests
{
    private static readonly CrashGuarantees Atomic = new() { NamespaceOpsAtomic = true, FsyncPersistsFile = true };

    /// <summary>An oracle after <paramref name="setup"/> (inode numbers 10, 11, ... in creation order) made durable.</summary>
    private static CrashOracle Oracle(CrashGuarantees g, params CrashOp[] setup)
    {
        var o = new CrashOracle(g);
        ulong next = 10;
        foreach (var op in setup)
        {
            Assert.Equal(Errno.OK, o.Apply(op));
            if (op.Kind is CrashOpKind.Create or CrashOpKind.Mkdir) o.RecordInode(op.Path, new InodeNo(next++));
        }
        o.MarkAllDurable();
        return o;
    }

    private static FsSnapshot Observed(params (string Path, ulong Ino, byte[]? Content)[] entries)
    {
        var s = new FsSnapshot();
        foreach (var g in entries.GroupBy(e => e.Ino))
            foreach (var (path, ino, content) in g)
            {
                s.Paths[path] = new SnapshotEntry(ino, content is null, content is null ? 2u : (uint)g.Count());
                if (content is not null) s.Contents[ino] = content;
            }
        return s;
    }

    private static byte[] Bytes(int seed, long offset, int length) => CrashOp.Write("/x", offset, length, seed).Data();

    [Fact]
    public void Rename_is_legal_done_or_not_done_but_never_losing_or_doubling_the_file()
    {
        var o = Oracle(Atomic, CrashOp.Create("/a"), CrashOp.Write("/a", 0, 10, 1));
        var data = Bytes(1, 0, 10);
        o.Apply(CrashOp.Rename("/a", "/b"));
        Assert.Empty(o.Check(Observed(("/a", 10, data))));
        Assert.Empty(o.Check(Observed(("/b", 10, data))));
        Assert.Contains(o.Check(Observed()), p => p.Contains("lost"));
        Assert.Contains(o.Check(Observed(("/a", 10, data), ("/b", 10, data))), p => p.Contains("more than it ever had"));
    }

    [Fact]
    public void Exchange_across_blocks_may_orphan_one_inode_only_where_its_partner_holds_both_names()
    {
        var leaks = new CrashGuarantees { LeaksOnly = true, RenameMayLeaveBothNames = true, ExchangeMayOrphanOne = true };
        var o = Oracle(leaks, CrashOp.Create("/a"), CrashOp.Create("/b"));
        Assert.Equal(Errno.OK, o.Apply(CrashOp.Exchange("/a", "/b")));
        Assert.Empty(o.Check(Observed(("/a", 10, []), ("/b", 11, []))));      // not done
        Assert.Empty(o.Check(Observed(("/a", 11, []), ("/b", 10, []))));      // done
        Assert.Empty(o.Check(Observed(("/a", 10, []), ("/b", 10, []))));      // between FFS's two writes: 11 leaked
        Assert.Empty(o.Check(Observed(("/a", 11, []), ("/b", 11, []))));
        Assert.Contains(o.Check(Observed(("/a", 10, []))), p => p.Contains("lost"));  // 11 gone, its old name /b empty
        Assert.Contains(o.Check(Observed(("/b", 11, []))), p => p.Contains("lost"));  // 10 gone, its old name /a empty
        var strict = Oracle(leaks with { ExchangeMayOrphanOne = false }, CrashOp.Create("/a"), CrashOp.Create("/b"));
        strict.Apply(CrashOp.Exchange("/a", "/b"));
        Assert.Contains(strict.Check(Observed(("/a", 10, []), ("/b", 10, []))), p => p.Contains("lost"));
        o.MarkAllDurable();
        Assert.Contains(o.Check(Observed(("/a", 11, []), ("/b", 11, []))), p => p.Contains("lost")); // durable now

        // The partner's own name not durable yet (create, then exchange): the orphan's old name names the partner.
        var fresh = Oracle(leaks, CrashOp.Create("/a"));
        Assert.Equal(Errno.OK, fresh.Apply(CrashOp.Create("/b")));
        fresh.RecordInode("/b", new InodeNo(11));
        Assert.Equal(Errno.OK, fresh.Apply(CrashOp.Exchange("/b", "/a")));
        Assert.Empty(fresh.Check(Observed(("/a", 11, []))));
        Assert.Contains(fresh.Check(Observed(("/b", 11, []))), p => p.Contains("lost"));
    }

    [Fact]
    public void Oracles_told_the_same_steps_share_a_history_and_a_fork_judges_like_its_original()
    {
        using var clock = LogicalClock.Use(new LogicalClock(new Timespec(1_000_000, 0)));
        var a = Oracle(Atomic, CrashOp.Create("/a"), CrashOp.Write("/a", 0, 10, 1));
        var b = Oracle(Atomic, CrashOp.Create("/a"), CrashOp.Write("/a", 0, 10, 1));
        Assert.NotNull(a.History);
        Assert.Equal(a.History, b.History);
        var fork = a.Fork();
        Assert.Equal(a.History, fork.History);
        a.Apply(CrashOp.Rename("/a", "/b"));
        fork.Apply(CrashOp.Rename("/a", "/c"));
        Assert.NotEqual(a.History, fork.History);
        b.Apply(CrashOp.Rename("/a", "/b"));
        Assert.Equal(a.History, b.History);
        var data = Bytes(1, 0, 10);
        Assert.Empty(fork.Check(Observed(("/c", 10, data))));
        Assert.NotEmpty(fork.Check(Observed(("/b", 10, data))));  // the original's step did not reach the fork
        Assert.Empty(a.Check(Observed(("/b", 10, data))));
    }

    [Fact]
    public void An_oracle_run_under_the_wall_clock_has_no_history_to_share()
    {
        var o = Oracle(Atomic, CrashOp.Create("/a"));
        Assert.Null(o.History);
    }

    [Fact]
    public void Rename_over_an_existing_file_never_leaves_the_target_name_empty()
    {
        var o = Oracle(PosixOnly, CrashOp.Create("/a"), CrashOp.Create("/b"));
        o.Apply(CrashOp.Rename("/a", "/b"));
        Assert.Empty(o.Check(Observed(("/b", 11, []), ("/a", 10, []))));
        Assert.Empty(o.Check(Observed(("/b", 10, []))));
        Assert.Contains(o.Check(Observed(("/a", 10, []))), p => p.StartsWith("/b: found absent"));
    }

    private static readonly CrashGuarantees PosixOnly = CrashGuarantees.PosixMinimum;

    [Fact]
    public void Without_atomic_writes_unsettled_bytes_may_be_old_new_or_zero_but_nothing_else()
    {
        var o = Oracle(PosixOnly, CrashOp.Create("/f"), CrashOp.Write("/f", 0, 8192, 1));
        o.Apply(CrashOp.Write("/f", 4096, 4096, 2));
        var old = Bytes(1, 0, 8192);
        var torn = (byte[])old.Clone();
        Bytes(2, 4096, 4096).AsSpan(0, 100).CopyTo(torn.AsSpan(4096)); // part of the new write
        torn.AsSpan(4196, 50).Clear();                                // zero fill
        var p0 = o.Check(Observed(("/f", 10, torn)));
        Assert.True(p0.Count == 0, string.Join("\n", p0));

        var garbage = (byte[])torn.Clone();
        garbage[5000] = (byte)(Bytes(1, 5000, 1)[0] ^ Bytes(2, 5000, 1)[0] ^ 0x80 | 1);
        if (garbage[5000] == old[5000] || garbage[5000] == Bytes(2, 5000, 1)[0]) garbage[5000] ^= 0x40;
        Assert.Contains(o.Check(Observed(("/f", 10, garbage))), p => p.Contains("byte 5000") && p.Contains("no write put there"));

        var settledWrong = (byte[])old.Clone();
        settledWrong[10] = 0;
        Assert.Contains(o.Check(Observed(("/f", 10, settledWrong))), p => p.Contains("byte 10") && p.Contains("durable value"));
    }

    [Fact]
    public void With_atomic_writes_a_torn_write_is_illegal()
    {
        var o = Oracle(new CrashGuarantees { WritesAtomic = true }, CrashOp.Create("/f"), CrashOp.Write("/f", 0, 8192, 1));
        o.Apply(CrashOp.Write("/f", 4096, 4096, 2));
        var torn = Bytes(1, 0, 8192);
        Bytes(2, 4096, 100).CopyTo(torn.AsSpan(4096));
        Assert.NotEmpty(o.Check(Observed(("/f", 10, torn))));
        var done = Bytes(1, 0, 8192);
        Bytes(2, 4096, 4096).CopyTo(done.AsSpan(4096));
        Assert.Empty(o.Check(Observed(("/f", 10, done))));
    }

    [Fact]
    public void Fsync_makes_old_content_illegal_only_if_the_libfs_promises_it()
    {
        foreach (bool promise in new[] { true, false })
        {
            var o = Oracle(new CrashGuarantees { FsyncPersistsFile = promise }, CrashOp.Create("/f"), CrashOp.Write("/f", 0, 100, 1));
            var write = CrashOp.Write("/f", 0, 100, 2);
            o.Apply(write);
            o.Apply(CrashOp.Fsync("/f"));
            o.Completed(CrashOp.Fsync("/f"));
            var problems = o.Check(Observed(("/f", 10, Bytes(1, 0, 100))));
            Assert.Equal(promise, problems.Count > 0);
            Assert.Empty(o.Check(Observed(("/f", 10, write.Data()))));
        }
    }

    [Fact]
    public void Unsynced_create_may_be_absent_but_a_name_never_made_is_flagged()
    {
        var o = Oracle(Atomic);
        o.Apply(CrashOp.Create("/new"));
        Assert.Empty(o.Check(Observed()));
        Assert.Empty(o.Check(Observed(("/new", 77, []))));
        Assert.Contains(o.Check(Observed(("/stray", 78, []))), p => p.Contains("unexpected name"));
        var reserved = Oracle(Atomic with { ReservedRootNames = ["lost+found"] });
        Assert.Empty(reserved.Check(Observed(("/lost+found", 3, null))));
    }

    [Fact]
    public void Link_count_must_match_the_names_found()
    {
        var o = Oracle(Atomic, CrashOp.Create("/a"));
        var s = Observed(("/a", 10, []));
        s.Paths["/a"] = s.Paths["/a"] with { Nlink = 2 };
        Assert.Contains(o.Check(s), p => p.Contains("link count 2 but 1 name"));
    }

    // ------------------------------------------------------------------ attributes

    /// <summary>
    /// An oracle and a twin model taking the same steps: the twin's snapshots are real ones (attributes
    /// included, the twin's inode numbers recorded as the target's), edited to play a crashed target.
    /// </summary>
    private sealed class Twin
    {
        public readonly CrashOracle Oracle;
        private readonly LibFs.Testing.Model.ModelFileSystem _model = new();

        public Twin(CrashGuarantees g, bool sharedClock, params CrashOp[] setup)
        {
            Oracle = new CrashOracle(g, sharedClock);
            foreach (var op in setup) Step(op);
            Oracle.MarkAllDurable();
        }

        public void Step(CrashOp op)
        {
            Assert.Equal(Errno.OK, Oracle.Apply(op));
            Assert.Equal(Errno.OK, OpRunner.Run(_model, op, out var ino));
            if (op.Kind is CrashOpKind.Create or CrashOpKind.Mkdir) Oracle.RecordInode(op.Path, ino);
            if (op.IsPersistence) Oracle.Completed(op);
        }

        /// <summary>The twin's state with <paramref name="edit"/> applied to the attributes of <paramref name="path"/>'s inode.</summary>
        public FsSnapshot Seen(string path, Func<SnapshotAttrs, SnapshotAttrs>? edit = null)
        {
            var s = FsSnapshot.Take(_model);
            ulong ino = s.Paths[path].Ino;
            if (edit is not null) s.Attributes[ino] = edit(s.Attributes[ino]);
            return s;
        }

        /// <summary>A step only the twin takes: the crashed target shows what no step of the workload did.</summary>
        public void TwinOnly(CrashOp op) => Assert.Equal(Errno.OK, OpRunner.Run(_model, op, out _));

        public SnapshotAttrs Now(string path)
        {
            var s = FsSnapshot.Take(_model);
            return s.Attributes[s.Paths[path].Ino];
        }
    }

    private static readonly CrashGuarantees WithAttrs = CrashGuarantees.PosixMinimum with { FsyncPersistsAttributes = true };

    [Fact]
    public void An_unsynced_chmod_may_be_lost_but_a_mode_never_set_is_flagged_and_sync_settles_it()
    {
        var t = new Twin(WithAttrs, sharedClock: false, CrashOp.Create("/f"));
        uint before = t.Now("/f").Mode;
        t.Step(CrashOp.Chmod("/f", 0x180));
        Assert.Empty(t.Oracle.Check(t.Seen("/f")));
        Assert.Empty(t.Oracle.Check(t.Seen("/f", a => a with { Mode = before })));
        Assert.Contains(t.Oracle.Check(t.Seen("/f", a => a with { Mode = LibFs.FileMode.Regular | 0x1FF })), p => p.Contains("mode 0777 is none it had (0644, 0600)"));
        t.Step(CrashOp.Sync());
        Assert.Contains(t.Oracle.Check(t.Seen("/f", a => a with { Mode = before })), p => p.Contains("mode 0644 is none it had (0600)"));
    }

    [Fact]
    public void Fsync_settles_a_files_attributes_only_if_the_libfs_promises_it()
    {
        foreach (bool promise in new[] { true, false })
        {
            var t = new Twin(CrashGuarantees.PosixMinimum with { FsyncPersistsAttributes = promise }, false, CrashOp.Create("/f"), CrashOp.Create("/g"));
            t.Step(CrashOp.Chown("/f", 7, 8));
            t.Step(CrashOp.Chown("/g", 7, 8));
            t.Step(CrashOp.Fsync("/f"));
            Assert.Equal(promise, t.Oracle.Check(t.Seen("/f", a => a with { Uid = 0, Gid = 0 })).Any(p => p.Contains("owner 0:0 is none it had (7:8)")));
            Assert.Empty(t.Oracle.Check(t.Seen("/g", a => a with { Uid = 0, Gid = 0 }))); // another file's fsync settles nothing of /g
        }
    }

    [Fact]
    public void Each_attribute_is_judged_on_its_own_and_xattr_values_count()
    {
        var t = new Twin(WithAttrs, false, CrashOp.Create("/f"), CrashOp.SetXattr("/f", "user.a", 10, 1));
        var durable = t.Now("/f");
        t.Step(CrashOp.Chmod("/f", 0x180));
        t.Step(CrashOp.SetXattr("/f", "user.b", 5, 2));
        t.Step(CrashOp.RemoveXattr("/f", "user.a"));
        // The chmod kept and both xattr steps lost: no boundary had it, each attribute alone did.
        Assert.Empty(t.Oracle.Check(t.Seen("/f", a => a with { Xattrs = durable.Xattrs })));
        Assert.Empty(t.Oracle.Check(t.Seen("/f", a => a with { Mode = durable.Mode })));
        // A value no step set, a name never set, and a value from the right name at the wrong length.
        string wrongValue = SnapshotAttrs.XattrText([new("user.a", CrashOp.SetXattr("/f", "user.a", 10, 99).Data())]);
        string strayName = SnapshotAttrs.XattrText([new("user.z", CrashOp.SetXattr("/f", "user.z", 10, 1).Data())]);
        string shorter = SnapshotAttrs.XattrText([new("user.a", CrashOp.SetXattr("/f", "user.a", 9, 1).Data())]);
        foreach (var bad in new[] { wrongValue, strayName, shorter })
            Assert.Contains(t.Oracle.Check(t.Seen("/f", a => a with { Xattrs = bad })), p => p.Contains("xattrs {") && p.Contains("are none it had"));
        t.Step(CrashOp.Fsync("/f"));
        Assert.Contains(t.Oracle.Check(t.Seen("/f", a => a with { Xattrs = durable.Xattrs })), p => p.Contains("are none it had ({user.b:5b})"));
    }

    [Fact]
    public void Mtime_is_judged_only_on_a_shared_clock_and_only_where_the_libfs_keeps_it()
    {
        using var scope = LogicalClock.Use(new LogicalClock(new Timespec(1_700_000_000, 0)));
        foreach (var (shared, kept) in new[] { (true, CrashAttributes.All), (false, CrashAttributes.All), (true, CrashAttributes.Mode) })
        {
            var t = new Twin(WithAttrs with { Attributes = kept }, shared, CrashOp.Create("/f"));
            t.Step(CrashOp.Utimes("/f", 1_000_000_000));
            t.Step(CrashOp.Sync());
            var problems = t.Oracle.Check(t.Seen("/f", a => a with { Mtime = new Timespec(1_000_000_001, 0), Uid = 9 }));
            bool judged = shared && kept.HasFlag(CrashAttributes.Mtime);
            Assert.Equal(judged, problems.Any(p => p.Contains("mtime 1000000001.000000000 is none it had (1000000000.000000000)")));
            Assert.Equal(kept.HasFlag(CrashAttributes.Owner), problems.Any(p => p.Contains("owner")));
        }
    }

    [Fact]
    public void A_directorys_attributes_are_judged_too()
    {
        var t = new Twin(WithAttrs, false, CrashOp.Mkdir("/d"));
        t.Step(CrashOp.Chmod("/d", 0x1C0));
        t.Step(CrashOp.Sync());
        Assert.Empty(t.Oracle.Check(t.Seen("/d")));
        Assert.Contains(t.Oracle.Check(t.Seen("/d", a => a with { Mode = LibFs.FileMode.Directory | 0x1ED })), p => p.StartsWith("/d: ") && p.Contains("mode 0755 is none it had (0700)"));
    }

    [Fact]
    public void A_gigabyte_long_sparse_file_is_held_and_judged_by_its_data()
    {
        long at = CrashWorkloads.TripleIndirectOffset;
        var t = new Twin(PosixOnly, false, CrashOp.Create("/f"), CrashOp.Write("/f", at, 5000, 1));
        t.Step(CrashOp.Write("/f", at + 1000, 100, 2));
        var seen = t.Seen("/f");
        var content = seen.Contents[seen.Paths["/f"].Ino];
        Assert.Equal(at + 5000, content.Length);
        Assert.InRange(content.StoredBytes, 4096, 3 * 4096); // the data's chunks, not a gigabyte
        Assert.Equal(CrashOp.Write("/f", at + 1000, 1, 2).Data()[0], content[at + 1000]);
        Assert.Empty(t.Oracle.Check(seen));

        var garbage = new Twin(PosixOnly, false, CrashOp.Create("/f"), CrashOp.Write("/f", at, 5000, 1));
        garbage.Step(CrashOp.Write("/f", at + 1000, 100, 2));
        garbage.TwinOnly(CrashOp.Write("/f", at + 3000, 10, 3)); // settled bytes changed
        Assert.Contains(garbage.Oracle.Check(garbage.Seen("/f")), p => p.Contains($"byte {at + 3000} is") && p.Contains("durable value"));
        var hole = new Twin(PosixOnly, false, CrashOp.Create("/f"), CrashOp.Write("/f", at, 5000, 1));
        hole.Step(CrashOp.Write("/f", at + 1000, 100, 2));
        hole.TwinOnly(CrashOp.Write("/f", 4096, 1, 4)); // data in a hole far from any write
        Assert.Contains(hole.Oracle.Check(hole.Seen("/f")), p => p.Contains("byte 4096 is") && p.Contains("durable value is 0x00"));
    }

    [Fact]
    public void File_contents_equal_by_bytes_whatever_their_chunks()
    {
        FileContent a = new byte[10000], b = (byte[])[.. new byte[9999], 0];
        Assert.Equal(a, b);
        Assert.Equal(0, a.StoredBytes);
        var data = new byte[10000];
        data[5000] = 7;
        FileContent c = data;
        Assert.NotEqual(a, c);
        Assert.Equal(4096, c.StoredBytes);
        Assert.Equal(data, c.ToArray());
        Assert.NotEqual(FileContent.FromBytes(new byte[10]), FileContent.FromBytes(new byte[11]));
    }

    [Fact]
    public void A_rename_may_leave_both_names_under_soft_updates_rule_but_no_other_extra_name()
    {
        var both = new CrashGuarantees { RenameMayLeaveBothNames = true };
        var o = Oracle(both, CrashOp.Create("/a"));
        o.Apply(CrashOp.Rename("/a", "/b"));
        Assert.Empty(o.Check(Observed(("/a", 10, []), ("/b", 10, []))));
        Assert.Empty(o.Check(Observed(("/b", 10, []))));

        // Names from links and unlinks, none a rename's source: at most the two it had at once.
        foreach (var (g, flagged) in new[] { (both, true), (PosixOnly, false) })
        {
            var l = Oracle(g, CrashOp.Create("/a"));
            foreach (var op in new[] { CrashOp.Link("/a", "/b"), CrashOp.Unlink("/b"), CrashOp.Link("/a", "/c"), CrashOp.Unlink("/c") })
                Assert.Equal(Errno.OK, l.Apply(op));
            var problems = l.Check(Observed(("/a", 10, []), ("/b", 10, []), ("/c", 10, [])));
            Assert.Equal(flagged, problems.Any(p => p.Contains("more than it ever had at once, not counting names it was renamed away from")));
        }

        // Once the rename is durable the old name no longer may linger (the per-path rule says so too).
        var s = Oracle(both, CrashOp.Create("/a"));
        s.Apply(CrashOp.Rename("/a", "/b"));
        s.Apply(CrashOp.Sync());
        s.Completed(CrashOp.Sync());
        Assert.NotEmpty(s.Check(Observed(("/a", 10, []), ("/b", 10, []))));
    }
}
