using System.Buffers.Binary;
using System.Text;
using ExoFS.Kernel.Disk;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>Which deliberate bug a <see cref="ShadowToyFileSystem"/> carries (the explorer must catch each).</summary>
public enum ToyBug
{
    /// <summary>Correct: write the new image to the spare area, barrier, then the header that points at it.</summary>
    None,
    /// <summary>No barrier between image and header: the header may reach the disk before the image it names.</summary>
    MissingBarrier,
    /// <summary>Overwrites the live image in place instead of the spare area: a crash mid-write tears it.</summary>
    InPlace,
    /// <summary>fsync returns without writing anything: fsync'd data is lost by a crash.</summary>
    LazyFsync,
}

/// <summary>
/// A deliberately tiny libFS for proving the crash explorer: the whole file system lives in memory and is
/// written out as one serialized image on every fsync, sync and unmount, through an
/// <see cref="IToyImageStore"/> that must make each new image replace the old one atomically
/// (<see cref="ToyBlockStore"/>: shadow paging on a raw device; <see cref="ToyXnStore"/>: one XN data
/// extent under an XN root). Supports what crash workloads use (regular files, directories, hard links,
/// rename without flags); symlinks, special files and xattrs are ENOSYS/ENOTSUP. Unlinked inodes are
/// freed at once (the explorer never holds one open). One lock serialises every call. The image encoding
/// is little-endian (BinaryWriter).
/// </summary>
public sealed class ShadowToyFileSystem : IFileSystem
{
    private const int BlockSize = IBlockDevice.BlockSize;

    private sealed class Node
    {
        public ulong Ino, Parent;
        public uint Mode, Nlink;
        public byte[] Data = [];
        public SortedDictionary<string, ulong>? Entries;
        public bool IsDir => Entries is not null;
    }

    private readonly object _lock = new();
    private readonly IToyImageStore _store;
    private readonly bool _lazyFsync;
    private readonly Action? _afterUnmount;
    private readonly Dictionary<ulong, Node> _nodes = new();
    private ulong _nextIno = 2;
    private bool _disposed;

    private ShadowToyFileSystem(IToyImageStore store, bool lazyFsync, Action? afterUnmount)
    {
        _store = store;
        _lazyFsync = lazyFsync;
        _afterUnmount = afterUnmount;
    }

    /// <summary>Saves an empty file system (the root directory only) to <paramref name="store"/>.</summary>
    public static void Format(IToyImageStore store)
    {
        var fs = new ShadowToyFileSystem(store, false, null);
        fs._nodes[1] = new Node { Ino = 1, Parent = 1, Mode = FileMode.Directory | 0x1ED, Nlink = 2, Entries = new(StringComparer.Ordinal) };
        store.Save(fs.Encode());
    }

