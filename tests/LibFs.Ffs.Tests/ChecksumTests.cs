using System.Text;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// FFS's metadata checksums (XN's, per type) and data checksums (mkfs data-checksums): a byte flipped on the
/// device of a cleanly unmounted image is caught on the next access (EIO), named, reported by fsck, and by
/// default turns the file system read-only.
/// </summary>
public class ChecksumTests
{
    private static readonly Caller Me = new(1000, 1000);
    private const int Files = 10;   // inodes 2..11: the last ones live in the second inode-table block

    /// <summary>Where the interesting blocks of the test image are.</summary>
    private sealed record Blocks(ulong Super, ulong InodeBitmap, ulong FarInodes, ulong FarIno, ulong Ind1, ulong Xattr,
        ulong Data, ulong Dir);

    private static (MemoryDevice Dev, Blocks At) Image(bool dataChecksums = false)
    {
        var dev = new MemoryDevice(8192);
        var options = dataChecksums ? new Dictionary<string, string> { ["data-checksums"] = "on" } : null;
        var host = ExoHost.Format(dev, [new RootRequest("ffs", "ffs", options)], out string? error, libFses: [new FfsLibFs()]);
        Assert.True(host.Ok, error);
        Blocks at;
        using (host.Value)
        {
            var guest = host.Value.Attach("ffs", out error, libFs: new FfsLibFs());
            Assert.True(guest.Ok, error);
            using var g = guest.Value;
            var fs = (FfsFileSystem)g.FileSystem;
            var d = fs.MkDir(InodeNo.Root, "d", 0x1ED, Me).Value;
            ulong last = 0;
            for (int k = 0; k < Files; k++)
            {
                var (f, fh) = fs.Create(d.Ino, $"f{k}", 0x1A4, OpenFlags.ReadWrite, Me).Value;
                var bytes = new byte[k == Files - 1 ? 14 * 4096 : 100];   // the last one needs an indirect block
                new Random(k).NextBytes(bytes);
                Assert.Equal(bytes.Length, fs.Write(f.Ino, fh, 0, bytes).Value);
                fs.Release(f.Ino, fh);
                last = f.Ino.Value;
            }
            Assert.Equal(Errno.OK, fs.SetXattr(new InodeNo(last), "user.colour", "blue"u8, XattrFlags.None));
            var far = fs.Inodes.Get(last).Value;
            var dir = fs.Inodes.Get(d.Ino.Value).Value;
            var ge = fs.Alloc.Groups[0];
            at = new Blocks(fs.SuperBlock.Value, ge.InodeBitmap, fs.Alloc.Locate(last).Block.Value, last,
                far.Ptr[DiskInode.Ind1Slot], far.Ptr[DiskInode.XattrSlot], far.Ptr[0], dir.Ptr[0]);
            Assert.NotEqual(fs.Alloc.Locate(1).Block, fs.Alloc.Locate(last).Block);
        }
        return (dev, at);
    }

    private static void Flip(MemoryDevice dev, ulong block, int offset)
    {
        var b = new byte[4096];
        dev.Read(new BlockNo(block), b);
        b[offset] ^= 0x10;
        dev.Write(new BlockNo(block), b);
    }

    private static (ExoHost Host, Guest? Guest, string? Error) Mount(MemoryDevice dev, string? errors = null)
    {
        var host = ExoHost.Load(dev, out string? error);
        Assert.True(host.Ok, error);
        var options = errors is null ? null : new Dictionary<string, string> { ["errors"] = errors };
        var guest = host.Value.Attach("ffs", out error, options: options, libFs: new FfsLibFs());
        return (host.Value, guest.Ok ? guest.Value : null, error);
    }

    /// <summary>fsck's findings (XN's walk and FFS's checker) on the image as it is now.</summary>
    private static IReadOnlyList<XnFinding> Fsck(MemoryDevice dev)
    {
        var host = ExoHost.Load(dev, out string? error, new HostOptions { ReadOnly = true });
        Assert.True(host.Ok, error);
        using (host.Value) return host.Value.Check([new FfsRootChecker()]).Findings;
    }

    [Fact]
    public void A_good_image_passes_every_checksum()
    {
        var (dev, _) = Image(dataChecksums: true);
        Assert.Empty(Fsck(dev));
        var (host, guest, error) = Mount(dev);
        using (host)
        using (guest)
        {
            Assert.NotNull(guest);
            var fs = (FfsFileSystem)guest!.FileSystem;
            var f = fs.Lookup(fs.Lookup(InodeNo.Root, "d").Value.Ino, $"f{Files - 1}").Value;
            var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Value;
            var back = new byte[14 * 4096];
            Assert.Equal(back.Length, fs.Read(f.Ino, fh, 0, back).Value);
            var want = new byte[back.Length];
            new Random(Files - 1).NextBytes(want);
            Assert.Equal(want, back);
            Assert.Empty(fs.DamagedBlocks);
        }
    }

    [Theory]
    [InlineData("super")]
    [InlineData("ibitmap")]
    public void A_damaged_superblock_or_bitmap_fails_the_mount_with_the_block_named_and_fsck_reports_it(string kind)
    {
        var (dev, at) = Image();
        ulong block = kind == "super" ? at.Super : at.InodeBitmap;
        Flip(dev, block, kind == "super" ? 20 : 3);
        var (host, guest, error) = Mount(dev);
        using (host)
        {
            Assert.Null(guest);
            Assert.Contains($"block {block}", error);
            Assert.Contains("checksum", error);
        }
        Assert.Contains(Fsck(dev), f => f.Kind == XnFindingKind.Corrupt && f.Block == block);
    }

