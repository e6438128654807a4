using System.Text;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Runtime;

namespace ExoFS.LibFs.Testing.Corruption;

/// <summary>
/// What a block of the intact image is, by the host's read-only views (<see cref="ExoHost.InspectBlock"/>): one of
/// XN's own areas, a block of a libFS type (named by its XN type, e.g. <c>ffs.inodes</c>, <c>xn.data</c>), an
/// allocated block no root reaches through a type (an unused segment body), or free.
/// </summary>
/// <param name="Name">The class name the campaign tallies by: "xn.superblock", "xn.freemap", "xn.catalogue",
/// "xn.reserved", a type name, "allocated-untyped" or "free".</param>
/// <param name="IsMetadata">Whether damage to it must be detected: XN's superblock, free map and the catalogue
/// blocks in use, and every libFS type but data.</param>
public sealed record BlockClass(string Name, bool IsMetadata)
{
    public static readonly BlockClass Free = new("free", false);
    public bool IsData => Name == Xn.XnTypes.DataName;
}

/// <summary>
/// An image for a corruption campaign: a libFS root holding a known tree — small, empty, large and sparse files
/// (reaching single and double indirect blocks), nested directories and one of many entries, short and long
/// symlinks, a hard link, small and large extended attributes — made through <see cref="ExoHost"/> on a memory
/// device and cleanly unmounted; the <see cref="Stale"/> image is the same root cleanly unmounted before a last
/// round of changes (overwrites, appends, a new file, an unlink, a rename), so torn and stale-block damage
/// puts real older versions of blocks back. <see cref="Expected"/> is the tree the intact image serves (and it
/// is checked against what was written); <see cref="Classes"/> says what each block is. Immutable once built:
/// cases clone <see cref="Device"/> (cheap: blocks are shared until written).
/// </summary>
public sealed class CorruptionImage
{
    /// <summary>8 MiB: room for a sparse file reaching double-indirect blocks and an LFS of 32 segments of 256 KiB.</summary>
    public const ulong DefaultBlocks = 2048;

    private CorruptionImage(ILibFs libFs, IReadOnlyDictionary<string, string> options, MemoryDevice device, MemoryDevice stale,
        SortedDictionary<string, TreeNode> expected, BlockClass[] classes)
    {
        LibFs = libFs;
        FormatOptions = options;
        Device = device;
        Stale = stale;
        Expected = expected;
        Classes = classes;
    }

    public ILibFs LibFs { get; }
    /// <summary>The libFS's format options the root was made with (e.g. data-checksums).</summary>
    public IReadOnlyDictionary<string, string> FormatOptions { get; }
    /// <summary>The intact image (never written after the build: clone it).</summary>
    public MemoryDevice Device { get; }
    /// <summary>The image as it was before the last round of changes.</summary>
    public MemoryDevice Stale { get; }
    /// <summary>What the intact image serves, by path.</summary>
    public IReadOnlyDictionary<string, TreeNode> Expected { get; }
    /// <summary>What each block is, indexed by block number.</summary>
    public IReadOnlyList<BlockClass> Classes { get; }
    /// <summary>The root's name (the libFS's name).</summary>
    public string RootName => LibFs.Name;

    private readonly Dictionary<DamageKind, SortedDictionary<string, List<ulong>>> _targets = [];

    /// <summary>
    /// The blocks a damage of <paramref name="kind"/> may hit, by class: every block for random damage; for the
    /// others the blocks it can change (not zero already; differing from the stale image in a torn sector or at
    /// all), in the classes that have any (every block when no class has one).
    /// </summary>
    public IReadOnlyDictionary<string, List<ulong>> Targets(DamageKind kind)
    {
        lock (_targets)
        {
            if (_targets.TryGetValue(kind, out var known)) return known;
            var all = new SortedDictionary<string, List<ulong>>(StringComparer.Ordinal);
            var changeable = new SortedDictionary<string, List<ulong>>(StringComparer.Ordinal);
            for (int b = 0; b < Classes.Count; b++)
            {
                string name = Classes[b].Name;
                (all.TryGetValue(name, out var l) ? l : all[name] = []).Add((ulong)b);
                if (Damages.CanChange(kind, Block((ulong)b), StaleBlock((ulong)b)))
                    (changeable.TryGetValue(name, out var c) ? c : changeable[name] = []).Add((ulong)b);
            }
            return _targets[kind] = changeable.Count > 0 ? changeable : all;
        }
    }

