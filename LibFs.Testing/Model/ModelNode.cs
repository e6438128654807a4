namespace ExoFS.LibFs.Testing.Model;

/// <summary>
/// One inode of the reference model. Only <see cref="ModelFileSystem"/> touches these, always under its lock.
/// The kind-specific parts (chunks, entries, target) are non-null exactly for their kind.
/// </summary>
internal sealed class ModelNode
{
    public const int ChunkSize = 4096;

    public ulong Ino;
    public uint Mode;
    public uint Nlink;
    public uint Uid, Gid;
    public ulong Rdev;
    public ulong Size;
    public Timespec Atime, Mtime, Ctime;
    public ulong LookupCount;
    public int OpenCount;
    public readonly SortedDictionary<string, byte[]> Xattrs = new(StringComparer.Ordinal);

    /// <summary>Regular file content: chunk index → 4 KiB; absent chunks are holes.</summary>
    public Dictionary<long, byte[]>? Chunks;

    /// <summary>fallocate with KEEP_SIZE gave the file chunks past its end on purpose; a truncate to at most the size drops them.</summary>
    public bool PastEof;

    /// <summary>Directory content; see <see cref="ModelDirectory"/>.</summary>
    public ModelDirectory? Dir;

    /// <summary>Symlink target.</summary>
    public string? Target;

    public uint Type => Mode & FileMode.TypeMask;
    public bool IsDir => Type == FileMode.Directory;
    public bool IsRegular => Type == FileMode.Regular;

    public FileAttr ToAttr() => new(
        new InodeNo(Ino), Mode, Nlink, Uid, Gid, Rdev, Size,
        Chunks is null ? (IsDir ? (ulong)ChunkSize / 512 : 0) : (ulong)Chunks.Count * (ChunkSize / 512),
        Atime, Mtime, Ctime);
}

/// <summary>
/// A directory's entries with stable readdir cookies. Each entry gets the next value of a per-directory
/// counter when it is inserted and keeps it until removed, so a cookie (the index after the last entry
/// returned) stays meaningful across concurrent inserts and removals: entries present for the whole
/// listing are returned exactly once; entries added meanwhile appear at most once.
/// Cookies 1 and 2 belong to "." and "..", so real entries start at 3.
/// </summary>
internal sealed class ModelDirectory
{
    public const long FirstEntryIndex = 3;

    public ulong Parent;
    private long _nextIndex = FirstEntryIndex;
    private readonly Dictionary<string, long> _byName = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, (string Name, ulong Ino)> _byIndex = new();
    private readonly SortedSet<long> _indices = new();

    public int Count => _byName.Count;

    public bool TryGet(string name, out ulong ino)
    {
        if (_byName.TryGetValue(name, out long idx)) { ino = _byIndex[idx].Ino; return true; }
        ino = 0;
        return false;
    }

    public void Add(string name, ulong ino)
    {
        long idx = _nextIndex++;
        _byName.Add(name, idx);
        _byIndex.Add(idx, (name, ino));
        _indices.Add(idx);
    }

    /// <summary>Points an existing name at another inode, keeping its cookie (rename over, exchange).</summary>
    public void Replace(string name, ulong ino)
    {
        long idx = _byName[name];
        _byIndex[idx] = (name, ino);
    }

    public void Remove(string name)
    {
        long idx = _byName[name];
        _byName.Remove(name);
        _byIndex.Remove(idx);
        _indices.Remove(idx);
    }

    /// <summary>Entries whose index is at least <paramref name="fromIndex"/>, in index order.</summary>
    public IEnumerable<(long Index, string Name, ulong Ino)> From(long fromIndex)
    {
        if (_indices.Count == 0 || fromIndex > _indices.Max) yield break;
        foreach (long idx in _indices.GetViewBetween(Math.Max(fromIndex, FirstEntryIndex), long.MaxValue))
        {
            var (name, ino) = _byIndex[idx];
            yield return (idx, name, ino);
        }
    }

    public IEnumerable<(string Name, ulong Ino)> All()
    {
        foreach (var kv in _byIndex) yield return kv.Value;
    }

    public ModelDirectory Clone()
    {
        var d = new ModelDirectory { Parent = Parent, _nextIndex = _nextIndex };
        foreach (var kv in _byIndex)
        {
            d._byIndex.Add(kv.Key, kv.Value);
            d._byName.Add(kv.Value.Name, kv.Key);
            d._indices.Add(kv.Key);
        }
        return d;
    }
}
