using ExoFS.LibFs;
using ExoFS.LibFs.Testing;

namespace ExoFS.Mount.Tests;

/// <summary>
/// Passes every call to <see cref="Inner"/>, except that it throws (a libFS bug, as the adapter sees it) for
/// the name <see cref="ThrowingName"/> on lookup and for the xattr <see cref="ThrowingXattr"/>. It counts
/// <see cref="Sync"/> calls and keeps its own lookup count per inode (every successful Lookup, MkNod, MkDir,
/// Symlink, Link, Create adds one; Forget subtracts) to check the adapter passes the kernel's counts through.
/// </summary>
internal sealed class InstrumentedFileSystem(IFileSystem inner) : ForwardingFileSystem<IFileSystem>(inner)
{
    public const string ThrowingName = "throws-on-lookup";
    public const string ThrowingXattr = "user.throws";

    private int _syncs;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, long> _lookups = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _overForgets = new();

    /// <summary>Inodes whose count is not zero, with the count.</summary>
    public IReadOnlyDictionary<ulong, long> NonZeroLookups => _lookups.Where(kv => kv.Value != 0).ToDictionary();

    /// <summary>Forgets of more than was looked up (a double count somewhere).</summary>
    public IReadOnlyCollection<string> OverForgets => _overForgets;

    private Result<T> Counted<T>(Result<T> r, Func<T, InodeNo> ino)
    {
        if (r.Ok) _lookups.AddOrUpdate(ino(r.Value).Value, 1, (_, n) => n + 1);
        return r;
    }

    public int Syncs => Volatile.Read(ref _syncs);
    /// <summary>Overrides what the inner libFS says of its flushes (null: pass it through).</summary>
    public bool? FlushEffect { get; set; }
    public override bool FlushHasEffect => FlushEffect ?? Inner.FlushHasEffect;
    /// <summary>Overrides what the inner libFS says of parallel calls (null: pass it through).</summary>
    public bool? Parallel { get; set; }
    public override bool ServesInParallel => Parallel ?? Inner.ServesInParallel;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte> _servingThreads = new();
    /// <summary>How many threads have served GetAttr, Create and Write calls.</summary>
    public int ServingThreads => _servingThreads.Count;
    /// <summary>How long each GetAttr, Create and Write takes at least (a slow libFS: requests queue up behind it).</summary>
    public TimeSpan ServeDelay { get; set; }
    private void Served()
    {
        _servingThreads.TryAdd(Environment.CurrentManagedThreadId, 0);
        if (ServeDelay > TimeSpan.Zero) Thread.Sleep(ServeDelay);
    }
    private int _flushes;
    public int Flushes => Volatile.Read(ref _flushes);

    public override Result<FileAttr> Lookup(InodeNo parent, string name) =>
        name == ThrowingName ? throw new InvalidOperationException("injected lookup bug") : Counted(Inner.Lookup(parent, name), a => a.Ino);

    public override Result<byte[]> GetXattr(InodeNo ino, string name) =>
        name == ThrowingXattr ? throw new InvalidOperationException("injected getxattr bug") : Inner.GetXattr(ino, name);

    public override Errno Sync()
    {
        Interlocked.Increment(ref _syncs);
        return Inner.Sync();
    }

    public override void Forget(InodeNo ino, ulong nlookup)
    {
        long left = _lookups.AddOrUpdate(ino.Value, -(long)nlookup, (_, n) => n - (long)nlookup);
        if (left < 0) _overForgets.Enqueue($"inode {ino} forgotten {nlookup}, {left} below zero");
        Inner.Forget(ino, nlookup);
    }
    public override Result<FileAttr> GetAttr(InodeNo ino)
    {
        Served();
        return Inner.GetAttr(ino);
    }
    public override Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller) => Counted(Inner.MkNod(parent, name, mode, rdev, caller), a => a.Ino);
    public override Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller) => Counted(Inner.MkDir(parent, name, mode, caller), a => a.Ino);
    public override Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller) => Counted(Inner.Symlink(parent, name, target, caller), a => a.Ino);
    public override Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName) => Counted(Inner.Link(ino, newParent, newName), a => a.Ino);
    public override Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller)
    {
        Served();
        return Counted(Inner.Create(parent, name, mode, flags, caller), c => c.Attr.Ino);
    }
    public override Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
    {
        Served();
        return Inner.Write(ino, fh, offset, data);
    }
    public override Errno Flush(InodeNo ino, FileHandle fh)
    {
        Interlocked.Increment(ref _flushes);
        return Inner.Flush(ino, fh);
    }
    /// <summary>When set, Fsync waits for it (at most 10 s, then EIO): a request that blocks, as a flush to disk does.</summary>
    public ManualResetEventSlim? FsyncGate { get; set; }

    /// <summary>Set once an Fsync is waiting on <see cref="FsyncGate"/>.</summary>
    public ManualResetEventSlim FsyncWaiting { get; } = new();

    public override Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly)
    {
        if (FsyncGate is { } gate)
        {
            FsyncWaiting.Set();
            if (!gate.Wait(TimeSpan.FromSeconds(10))) return Errno.EIO;
        }
        return Inner.Fsync(ino, fh, dataOnly);
    }
}