    /// <summary>The block's bytes in the intact image.</summary>
    public byte[] Block(ulong block) => ReadBlock(Device, block);
    /// <summary>The block's bytes in the stale image.</summary>
    public byte[] StaleBlock(ulong block) => ReadBlock(Stale, block);

    private static byte[] ReadBlock(IBlockDevice dev, ulong block)
    {
        var buf = new byte[IBlockDevice.BlockSize];
        dev.Read(new BlockNo(block), buf);
        return buf;
    }

    /// <summary>
    /// Builds the image for <paramref name="libFsName"/> (a registered libFS) with format options
    /// <paramref name="options"/>. Null with <paramref name="error"/> when the libFS is unknown, refuses the options
    /// or the device; throws only when the intact image does not serve what was written (a libFS bug).
    /// </summary>
    public static CorruptionImage? Build(string libFsName, IReadOnlyDictionary<string, string>? options, out string? error,
        ulong blocks = DefaultBlocks)
    {
        var libFs = LibFsCatalog.Find(libFsName);
        if (libFs is null) { error = $"no libFS named '{libFsName}' in this build (available: {LibFsCatalog.Names})"; return null; }
        options ??= new Dictionary<string, string>();
        foreach (var key in options.Keys)
            if (!libFs.FormatOptions.ContainsKey(key))
            {
                error = $"{libFs.Name} has no format option '{key}' in this build" +
                        (libFs.FormatOptions.Count == 0 ? " (it takes none)" : $" (it takes: {string.Join(", ", libFs.FormatOptions.Keys)})");
                return null;
            }
        var dev = new MemoryDevice(blocks);
        var clock = new LogicalClock(new Timespec(1_700_000_000, 0));
        using var clockScope = LogicalClock.Use(clock);
        var written = new Dictionary<string, byte[]>(StringComparer.Ordinal);

        // Round one: the tree, cleanly unmounted; that image is the stale one.
        var made = ExoHost.Format(dev, [new RootRequest(libFs.Name, libFs.Name, options.Count == 0 ? null : options)], out error, libFses: [libFs]);
        if (!made.Ok) return null;
        if (!WithRoot(made.Value, libFs, fs => FirstRound(fs, written, clock), out error)) return null;
        var stale = dev.Clone();

        // Round two: changes after the snapshot, cleanly unmounted; that is the intact image.
        var loaded = ExoHost.Load(dev, out error);
        if (!loaded.Ok) return null;
        if (!WithRoot(loaded.Value, libFs, fs => LastRound(fs, written, clock), out error)) return null;

        var reread = ExoHost.Load(dev, out error, new HostOptions { ReadOnly = true });
        if (!reread.Ok) return null;
        using var host = reread.Value;
        var guest = host.Attach(libFs.Name, out error, readOnly: true, libFs: libFs);
        if (!guest.Ok) return null;
        var expected = TreeView.Take(guest.Value.FileSystem);
        guest.Value.Dispose();
        foreach (var (path, content) in written)
            if (!expected.TryGetValue(path, out var node) || !content.AsSpan().SequenceEqual(node.Content))
                throw new InvalidOperationException($"{libFs.Name}: the intact image does not serve what was written to {path}");
        var classes = Classify(host);
        error = null;
        return new CorruptionImage(libFs, options, dev, stale, expected, classes);
    }

    private static bool WithRoot(ExoHost host, ILibFs libFs, Action<IFileSystem> work, out string? error)
    {
        using (host)
        {
            var guest = host.Attach(libFs.Name, out error, libFs: libFs);
            if (!guest.Ok) return false;
            work(guest.Value.FileSystem);
            guest.Value.Dispose();
        }
        error = null;
        return true;
    }

    /// <summary>Bytes that are a function of the path and offset alone, never zero (so a hole is not content).</summary>
    public static byte[] Pattern(string path, int length, long offset = 0)
    {
        var bytes = new byte[length];
        uint h = 2166136261;
        foreach (char c in path) h = (h ^ c) * 16777619;
        for (int i = 0; i < length; i++)
        {
            ulong x = (h + (ulong)(offset + i)) * 0x9E3779B97F4A7C15UL;
            bytes[i] = (byte)((x >> 56) % 255 + 1);
        }
        return bytes;
    }

