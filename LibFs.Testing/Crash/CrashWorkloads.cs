using FsCheck;
using FsCheck.Fluent;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// Workloads over a small fixed namespace: directories /A and /B, file names foo, bar and baz in the root
/// and in each directory. Random workloads come from a seed (so every one can be replayed by
/// <c>exofs crashtest --seed N --cases 1</c>); FsCheck draws the seeds and shrinks with <see cref="Shrink"/>;
/// <see cref="Exhaustive"/> lists every short workload in the spirit of CrashMonkey's ACE.
/// </summary>
public static class CrashWorkloads
{
    /// <summary>The directories of the namespace.</summary>
    public static IReadOnlyList<string> Dirs { get; } = ["/A", "/B"];

    /// <summary>The file paths of the namespace, simplest first (shrinking moves toward the front).</summary>
    public static IReadOnlyList<string> Files { get; } =
        ["/foo", "/bar", "/baz", "/A/foo", "/A/bar", "/A/baz", "/B/foo", "/B/bar", "/B/baz"];

    /// <summary>
    /// The starting state every generated workload builds before crashes are explored: /A holding an
    /// 8 KiB /A/foo, an empty /B, and a 100-byte /bar, all durable.
    /// </summary>
    public static IReadOnlyList<CrashOp> StandardSetup { get; } =
    [
        CrashOp.Mkdir("/A"), CrashOp.Mkdir("/B"),
        CrashOp.Create("/A/foo"), CrashOp.Write("/A/foo", 0, 8192, 1),
        CrashOp.Create("/bar"), CrashOp.Write("/bar", 0, 100, 2),
    ];

    /// <summary>
    /// The standard setup with /B grown to exactly twelve full directory blocks: 180 hard links to /bar under
    /// long names (<see cref="FullDirectoryName"/>; fourteen of 255 bytes and one of 228 after "." and ".." in the
    /// first block, fifteen of 255 in each of the next eleven: FFS format 5's 4080 bytes of records, each block
    /// filled exactly), so the next name made in /B (the corner steps: <c>create /B/foo</c>, or any random step that adds
    /// a name there) takes a thirteenth block, which FFS reaches through the directory's single indirect block
    /// (type ffs.dind1). A file system that packs entries differently sees a large directory all the same.
    /// </summary>
    public static IReadOnlyList<CrashOp> FullDirectorySetup { get; } =
        [.. StandardSetup, .. Enumerable.Range(0, FullDirectoryNames).Select(i => CrashOp.Link("/bar", "/B/" + FullDirectoryName(i)))];

    /// <summary>How many names <see cref="FullDirectorySetup"/> puts in /B.</summary>
    public const int FullDirectoryNames = 180;

    /// <summary>Name <paramref name="i"/> of <see cref="FullDirectorySetup"/>: 255 bytes, except 228 for the fifteenth.</summary>
    public static string FullDirectoryName(int i) => $"n{i:D3}".PadRight(i == 14 ? 228 : 255, 'x');

    /// <summary>The exhaustive set's step that grows /B past twelve blocks (on <see cref="FullDirectorySetup"/>).</summary>
    public static CrashOp GrowDirectory { get; } = CrashOp.Create("/B/foo");

    /// <summary>
    /// File offsets whose blocks FFS maps through its single indirect block (past the 12 direct blocks), its double
    /// indirect block (past 12 + 510 blocks) and its triple indirect block (past 12 + 510 + 510² blocks, just under
    /// 1 GiB; format 4's 511-pointer blocks put it just over, and the offset lies past both). Sparse writes there keep crash images small; the model, snapshots and oracle hold contents sparsely
    /// (<see cref="FileContent"/>), so a gigabyte-long file costs what its data costs.
    /// </summary>
    public const long SingleIndirectOffset = 60_000, DoubleIndirectOffset = 2_200_000, TripleIndirectOffset = 1_071_700_000;

