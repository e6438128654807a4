using ExoFS.LibFs.Testing.Crash;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// The oracle's prefix-semantics check (the LFS's promise): a recovered state must be one whole state after a
/// prefix of the steps, and a persistence step makes every step before it part of every legal prefix.
/// </summary>
public sealed class PrefixOracleTests
{
    private static FsSnapshot Files(params string[] paths)
    {
        var s = new FsSnapshot();
        ulong ino = 10;
        foreach (var p in paths)
        {
            s.Paths[p] = new SnapshotEntry(ino, false, 1);
            s.Contents[ino++] = [];
        }
        return s;
    }

    [Fact]
    public void A_later_create_without_the_earlier_one_is_no_prefix_though_each_path_alone_is_legal()
    {
        var prefix = new CrashOracle(LfsCrashTarget.LfsGuarantees);
        var perPath = new CrashOracle(LfsCrashTarget.LfsGuarantees with { PrefixSemantics = false });
        foreach (var o in new[] { prefix, perPath })
        {
            o.Apply(CrashOp.Create("/a"));
            o.Apply(CrashOp.Create("/b"));
        }
        Assert.Empty(perPath.Check(Files("/b")));
        Assert.NotEmpty(prefix.Check(Files("/b")));
        Assert.Empty(prefix.Check(Files()));
        Assert.Empty(prefix.Check(Files("/a")));
        Assert.Empty(prefix.Check(Files("/a", "/b")));
    }

    [Fact]
    public void After_an_fsync_every_earlier_step_is_in_every_legal_state()
    {
        var o = new CrashOracle(LfsCrashTarget.LfsGuarantees);
        o.Apply(CrashOp.Create("/a"));
        o.Apply(CrashOp.Create("/b"));
        o.Apply(CrashOp.Fsync("/b"));
        o.Completed(CrashOp.Fsync("/b"));
        o.Apply(CrashOp.Create("/c"));
        Assert.NotEmpty(o.Check(Files("/b")));
        Assert.NotEmpty(o.Check(Files("/a", "/c")));
        Assert.Empty(o.Check(Files("/a", "/b")));
        Assert.Empty(o.Check(Files("/a", "/b", "/c")));
    }
}