    private static void Write(IFileSystem fs, Dictionary<string, byte[]> written, string path, byte[] content)
    {
        var (dir, name) = Split(fs, path);
        fs.WriteFile(dir, name, content);
        written[path] = content;
    }

    private static (InodeNo Dir, string Name) Split(IFileSystem fs, string path)
    {
        int slash = path.LastIndexOf('/');
        return (fs.Resolve(path[..slash]).Ino, path[(slash + 1)..]);
    }

    private static void FirstRound(IFileSystem fs, Dictionary<string, byte[]> written, LogicalClock clock)
    {
        Write(fs, written, "/small.txt", Encoding.UTF8.GetBytes("a small file, inside one block\n"));
        Write(fs, written, "/empty", []);
        fs.MakeDir(InodeNo.Root, "dir1");
        fs.MakeDir(fs.Resolve("/dir1").Ino, "sub");
        Write(fs, written, "/dir1/a", Pattern("/dir1/a", 5000));
        Write(fs, written, "/dir1/b", Pattern("/dir1/b", 12288));
        Write(fs, written, "/dir1/sub/c", Pattern("/dir1/sub/c", 1));
        // 200 KiB: past the 12 direct pointers into a single-indirect block.
        Write(fs, written, "/big", Pattern("/big", 200 << 10));
        // Sparse: a block at 0, one at 100 KiB (single indirect) and one past 4 MiB + 48 KiB (double indirect).
        Write(fs, written, "/sparse", Pattern("/sparse", 4096));
        var sparse = fs.Resolve("/sparse").Ino;
        long far = (4L << 20) + (64 << 10);
        fs.WriteAt(sparse, 100 << 10, Pattern("/sparse", 4096, 100 << 10));
        fs.WriteAt(sparse, far, Pattern("/sparse", 4096, far));
        var content = new byte[far + 4096];
        Pattern("/sparse", 4096).CopyTo(content, 0);
        Pattern("/sparse", 4096, 100 << 10).CopyTo(content, 100 << 10);
        Pattern("/sparse", 4096, far).CopyTo(content, far);
        written["/sparse"] = content;
        // A directory of many entries (more than one directory block).
        fs.MakeDir(InodeNo.Root, "many");
        for (int i = 0; i < 120; i++)
        {
            string path = $"/many/entry-with-a-longish-name-{i:D3}";
            Write(fs, written, path, Pattern(path, 64 + i));
            clock.Tick();
        }
        fs.MakeSymlink(InodeNo.Root, "link-short", "small.txt");
        fs.MakeSymlink(fs.Resolve("/dir1").Ino, "link-long", "../" + string.Concat(Enumerable.Repeat("long-target-component/", 12)) + "end");
        fs.Link(fs.Resolve("/small.txt").Ino, fs.Resolve("/dir1").Ino, "hard").Ok("link /dir1/hard");
        fs.Forget(fs.Resolve("/small.txt").Ino, 1);
        fs.SetXattr(fs.Resolve("/small.txt").Ino, "user.note", Encoding.UTF8.GetBytes("short"), XattrFlags.None).Ok("setxattr /small.txt");
        fs.SetXattr(fs.Resolve("/dir1").Ino, "user.big", Pattern("user.big", 1500), XattrFlags.None).Ok("setxattr /dir1");
        fs.SetXattr(fs.Resolve("/dir1/b").Ino, "user.one", Pattern("user.one", 40), XattrFlags.None).Ok("setxattr /dir1/b");
        Write(fs, written, "/dir1/sub/d", Pattern("/dir1/sub/d", 9000));
        fs.Sync().Ok("sync");
    }

