using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// FFS format 5: every FFS metadata block carries an XN write sequence, so XN's block-version table refuses a whole
/// older copy of a block (a lost or rolled-back write), which carries the valid CRC it had then. Here a block of a
/// cleanly unmounted image is rolled back on the device to the version it had one session earlier: the access that
/// reads it gets EIO, the block is named, and fsck reports it as a stale copy (not as a checksum mismatch: its CRC is
/// good). On format 4 every one of these was served as current.
/// </summary>
public class BlockVersionTests
{
    private static readonly Caller Me = new(1000, 1000);

    /// <summary>Where the blocks the second session changes are.</summary>
    private sealed record Blocks(ulong Inodes, ulong Ind1, ulong Dir, ulong Xattr, ulong Ino, ulong DirIno);

    /// <summary>
    /// An image with /d/big (an indirect block) and an xattr, unmounted cleanly; then its device's bytes as they are
    /// (the "older" versions); then a second session that changes the inode, the indirect block, the directory block
    /// and the xattr block of those files, unmounted cleanly.
    /// </summary>
    private static (MemoryDevice Dev, byte[] Older, Blocks At) Image()
    {
        var dev = new MemoryDevice(8192);
        var host = ExoHost.Format(dev, [new RootRequest("ffs", "ffs", null)], out string? error, libFses: [new FfsLibFs()]);
        Assert.True(host.Ok, error);
        Blocks at;
        using (host.Value)
        {
            var guest = host.Value.Attach("ffs", out error, libFs: new FfsLibFs());
            Assert.True(guest.Ok, error);
            using var g = guest.Value;
            var fs = (FfsFileSystem)g.FileSystem;
            var d = fs.MkDir(InodeNo.Root, "d", 0x1ED, Me).Value;
            // Inodes 3..10, so that big's inode is in the second inode-table block (a mount reads the first, the root's).
            for (int k = 0; k < 8; k++) Assert.True(fs.Create(d.Ino, $"f{k}", 0x1A4, OpenFlags.ReadWrite, Me).Ok);
            var (f, fh) = fs.Create(d.Ino, "big", 0x1A4, OpenFlags.ReadWrite, Me).Value;
            Assert.NotEqual(fs.Alloc.Locate(1).Block, fs.Alloc.Locate(f.Ino.Value).Block);
            Assert.Equal(14 * 4096, fs.Write(f.Ino, fh, 0, Content(14 * 4096, 1)).Value);
            fs.Release(f.Ino, fh);
            Assert.Equal(Errno.OK, fs.SetXattr(f.Ino, "user.colour", "blue"u8, XattrFlags.None));
            var i = fs.Inodes.Get(f.Ino.Value).Value;
            at = new Blocks(fs.Alloc.Locate(f.Ino.Value).Block.Value, i.Ptr[DiskInode.Ind1Slot],
                fs.Inodes.Get(d.Ino.Value).Value.Ptr[0], i.Ptr[DiskInode.XattrSlot], f.Ino.Value, d.Ino.Value);
        }
        var older = dev.Snapshot();

        var again = ExoHost.Load(dev, out error);
        Assert.True(again.Ok, error);
        using (again.Value)
        {
            var guest = again.Value.Attach("ffs", out error, libFs: new FfsLibFs());
            Assert.True(guest.Ok, error);
            using var g = guest.Value;
            var fs = (FfsFileSystem)g.FileSystem;
            var ino = new InodeNo(at.Ino);
            var fh = fs.Open(ino, OpenFlags.ReadWrite).Value;
            Assert.Equal(4096, fs.Write(ino, fh, 14 * 4096, Content(4096, 2)).Value);   // a new pointer in the indirect block
            fs.Release(ino, fh);
            Assert.True(fs.SetAttr(ino, new SetAttrRequest { Mode = 0x180 }).Ok);          // the inode
            Assert.Equal(Errno.OK, fs.SetXattr(ino, "user.colour", "green"u8, XattrFlags.None));
            Assert.True(fs.Create(new InodeNo(at.DirIno), "new", 0x1A4, OpenFlags.ReadWrite, Me).Ok);   // the directory block
        }
        return (dev, older, at);
    }

