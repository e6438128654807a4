using System.Buffers.Binary;
using System.Text;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Hostile;
using ExoFS.Xn;
using FileMode = ExoFS.LibFs.FileMode;

namespace ExoFS.Host.Tests;

/// <summary>
/// One memory image formatted by a host with an FFS root "victim" and a hostile root "hostile", both attached.
/// The victim holds a regular file, a directory with a file in it, a symlink and a file big enough for an
/// indirect block, all synced. <see cref="Refused"/> runs one attack and proves it changed nothing.
/// </summary>
internal sealed class HostileWorld : IDisposable
{
    public const ulong Blocks = 8192;
    public static readonly Caller User = new(1000, 1000);

    public MemoryDevice Dev { get; }
    public ExoHost Host { get; private set; }
    public Guest VictimGuest { get; private set; }
    public Guest HostileGuest { get; private set; }
    public IFileSystem Victim => VictimGuest.FileSystem;
    public HostileFileSystem Hostile => (HostileFileSystem)HostileGuest.FileSystem;
    public XnVolume Vol => Host.Volume;

    /// <summary>What the victim's tree looked like after setup (path → kind, size, links, contents).</summary>
    public IReadOnlyDictionary<string, string> VictimFiles { get; private set; }

    public static byte[] HelloBytes => "hello, victim\n"u8.ToArray();
    /// <summary>200 KiB: 12 direct blocks and an indirect block's worth more.</summary>
    public static byte[] BigBytes { get; } = Enumerable.Range(0, 200 * 1024).Select(i => (byte)(i * 7 + i / 4096)).ToArray();
    public static byte[] InnerBytes => "inner file of the victim\n"u8.ToArray();

    public HostileWorld(HostOptions? options = null)
    {
        Dev = new MemoryDevice(Blocks);
        var host = ExoHost.Format(Dev, [new RootRequest("ffs", "victim"), new RootRequest("hostile", "hostile")], out var error,
            options, libFses: [new HostileLibFs()]);
        Assert.True(host.Ok, error);
        Host = host.Value;
        VictimGuest = Attach("victim");
        Fill();
        HostileGuest = Attach("hostile");
        Ok(Hostile.Prepare());
        Assert.Equal(Errno.OK, Victim.Sync());
        VictimFiles = Snapshot(Victim);
        AssertVictimIntact();
    }

    public Guest Attach(string root)
    {
        var g = Host.Attach(root, out var error, libFs: root == "hostile" ? new HostileLibFs() : null);
        Assert.True(g.Ok, error);
        return g.Value;
    }

    private void Fill()
    {
        var fs = Victim;
        Write(fs, InodeNo.Root, "hello.txt", HelloBytes);
        var dir = fs.MkDir(InodeNo.Root, "dir", 0x1ED, User);
        Assert.True(dir.Ok, dir.Error.ToString());
        Write(fs, dir.Value.Ino, "inner.txt", InnerBytes);
        Assert.True(fs.Symlink(InodeNo.Root, "link", "hello.txt", User).Ok);
        Write(fs, InodeNo.Root, "big.bin", BigBytes);
    }

    public static InodeNo Write(IFileSystem fs, InodeNo parent, string name, byte[] bytes)
    {
        var c = fs.Create(parent, name, FileMode.Regular | 0x1A4, OpenFlags.ReadWrite | OpenFlags.Create, User);
        Assert.True(c.Ok, $"create {name}: {c.Error}");
        var w = fs.Write(c.Value.Attr.Ino, c.Value.Handle, 0, bytes);
        Assert.True(w.Ok && w.Value == bytes.Length, $"write {name}: {w.Error}");
        Assert.Equal(Errno.OK, fs.Release(c.Value.Attr.Ino, c.Value.Handle));
        return c.Value.Attr.Ino;
    }