    // Offsets and lengths around block boundaries, where ordering bugs live.
    private static readonly long[] Offsets = [0, 1, 100, 4095, 4096, 5000, 8191, 8192, 12288, 16000];
    private static readonly int[] Lengths = [1, 100, 4096, 4097, 5000, 8192, 9000];
    private static readonly string[] SymlinkTexts = ["/bar", "A/foo", new string('t', 300)]; // the last is too long to be inline

    /// <summary>
    /// The workload of <paramref name="seed"/>: the standard setup and 1..<paramref name="maxOps"/> random steps.
    /// With <paramref name="tripleIndirect"/> (what <c>exofs crashtest</c> runs) half the writes and truncates that
    /// would go to the double indirect range go to the triple indirect one instead; without it a seed gives the
    /// workload it gave before that range was added (the multi-guest simulation's, whose tree comparison reads
    /// files whole).
    /// </summary>
    public static Workload Random(int seed, int maxOps = 6, bool tripleIndirect = false) => Random(seed, maxOps, tripleIndirect, fullDirectory: false);

    /// <summary>
    /// As <see cref="Random(int, int, bool)"/>; with <paramref name="fullDirectory"/> the workload starts from
    /// <see cref="FullDirectorySetup"/> instead (the same steps), so any name a step makes in /B takes its thirteenth
    /// block (<c>exofs crashtest --full-directory</c>).
    /// </summary>
    public static Workload Random(int seed, int maxOps, bool tripleIndirect, bool fullDirectory)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOps, 1);
        var rng = new System.Random(seed);
        int count = 1 + rng.Next(maxOps);
        var ops = new List<CrashOp>(count);
        for (int i = 0; i < count; i++) ops.Add(RandomOp(rng, i > 0 ? ops[^1] : null, tripleIndirect));
        return new Workload(fullDirectory ? FullDirectorySetup : StandardSetup, ops) { Seed = seed };
    }

    // Half the fsyncs go to the path the previous step touched (as ACE puts a persistence point on the
    // touched file): that is where a lost fsync or a misordered write shows.
    private static CrashOp RandomOp(System.Random rng, CrashOp? previous, bool tripleIndirect)
    {
        string File() => Files[rng.Next(Files.Count)];
        string AnyPath() =>
            previous is { Kind: not CrashOpKind.Sync } p && rng.Next(2) == 0 ? (p.Kind is CrashOpKind.Rename or CrashOpKind.Link or CrashOpKind.Exchange ? p.Target : p.Path)
            : rng.Next(4) == 0 ? Dirs[rng.Next(Dirs.Count)] : File();
        long Offset() => rng.Next(8) switch
        {
            0 => rng.Next(16384),
            1 => SingleIndirectOffset + rng.Next(8192),
            2 => (tripleIndirect && rng.Next(2) == 0 ? TripleIndirectOffset : DoubleIndirectOffset) + rng.Next(8192),
            _ => Offsets[rng.Next(Offsets.Length)],
        };
        int roll = rng.Next(100);
        return roll switch
        {
            < 12 => CrashOp.Create(File()),
            < 30 => CrashOp.Write(File(), Offset(), rng.Next(3) == 0 ? 1 + rng.Next(9000) : Lengths[rng.Next(Lengths.Length)], 1 + rng.Next(1000)),
            < 36 => CrashOp.Truncate(File(), rng.Next(6) == 0 ? Offset() : Offsets[rng.Next(Offsets.Length)] + (rng.Next(2) == 0 ? 0 : 4096)),
            < 47 => rng.Next(5) switch
            {
                0 => CrashOp.Rename(Dirs[rng.Next(2)], Dirs[rng.Next(2)]),
                1 when tripleIndirect => CrashOp.Exchange(File(), File()), // RENAME_EXCHANGE, often across directories
                _ => CrashOp.Rename(File(), File()),
            },
            < 52 => CrashOp.Link(File(), File()),
            < 59 => CrashOp.Unlink(File()),
            < 62 => CrashOp.Mkdir(Dirs[rng.Next(2)]),
            < 65 => CrashOp.Rmdir(Dirs[rng.Next(2)]),
            < 68 => CrashOp.Symlink(File(), SymlinkTexts[rng.Next(SymlinkTexts.Length)]),
            < 71 => CrashOp.SetXattr(File(), rng.Next(2) == 0 ? "user.k" : "user.n", 1 + rng.Next(300), 1 + rng.Next(1000)),
            < 73 => CrashOp.RemoveXattr(previous is { Kind: CrashOpKind.SetXattr } x ? x.Path : File(), rng.Next(2) == 0 ? "user.k" : "user.n"),
            < 75 => CrashOp.Chmod(AnyPath(), (uint)rng.Next(0x200)),
            < 77 => CrashOp.Chown(AnyPath(), (uint)rng.Next(3) * 500, (uint)rng.Next(3) * 500),
            < 79 => CrashOp.Utimes(AnyPath(), 1_000_000_000 + rng.Next(1_000_000)),
            < 92 => CrashOp.Fsync(AnyPath()),
            _ => CrashOp.Sync(),
        };
    }

    /// <summary>
    /// Smaller workloads that might still fail, most promising first: fewer steps (halves, then one at a
    /// time), fewer setup steps, then simpler arguments of each step (smaller offsets and lengths, a simpler
    /// path, sync for fsync).
    /// </summary>
    public static IEnumerable<Workload> Shrink(Workload w)
    {
        ArgumentNullException.ThrowIfNull(w);
        foreach (var ops in ShrinkList(w.Ops, minCount: 1)) yield return new Workload(w.Setup, ops);
        foreach (var setup in ShrinkList(w.Setup, minCount: 0)) yield return new Workload(setup, w.Ops);
        for (int i = 0; i < w.Ops.Count; i++)
            foreach (var simpler in ShrinkOp(w.Ops[i]))
            {
                var ops = w.Ops.ToArray();
                ops[i] = simpler;
                yield return new Workload(w.Setup, ops);
            }
    }

    private static IEnumerable<IReadOnlyList<CrashOp>> ShrinkList(IReadOnlyList<CrashOp> list, int minCount)
    {
        for (int chunk = list.Count / 2; chunk >= 1; chunk /= 2)
            for (int start = 0; start + chunk <= list.Count; start += chunk)
                if (list.Count - chunk >= minCount)
                    yield return [.. list.Take(start), .. list.Skip(start + chunk)];
    }

    private static IEnumerable<CrashOp> ShrinkOp(CrashOp op)
    {
        switch (op.Kind)
        {
            case CrashOpKind.Write:
                if (op.Offset > 0) { yield return op with { Offset = 0 }; yield return op with { Offset = op.Offset / 2 }; }
                if (op.Offset % 4096 != 0) yield return op with { Offset = op.Offset / 4096 * 4096 };
                if (op.Length > 1) { yield return op with { Length = 1 }; yield return op with { Length = op.Length / 2 }; }
                if (op.Seed != 1) yield return op with { Seed = 1 };
                break;
            case CrashOpKind.Truncate:
                if (op.Offset > 0) { yield return op with { Offset = 0 }; yield return op with { Offset = op.Offset / 2 }; }
                break;
            case CrashOpKind.Fsync:
                yield return CrashOp.Sync();
                break;
        }
        foreach (var p in SimplerPaths(op.Path)) yield return op with { Path = p };
        if (op.Kind is CrashOpKind.Rename or CrashOpKind.Link or CrashOpKind.Exchange)
            foreach (var p in SimplerPaths(op.Target)) yield return op with { Target = p };
    }

    private static IEnumerable<string> SimplerPaths(string path)
    {
        int i = Files.IndexOf(path);
        return i > 0 ? Files.Take(i) : [];
    }

    private static int IndexOf(this IReadOnlyList<string> list, string s)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == s) return i;
        return -1;
    }

    /// <summary>
    /// FsCheck's view: workloads drawn by seed (at most <paramref name="maxOps"/> steps) and shrunk by
    /// <see cref="Shrink"/>. A reported original carries its seed; the shrunk one prints its steps.
    /// </summary>
    public static Arbitrary<Workload> Arbitrary(int maxOps = 6) =>
        Arb.From(Gen.Choose(0, int.MaxValue).Select(seed => Random(seed, maxOps, tripleIndirect: true)), Shrink);

    // ------------------------------------------------------------------ exhaustive (ACE-style)

    /// <summary>
    /// The core steps of the exhaustive set: each kind of step on the standard setup's state, with argument
    /// sets chosen around the interesting cases (new name, replace, cross-directory, block boundaries).
    /// </summary>
    public static IReadOnlyList<CrashOp> CoreOps { get; } =
    [
        CrashOp.Create("/foo"), CrashOp.Create("/A/bar"),
        CrashOp.Write("/A/foo", 0, 100, 11), CrashOp.Write("/A/foo", 4096, 4096, 12), CrashOp.Write("/bar", 8000, 5000, 13),
        CrashOp.Truncate("/A/foo", 0), CrashOp.Truncate("/A/foo", 5000), CrashOp.Truncate("/bar", 20000),
        CrashOp.Rename("/bar", "/foo"), CrashOp.Rename("/bar", "/A/foo"), CrashOp.Rename("/A/foo", "/B/foo"), CrashOp.Rename("/A", "/B"),
        CrashOp.Link("/A/foo", "/B/bar"),
        CrashOp.Unlink("/A/foo"),
        CrashOp.Mkdir("/B/foo"), CrashOp.Rmdir("/B"),
        CrashOp.Write("/A/foo", SingleIndirectOffset, 5000, 14), CrashOp.Write("/bar", DoubleIndirectOffset, 4096, 15),
        CrashOp.Symlink("/A/bar", "/bar"), CrashOp.Link("/bar", "/A/baz"),
        CrashOp.SetXattr("/A/foo", "user.n", 100, 16), CrashOp.RemoveXattr("/A/foo", "user.n"),
        CrashOp.Chmod("/A/foo", 0x180 /* 0600 */), CrashOp.Chown("/bar", 1000, 1000), CrashOp.Utimes("/A", 1_000_000_000),
        CrashOp.Write("/A/foo", TripleIndirectOffset, 4096, 17),
        CrashOp.Exchange("/bar", "/A/foo"), // RENAME_EXCHANGE across directories: two directory blocks
    ];

    /// <summary>
    /// Every workload of 1..<paramref name="maxLength"/> core steps, each step followed by a persistence
    /// point: an fsync of the path it touched (its target for rename, link and exchange) or a sync; then the
    /// directory corner: on <see cref="FullDirectorySetup"/>, <see cref="GrowDirectory"/> (the thirteenth
    /// directory block) followed by every sequence of up to <paramref name="maxLength"/> - 1 units. With 27 core
    /// steps that is 54 one-step units: 54 workloads of length 1 and 2916 of length 2, then 2 + 108 corner
    /// workloads. Order is fixed, so an index names a workload
    /// (<c>exofs crashtest --exhaustive 2 --seed INDEX --cases 1</c>).
    /// </summary>
    public static IReadOnlyList<Workload> Exhaustive(int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, 3);
        var units = CoreOps.SelectMany(Units).ToList();
        var result = new List<Workload>();
        var prefixes = new List<CrashOp[]> { Array.Empty<CrashOp>() };
        for (int len = 1; len <= maxLength; len++)
        {
            prefixes = prefixes.SelectMany(p => units.Select(u => (CrashOp[])[.. p, .. u])).ToList();
            result.AddRange(prefixes.Select(p => new Workload(StandardSetup, p)));
        }
        var corner = Units(GrowDirectory).ToList();
        for (int len = 1; len <= maxLength; len++)
        {
            result.AddRange(corner.Select(u => new Workload(FullDirectorySetup, u)));
            if (len < maxLength) corner = corner.SelectMany(p => units.Select(u => (CrashOp[])[.. p, .. u])).ToList();
        }
        return result;
    }

    // A step followed by each of its two persistence points.
    private static IEnumerable<CrashOp[]> Units(CrashOp op)
    {
        string touched = op.Kind is CrashOpKind.Rename or CrashOpKind.Link or CrashOpKind.Exchange ? op.Target : op.Path;
        yield return [op, CrashOp.Fsync(touched)];
        yield return [op, CrashOp.Sync()];
    }
}
