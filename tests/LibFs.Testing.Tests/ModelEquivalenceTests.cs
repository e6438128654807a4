using ExoFS.LibFs.Testing.Conformance;
using ExoFS.LibFs.Testing.Equivalence;
using ExoFS.LibFs.Testing.Model;
using ExoFS.LibFs.Testing.Tests.Conformance;

namespace ExoFS.LibFs.Testing.Tests;

public sealed class ModelEquivalenceTests
{
    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Random_operation_sequences_match_the_model(string libfs) =>
        ModelEquivalence.Check(LibFsRegistry.Get(libfs), maxTest: 100);

    [Fact]
    public void A_libfs_that_ignores_NoReplace_is_caught_and_shrunk_to_a_short_sequence()
    {
        var broken = new LibFsUnderTest("broken", () => new IgnoresNoReplace(new ModelFileSystem()),
            fs => ((IgnoresNoReplace)fs).Inner.Check());
        // A fixed replay seed keeps this deterministic (this one finds the bug within the first hundred sequences).
        var e = Assert.ThrowsAny<Exception>(() => ModelEquivalence.Check(broken, maxTest: 1000, replay: (4147813218643703519, 8569367859150363347)));
        Assert.Contains("differs from the model", e.ToString());
        // Shrunk: making two names and one NoReplace rename is enough, so the sequence printed is short.
        var printed = System.Text.RegularExpressions.Regex.Match(e.ToString(), @"Shrunk:\s*(\d+) ops:");
        Assert.True(printed.Success, e.ToString());
        Assert.True(int.Parse(printed.Groups[1].Value) <= 4, e.ToString());
    }

    [Fact]
    public void Compare_reports_the_first_differing_step()
    {
        var broken = new LibFsUnderTest("broken", () => new IgnoresNoReplace(new ModelFileSystem()),
            fs => ((IgnoresNoReplace)fs).Inner.Check());
        var seq = new OpSequence([new CreateOp("", "a", 0x1A4), new CreateOp("", "b", 0x1A4),
            new RenameOp("", "a", "", "b", RenameFlags.NoReplace)]);
        var diff = ModelEquivalence.Compare(broken, seq);
        Assert.NotNull(diff);
        Assert.StartsWith("step 3", diff);
        Assert.Null(ModelEquivalence.Compare(LibFsRegistry.Model, seq));
    }

    [Fact]
    public void Shrinker_offers_only_shorter_sequences()
    {
        var seq = new OpSequence([new MkDirOp("", "a"), new MkDirOp("", "b"), new UnlinkOp("", "a")]);
        var shrunk = ModelEquivalence.Shrink(seq).ToList();
        Assert.NotEmpty(shrunk);
        Assert.All(shrunk, s => Assert.True(s.Ops.Count < 3));
    }

    /// <summary>A deliberately wrong libFS: the model, except that RENAME_NOREPLACE is ignored.</summary>
    private sealed class IgnoresNoReplace(ModelFileSystem inner) : ForwardingFileSystem<ModelFileSystem>(inner)
    {
        public override string Name => "broken";
        public override Errno Rename(InodeNo p, string n, InodeNo np, string nn, RenameFlags f) => Inner.Rename(p, n, np, nn, f & ~RenameFlags.NoReplace);
    }
}
