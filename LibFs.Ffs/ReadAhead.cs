namespace ExoFS.LibFs.Ffs;

/// <summary>
/// Read-ahead past the request (McVoy &amp; Kleiman's clustering for SunOS FFS): when a reader of a file asks
/// for the whole blocks that follow its previous read, FFS reads the request and up to <see cref="Blocks"/>
/// more of the file's contiguous disk run in one device request into a window it keeps, and serves the
/// following reads from it. Only whole blocks that are data on disk (not holes) and before the file's end are
/// read ahead; a window never spans a discontinuity on disk.
///
/// Coherence: a window is FFS's private copy, so every change that could make it stale drops it — any write,
/// truncate, fallocate or destruction of its inode (<see cref="Forget(ulong)"/>: a mapping may change), any
/// claim or free of a block inside it and any data write to its disk blocks (<see cref="ForgetDisk"/>), and
/// fsck repair (<see cref="Clear"/>). Nothing else writes FFS's data blocks: another libFS holds no rights to
/// them. Caller holds the file system lock.
/// </summary>
internal sealed class ReadAhead
{
    /// <summary>The most windows kept at once (one per file being read sequentially); the oldest goes first.</summary>
    public const int MaxWindows = 4;

    private sealed class Window
    {
        public ulong Ino, FileBlock, Disk;
        public int Count;
        public byte[] Data = [];
    }

    private readonly List<Window> _windows = new();     // most recently used last
    private readonly Dictionary<ulong, ulong> _next = new(); // inode -> the file block after its last read

    /// <summary>Blocks read beyond a sequential request (0: no read-ahead). 256: 1 MiB.</summary>
    public int Blocks { get; set; } = 256;

    /// <summary>Windows filled so far (for tests and benchmarks).</summary>
    public long Fills { get; private set; }

    /// <summary>
    /// Copies the longest prefix of file blocks <paramref name="fileBlock"/>.. that a window of
    /// <paramref name="ino"/> holds into <paramref name="into"/> (whole blocks); returns the blocks copied (0: none)
    /// and, in <paramref name="disk"/>, the disk block the first of them came from.
    /// </summary>
    public int Serve(ulong ino, ulong fileBlock, Span<byte> into, out ulong disk)
    {
        disk = 0;
        for (int k = _windows.Count - 1; k >= 0; k--)
        {
            var w = _windows[k];
            if (w.Ino != ino || fileBlock < w.FileBlock || fileBlock >= w.FileBlock + (ulong)w.Count) continue;
            int skip = (int)(fileBlock - w.FileBlock);
            int n = Math.Min(into.Length / Format.FfsLayout.BlockSize, w.Count - skip);
            w.Data.AsSpan(skip * Format.FfsLayout.BlockSize, n * Format.FfsLayout.BlockSize).CopyTo(into);
            if (k != _windows.Count - 1) { _windows.RemoveAt(k); _windows.Add(w); }
            disk = w.Disk + (ulong)skip;
            return n;
        }
        return 0;
    }

    /// <summary>True when a read at <paramref name="fileBlock"/> continues <paramref name="ino"/>'s previous read (or starts the file).</summary>
    public bool IsSequential(ulong ino, ulong fileBlock)
    {
        if (Blocks <= 0) return false;
        if (_next.TryGetValue(ino, out ulong next) ? next == fileBlock : fileBlock == 0) return true;
        // The kernel may send a sequential reader's requests out of order (several in flight): a read that starts
        // where one of the inode's windows ends continues the stream too.
        foreach (var w in _windows)
            if (w.Ino == ino && w.FileBlock + (ulong)w.Count == fileBlock) return true;
        return false;
    }

    /// <summary>Records where <paramref name="ino"/>'s last read ended, for <see cref="IsSequential"/>.</summary>
    public void ReadEnded(ulong ino, ulong nextFileBlock)
    {
        if (_next.Count >= 1024 && !_next.ContainsKey(ino)) _next.Clear(); // a bound, not a policy
        _next[ino] = nextFileBlock;
    }

    /// <summary>
    /// A buffer for a window of <paramref name="count"/> blocks (a dropped window's, when one is large enough);
    /// the caller fills it and then calls <see cref="Install"/>, or drops it on an error.
    /// </summary>
    public byte[] Buffer(int count)
    {
        int bytes = count * Format.FfsLayout.BlockSize;
        if (_spare is { } s && s.Length >= bytes) { _spare = null; return s; }
        return GC.AllocateUninitializedArray<byte>(bytes);
    }

    private byte[]? _spare;   // the data array of the last window dropped, for the next fill

    private void Dropped(Window w)
    {
        if (_spare is null || w.Data.Length > _spare.Length) _spare = w.Data;
    }

    /// <summary>Keeps a filled window, dropping the least recently used beyond <see cref="MaxWindows"/> (a reader whose requests arrive out of order may have two).</summary>
    public void Install(ulong ino, ulong fileBlock, ulong disk, int count, byte[] data)
    {
        if (_windows.Count >= MaxWindows) { Dropped(_windows[0]); _windows.RemoveAt(0); }
        _windows.Add(new Window { Ino = ino, FileBlock = fileBlock, Disk = disk, Count = count, Data = data });
        Fills++;
    }

    /// <summary>Drops <paramref name="ino"/>'s window: its data or its mapping may change.</summary>
    public void Forget(ulong ino)
    {
        if (_windows.Count > 0) _windows.RemoveAll(w => { if (w.Ino != ino) return false; Dropped(w); return true; });
    }

    /// <summary>Drops every window holding any of disk blocks [<paramref name="disk"/>, +<paramref name="count"/>).</summary>
    public void ForgetDisk(ulong disk, ulong count)
    {
        if (_windows.Count > 0)
            _windows.RemoveAll(w => { if (!(disk < w.Disk + (ulong)w.Count && w.Disk < disk + count)) return false; Dropped(w); return true; });
    }

    /// <summary>Drops every window (fsck repair, which changes mappings behind the file system's calls).</summary>
    public void Clear()
    {
        _windows.Clear();
        _next.Clear();
    }
}
