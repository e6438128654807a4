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
}
