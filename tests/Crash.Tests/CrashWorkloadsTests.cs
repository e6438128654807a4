using ExoFS.LibFs.Testing.Crash;

namespace ExoFS.Crash.Tests;

/// <summary>Workload generation: determinism by seed, the exhaustive set's size and order, shrinking.</summary>
public sealed class CrashWorkloadsTests
{
    [Fact]
    public void A_seed_always_gives_the_same_workload()
    {
        for (int seed = 0; seed < 50; seed++)
            Assert.Equal(CrashWorkloads.Random(seed), CrashWorkloads.Random(seed));
        Assert.NotEqual(CrashWorkloads.Random(1), CrashWorkloads.Random(2));
    }

    [Fact]
    public void Exhaustive_length_2_has_every_pair_of_units_after_every_single_unit_then_the_directory_corner()
    {
        int units = 2 * CrashWorkloads.CoreOps.Count;
        var all = CrashWorkloads.Exhaustive(2);
        Assert.Equal(units + units * units + 2 + 2 * units, all.Count);
        Assert.All(all.Take(units), w => Assert.Equal(2, w.Ops.Count));
        Assert.All(all.Skip(units).Take(units * units), w => Assert.Equal(4, w.Ops.Count));
        Assert.All(all.Take(units + units * units), w => Assert.Same(CrashWorkloads.StandardSetup, w.Setup));
        var corner = all.Skip(units + units * units).ToList();
        Assert.All(corner, w => Assert.Same(CrashWorkloads.FullDirectorySetup, w.Setup));
        Assert.All(corner, w => Assert.Equal(CrashWorkloads.GrowDirectory, w.Ops[0]));
        Assert.Equal([2, 2, .. Enumerable.Repeat(4, 2 * units)], corner.Select(w => w.Ops.Count));
        Assert.All(all, w => Assert.True(w.Ops[1].IsPersistence && w.Ops[^1].IsPersistence));
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(all[units + 5], CrashWorkloads.Exhaustive(2)[units + 5]);
    }

    [Fact]
    public void Shrinking_offers_only_smaller_or_simpler_workloads()
    {
        var w = new Workload(CrashWorkloads.StandardSetup,
            [CrashOp.Write("/B/baz", 5000, 9000, 77), CrashOp.Truncate("/A/foo", 12288), CrashOp.Rename("/B/bar", "/A/baz"), CrashOp.Fsync("/A/foo")]);
        var candidates = CrashWorkloads.Shrink(w).ToList();
        Assert.NotEmpty(candidates);
        Assert.DoesNotContain(w, candidates);
        Assert.All(candidates, c => Assert.True(Size(c) < Size(w), c.ToString()));
        Assert.Contains(candidates, c => c.Ops.Count == 2);
        Assert.Contains(candidates.Where(c => c.Ops.Count == 4), c => c.Ops[0] is { Kind: CrashOpKind.Write, Offset: 0 });
        Assert.Contains(candidates.Where(c => c.Ops.Count == 4), c => c.Ops[0] is { Kind: CrashOpKind.Write, Length: 1 });
        Assert.Contains(candidates.Where(c => c.Ops.Count == 4), c => c.Ops[2].Path == "/foo");
        Assert.Contains(candidates.Where(c => c.Ops.Count == 4), c => c.Ops[3].Kind == CrashOpKind.Sync);
    }

    // A measure every shrink step must reduce: steps, then argument sizes and path ranks.
    private static long Size(Workload w) =>
        (w.Setup.Count + w.Ops.Count) * 100_000_000L +
        w.Ops.Sum(o => o.Offset + o.Length + (o.Seed == 1 ? 0 : 1) + Rank(o.Path) + Rank(o.Target) + (o.Kind == CrashOpKind.Fsync ? 1 : 0));

    private static long Rank(string path)
    {
        for (int i = 0; i < CrashWorkloads.Files.Count; i++) if (CrashWorkloads.Files[i] == path) return i;
        return 0;
    }

    [Fact]
    public void Patterns_never_write_zero_and_depend_on_offset()
    {
        var a = CrashOp.Write("/x", 0, 8192, 5).Data();
        Assert.DoesNotContain((byte)0, a);
        Assert.False(a.AsSpan(0, 4096).SequenceEqual(a.AsSpan(4096, 4096)));
    }
}