    /// <summary>
    /// Mounts the image in <paramref name="store"/>; null with the reason if it cannot be read.
    /// <paramref name="lazyFsync"/> is the <see cref="ToyBug.LazyFsync"/> bug; <paramref name="afterUnmount"/>
    /// runs after the final save at <see cref="Dispose"/> (e.g. to close an XN volume).
    /// </summary>
    public static ShadowToyFileSystem? TryMount(IToyImageStore store, bool lazyFsync, out string problem, Action? afterUnmount = null)
    {
        var image = store.Load(out problem);
        if (image is null) return null;
        var fs = new ShadowToyFileSystem(store, lazyFsync, afterUnmount);
        try { fs.Decode(image); }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException)
        {
            problem = $"toy: image does not decode: {e.Message}";
            return null;
        }
        return fs;
    }

    /// <summary>The toy's fsck: every entry names a live inode, link counts match, directories know their parent.</summary>
    public IReadOnlyList<string> Check()
    {
        lock (_lock)
        {
            var problems = new List<string>();
            var refs = new Dictionary<ulong, uint>();
            foreach (var n in _nodes.Values.Where(n => n.IsDir))
                foreach (var (name, ino) in n.Entries!)
                {
                    if (!_nodes.TryGetValue(ino, out var child)) { problems.Add($"toy: {n.Ino}/{name} names missing inode {ino}"); continue; }
                    refs[ino] = refs.GetValueOrDefault(ino) + 1;
                    if (child.IsDir && child.Parent != n.Ino) problems.Add($"toy: directory {ino} has parent {child.Parent}, found in {n.Ino}");
                }
            foreach (var n in _nodes.Values.Where(n => !n.IsDir))
                if (refs.GetValueOrDefault(n.Ino) != n.Nlink) problems.Add($"toy: inode {n.Ino} nlink {n.Nlink}, {refs.GetValueOrDefault(n.Ino)} entries");
            return problems;
        }
    }

    // -------------------------------------------------------------- persistence

    private void Persist() => _store.Save(Encode());

    private byte[] Encode()
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(_nextIno);
        w.Write(_nodes.Count);
        foreach (var n in _nodes.Values)
        {
            w.Write(n.Ino); w.Write(n.Parent); w.Write(n.Mode); w.Write(n.Nlink);
            w.Write(n.Data.Length); w.Write(n.Data);
            w.Write(n.Entries?.Count ?? -1);
            foreach (var (name, ino) in n.Entries ?? []) { w.Write(name); w.Write(ino); }
        }
        w.Flush();
        return ms.ToArray();
    }

    private void Decode(ReadOnlySpan<byte> payload)
    {
        using var r = new BinaryReader(new MemoryStream(payload.ToArray()));
        _nextIno = r.ReadUInt64();
        int count = r.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            var n = new Node { Ino = r.ReadUInt64(), Parent = r.ReadUInt64(), Mode = r.ReadUInt32(), Nlink = r.ReadUInt32() };
            n.Data = r.ReadBytes(r.ReadInt32());
            int entries = r.ReadInt32();
            if (entries >= 0)
            {
                n.Entries = new(StringComparer.Ordinal);
                for (int e = 0; e < entries; e++) n.Entries[r.ReadString()] = r.ReadUInt64();
            }
            _nodes[n.Ino] = n;
        }
    }

    // -------------------------------------------------------------- IFileSystem

    public string Name => "toy";

    private FileAttr Attr(Node n) => new(new InodeNo(n.Ino), n.Mode, n.Nlink, 0, 0, 0,
        n.IsDir ? BlockSize : (ulong)n.Data.Length, ((ulong)n.Data.Length + 511) / 512, default, default, default);

    private Errno Dir(InodeNo parent, string name, out Node dir)
    {
        dir = null!;
        if (name.Length == 0 || name.Contains('/') || name is "." or "..") return Errno.EINVAL;
        if (!_nodes.TryGetValue(parent.Value, out var d)) return Errno.ENOENT;
        if (!d.IsDir) return Errno.ENOTDIR;
        dir = d;
        return Errno.OK;
    }

    public Result<FileAttr> Lookup(InodeNo parent, string name)
    {
        lock (_lock)
        {
            var err = Dir(parent, name, out var d);
            if (err != Errno.OK) return err;
            return d.Entries!.TryGetValue(name, out var ino) ? Attr(_nodes[ino]) : Errno.ENOENT;
        }
    }

    public void Forget(InodeNo ino, ulong nlookup) { }

    public Result<FileAttr> GetAttr(InodeNo ino)
    {
        lock (_lock) return _nodes.TryGetValue(ino.Value, out var n) ? Attr(n) : Errno.ENOENT;
    }

    public Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var n)) return Errno.ENOENT;
            if (request.Size is { } size)
            {
                if (n.IsDir) return Errno.EISDIR;
                if (size > 1 << 24) return Errno.EFBIG;
                var data = n.Data;
                Array.Resize(ref data, (int)size);
                n.Data = data;
            }
            if (request.Mode is { } mode) n.Mode = (n.Mode & FileMode.TypeMask) | (mode & FileMode.PermMask);
            return Attr(n);
        }
    }

    public Result<string> ReadLink(InodeNo ino) => Errno.EINVAL;

    public Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller)
    {
        uint type = FileMode.TypeOf(mode);
        return type is 0 or FileMode.Regular ? NewNode(parent, name, FileMode.Regular | (mode & FileMode.PermMask), dir: false) : Errno.ENOSYS;
    }

    public Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller) =>
        NewNode(parent, name, FileMode.Directory | (mode & FileMode.PermMask), dir: true);

    private Result<FileAttr> NewNode(InodeNo parent, string name, uint mode, bool dir)
    {
        lock (_lock)
        {
            var err = Dir(parent, name, out var d);
            if (err != Errno.OK) return err;
            if (d.Entries!.ContainsKey(name)) return Errno.EEXIST;
            var n = new Node { Ino = _nextIno++, Parent = d.Ino, Mode = mode, Nlink = dir ? 2u : 1u, Entries = dir ? new(StringComparer.Ordinal) : null };
            _nodes[n.Ino] = n;
            d.Entries[name] = n.Ino;
            if (dir) d.Nlink++;
            return Attr(n);
        }
    }

    public Errno Unlink(InodeNo parent, string name) => Remove(parent, name, dir: false);

    public Errno RmDir(InodeNo parent, string name) => Remove(parent, name, dir: true);

    private Errno Remove(InodeNo parent, string name, bool dir)
    {
        lock (_lock)
        {
            var err = Dir(parent, name, out var d);
            if (err != Errno.OK) return err;
            if (!d.Entries!.TryGetValue(name, out var ino)) return Errno.ENOENT;
            var n = _nodes[ino];
            if (n.IsDir != dir) return dir ? Errno.ENOTDIR : Errno.EISDIR;
            if (dir && n.Entries!.Count > 0) return Errno.ENOTEMPTY;
            d.Entries.Remove(name);
            Drop(d, n);
            return Errno.OK;
        }
    }

    private void Drop(Node parent, Node n)
    {
        if (n.IsDir) { parent.Nlink--; _nodes.Remove(n.Ino); }
        else if (--n.Nlink == 0) _nodes.Remove(n.Ino);
    }

    public Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller) => Errno.ENOSYS;

    public Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags)
    {
        if (flags != RenameFlags.None) return Errno.EINVAL;
        lock (_lock)
        {
            var err = Dir(parent, name, out var from);
            if (err == Errno.OK) err = Dir(newParent, newName, out _);
            if (err != Errno.OK) return err;
            var to = _nodes[newParent.Value];
            if (!from.Entries!.TryGetValue(name, out var ino)) return Errno.ENOENT;
            var n = _nodes[ino];
            if (n.IsDir)
                for (var a = to; ; a = _nodes[a.Parent]) // no moving a directory under itself
                {
                    if (a.Ino == n.Ino) return Errno.EINVAL;
                    if (a.Ino == 1) break;
                }
            if (to.Entries!.TryGetValue(newName, out var victimIno))
            {
                if (victimIno == ino) return Errno.OK;
                var victim = _nodes[victimIno];
                if (n.IsDir && !victim.IsDir) return Errno.ENOTDIR;
                if (!n.IsDir && victim.IsDir) return Errno.EISDIR;
                if (victim.IsDir && victim.Entries!.Count > 0) return Errno.ENOTEMPTY;
                Drop(to, victim);
            }
            from.Entries.Remove(name);
            to.Entries[newName] = ino;
            if (n.IsDir) { from.Nlink--; to.Nlink++; n.Parent = to.Ino; }
            return Errno.OK;
        }
    }

    public Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var n)) return Errno.ENOENT;
            var err = Dir(newParent, newName, out var d);
            if (err != Errno.OK) return err;
            if (n.IsDir) return Errno.EPERM;
            if (d.Entries!.ContainsKey(newName)) return Errno.EEXIST;
            d.Entries[newName] = n.Ino;
            n.Nlink++;
            return Attr(n);
        }
    }

    public Result<FileHandle> Open(InodeNo ino, OpenFlags flags)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var n)) return Errno.ENOENT;
            return n.IsDir ? Errno.EISDIR : new FileHandle(ino.Value);
        }
    }

    public Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller)
    {
        var r = MkNod(parent, name, mode, 0, caller);
        return r.Ok ? (r.Value, new FileHandle(r.Value.Ino.Value)) : r.Error;
    }

    public Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var n)) return Errno.ENOENT;
            if (offset < 0) return Errno.EINVAL;
            if (offset >= n.Data.Length) return 0;
            int count = (int)Math.Min(buffer.Length, n.Data.Length - offset);
            n.Data.AsSpan((int)offset, count).CopyTo(buffer);
            return count;
        }
    }

    public Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var n)) return Errno.ENOENT;
            if (offset < 0) return Errno.EINVAL;
            if (offset + data.Length > 1 << 24) return Errno.EFBIG;
            if (offset + data.Length > n.Data.Length)
            {
                var grown = n.Data;
                Array.Resize(ref grown, (int)offset + data.Length);
                n.Data = grown;
            }
            data.CopyTo(n.Data.AsSpan((int)offset));
            return data.Length;
        }
    }

    public Errno Flush(InodeNo ino, FileHandle fh) => Errno.OK;

    public Errno Release(InodeNo ino, FileHandle fh) => Errno.OK;

    public Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => _lazyFsync ? Errno.OK : Sync();

    public Result<FileHandle> OpenDir(InodeNo ino)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var n)) return Errno.ENOENT;
            return n.IsDir ? new FileHandle(ino.Value) : Errno.ENOTDIR;
        }
    }

    public Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink)
    {
        List<DirEntry> entries;
        lock (_lock)
        {
            if (!_nodes.TryGetValue(ino.Value, out var n) || !n.IsDir) return Errno.ENOTDIR;
            entries = [new(".", ino, FileMode.Directory, 1), new("..", new InodeNo(n.Parent), FileMode.Directory, 2)];
            foreach (var (name, child) in n.Entries!)
                entries.Add(new DirEntry(name, new InodeNo(child), _nodes[child].Mode & FileMode.TypeMask, entries.Count + 1));
        }
        for (int i = (int)Math.Max(0, offset); i < entries.Count; i++)
            if (!sink(entries[i])) break;
        return Errno.OK;
    }

    public Errno ReleaseDir(InodeNo ino, FileHandle fh) => Errno.OK;

    public Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => _lazyFsync ? Errno.OK : Sync();

    public Result<FsStats> StatFs() => new FsStats(BlockSize, 0, 0, 0, 1 << 16, 1 << 16, 255);

    public Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags) => Errno.ENOTSUP;
    public Result<byte[]> GetXattr(InodeNo ino, string name) => Errno.ENOTSUP;
    public Result<IReadOnlyList<string>> ListXattr(InodeNo ino) => Errno.ENOTSUP;
    public Errno RemoveXattr(InodeNo ino, string name) => Errno.ENOTSUP;

    public Errno Sync()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Persist();
            return Errno.OK;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            try { Persist(); }
            finally { _afterUnmount?.Invoke(); }
        }
    }
}

