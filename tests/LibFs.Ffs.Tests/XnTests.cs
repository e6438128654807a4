using ExoFS.LibFs.Testing;
using System.Text;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>FFS over the real XN on a memory device and an image file.</summary>
public class XnTests
{
    private static readonly Caller Me = new(1000, 1000);

    [Fact]
    public void Format_create_write_read_list_unlink_over_xn()
    {
        using var dev = new MemoryDevice(16384);
        var r = HostedFfs.FormatDevice(dev, out string? error);
        Assert.True(r.Ok, error);
        using var fs = r.Value;
        var d = fs.MkDir(InodeNo.Root, "docs", 0x1ED, Me).Value;
        var (f, fh) = fs.Create(d.Ino, "a.txt", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var data = new byte[70000];
        new Random(5).NextBytes(data);
        Assert.Equal(data.Length, fs.Write(f.Ino, fh, 0, data).Value);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, fs.Read(f.Ino, fh, 0, back).Value);
        Assert.Equal(data, back);
        var names = new List<string>();
        var dh = fs.OpenDir(d.Ino).Value;
        fs.ReadDir(d.Ino, dh, 0, (in DirEntry e) => { names.Add(e.Name); return true; });
        Assert.Equal(new[] { ".", "..", "a.txt" }, names);
        fs.Release(f.Ino, fh);
        Assert.Equal(Errno.OK, fs.Unlink(d.Ino, "a.txt"));
        fs.Forget(f.Ino, 1);
        Assert.Equal(Errno.OK, fs.Sync());
        var report = Fsck.Check(fs);
        Assert.True(report.Clean, report.ToString());
    }

