using System.Text;
using ExoFS.LibFs.Testing.Conformance;
using ExoFS.LibFs.Testing.Model;
using FsCheck;
using FsCheck.Fluent;

namespace ExoFS.LibFs.Testing.Equivalence;

/// <summary>
/// The model-equivalence property: random operation sequences over a tiny namespace run on a libFS under
/// test and on a fresh <see cref="ModelFileSystem"/>; every step's observable outcome (errno, data read,
/// attributes without inode numbers and times, directory listings as sets) must match, the final trees must
/// match, and the libFS's fsck must be clean. A failure is shrunk to a minimal sequence, which is printed.
/// </summary>
public static class ModelEquivalence
{
    private static readonly string[] Names = ["a", "b", "c"];
    // Directories the workload refers to; "a" and "a/b" exist only if the workload makes them.
    private static readonly string[] Dirs = ["", "", "a", "b", "a/b"];
    private static readonly long[] Offsets = [0, 1, 100, 4095, 4096, 5000, 65536, 1 << 20];
    private static readonly ulong[] Sizes = [0, 1, 100, 4096, 5000, 70000];
    /// <summary>Every fallocate mode, two refused combinations among them (PUNCH_HOLE without KEEP_SIZE, a reserved bit).</summary>
    private static readonly FallocateMode[] FallocateModes =
    [
        FallocateMode.Allocate, FallocateMode.KeepSize, FallocateMode.PunchHole | FallocateMode.KeepSize,
        FallocateMode.ZeroRange, FallocateMode.ZeroRange | FallocateMode.KeepSize, FallocateMode.CollapseRange,
        FallocateMode.InsertRange, FallocateMode.PunchHole, FallocateMode.NoHideStale,
    ];
    private static readonly long[] FallocateLengths = [1, 100, 4096, 5000, 8192, 65536];
    private static readonly uint[] Perms = [0x1A4, 0x1ED, 0x180, 0xDED];
    private static readonly string[] XattrKeys = ["user.x", "user.y", "trusted.t"];

    /// <summary>The generator of single operations (weights favour making things, so later steps have targets).</summary>
    public static Gen<FsOp> OpGen { get; } = MakeOpGen();

    /// <summary>Sequences of 1 to 30 operations.</summary>
    public static Gen<OpSequence> SequenceGen { get; } =
        Gen.Choose(1, 30).SelectMany(n => OpGen.ArrayOf(n)).Select(ops => new OpSequence(ops));

    /// <summary>Arbitrary sequences with <see cref="Shrink"/> as the shrinker.</summary>
    public static Arbitrary<OpSequence> Arbitrary { get; } = Arb.From(SequenceGen, Shrink);

    /// <summary>Shorter candidates: the first and second halves, then the sequence with each single operation removed.</summary>
    public static IEnumerable<OpSequence> Shrink(OpSequence s)
    {
        var ops = s.Ops;
        if (ops.Count > 1)
        {
            int half = ops.Count / 2;
            yield return new OpSequence(ops.Take(half).ToArray());
            yield return new OpSequence(ops.Skip(half).ToArray());
        }
        for (int i = 0; i < ops.Count; i++)
            if (ops.Count > 1) yield return new OpSequence(ops.Where((_, k) => k != i).ToArray());
    }

    /// <summary>
    /// Runs <paramref name="sequence"/> on a fresh instance of <paramref name="under"/> and on a fresh model.
    /// Returns null when they agree and the libFS's fsck is clean, otherwise a description of the first difference.
    /// </summary>
    public static string? Compare(LibFsUnderTest under, OpSequence sequence)
    {
        ArgumentNullException.ThrowIfNull(under);
        ArgumentNullException.ThrowIfNull(sequence);
        using var model = new ModelFileSystem();
        using var fs = under.CreateFresh();
        // A libFS without fallocate (ENOTSUP, as the contract's default) is compared on everything else.
        var ops = under.SupportsFallocate ? sequence.Ops : sequence.Ops.Where(o => o is not (FallocateOp or SeekOp)).ToList();
        for (int i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            string want = op.Apply(model), got = op.Apply(fs);
            if (want != got) return $"step {i + 1} ({op}): model gave '{want}', {under.Name} gave '{got}'";
        }
        string wantTree = Dump(model), gotTree = Dump(fs);
        if (wantTree != gotTree) return $"final trees differ\nmodel:\n{wantTree}\n{under.Name}:\n{gotTree}";
        var errors = under.Fsck(fs);
        return errors.Count == 0 ? null : $"{under.Name} fsck: " + string.Join("; ", errors);
    }

    /// <summary>The property over <see cref="Arbitrary"/>: throws with the sequence and the difference on failure.</summary>
    public static Property Property(LibFsUnderTest under) =>
        Prop.ForAll(Arbitrary, (OpSequence s) =>
        {
            var diff = Compare(under, s);
            if (diff is not null) throw new InvalidOperationException($"{under.Name} differs from the model: {diff}\n{s}");
        });

