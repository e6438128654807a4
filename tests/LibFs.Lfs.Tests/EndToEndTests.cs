using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

public sealed class EndToEndTests
{
    private static readonly InodeNo Root = InodeNo.Root;

    [Fact]
    public void Files_written_before_unmount_are_there_after_remount()
    {
        var (fs, dev) = LfsTestKit.Fresh();
        var dir = fs.MakeDir(Root, "d");
        var data = new byte[100_000];
        new Random(3).NextBytes(data);
        fs.WriteFile(dir.Ino, "big", data);
        fs.WriteFile(Root, "small", "hello");
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsTestKit.Mount(dev);
        Assert.Equal(new[] { "d", "small" }, again.Names(Root).OrderBy(n => n));
        Assert.Equal(data, again.ReadFile(again.Get(again.Get(Root, "d").Ino, "big").Ino));
        Assert.Equal("hello", again.ReadText(again.Get(Root, "small").Ino));
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }
}

public sealed class FsyncTests
{
    [Fact]
    public void Fsync_makes_a_write_unit_durable_without_writing_a_checkpoint()
    {
        var (fs, dev) = LfsTestKit.Fresh(4UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10, MaxInodes = 1024 });
        fs.Dispose();
        fs = LfsTestKit.Mount(dev);
        ulong cp = fs.CheckpointSeq;
        var (attr, fh) = fs.Create(InodeNo.Root, "f", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Value;
        fs.Write(attr.Ino, fh, 0, new byte[] { 1, 2, 3 });
        Assert.Equal(Errno.OK, fs.Fsync(attr.Ino, fh, false));
        Assert.Equal(cp, fs.CheckpointSeq);
        fs.Release(attr.Ino, fh);
        fs.Dispose();
    }
}

public sealed class CheckerTests
{
    [Fact]
    public void Exofs_fsck_checker_finds_an_lfs_root_clean_and_reports_a_damaged_one()
    {
        var dev = new ExoFS.Kernel.Disk.MemoryDevice(8192);
        var fs = LfsImage.FormatDevice(dev, out _).Value;
        fs.WriteFile(InodeNo.Root, "f", "data");
        fs.Dispose();
        var kernel = new ExoFS.Kernel.ExoKernel();
        var vol = ExoFS.Xn.XnVolume.Load(dev, kernel).Value;
        var clean = vol.CheckRoots([new LfsRootChecker(), new LfsSegmentRootChecker()]);
        Assert.Empty(clean);
        Assert.Empty(vol.Check().Errors);
        vol.Dispose();
        // Tear both checkpoint regions: the root no longer mounts, and the checker says so.
        var again = LfsImage.MountDevice(dev, out _).Value;
        ulong cp0, cp1;
        lock (again.Lock) { cp0 = ((XnLfsDisk)again.RawDisk).CheckpointStart(0); cp1 = ((XnLfsDisk)again.RawDisk).CheckpointStart(1); }
        again.Dispose();
        var junk = new byte[4096];
        junk.AsSpan().Fill(0xEE);
        dev.Write(new ExoFS.Kernel.Disk.BlockNo(cp0), junk);
        dev.Write(new ExoFS.Kernel.Disk.BlockNo(cp1), junk);
        dev.Flush();
        vol = ExoFS.Xn.XnVolume.Load(dev, new ExoFS.Kernel.ExoKernel()).Value;
        var findings = vol.CheckRoots([new LfsRootChecker(), new LfsSegmentRootChecker()]);
        Assert.Contains(findings, f => f.Detail.Contains("lfs root 'lfs'"));
        vol.Dispose();
        Assert.Equal(Errno.EUCLEAN, LfsImage.MountDevice(dev, out _).Error);
    }
}