    [Theory]
    [InlineData("inodes")]
    [InlineData("ind1")]
    [InlineData("xattr")]
    public void A_damaged_inode_indirect_or_xattr_block_gives_EIO_then_EROFS_by_default(string kind)
    {
        var (dev, at) = Image();
        ulong block = kind switch { "inodes" => at.FarInodes, "ind1" => at.Ind1, _ => at.Xattr };
        Flip(dev, block, kind == "inodes" ? 4 : 8);
        var (host, guest, error) = Mount(dev);
        using (host)
        using (guest)
        {
            Assert.True(guest is not null, error);
            var fs = (FfsFileSystem)guest!.FileSystem;
            var d = fs.Lookup(InodeNo.Root, "d").Value.Ino;
            Assert.False(fs.StatFs().Value.ReadOnly);
            var access = Access(fs, d, kind);
            Assert.Equal(Errno.EIO, access);
            Assert.Contains(block, fs.DamagedBlocks);
            Assert.True(fs.RemountedReadOnly);
            Assert.True(fs.StatFs().Value.ReadOnly, "statfs must say ST_RDONLY once the mount turned read-only");
            Assert.Equal(Errno.EROFS, fs.MkDir(InodeNo.Root, "after", 0x1ED, Me).Error);
        }
        Assert.Contains(Fsck(dev), f => f.Kind == XnFindingKind.Corrupt && f.Block == block);
    }

    /// <summary>The access that touches the damaged block of <paramref name="kind"/>.</summary>
    private static Errno Access(FfsFileSystem fs, InodeNo dir, string kind)
    {
        var look = fs.Lookup(dir, $"f{Files - 1}");
        if (kind == "inodes") return look.Ok ? Errno.OK : look.Error;
        var f = look.Value;
        if (kind == "xattr") { var x = fs.GetXattr(f.Ino, "user.colour"); return x.Ok ? Errno.OK : x.Error; }
        var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Value;
        var r = fs.Read(f.Ino, fh, 13 * 4096, new byte[4096]);
        fs.Release(f.Ino, fh);
        return r.Ok ? Errno.OK : r.Error;
    }

    [Fact]
    public void With_errors_continue_the_file_system_stays_writable_after_an_EIO()
    {
        var (dev, at) = Image();
        Flip(dev, at.Ind1, 8);
        var (host, guest, error) = Mount(dev, errors: "continue");
        using (host)
        using (guest)
        {
            Assert.True(guest is not null, error);
            var fs = (FfsFileSystem)guest!.FileSystem;
            Assert.Equal(Errno.EIO, Access(fs, fs.Lookup(InodeNo.Root, "d").Value.Ino, "ind1"));
            Assert.False(fs.RemountedReadOnly);
            Assert.False(fs.StatFs().Value.ReadOnly);
            Assert.True(fs.MkDir(InodeNo.Root, "after", 0x1ED, Me).Ok);
        }
    }

    [Fact]
    public void A_bad_errors_option_is_refused_with_one_line()
    {
        var (dev, _) = Image();
        var (host, guest, error) = Mount(dev, errors: "panic");
        using (host)
        {
            Assert.Null(guest);
            Assert.Contains("errors= takes remount-ro or continue", error);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_flipped_data_byte_gives_EIO_only_with_data_checksums(bool dataChecksums)
    {
        var (dev, at) = Image(dataChecksums);
        Flip(dev, at.Data, 100);
        var (host, guest, error) = Mount(dev);
        using (host)
        using (guest)
        {
            Assert.True(guest is not null, error);
            var fs = (FfsFileSystem)guest!.FileSystem;
            var f = fs.Lookup(fs.Lookup(InodeNo.Root, "d").Value.Ino, $"f{Files - 1}").Value;
            var fh = fs.Open(f.Ino, OpenFlags.ReadWrite).Value;
            var r = fs.Read(f.Ino, fh, 0, new byte[200]);
            if (dataChecksums)
            {
                Assert.Equal(Errno.EIO, r.Error);
                Assert.Contains(at.Data, fs.DamagedBlocks);
                Assert.Equal(Errno.EROFS, fs.Write(f.Ino, fh, 0, "x"u8).Error);
            }
            else Assert.Equal(200, r.Value);   // today's behaviour: served as if valid
            fs.Release(f.Ino, fh);
        }
        var findings = Fsck(dev);
        if (dataChecksums) Assert.Contains(findings, f => f.Kind == XnFindingKind.LibFs && f.Detail.Contains($"data block {at.Data}"));
        else Assert.Empty(findings);
    }

    [Fact]
    public void Data_checksums_follow_overwrites_truncates_and_fallocate()
    {
        var (dev, _) = Image(dataChecksums: true);
        var (host, guest, error) = Mount(dev);
        using (host)
        using (guest)
        {
            Assert.True(guest is not null, error);
            var fs = (FfsFileSystem)guest!.FileSystem;
            var (f, fh) = fs.Create(InodeNo.Root, "g", 0x1A4, OpenFlags.ReadWrite, Me).Value;
            Assert.Equal(3, fs.Write(f.Ino, fh, 5000, "abc"u8).Value);
            Assert.True(fs.SetAttr(f.Ino, new SetAttrRequest { Size = 5001 }).Ok);
            Assert.Equal(Errno.OK, fs.Fallocate(f.Ino, fh, FallocateMode.KeepSize, 0, 20000));
            var back = new byte[5001];
            Assert.Equal(5001, fs.Read(f.Ino, fh, 0, back).Value);
            Assert.Equal((byte)'a', back[5000]);
            fs.Release(f.Ino, fh);
            Assert.Equal(Errno.OK, fs.Sync());
            Assert.Empty(fs.DamagedBlocks);
        }
        Assert.Empty(Fsck(dev));
    }
}