    /// <summary>
    /// Checks the property with <paramref name="maxTest"/> random sequences; throws on failure with the original
    /// and shrunk sequences and the (seed, gamma) pair FsCheck prints, which <paramref name="replay"/> takes
    /// to run the same sequences again.
    /// </summary>
    public static void Check(LibFsUnderTest under, int maxTest = 100, (ulong Seed, ulong Gamma)? replay = null)
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(maxTest);
        if (replay is { } r)
            config = config.WithReplay(Microsoft.FSharp.Core.FSharpOption<Replay>.Some(
                new Replay(new Rnd(r.Seed, r.Gamma), Microsoft.FSharp.Core.FSharpOption<int>.None)));
        FsCheck.Check.One(config, Property(under));
    }

    /// <summary>
    /// A canonical text of the whole tree: every path (sorted) with type, attributes as in
    /// <see cref="FsOp.Describe"/>, content hash or symlink target, and xattrs.
    /// </summary>
    public static string Dump(IFileSystem fs)
    {
        var sb = new StringBuilder();
        DumpDir(fs, InodeNo.Root, "", sb);
        return sb.ToString();
    }

    private static void DumpDir(IFileSystem fs, InodeNo dir, string path, StringBuilder sb)
    {
        foreach (var e in fs.ListDir(dir).OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var attr = fs.GetAttr(e.Ino).Ok($"getattr {path}/{e.Name}");
            sb.Append(path).Append('/').Append(e.Name).Append(' ').Append(FsOp.Describe(attr));
            if (FileMode.IsRegular(attr.Mode)) sb.Append(" data=").Append(FsOp.Hash(fs.ReadFile(e.Ino)));
            if (FileMode.IsSymlink(attr.Mode)) sb.Append(" -> ").Append(fs.ReadLink(e.Ino).Ok());
            var x = fs.ListXattr(e.Ino).Ok();
            foreach (var k in x.Order(StringComparer.Ordinal))
                sb.Append(' ').Append(k).Append('=').Append(FsOp.Hash(fs.GetXattr(e.Ino, k).Ok()));
            sb.Append('\n');
            if (FileMode.IsDir(attr.Mode)) DumpDir(fs, e.Ino, path + "/" + e.Name, sb);
        }
    }

    private static Gen<FsOp> MakeOpGen()
    {
        var dir = Gen.Elements(Dirs);
        var name = Gen.Elements(Names);
        var entry = dir.SelectMany(d => name.Select(n => (d, n)));
        var flags = Gen.Elements(RenameFlags.None, RenameFlags.None, RenameFlags.NoReplace, RenameFlags.Exchange);
        var xflags = Gen.Elements(XattrFlags.None, XattrFlags.Create, XattrFlags.Replace);
        return Gen.Frequency(
            (5, entry.SelectMany(e => Gen.Elements(Perms).Select(p => (FsOp)new CreateOp(e.d, e.n, p)))),
            (4, entry.Select(e => (FsOp)new MkDirOp(e.d, e.n))),
            (1, entry.Select(e => (FsOp)new MkFifoOp(e.d, e.n))),
            (1, entry.SelectMany(e => Gen.Elements("a", "../b", "/abs/path").Select(t => (FsOp)new SymlinkOp(e.d, e.n, t)))),
            (5, entry.SelectMany(e => Gen.Elements(Offsets).SelectMany(o => Gen.Choose(0, 9000).SelectMany(len =>
                Gen.Choose(0, 1000).Select(seed => (FsOp)new WriteOp(e.d, e.n, o, len, seed)))))),
            (3, entry.SelectMany(e => Gen.Elements(Offsets).SelectMany(o => Gen.Choose(1, 10000).Select(len => (FsOp)new ReadOp(e.d, e.n, o, len))))),
            (2, entry.SelectMany(e => Gen.Elements(Sizes).Select(s => (FsOp)new TruncateOp(e.d, e.n, s)))),
            (2, entry.SelectMany(e => Gen.Elements(FallocateModes).SelectMany(m => Gen.Elements(Offsets).SelectMany(o =>
                Gen.Elements(FallocateLengths).Select(len => (FsOp)new FallocateOp(e.d, e.n, m, o, len)))))),
            (1, entry.SelectMany(e => Gen.Elements(Offsets).SelectMany(o =>
                Gen.Elements(SeekWhence.Data, SeekWhence.Hole).Select(w => (FsOp)new SeekOp(e.d, e.n, o, w))))),
            (1, entry.SelectMany(e => Gen.Elements(Perms).Select(p => (FsOp)new ChmodOp(e.d, e.n, p)))),
            (4, entry.SelectMany(e => entry.SelectMany(t => flags.Select(f => (FsOp)new RenameOp(e.d, e.n, t.d, t.n, f))))),
            (2, entry.SelectMany(e => entry.Select(t => (FsOp)new LinkOp(e.d, e.n, t.d, t.n)))),
            (3, entry.Select(e => (FsOp)new UnlinkOp(e.d, e.n))),
            (2, entry.Select(e => (FsOp)new RmDirOp(e.d, e.n))),
            (2, entry.Select(e => (FsOp)new GetAttrOp(e.d, e.n))),
            (2, dir.Select(d => (FsOp)new ReadDirOp(d))),
            (1, entry.SelectMany(e => Gen.Elements(XattrKeys).SelectMany(k => xflags.SelectMany(f =>
                Gen.Choose(0, 200).Select(seed => (FsOp)new SetXattrOp(e.d, e.n, k, f, seed)))))),
            (1, entry.SelectMany(e => Gen.Elements(XattrKeys).Select(k => (FsOp)new GetXattrOp(e.d, e.n, k)))));
    }
}
