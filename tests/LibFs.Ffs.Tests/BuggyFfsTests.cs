using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Testing;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// A deliberately buggy FFS (internal switches, like the crash tests' broken variants) over the real XN: a
/// malformed directory block and a size that disagrees with the blocks an inode owns are refused by XN with the
/// exact error — FFS's own acl- and size-UDFs (Format/FfsUdfs.cs) deciding — and leave the device as it was and
/// the file system clean when it is mounted again.
/// </summary>
public class BuggyFfsTests
{
    private static readonly Caller Me = new(1000, 1000);

    private static XnFfsDisk Xn(FfsFileSystem fs) => (XnFfsDisk)fs.Disk;

    private static byte[] Synced(FfsFileSystem fs, MemoryDevice dev)
    {
        Assert.Equal(Errno.OK, fs.Sync());
        return dev.Snapshot();
    }

    /// <summary>The blocks that differ between two snapshots (for the failure message).</summary>
    private static string Changed(byte[] a, byte[] b) =>
        string.Join(",", Enumerable.Range(0, a.Length / 4096).Where(k => !a.AsSpan(k * 4096, 4096).SequenceEqual(b.AsSpan(k * 4096, 4096)))
            .Select(k => $"{k} (bytes {string.Join(" ", Enumerable.Range(0, 4096).Where(i => a[k * 4096 + i] != b[k * 4096 + i]).Take(12))})"));

    /// <summary>Mounts the device again (a new host: nothing of the buggy mount's memory) and checks it.</summary>
    private static FfsFileSystem Remounted(MemoryDevice dev)
    {
        var again = HostedFfs.MountDevice(dev, out string? error);
        Assert.True(again.Ok, error);
        var report = Fsck.Check(again.Value);
        Assert.True(report.Clean, report.ToString());
        return again.Value;
    }

    [Fact]
    public void A_malformed_directory_block_is_refused_by_the_ffs_dir_acl_and_changes_nothing()
    {
        var dev = new MemoryDevice(16384);
        var fs = HostedFfs.FormatDevice(dev, out string? error).Value;
        Assert.NotNull(fs);
        var d = fs.MkDir(InodeNo.Root, "d", 0x1ED, Me).Value;
        var (f, fh) = fs.Create(d.Ino, "keep", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Release(f.Ino, fh);
        var before = Synced(fs, dev);

        fs.MalformedDirectoryEntries = true;
        // Removing a name is one write of the directory block, refused whole.
        Assert.Equal(Errno.EIO, fs.Unlink(d.Ino, "keep"));
        Assert.Equal(XnError.AclDenied, Xn(fs).Client.LastError);
        Assert.Contains("acl of type 'ffs.dir' refuses", Xn(fs).Client.LastRefusal);
        var after = Synced(fs, dev);
        Assert.True(before.AsSpan().SequenceEqual(after), "the refused unlink changed blocks " + Changed(before, after));
        // A new name in a new block is refused too (the whole block is checked, not just the bytes written).
        for (int k = 0; k < 3; k++) Assert.Equal(Errno.EIO, fs.MkNod(d.Ino, $"n{k}", FileMode.Fifo | 0x1A4, 0, Me).Error);
        Assert.Equal(XnError.AclDenied, Xn(fs).Client.LastError);

        using var again = Remounted(dev);
        var keep = again.Lookup(new InodeNo(d.Ino.Value), "keep");
        Assert.True(keep.Ok);
        Assert.Equal(Errno.ENOENT, again.Lookup(new InodeNo(d.Ino.Value), "n0").Error);
    }

    [Fact]
    public void A_truncate_that_keeps_the_blocks_past_the_new_size_is_refused_by_the_inode_size_udf()
    {
        var dev = new MemoryDevice(16384);
        var fs = HostedFfs.FormatDevice(dev, out string? error).Value;
        Assert.NotNull(fs);
        var (f, fh) = fs.Create(InodeNo.Root, "three", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var data = new byte[3 * 4096];
        new Random(7).NextBytes(data);
        Assert.Equal(data.Length, fs.Write(f.Ino, fh, 0, data).Value);
        var before = Synced(fs, dev);

        fs.SizeAgreesWithBlocks = false;
        // To a block boundary: no tail to zero, so the inode write is the truncate's only change.
        var r = fs.SetAttr(f.Ino, new SetAttrRequest { Size = 4096 });
        Assert.Equal(Errno.EIO, r.Error);
        Assert.Equal(XnError.SizeMismatch, Xn(fs).Client.LastError);
        Assert.Contains("would own 3 block(s) of its sized types, but its size of 4096 bytes covers 1", Xn(fs).Client.LastRefusal);
        var after = Synced(fs, dev);
        Assert.True(before.AsSpan().SequenceEqual(after), "the refused truncate changed blocks " + Changed(before, after));

        using var again = Remounted(dev);
        var attr = again.GetAttr(f.Ino).Value;
        Assert.Equal((ulong)data.Length, attr.Size);
        var oh = again.Open(f.Ino, OpenFlags.ReadOnly).Value;
        var back = new byte[data.Length];
        Assert.Equal(data.Length, again.Read(f.Ino, oh, 0, back).Value);
        Assert.Equal(data, back);
    }

    [Fact]
    public void A_block_allocated_past_the_end_of_file_without_growing_the_size_is_refused()
    {
        var dev = new MemoryDevice(16384);
        var fs = HostedFfs.FormatDevice(dev, out string? error).Value;
        Assert.NotNull(fs);
        var (f, fh) = fs.Create(InodeNo.Root, "empty", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var before = Synced(fs, dev);

        fs.SizeAgreesWithBlocks = false;
        Assert.Equal(Errno.EIO, fs.Write(f.Ino, fh, 8192, new byte[100]).Error);
        Assert.Equal(XnError.SizeMismatch, Xn(fs).Client.LastError);
        Assert.Contains("covers 0", Xn(fs).Client.LastRefusal);
        var after = Synced(fs, dev);
        Assert.True(before.AsSpan().SequenceEqual(after), "the refused write changed blocks " + Changed(before, after));

        // The same write with the size carried in the Alloc (the real FFS) is accepted.
        fs.SizeAgreesWithBlocks = true;
        Assert.Equal(100, fs.Write(f.Ino, fh, 8192, new byte[100]).Value);
        Assert.Equal(Errno.OK, fs.Sync());
        using var again = Remounted(dev);
        Assert.Equal(8192UL + 100, again.GetAttr(f.Ino).Value.Size);
    }
}
