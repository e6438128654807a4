using System.Text.RegularExpressions;
using ExoFS.Host;
using ExoFS.LibFs;

namespace ExoFS.Cli.Tests;

/// <summary><c>exofs inspect</c>: file verbs through the libFS contract, block verbs through XN, on closed and mounted images.</summary>
public sealed class InspectTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("exofs-inspect-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Exofs(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Dispatch(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>An FFS image holding /big (large enough to need an indirect block) and /d/small, written through its libFS.</summary>
    private string MakeImage(out byte[] big)
    {
        string image = Path.Combine(_dir, "fs.img");
        Assert.Equal(0, Exofs("mkfs", image, "--size", "64M", "-L", "inspected").Code);
        big = new byte[3 << 20];
        new Random(16).NextBytes(big);
        var host = ExoHost.OpenImage(image, out string? error);
        Assert.True(host.Ok, error);
        using (host.Value)
        {
            var guest = host.Value.Attach("ffs", out error);
            Assert.True(guest.Ok, error);
            using (guest.Value)
            {
                var fs = guest.Value.FileSystem;
                var f = fs.Create(InodeNo.Root, "big", 0x81A4, OpenFlags.ReadWrite, Caller.Root);
                Assert.True(f.Ok);
                Assert.Equal(big.Length, fs.Write(f.Value.Attr.Ino, f.Value.Handle, 0, big).Value);
                fs.Release(f.Value.Attr.Ino, f.Value.Handle);
                var d = fs.MkDir(InodeNo.Root, "d", 0x41ED, Caller.Root);
                var s = fs.Create(d.Value.Ino, "small", 0x81A4, OpenFlags.ReadWrite, Caller.Root);
                fs.Write(s.Value.Attr.Ino, s.Value.Handle, 0, "hello\n"u8);
                fs.Release(s.Value.Attr.Ino, s.Value.Handle);
            }
        }
        return image;
    }

    private static List<(ulong Start, ulong Count, string Type)> Extents(string udfOutput) =>
        Regex.Matches(udfOutput, @"^\s+\[(\d+)\+(\d+)\] (\S+)$", RegexOptions.Multiline)
            .Select(m => (ulong.Parse(m.Groups[1].Value), ulong.Parse(m.Groups[2].Value), m.Groups[3].Value)).ToList();

    [Fact]
    public void Block_names_the_owner_of_an_inode_block_an_indirect_block_and_a_data_block()
    {
        string image = MakeImage(out _);
        var roots = Exofs("inspect", image, "roots");
        Assert.Equal(0, roots.Code);
        Assert.Contains("label inspected", roots.Out);
        ulong rootBlock = ulong.Parse(Regex.Match(roots.Out, @"^ffs\s+block (\d+)", RegexOptions.Multiline).Groups[1].Value);

        // The root's owns-UDF names its inode blocks; one of them holds /big's inode, which owns an indirect block.
        var super = Exofs("inspect", image, "block", rootBlock.ToString());
        Assert.Contains($"owner:     root 'ffs' (its root block), type ffs.super", super.Out);
        var inodeBlocks = Extents(super.Out).Where(x => x.Type == "ffs.inodes").SelectMany(x => Enumerable.Range(0, (int)x.Count).Select(i => x.Start + (ulong)i)).Take(8);
        ulong inodeBlock = 0, indirect = 0, direct = 0;
        foreach (var b in inodeBlocks)
        {
            var owned = Extents(Exofs("inspect", image, "udf", "ffs.inodes", b.ToString()).Out);
            if (owned.FirstOrDefault(x => x.Type == "ffs.ind1") is { Count: > 0 } ind)
            {
                (inodeBlock, indirect, direct) = (b, ind.Start, owned.First(x => x.Type == "xn.data").Start);
                break;
            }
        }
        Assert.NotEqual(0UL, indirect);

        var ofInode = Exofs("inspect", image, "block", inodeBlock.ToString()).Out;
        Assert.Contains($"owner:     root 'ffs', type ffs.inodes, parent block {rootBlock} (ffs.super)", ofInode);
        Assert.Contains("free map:  allocated", ofInode);
        var ofIndirect = Exofs("inspect", image, "block", indirect.ToString()).Out;
        Assert.Contains($"owner:     root 'ffs', type ffs.ind1, parent block {inodeBlock} (ffs.inodes)", ofIndirect);
        Assert.Contains($"owner:     root 'ffs', type xn.data, parent block {inodeBlock} (ffs.inodes)", Exofs("inspect", image, "block", direct.ToString()).Out);
        // A data block under the indirect block names the indirect block as its parent.
        ulong under = Extents(ofIndirect).First(x => x.Type == "xn.data").Start;
        Assert.Contains($"owner:     root 'ffs', type xn.data, parent block {indirect} (ffs.ind1)", Exofs("inspect", image, "block", under.ToString()).Out);

        // A free block is free and owned by nobody; XN's own blocks are XN's.
        var free = Regex.Match(Exofs("inspect", image, "free").Out, @"^\[(\d+)\+", RegexOptions.Multiline).Groups[1].Value;
        var ofFree = Exofs("inspect", image, "block", free).Out;
        Assert.Contains("free map:  free", ofFree);
        Assert.Contains("owner:     none", ofFree);
        Assert.Contains("(superblock)", Exofs("inspect", image, "block", "0").Out);
    }

    [Fact]
    public void Ls_stat_and_cat_read_through_the_libfs()
    {
        string image = MakeImage(out byte[] big);
        var ls = Exofs("inspect", image, "ls", "/");
        Assert.Equal(0, ls.Code);
        Assert.Matches(@"-644\s+1\s+3145728 big", ls.Out);
        Assert.Matches(@"d755\s+2\s+\d+ d", ls.Out);
        Assert.Equal("hello\n", Exofs("inspect", image, "cat", "/d/small").Out);
        var stat = Exofs("inspect", image, "stat", "/big").Out;
        Assert.Contains("size:   3145728 bytes", stat);
        string ino = Regex.Match(stat, @"inode:\s+(\d+)").Groups[1].Value;
        Assert.Contains("size:   3145728 bytes", Exofs("inspect", image, "stat", "#" + ino).Out);
        var missing = Exofs("inspect", image, "cat", "/nope");
        Assert.Equal(1, missing.Code);
        Assert.Equal("exofs inspect: cat: /nope: no such file or directory\n", missing.Err);
        // Read-only: inspecting changes no byte of the image.
        byte[] before = File.ReadAllBytes(image);
        Exofs("inspect", image, "cat", "/big");
        Exofs("inspect", image, "block", "200");
        Assert.Equal(before, File.ReadAllBytes(image));
        Assert.Equal(0, Exofs("fsck", image).Code);
    }

    [FuseFact]
    public void Cat_gives_the_bytes_a_mount_reads_on_a_mounted_and_on_an_unmounted_image()
    {
        using var h = new MountCliHarness();
        string image = h.MakeImage("tree.img", "128M");
        string mnt = h.NewMountPoint();
        h.Mount(image, mnt);
        // A tree of files: empty, small, a block boundary, large and binary, nested.
        h.Ok($"cd {mnt} && mkdir -p a/b/c && : > empty && printf 'x' > a/one && head -c 4096 /dev/urandom > a/b/block "
             + "&& head -c 5000000 /dev/urandom > a/b/c/large && cp /bin/ls a/ls && sync");
        string[] files = ["empty", "a/one", "a/b/block", "a/b/c/large", "a/ls"];
        string exofs = Path.Combine(AppContext.BaseDirectory, "exofs");
        // Mounted: the image's daemon answers, and its bytes equal what the mount reads.
        foreach (var f in files)
            h.Ok($"EXOFS_RUN_DIR='{h.RunDir}' '{exofs}' inspect '{image}' cat /{f} > got && cmp got '{mnt}/{f}' && cp '{mnt}/{f}' 'want-{f.Replace('/', '_')}'");
        Assert.Contains("large", h.Exofs("inspect", image, "ls", "/a/b/c").Out);
        h.Umount(mnt);
        // Unmounted: read through a read-only guest of a host of our own; the same bytes.
        foreach (var f in files)
            h.Ok($"'{exofs}' inspect '{image}' cat /{f} > got && cmp got 'want-{f.Replace('/', '_')}'");
    }
}