    /// <summary>The victim's whole tree, read back through its own file system (times left out: reads move atime).</summary>
    public static Dictionary<string, string> Snapshot(IFileSystem fs)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        void Walk(InodeNo dir, string path)
        {
            var h = fs.OpenDir(dir);
            Assert.True(h.Ok, $"opendir {path}: {h.Error}");
            var entries = new List<DirEntry>();
            Assert.Equal(Errno.OK, fs.ReadDir(dir, h.Value, 0, (in DirEntry e) => { entries.Add(e); return true; }));
            fs.ReleaseDir(dir, h.Value);
            foreach (var e in entries.Where(e => e.Name is not "." and not ".."))
            {
                string p = path + "/" + e.Name;
                var a = fs.GetAttr(e.Ino);
                Assert.True(a.Ok, $"getattr {p}: {a.Error}");
                var at = a.Value;
                string what = $"mode={at.Mode:x} size={at.Size} nlink={at.Nlink} uid={at.Uid}";
                if (FileMode.IsDir(at.Mode)) { files[p] = what; Walk(e.Ino, p); }
                else if (FileMode.IsSymlink(at.Mode)) files[p] = what + " -> " + fs.ReadLink(e.Ino).Value;
                else files[p] = what + " sha=" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(ReadAll(fs, e.Ino, at.Size)));
            }
        }
        Walk(InodeNo.Root, "");
        return files;
    }

    public static byte[] ReadAll(IFileSystem fs, InodeNo ino, ulong size)
    {
        var h = fs.Open(ino, OpenFlags.ReadOnly);
        Assert.True(h.Ok, h.Error.ToString());
        var buf = new byte[size];
        int n = fs.Read(ino, h.Value, 0, buf).Value;
        Assert.Equal((int)size, n);
        fs.Release(ino, h.Value);
        return buf;
    }

    /// <summary>The victim changed its own files: what it holds now is what must stay intact.</summary>
    public void VictimChanged() => VictimFiles = Snapshot(Victim);

    /// <summary>The victim's files are byte-identical to the setup's, and both the host's checks are clean.</summary>
    /// <param name="libFsChecks">Also run every libFS's checker (FFS's own fsck): off only while FFS is between a
    /// reap and the sync that writes its bitmaps, when its checker reports its own unfinished work.</param>
    public void AssertVictimIntact(bool libFsChecks = true)
    {
        Assert.Equal(VictimFiles, Snapshot(Victim));
        var xn = Host.CheckXn();
        Assert.True(xn.Clean, string.Join("\n", xn.Findings));
        if (!libFsChecks) return;
        var all = Host.Check();
        Assert.True(all.Clean, string.Join("\n", all.Findings));
    }

    /// <summary>
    /// Runs <paramref name="attack"/>; asserts XN's exact error, that the device bytes and XN's state
    /// fingerprint did not change, and that the victim is intact.
    /// </summary>
    public void Refused(XnError expected, Func<XnResult> attack, bool libFsChecks = true) => Unchanged(() =>
    {
        var r = attack();
        Assert.Equal(expected, r.Error);
        Assert.False(string.IsNullOrEmpty(r.Detail));
    }, libFsChecks);

    /// <summary>Runs <paramref name="attack"/> (which asserts its own refusal) and proves it changed nothing.</summary>
    public void Unchanged(Action attack, bool libFsChecks = true)
    {
        var dev = Dev.Snapshot();
        var state = Vol.StateFingerprint();
        attack();
        Assert.Equal(state, Vol.StateFingerprint());
        Assert.True(dev.AsSpan().SequenceEqual(Dev.Snapshot()), "device bytes changed");
        AssertVictimIntact(libFsChecks);
    }

    // ------------------------------------------------------------------ the victim's blocks, as XN knows them

    public int VictimRoot => Vol.FindRoot("victim");
    public BlockNo VictimSuper => Vol.Roots().Single(r => r.Name == "victim").Block;

    /// <summary>Every block XN's registry knows under the victim root, with its type name.</summary>
    public IEnumerable<(ulong Block, string Type, ulong Parent, int Partition)> VictimBlocks()
    {
        lock (Vol.Gate)
            return Vol.Registry.Values.Where(e => e.Root == VictimRoot)
                .Select(e => (e.Block, Vol.TypeTable.Get(e.Type)!.Name, e.Parent, e.Partition)).ToList();
    }

    public ulong VictimBlockOfType(string type) => VictimBlocks().First(b => b.Type == type).Block;

    /// <summary>The victim's data block whose bytes on disk begin with <paramref name="prefix"/>.</summary>
    public ulong VictimDataBlockStartingWith(ReadOnlySpan<byte> prefix)
    {
        var buf = new byte[4096];
        foreach (var b in VictimBlocks().Where(b => b.Type == XnTypes.DataName).OrderBy(b => b.Block))
        {
            Dev.Read(new BlockNo(b.Block), buf);
            if (buf.AsSpan().StartsWith(prefix)) return b.Block;
        }
        throw new InvalidOperationException("no such victim data block");
    }

    /// <summary>The victim's directory block naming <paramref name="name"/>.</summary>
    public ulong VictimDirectoryBlockNaming(string name)
    {
        var buf = new byte[4096];
        var bytes = Encoding.UTF8.GetBytes(name);
        foreach (var b in VictimBlocks().Where(b => b.Type == ExoFS.LibFs.Ffs.Format.FfsUdfs.DirType).OrderBy(b => b.Block))
        {
            Dev.Read(new BlockNo(b.Block), buf);
            if (buf.AsSpan().IndexOf(bytes) >= 0 && buf.AsSpan().IndexOf(HelloBytes) < 0) return b.Block;
        }
        throw new InvalidOperationException("no such victim directory block");
    }

    /// <summary>Where the victim's pointer to <paramref name="child"/> lies: parent block, partition, byte offset.</summary>
    public (BlockNo Parent, int Partition, int Offset) PointerTo(ulong child)
    {
        var e = VictimBlocks().Single(b => b.Block == child);
        var buf = new byte[4096];
        Dev.Read(new BlockNo(e.Parent), buf);
        for (int off = 0; off + 8 <= 4096; off += 8)
            if (BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(off)) == child) return (new BlockNo(e.Parent), e.Partition, off);
        throw new InvalidOperationException($"no pointer to {child} in {e.Parent}");
    }

    public static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    /// <summary>Closes the host and loads a new one (a new boot, new keys) on the same image, both guests attached again.</summary>
    public void Reboot(HostOptions? options = null)
    {
        Host.Dispose();
        var host = ExoHost.Load(Dev, out var error, options);
        Assert.True(host.Ok, error);
        Host = host.Value;
        VictimGuest = Attach("victim");
        HostileGuest = Attach("hostile");
    }

    public void Dispose() => Host.Dispose();
}
