namespace ExoFS.LibFs.Testing;

/// <summary>
/// Passes every call, and what the libFS says of itself, to <see cref="Inner"/>. Tests derive from it to change
/// or watch a few calls of a real libFS (inject a bug, count, slow down) and leave the rest as they were, the
/// interface's default members included: a wrapper that forgot one would quietly change how a mount treats it.
/// </summary>
public abstract class ForwardingFileSystem<TInner>(TInner inner) : IFileSystem where TInner : IFileSystem
{
    public TInner Inner { get; } = inner;

    public virtual string Name => Inner.Name;
    public virtual bool FlushHasEffect => Inner.FlushHasEffect;
    public virtual bool ServesInParallel => Inner.ServesInParallel;
    public virtual Result<FileAttr> Lookup(InodeNo parent, string name) => Inner.Lookup(parent, name);
    public virtual void Forget(InodeNo ino, ulong nlookup) => Inner.Forget(ino, nlookup);
    public virtual Result<FileAttr> GetAttr(InodeNo ino) => Inner.GetAttr(ino);
    public virtual Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request) => Inner.SetAttr(ino, request);
    public virtual Result<string> ReadLink(InodeNo ino) => Inner.ReadLink(ino);
    public virtual Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller) => Inner.MkNod(parent, name, mode, rdev, caller);
    public virtual Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller) => Inner.MkDir(parent, name, mode, caller);
    public virtual Errno Unlink(InodeNo parent, string name) => Inner.Unlink(parent, name);
    public virtual Errno RmDir(InodeNo parent, string name) => Inner.RmDir(parent, name);
    public virtual Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller) => Inner.Symlink(parent, name, target, caller);
    public virtual Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags) => Inner.Rename(parent, name, newParent, newName, flags);
    public virtual Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName) => Inner.Link(ino, newParent, newName);
    public virtual Result<FileHandle> Open(InodeNo ino, OpenFlags flags) => Inner.Open(ino, flags);
    public virtual Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller) => Inner.Create(parent, name, mode, flags, caller);
    public virtual Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer) => Inner.Read(ino, fh, offset, buffer);
    public virtual Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data) => Inner.Write(ino, fh, offset, data);
    public virtual Errno Flush(InodeNo ino, FileHandle fh) => Inner.Flush(ino, fh);
    public virtual Errno Release(InodeNo ino, FileHandle fh) => Inner.Release(ino, fh);
    public virtual Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => Inner.Fsync(ino, fh, dataOnly);
    public virtual Result<FileHandle> OpenDir(InodeNo ino) => Inner.OpenDir(ino);
    public virtual Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink) => Inner.ReadDir(ino, fh, offset, sink);
    public virtual Errno ReleaseDir(InodeNo ino, FileHandle fh) => Inner.ReleaseDir(ino, fh);
    public virtual Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => Inner.FsyncDir(ino, fh, dataOnly);
    public virtual Result<FsStats> StatFs() => Inner.StatFs();
    public virtual Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags) => Inner.SetXattr(ino, name, value, flags);
    public virtual Result<byte[]> GetXattr(InodeNo ino, string name) => Inner.GetXattr(ino, name);
    public virtual Result<IReadOnlyList<string>> ListXattr(InodeNo ino) => Inner.ListXattr(ino);
    public virtual Errno RemoveXattr(InodeNo ino, string name) => Inner.RemoveXattr(ino, name);
    public virtual Errno Sync() => Inner.Sync();
    public virtual Errno Fallocate(InodeNo ino, FileHandle fh, FallocateMode mode, long offset, long length) => Inner.Fallocate(ino, fh, mode, offset, length);
    public virtual Result<long> Lseek(InodeNo ino, FileHandle fh, long offset, SeekWhence whence) => Inner.Lseek(ino, fh, offset, whence);
    public virtual Result<long> CopyFileRange(InodeNo inIno, FileHandle inFh, long inOffset, InodeNo outIno, FileHandle outFh, long outOffset, long length) =>
        Inner.CopyFileRange(inIno, inFh, inOffset, outIno, outFh, outOffset, length);
    public virtual void Dispose() => Inner.Dispose();
}
