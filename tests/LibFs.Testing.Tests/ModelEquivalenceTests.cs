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
    private sealed class IgnoresNoReplace(ModelFileSystem inner) : IFileSystem
    {
        public ModelFileSystem Inner { get; } = inner;
        public string Name => "broken";
        public Errno Rename(InodeNo p, string n, InodeNo np, string nn, RenameFlags f) => Inner.Rename(p, n, np, nn, f & ~RenameFlags.NoReplace);
        public Result<FileAttr> Lookup(InodeNo parent, string name) => Inner.Lookup(parent, name);
        public void Forget(InodeNo ino, ulong nlookup) => Inner.Forget(ino, nlookup);
        public Result<FileAttr> GetAttr(InodeNo ino) => Inner.GetAttr(ino);
        public Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request) => Inner.SetAttr(ino, request);
        public Result<string> ReadLink(InodeNo ino) => Inner.ReadLink(ino);
        public Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller) => Inner.MkNod(parent, name, mode, rdev, caller);
        public Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller) => Inner.MkDir(parent, name, mode, caller);
        public Errno Unlink(InodeNo parent, string name) => Inner.Unlink(parent, name);
        public Errno RmDir(InodeNo parent, string name) => Inner.RmDir(parent, name);
        public Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller) => Inner.Symlink(parent, name, target, caller);
        public Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName) => Inner.Link(ino, newParent, newName);
        public Result<FileHandle> Open(InodeNo ino, OpenFlags flags) => Inner.Open(ino, flags);
        public Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller) => Inner.Create(parent, name, mode, flags, caller);
        public Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer) => Inner.Read(ino, fh, offset, buffer);
        public Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data) => Inner.Write(ino, fh, offset, data);
        public Errno Flush(InodeNo ino, FileHandle fh) => Inner.Flush(ino, fh);
        public Errno Release(InodeNo ino, FileHandle fh) => Inner.Release(ino, fh);
        public Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => Inner.Fsync(ino, fh, dataOnly);
        public Result<FileHandle> OpenDir(InodeNo ino) => Inner.OpenDir(ino);
        public Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink) => Inner.ReadDir(ino, fh, offset, sink);
        public Errno ReleaseDir(InodeNo ino, FileHandle fh) => Inner.ReleaseDir(ino, fh);
        public Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => Inner.FsyncDir(ino, fh, dataOnly);
        public Result<FsStats> StatFs() => Inner.StatFs();
        public Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags) => Inner.SetXattr(ino, name, value, flags);
        public Result<byte[]> GetXattr(InodeNo ino, string name) => Inner.GetXattr(ino, name);
        public Result<IReadOnlyList<string>> ListXattr(InodeNo ino) => Inner.ListXattr(ino);
        public Errno RemoveXattr(InodeNo ino, string name) => Inner.RemoveXattr(ino, name);
        public Errno Sync() => Inner.Sync();
        public void Dispose() => Inner.Dispose();
    }
}