    [Fact]
    public void Remount_of_an_image_file_keeps_names_data_and_attributes()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ffs-remount-{Guid.NewGuid():N}.img");
        try
        {
            var created = HostedFfs.Create(path, 64UL << 20, out string? error);
            Assert.True(created.Ok, error);
            using (var fs = created.Value)
            {
                var (f, fh) = fs.Create(InodeNo.Root, "keep", 0x1A4, OpenFlags.ReadWrite, Me).Value;
                fs.Write(f.Ino, fh, (5L << 30), Encoding.UTF8.GetBytes("far away"));
                fs.Write(f.Ino, fh, 0, Encoding.UTF8.GetBytes("near"));
                fs.Release(f.Ino, fh);
                fs.Symlink(InodeNo.Root, "link", "keep", Me);
                fs.SetXattr(f.Ino, "user.colour", Encoding.UTF8.GetBytes("blue"), XattrFlags.None);
                fs.SetAttr(f.Ino, new SetAttrRequest { Mtime = TimeSet.To(new Timespec(1_600_000_000, 123_456_789)) });
            }
            var opened = HostedFfs.Open(path, out error);
            Assert.True(opened.Ok, error);
            using (var fs = opened.Value)
            {
                Assert.Null(fs.RecoveryReport);
                var f = fs.Lookup(InodeNo.Root, "keep").Value;
                Assert.Equal((5UL << 30) + 8, f.Size);
                Assert.Equal(new Timespec(1_600_000_000, 123_456_789), f.Mtime);
                var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Value;
                var buf = new byte[8];
                fs.Read(f.Ino, fh, 5L << 30, buf);
                Assert.Equal("far away", Encoding.UTF8.GetString(buf));
                fs.Read(f.Ino, fh, 0, buf.AsSpan(0, 4));
                Assert.Equal("near", Encoding.UTF8.GetString(buf, 0, 4));
                fs.Release(f.Ino, fh);
                Assert.Equal("keep", fs.ReadLink(fs.Lookup(InodeNo.Root, "link").Value.Ino).Value);
                Assert.Equal("blue", Encoding.UTF8.GetString(fs.GetXattr(f.Ino, "user.colour").Value));
                var report = Fsck.Check(fs);
                Assert.True(report.Clean, report.ToString());
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class XnRecoveryTests
{
    private static readonly Caller Me = new(1000, 1000);

    [Fact]
    public void Crash_after_sync_recovers_synced_files_and_frees_the_orphan()
    {
        var dev = new MemoryDevice(16384);
        var fs = HostedFfs.FormatDevice(dev, out string? error).Value;
        var (f, fh) = fs.Create(InodeNo.Root, "synced", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Write(f.Ino, fh, 0, new byte[20000]);
        var (o, ofh) = fs.Create(InodeNo.Root, "orphan", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Write(o.Ino, ofh, 0, new byte[50000]);
        fs.Unlink(InodeNo.Root, "orphan"); // still open: lives on as an orphan
        Assert.Equal(Errno.OK, fs.Sync());
        fs.Create(InodeNo.Root, "unsynced", 0x1A4, OpenFlags.ReadWrite, Me);
        var crashed = dev.Clone(); // the device as it is now: the unsynced create may be lost
        // The walk at mount (a default mount defers it: see DeferredRecoveryTests).
        using var host = ExoFS.Host.ExoHost.Load(crashed, out error).Value;
        var again = host.Attach("ffs", out error, options: new Dictionary<string, string> { [FfsLibFs.RecoveryOption] = "walk" });
        Assert.True(again.Ok, error);
        var fs2 = (FfsFileSystem)again.Value.FileSystem;
        Assert.NotNull(fs2.RecoveryReport);
        Assert.Contains(fs2.RecoveryReport!.Problems, p => p.Contains($"inode {o.Ino}"));
        Assert.Equal(20000UL, fs2.Lookup(InodeNo.Root, "synced").Value.Size);
        var report = Fsck.Check(fs2);
        Assert.True(report.Clean, report.ToString());
    }

    [Fact]
    public void Root_checker_reports_ffs_problems_through_xn_and_CheckVolume_repairs_them()
    {
        var dev = new MemoryDevice(16384);
        var fs = HostedFfs.FormatDevice(dev, out _).Value;
        var f = fs.MkNod(InodeNo.Root, "f", FileMode.Regular | 0x1A4, 0, Me).Value;
        var inode = fs.Inodes.Get(f.Ino.Value).Value;
        inode.Nlink = 3; // damage: a wrong link count
        fs.Inodes.Put(f.Ino.Value, inode);
        fs.Dispose();

        var kernel = new ExoFS.Kernel.ExoKernel();
        using (var vol = ExoFS.Xn.XnVolume.Load(dev, kernel).Value)
        {
            var findings = vol.CheckRoots(new[] { new FfsRootChecker() });
            Assert.Contains(findings, x => x.Kind == ExoFS.Xn.XnFindingKind.LibFs && x.Detail.Contains("link count 3"));
            var repaired = vol.RepairRoots(new[] { new FfsRootChecker() });
            Assert.Contains(repaired, x => x.Detail.Contains("repaired"));
            Assert.Empty(vol.CheckRoots(new[] { new FfsRootChecker() }));
        }
    }
}

public class XnConcurrencyTests
{
    [Fact]
    public void Threads_sharing_one_ffs_over_xn_leave_it_clean()
    {
        using var dev = new MemoryDevice(32768);
        using var fs = HostedFfs.FormatDevice(dev, out string? error).Value;
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 4, t =>
        {
            var caller = new Caller((uint)t, (uint)t);
            var dir = fs.MkDir(InodeNo.Root, $"t{t}", 0x1ED, caller).Value.Ino;
            var data = new byte[9000];
            Array.Fill(data, (byte)(t + 1));
            for (int i = 0; i < 30; i++)
            {
                var (a, fh) = fs.Create(dir, $"f{i}", 0x1A4, OpenFlags.ReadWrite, caller).Value;
                fs.Write(a.Ino, fh, 0, data);
                var back = new byte[data.Length];
                if (fs.Read(a.Ino, fh, 0, back).Value != data.Length || !back.AsSpan().SequenceEqual(data)) errors.Add($"t{t}/f{i}: bad read");
                fs.Release(a.Ino, fh);
                if (i % 4 == 0) fs.Rename(dir, $"f{i}", InodeNo.Root, $"moved-{t}-{i}", RenameFlags.None);
                if (i % 5 == 0) fs.Unlink(dir, $"f{i}");
                if (i % 7 == 0) fs.Sync();
                fs.Forget(a.Ino, 1);
            }
        });
        Assert.Empty(errors);
        var report = Fsck.Check(fs);
        Assert.True(report.Clean, report.ToString());
    }
}
