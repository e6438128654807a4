using ExoFS.LibFs.Testing.Model;

namespace ExoFS.LibFs.Testing.Tests.Conformance;

/// <summary>copy_file_range(2) through the contract, on every libFS; and the contract's defaults for a libFS that implements none of the newer calls.</summary>
public sealed class CopyFileRangeTests : ConformanceBase
{
    private static (InodeNo Ino, FileHandle Fh) Open(IFileSystem fs, string name, OpenFlags flags, byte[]? content = null)
    {
        var ino = content is null
            ? fs.Create(Root, name, FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, User).Ok().Attr.Ino
            : fs.WriteFile(Root, name, content).Ino;
        return (ino, fs.Open(ino, flags).Ok());
    }

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Copy_file_range_copies_the_bytes_and_stops_at_the_inputs_end(string libfs) => Run(libfs, fs =>
    {
        var data = Bytes(3 << 20, seed: 9); // more than one 1 MiB piece
        var (src, sfh) = Open(fs, "src", OpenFlags.ReadOnly, data);
        var (dst, dfh) = Open(fs, "dst", OpenFlags.ReadWrite);
        Assert.Equal(data.Length - 100, fs.CopyFileRange(src, sfh, 100, dst, dfh, 5000, 4L << 20).Ok());
        var got = fs.ReadFile(dst);
        Assert.Equal((long)data.Length - 100 + 5000, got.Length);
        Assert.Equal(new byte[5000], got[..5000]);
        Assert.Equal(data[100..], got[5000..]);
        Assert.Equal(0, fs.CopyFileRange(src, sfh, data.Length, dst, dfh, 0, 10).Ok()); // at the input's end
        Assert.Equal(0, fs.CopyFileRange(src, sfh, 10, dst, dfh, 0, 0).Ok());
        fs.Release(src, sfh).Ok();
        fs.Release(dst, dfh).Ok();
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Copy_file_range_refuses_bad_handles_negative_offsets_and_overlap_within_one_file(string libfs) => Run(libfs, fs =>
    {
        var (src, sfh) = Open(fs, "src", OpenFlags.ReadWrite, Bytes(20000));
        var (wo, wfh) = Open(fs, "wo", OpenFlags.WriteOnly, Bytes(10));
        var (ro, rfh) = Open(fs, "ro", OpenFlags.ReadOnly, Bytes(10));
        Assert.Equal(Errno.EBADF, fs.CopyFileRange(wo, wfh, 0, src, sfh, 0, 5).Error); // input not readable
        Assert.Equal(Errno.EBADF, fs.CopyFileRange(src, sfh, 0, ro, rfh, 0, 5).Error); // output not writable
        Assert.Equal(Errno.EINVAL, fs.CopyFileRange(src, sfh, -1, wo, wfh, 0, 5).Error);
        Assert.Equal(Errno.EINVAL, fs.CopyFileRange(src, sfh, 0, wo, wfh, -1, 5).Error);
        Assert.Equal(Errno.EINVAL, fs.CopyFileRange(src, sfh, 0, src, sfh, 4000, 5000).Error);
        // Within one file, ranges that do not overlap copy as usual.
        Assert.Equal(4000, fs.CopyFileRange(src, sfh, 0, src, sfh, 10000, 4000).Ok());
        Assert.Equal(fs.ReadAt(src, 0, 4000), fs.ReadAt(src, 10000, 4000));
        fs.Release(src, sfh).Ok();
        fs.Release(wo, wfh).Ok();
        fs.Release(ro, rfh).Ok();
    });

    [Fact]
    public void A_libfs_without_the_newer_calls_gets_the_contracts_defaults()
    {
        var model = new ModelFileSystem();
        IFileSystem fs = new OlderLibFs(model);
        var (ino, fh) = Open(fs, "f", OpenFlags.ReadWrite, Bytes(9000));
        fs.Write(ino, fh, 50_000, "x"u8).Ok(); // a hole the default does not know of
        var (dst, dfh) = Open(fs, "g", OpenFlags.ReadWrite);
        Assert.Equal(Errno.ENOTSUP, fs.Fallocate(ino, fh, FallocateMode.Allocate, 0, 4096));
        Assert.Equal(Errno.ENOTSUP, fs.Fallocate(ino, fh, FallocateMode.PunchHole | FallocateMode.KeepSize, 0, 4096));
        Assert.Equal(20_000, fs.Lseek(ino, fh, 20_000, SeekWhence.Data).Ok());
        Assert.Equal(50_001, fs.Lseek(ino, fh, 0, SeekWhence.Hole).Ok());
        Assert.Equal(Errno.ENXIO, fs.Lseek(ino, fh, 50_001, SeekWhence.Data).Error);
        Assert.Equal(Errno.ENXIO, fs.Lseek(ino, fh, -1, SeekWhence.Hole).Error);
        Assert.Equal(50_001, fs.CopyFileRange(ino, fh, 0, dst, dfh, 0, 1 << 20).Ok());
        Assert.Equal(fs.ReadFile(ino), fs.ReadFile(dst));
        fs.Release(ino, fh).Ok();
        fs.Release(dst, dfh).Ok();
        Assert.Empty(model.Check());
    }

    /// <summary>A libFS written before fallocate, lseek and copy_file_range joined the contract: it implements only the rest.</summary>
    private sealed class OlderLibFs(IFileSystem inner) : IFileSystem
    {
        public string Name => "older";
        public Result<FileAttr> Lookup(InodeNo parent, string name) => inner.Lookup(parent, name);
        public void Forget(InodeNo ino, ulong nlookup) => inner.Forget(ino, nlookup);
        public Result<FileAttr> GetAttr(InodeNo ino) => inner.GetAttr(ino);
        public Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request) => inner.SetAttr(ino, request);
        public Result<string> ReadLink(InodeNo ino) => inner.ReadLink(ino);
        public Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller) => inner.MkNod(parent, name, mode, rdev, caller);
        public Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller) => inner.MkDir(parent, name, mode, caller);
        public Errno Unlink(InodeNo parent, string name) => inner.Unlink(parent, name);
        public Errno RmDir(InodeNo parent, string name) => inner.RmDir(parent, name);
        public Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller) => inner.Symlink(parent, name, target, caller);
        public Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags) => inner.Rename(parent, name, newParent, newName, flags);
        public Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName) => inner.Link(ino, newParent, newName);
        public Result<FileHandle> Open(InodeNo ino, OpenFlags flags) => inner.Open(ino, flags);
        public Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller) => inner.Create(parent, name, mode, flags, caller);
        public Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer) => inner.Read(ino, fh, offset, buffer);
        public Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data) => inner.Write(ino, fh, offset, data);
        public Errno Flush(InodeNo ino, FileHandle fh) => inner.Flush(ino, fh);
        public Errno Release(InodeNo ino, FileHandle fh) => inner.Release(ino, fh);
        public Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => inner.Fsync(ino, fh, dataOnly);
        public Result<FileHandle> OpenDir(InodeNo ino) => inner.OpenDir(ino);
        public Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink) => inner.ReadDir(ino, fh, offset, sink);
        public Errno ReleaseDir(InodeNo ino, FileHandle fh) => inner.ReleaseDir(ino, fh);
        public Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => inner.FsyncDir(ino, fh, dataOnly);
        public Result<FsStats> StatFs() => inner.StatFs();
        public Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags) => inner.SetXattr(ino, name, value, flags);
        public Result<byte[]> GetXattr(InodeNo ino, string name) => inner.GetXattr(ino, name);
        public Result<IReadOnlyList<string>> ListXattr(InodeNo ino) => inner.ListXattr(ino);
        public Errno RemoveXattr(InodeNo ino, string name) => inner.RemoveXattr(ino, name);
        public Errno Sync() => inner.Sync();
        public void Dispose() => inner.Dispose();
    }
}