    private static void LastRound(IFileSystem fs, Dictionary<string, byte[]> written, LogicalClock clock)
    {
        clock.Tick();
        // Overwrite a direct and an indirect part of /big in place, append to /dir1/a, change a many/ file.
        var big = fs.Resolve("/big").Ino;
        fs.WriteAt(big, 4096, Pattern("/big-v2", 8192, 4096));
        fs.WriteAt(big, 150 << 10, Pattern("/big-v2", 4096, 150 << 10));
        Pattern("/big-v2", 8192, 4096).CopyTo(written["/big"], 4096);
        Pattern("/big-v2", 4096, 150 << 10).CopyTo(written["/big"], 150 << 10);
        var a = fs.Resolve("/dir1/a").Ino;
        fs.WriteAt(a, 5000, Pattern("/dir1/a", 3000, 5000));
        written["/dir1/a"] = Pattern("/dir1/a", 8000);
        var m = fs.Resolve("/many/entry-with-a-longish-name-007").Ino;
        fs.WriteAt(m, 0, Pattern("/many-v2", 71));
        written["/many/entry-with-a-longish-name-007"] = Pattern("/many-v2", 71);
        Write(fs, written, "/dir1/sub/new", Pattern("/dir1/sub/new", 20000));
        fs.Unlink(fs.Resolve("/many").Ino, "entry-with-a-longish-name-050").Ok("unlink");
        written.Remove("/many/entry-with-a-longish-name-050");
        fs.Rename(fs.Resolve("/dir1").Ino, "b", InodeNo.Root, "b-renamed", RenameFlags.None).Ok("rename");
        written["/b-renamed"] = written["/dir1/b"];
        written.Remove("/dir1/b");
        fs.SetXattr(fs.Resolve("/small.txt").Ino, "user.note", Encoding.UTF8.GetBytes("changed"), XattrFlags.None).Ok("setxattr");
        fs.Sync().Ok("sync");
    }

    /// <summary>Every block's class, from one read-only host on the intact image.</summary>
    private static BlockClass[] Classify(ExoHost host)
    {
        var classes = new BlockClass[host.BlockCount];
        var dataType = Xn.XnTypes.DataName;
        var cache = new Dictionary<string, BlockClass>(StringComparer.Ordinal);
        BlockClass Named(string name, bool meta) => cache.TryGetValue(name, out var c) ? c : cache[name] = new BlockClass(name, meta);
        for (ulong b = 0; b < host.BlockCount; b++)
        {
            var info = host.InspectBlock(b)!;
            classes[b] = info.Area switch
            {
                "superblock" => Named("xn.superblock", true),
                "free map" => Named("xn.freemap", true),
                // A catalogue slot is as long as the disk allows; the blocks past what it holds are zero and unused.
                "root catalogue" => ZeroBlock(host, b) ? Named("xn.catalogue-unused", false)
                    : InActiveSlot(host, b) ? Named("xn.catalogue", true) : Named("xn.catalogue-spare", false),
                "reserved" => Named("xn.reserved", false),
                _ => info.UntypedBody ? Named("segment-body-untyped", false)
                    : info.Type is { } t ? Named(t, t != dataType)
                    : info.Allocated || info.DeferredFree ? Named("allocated-untyped", false) : BlockClass.Free,
            };
        }
        return classes;
    }

    /// <summary>
    /// Whether a catalogue block belongs to the slot XN loads (the newest valid one), found by trying: with the
    /// block zeroed, does a load still see the same catalogue generation? The other slot is the spare, an older
    /// generation XN falls back to; damage to it changes nothing a load or check sees (it loses the fallback).
    /// </summary>
    private static bool InActiveSlot(ExoHost host, ulong block)
    {
        var copy = new MemoryDevice(host.BlockCount);
        var buf = new byte[IBlockDevice.BlockSize];
        for (ulong b = 0; b < host.BlockCount; b++)
        {
            host.Device.Read(new BlockNo(b), buf);
            if (b != block && buf.AsSpan().ContainsAnyExcept((byte)0)) copy.Write(new BlockNo(b), buf);
        }
        var loaded = ExoHost.Load(copy, out _, new HostOptions { ReadOnly = true });
        if (!loaded.Ok) return true;
        using var damaged = loaded.Value;
        return damaged.Geometry.CatalogueGeneration != host.Geometry.CatalogueGeneration;
    }

    private static bool ZeroBlock(ExoHost host, ulong block)
    {
        var bytes = new byte[IBlockDevice.BlockSize];
        host.Device.Read(new BlockNo(block), bytes);
        return !bytes.AsSpan().ContainsAnyExcept((byte)0);
    }
}
