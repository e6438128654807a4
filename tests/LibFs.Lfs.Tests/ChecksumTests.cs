using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// Every log block is checked against the CRC-32C its summary recorded: damage, or an older copy of a block
/// (valid in itself) where the log wrote a newer one, answers EIO, names the block once, and the checker
/// (<c>exofs fsck</c>) reports it.
/// </summary>
public sealed class ChecksumTests
{
    private static readonly InodeNo Root = InodeNo.Root;

    private static (MemoryDevice Dev, byte[] Data) Image(out ulong[] addrs, Action<LfsFileSystem>? more = null)
    {
        var dev = new MemoryDevice(8192);
        var fs = LfsImage.FormatDevice(dev, out _).Value;
        var data = new byte[3 * 4096];
        new Random(7).NextBytes(data);
        var f = fs.WriteFile(Root, "f", data);
        more?.Invoke(fs);
        fs.Dispose();
        fs = LfsImage.MountDevice(dev, out _).Value;
        lock (fs.Lock)
        {
            var i = fs.GetInode(fs.Get(Root, "f").Ino.Value).Value;
            addrs = Enumerable.Range(0, 3).Select(b => fs.Tree.Lookup(i, (ulong)b).Value).ToArray();
        }
        fs.Dispose();
        return (dev, data);
    }

    private static byte[] ReadBlock(MemoryDevice dev, ulong b)
    {
        var buf = new byte[4096];
        dev.Read(new BlockNo(b), buf);
        return buf;
    }

    private static void WriteBlock(MemoryDevice dev, ulong b, byte[] bytes)
    {
        dev.Write(new BlockNo(b), bytes);
        dev.Flush();
    }

    private static List<string> Fsck(MemoryDevice dev)
    {
        var vol = ExoFS.Xn.XnVolume.Load(dev, new ExoFS.Kernel.ExoKernel()).Value;
        try { return vol.CheckRoots([new LfsRootChecker(), new LfsSegmentRootChecker()]).Select(f => f.Detail).ToList(); }
        finally { vol.Dispose(); }
    }

    private static Errno ReadErrno(LfsFileSystem fs, InodeNo ino, long offset)
    {
        var fh = fs.Open(ino, OpenFlags.ReadOnly).Ok();
        try { return fs.Read(ino, fh, offset, new byte[4096]).Error; }
        finally { fs.Release(ino, fh); }
    }

    [Fact]
    public void A_damaged_data_block_reads_as_EIO_is_named_once_and_fsck_reports_it()
    {
        var (dev, data) = Image(out var addrs);
        Assert.Empty(Fsck(dev));
        var b = ReadBlock(dev, addrs[1]);
        b[100] ^= 0x40;
        WriteBlock(dev, addrs[1], b);

        var fs = LfsImage.MountDevice(dev, out _).Value;
        var lines = new List<string>();
        fs.DamageLog = lines.Add;
        var f = fs.Get(Root, "f").Ino;
        Assert.Equal(data.AsSpan(0, 4096).ToArray(), fs.ReadAt(f, 0, 4096)); // the intact block still reads
        Assert.Equal(Errno.EIO, ReadErrno(fs, f, 4096));
        Assert.Equal(Errno.EIO, ReadErrno(fs, f, 4096));
        Assert.Equal(new[] { addrs[1] }, fs.DamagedBlocks);
        var line = Assert.Single(lines);
        Assert.Contains($"block {addrs[1]} (Data block", line);
        Assert.Contains("checksum", line);
        fs.Dispose();

        var findings = Fsck(dev);
        Assert.Contains(findings, d => d.Contains($"block {addrs[1]}") && d.Contains("checksum"));
    }

    [Fact]
    public void An_older_copy_of_a_block_where_the_log_wrote_a_newer_one_is_refused()
    {
        // Block 1 is overwritten: the log puts the new content at a new address and the old one still holds the
        // old bytes (valid data, as a lost write would leave). Copied over the new address, it must not be served.
        ulong oldAddr = 0;
        var (dev, data) = Image(out var before);
        var fs = LfsImage.MountDevice(dev, out _).Value;
        var f = fs.Get(Root, "f").Ino;
        var newer = new byte[4096];
        new Random(8).NextBytes(newer);
        var fh = fs.Open(f, OpenFlags.ReadWrite).Ok();
        Assert.Equal(4096, fs.Write(f, fh, 4096, newer).Ok());
        fs.Release(f, fh).Ok();
        fs.Dispose();
        oldAddr = before[1];
        fs = LfsImage.MountDevice(dev, out _).Value;
        ulong newAddr;
        lock (fs.Lock) newAddr = fs.Tree.Lookup(fs.GetInode(f.Value).Value, 1).Value;
        fs.Dispose();
        Assert.NotEqual(oldAddr, newAddr);
        Assert.Equal(data.AsSpan(4096, 4096).ToArray(), ReadBlock(dev, oldAddr));
        WriteBlock(dev, newAddr, ReadBlock(dev, oldAddr));

        fs = LfsImage.MountDevice(dev, out _).Value;
        fs.DamageLog = _ => { };
        Assert.Equal(Errno.EIO, ReadErrno(fs, fs.Get(Root, "f").Ino, 4096));
        fs.Dispose();
        Assert.Contains(Fsck(dev), d => d.Contains($"block {newAddr}") && d.Contains("checksum"));
    }

    [Fact]
    public void A_damaged_directory_block_is_EIO_to_lookup_and_reported_by_fsck()
    {
        ulong dirBlock = 0;
        var (dev, _) = Image(out _, fs =>
        {
            var d = fs.MakeDir(Root, "d");
            fs.WriteFile(d.Ino, "inside", "x");
        });
        var fs = LfsImage.MountDevice(dev, out _).Value;
        var dIno = fs.Get(Root, "d").Ino;
        lock (fs.Lock) dirBlock = fs.Tree.Lookup(fs.GetInode(dIno.Value).Value, 0).Value;
        fs.Dispose();
        var b = ReadBlock(dev, dirBlock);
        b[4000] ^= 1;
        WriteBlock(dev, dirBlock, b);

        fs = LfsImage.MountDevice(dev, out _).Value;
        fs.DamageLog = _ => { };
        Assert.Equal(Errno.EIO, fs.Lookup(fs.Get(Root, "d").Ino, "inside").Error);
        fs.Dispose();
        Assert.Contains(Fsck(dev), d => d.Contains($"block {dirBlock}") && d.Contains("checksum"));
    }

    [Fact]
    public void A_damaged_inode_map_block_refuses_the_mount_with_one_line_naming_it()
    {
        var (dev, _) = Image(out _);
        var fs = LfsImage.MountDevice(dev, out _).Value;
        ulong imap;
        lock (fs.Lock) imap = fs.Imap.BlockAddrs[0];
        fs.Dispose();
        var b = ReadBlock(dev, imap);
        b[4095] ^= 0x80; // past the entries in use: only the checksum can tell
        WriteBlock(dev, imap, b);

        var r = LfsImage.MountDevice(dev, out string? error);
        Assert.False(r.Ok);
        Assert.NotNull(error);
        Assert.DoesNotContain('\n', error);
        Assert.Contains(Fsck(dev), d => d.Contains($"block {imap}") && d.Contains("checksum"));
    }
}