    private static byte[] Content(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Puts <paramref name="block"/>'s bytes from <paramref name="older"/> back on the device.</summary>
    private static void RollBack(MemoryDevice dev, byte[] older, ulong block)
    {
        var now = new byte[4096];
        dev.Read(new BlockNo(block), now);
        var then = older.AsSpan(checked((int)block * 4096), 4096).ToArray();
        Assert.False(now.AsSpan().SequenceEqual(then), $"block {block} did not change in the second session");
        dev.Write(new BlockNo(block), then);
    }

    private static IReadOnlyList<XnFinding> Fsck(MemoryDevice dev)
    {
        var host = ExoHost.Load(dev, out string? error, new HostOptions { ReadOnly = true });
        Assert.True(host.Ok, error);
        using (host.Value) return host.Value.Check([new FfsRootChecker()]).Findings;
    }

    [Fact]
    public void The_image_is_clean_before_any_roll_back()
    {
        var (dev, _, _) = Image();
        Assert.Empty(Fsck(dev));
    }

    [Theory]
    [InlineData("inodes")]
    [InlineData("ind1")]
    [InlineData("dir")]
    [InlineData("xattr")]
    public void A_block_rolled_back_to_its_previous_version_is_refused_with_EIO_and_reported_by_fsck(string kind)
    {
        var (dev, older, at) = Image();
        ulong block = kind switch { "inodes" => at.Inodes, "ind1" => at.Ind1, "dir" => at.Dir, _ => at.Xattr };
        RollBack(dev, older, block);

        var host = ExoHost.Load(dev, out string? error);
        Assert.True(host.Ok, error);
        using (host.Value)
        {
            var guest = host.Value.Attach("ffs", out error, libFs: new FfsLibFs());
            Assert.True(guest.Ok, error);
            using var g = guest.Value;
            var fs = (FfsFileSystem)g.FileSystem;
            Assert.Equal(Errno.EIO, Access(fs, at, kind));
            Assert.Contains(block, fs.DamagedBlocks);
            Assert.True(fs.RemountedReadOnly);
        }
        var findings = Fsck(dev);
        Assert.Contains(findings, f => f.Kind == XnFindingKind.Corrupt && f.Block == block && f.Detail.Contains("stale copy"));
    }

    /// <summary>The access that reads the rolled-back block of <paramref name="kind"/>.</summary>
    private static Errno Access(FfsFileSystem fs, Blocks at, string kind)
    {
        var ino = new InodeNo(at.Ino);
        switch (kind)
        {
            case "inodes": { var a = fs.GetAttr(ino); return a.Ok ? Errno.OK : a.Error; }
            case "dir": { var l = fs.Lookup(new InodeNo(at.DirIno), "new"); return l.Ok ? Errno.OK : l.Error; }
            case "xattr": { var x = fs.GetXattr(ino, "user.colour"); return x.Ok ? Errno.OK : x.Error; }
            default:
                var fh = fs.Open(ino, OpenFlags.ReadOnly).Value;
                var r = fs.Read(ino, fh, 14 * 4096, new byte[4096]);
                fs.Release(ino, fh);
                return r.Ok ? Errno.OK : r.Error;
        }
    }

    [Fact]
    public void Every_ffs_type_declares_a_write_sequence_outside_its_read_sets_and_raw_ranges()
    {
        Assert.Equal(5u, Superblock.CurrentVersion);
        Assert.All(XnFfsDisk.Specs, s =>
        {
            Assert.NotNull(s.SequenceOffset);
            var seq = new ByteRange(s.SequenceOffset!.Value, FfsLayout.SequenceBytes);
            Assert.DoesNotContain(s.RawWrite, r => r.Overlaps(seq));
            Assert.False(seq.Overlaps(new ByteRange(s.ChecksumOffset!.Value, 4)));
        });
        // XN's registration checks the read sets too: every spec registers on a fresh volume.
        var kernel = new Kernel.ExoKernel();
        using var vol = XnVolume.Format(new MemoryDevice(4096), kernel).Value;
        var xn = new Runtime.XnClient(vol.Attach(kernel.CreateEnvironment("ffs")));
        Assert.True(XnFfsDisk.Create(xn, vol.BlockCount).Ok, xn.LastRefusal);
    }

    [Fact]
    public void A_format_4_image_whose_types_have_no_write_sequence_is_refused_as_an_older_format()
    {
        // Format 4's types are format 5's without the sequence field: registering format 5's over them is TypeExists.
        var kernel = new Kernel.ExoKernel();
        using var vol = XnVolume.Format(new MemoryDevice(4096), kernel).Value;
        var xn = new Runtime.XnClient(vol.Attach(kernel.CreateEnvironment("ffs")));
        foreach (var spec in XnFfsDisk.Specs) Assert.True(xn.RegisterType(spec with { SequenceOffset = null }).Ok, xn.LastRefusal);
        var before = vol.TypeTable.Count;
        Assert.False(XnFfsDisk.Create(xn, vol.BlockCount).Ok);
        string why = XnFfsDisk.TypesRefused(xn);
        Assert.Contains("older format", why);
        Assert.Contains("format 5", why);
        Assert.Equal(before, vol.TypeTable.Count);
    }

    [Fact]
    public void A_superblock_of_format_4_is_named_as_such_when_mounted()
    {
        ulong superBlock;
        TypeId superType;
        var dev = new MemoryDevice(8192);
        var host = ExoHost.Format(dev, [new RootRequest("ffs", "ffs", null)], out string? error, libFses: [new FfsLibFs()]);
        Assert.True(host.Ok, error);
        using (host.Value)
        {
            var guest = host.Value.Attach("ffs", out error, libFs: new FfsLibFs());
            Assert.True(guest.Ok, error);
            using var g = guest.Value;
            var fs = (FfsFileSystem)g.FileSystem;
            (superBlock, superType) = (fs.SuperBlock.Value, ((XnFfsDisk)fs.Disk).SuperType);
        }
        // The header says format 4 (with the CRC XN would have stamped, so that only the version is wrong).
        var b = new byte[4096];
        dev.Read(new BlockNo(superBlock), b);
        BitConverter.TryWriteBytes(b.AsSpan(Superblock.VersionOffset), 4u);
        Xn.Format.BlockChecksum.Stamp(superBlock, superType, b, Superblock.ChecksumOffset);
        dev.Write(new BlockNo(superBlock), b);
        var again = ExoHost.Load(dev, out error);
        Assert.True(again.Ok, error);
        using (again.Value)
        {
            var guest = again.Value.Attach("ffs", out error, libFs: new FfsLibFs());
            Assert.False(guest.Ok);
            Assert.Contains("holds an FFS of format 4; this build reads format 5 only", error);
        }
    }
}
