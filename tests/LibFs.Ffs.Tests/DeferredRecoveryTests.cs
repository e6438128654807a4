using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// A mount after a crash defers FFS's walk by default (soft updates leave only leaks): the superblock keeps
/// "leaks pending" across clean unmounts, every mount says so, and fsck --repair reclaims the leaks and clears it.
/// </summary>
public class DeferredRecoveryTests
{
    private static readonly Caller Me = new(1000, 1000);
    private static readonly Dictionary<string, string> Walk = new() { [FfsLibFs.RecoveryOption] = "walk" };

    /// <summary>A crash image holding a leak: an unlinked file still open at the crash (its inode and blocks unreachable).</summary>
    private static (MemoryDevice Crashed, ulong Orphan) CrashWithOrphan()
    {
        var dev = new MemoryDevice(16384);
        var fs = HostedFfs.FormatDevice(dev, out string? error).Value;
        var (f, fh) = fs.Create(InodeNo.Root, "kept", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Write(f.Ino, fh, 0, new byte[20000]);
        var (o, ofh) = fs.Create(InodeNo.Root, "orphan", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Write(o.Ino, ofh, 0, new byte[50000]);
        Assert.Equal(Errno.OK, fs.Unlink(InodeNo.Root, "orphan"));
        Assert.Equal(Errno.OK, fs.Sync());
        return (dev.Clone(), o.Ino.Value);   // the process dies here: no unmount
    }

    private static ExoHost Load(IBlockDevice dev)
    {
        var host = ExoHost.Load(dev, out string? error);
        Assert.True(host.Ok, error);
        return host.Value;
    }

    [Fact]
    public void Mount_after_a_crash_serves_without_the_walk_and_fsck_repair_reclaims_the_leaks_and_clears_the_flag()
    {
        var (dev, orphan) = CrashWithOrphan();
        using (var host = Load(dev))
        {
            var guest = host.Attach("ffs", out string? error);
            Assert.True(guest.Ok, error);
            var fs = (FfsFileSystem)guest.Value.FileSystem;
            Assert.Null(fs.RecoveryReport);   // no walk
            Assert.True(fs.LeaksPending);
            Assert.Equal([FfsFileSystem.LeaksPendingLine], fs.RecoveryActions);
            Assert.Contains(host.Recovery.Actions, a => a == $"ffs root 'ffs': {FfsFileSystem.LeaksPendingLine}");
            Assert.Equal(["ffs"], host.LeaksPending);
            // What the walk would find is there, and is a leak; the file system serves meanwhile.
            var report = Fsck.Check(fs);
            Assert.Contains(report.Findings, f => f.What.Contains($"inode {orphan}", StringComparison.Ordinal));
            Assert.All(report.Findings, f => Assert.True(f.IsLeak, f.ToString()));
            Assert.Equal(20000UL, fs.Lookup(InodeNo.Root, "kept").Value.Size);
            var (n, nh) = fs.Create(InodeNo.Root, "after", 0x1A4, OpenFlags.ReadWrite, Me).Value;
            fs.Release(n.Ino, nh);
            guest.Value.Dispose();   // a clean unmount keeps the flag
        }
        using (var host = Load(dev))
        {
            Assert.True(host.WasClean);
            var check = host.Check().Findings;
            Assert.Contains(check, f => f.Detail.Contains("leaks pending", StringComparison.Ordinal));
            Assert.Contains(check, f => f.Detail.Contains($"inode {orphan}", StringComparison.Ordinal));
            var repaired = host.Repair(out string? error);
            Assert.True(repaired.Ok, error);
            Assert.True(repaired.Value.Clean, string.Join("\n", repaired.Value.Findings));
            Assert.Contains(repaired.Value.Repairs, r => r.Contains($"inode {orphan}", StringComparison.Ordinal));
        }
        using (var host = Load(dev))
        {
            Assert.True(host.Check().Clean);
            using var guest = host.Attach("ffs", out _).Value;
            var fs = (FfsFileSystem)guest.FileSystem;
            Assert.False(fs.LeaksPending);
            Assert.Empty(fs.RecoveryActions);
            Assert.Empty(host.LeaksPending);
        }
    }

    [Fact]
    public void Ffs_recovery_walk_reclaims_at_mount_also_what_an_earlier_deferred_mount_left()
    {
        var (dev, orphan) = CrashWithOrphan();
        using (var host = Load(dev))
            host.Attach("ffs", out _).Value.Dispose();   // deferred, then a clean unmount: leaks pending
        using (var host = Load(dev))
        {
            using var guest = host.Attach("ffs", out string? error, options: Walk).Value;
            var fs = (FfsFileSystem)guest.FileSystem;
            Assert.NotNull(fs.RecoveryReport);
            Assert.Contains(fs.RecoveryReport!.Problems, p => p.Contains($"inode {orphan}", StringComparison.Ordinal));
            Assert.All(fs.RecoveryActions, a => Assert.StartsWith("leak: ", a));
            Assert.False(fs.LeaksPending);
            Assert.True(Fsck.Check(fs).Clean);
        }
        using (var host = Load(dev))
        {
            Assert.True(host.Check().Clean, string.Join("\n", host.Check().Findings));
            using var guest = host.Attach("ffs", out _).Value;
            Assert.False(((FfsFileSystem)guest.FileSystem).LeaksPending);
        }
    }

    /// <summary>
    /// What a crash leaves of an append whose size never reached the disk (the pointers in the indirect block did),
    /// made by hand: a file of 64 KiB of 0xAB whose inode says 50,000 bytes, its blocks kept.
    /// </summary>
    private static InodeNo LostAppend(FfsFileSystem fs, string name)
    {
        var (f, fh) = fs.Create(InodeNo.Root, name, 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var bytes = new byte[65536];
        Array.Fill(bytes, (byte)0xAB);
        Assert.Equal(65536, fs.Write(f.Ino, fh, 0, bytes).Value);
        fs.Release(f.Ino, fh);
        lock (fs.Lock)
        {
            var i = fs.Inodes.Get(f.Ino.Value).Value;
            i.Size = 50000;
            Assert.Equal(Errno.OK, fs.Inodes.Put(f.Ino.Value, i));
        }
        return f.Ino;
    }

    private static byte[] ReadAll(FfsFileSystem fs, InodeNo ino)
    {
        var fh = fs.Open(ino, OpenFlags.ReadOnly).Value;
        var buf = new byte[fs.GetAttr(ino).Value.Size];
        Assert.Equal(buf.Length, fs.Read(ino, fh, 0, buf).Value);
        fs.Release(ino, fh);
        return buf;
    }

    [Fact]
    public void While_leaks_are_pending_a_file_grown_over_blocks_a_crash_kept_past_its_end_reads_zeros_there()
    {
        var (dev, _) = CrashWithOrphan();
        using var host = Load(dev);
        using var guest = host.Attach("ffs", out string? error).Value;
        var fs = (FfsFileSystem)guest.FileSystem;
        Assert.True(fs.LeaksPending);

        var truncated = LostAppend(fs, "truncated");
        Assert.True(fs.SetAttr(truncated, new SetAttrRequest { Size = 65536 }).Ok);
        var written = LostAppend(fs, "written");
        var wh = fs.Open(written, OpenFlags.ReadWrite).Value;
        Assert.Equal(1, fs.Write(written, wh, 60000, new byte[] { 7 }).Value);
        fs.Release(written, wh);
        var allocated = LostAppend(fs, "allocated");
        var ah = fs.Open(allocated, OpenFlags.ReadWrite).Value;
        Assert.Equal(Errno.OK, fs.Fallocate(allocated, ah, FallocateMode.Allocate, 0, 65536));
        fs.Release(allocated, ah);

        foreach (var (ino, end) in new[] { (truncated, 65536), (written, 60000), (allocated, 65536) })
        {
            var content = ReadAll(fs, ino);
            Assert.All(content[..50000], b => Assert.Equal(0xAB, b));
            Assert.True(content[50000..end].All(b => b == 0), $"inode {ino.Value}: bytes past the old end of file are not zeros");
        }
        Assert.True(Fsck.Check(fs).Findings.All(f => f.IsLeak));
    }

    [Fact]
    public void While_leaks_are_pending_a_stale_entry_of_a_moved_directory_cannot_remove_or_move_it()
    {
        var (dev, _) = CrashWithOrphan();
        using var host = Load(dev);
        using var guest = host.Attach("ffs", out string? error).Value;
        var fs = (FfsFileSystem)guest.FileSystem;
        Assert.True(fs.LeaksPending);
        var a = fs.MkDir(InodeNo.Root, "a", 0x1ED, Me).Value.Ino;
        var b = fs.MkDir(InodeNo.Root, "b", 0x1ED, Me).Value.Ino;
        var d = fs.MkDir(a, "d", 0x1ED, Me).Value.Ino;
        // What a crash in the middle of moving d from b to a leaves: d's ".." names a, b's old entry remains.
        lock (fs.Lock)
        {
            var bDir = fs.Inodes.Get(b.Value).Value;
            Assert.Equal(Errno.OK, fs.Dirs.Add(b.Value, bDir, "d", d.Value, Format.DirBlock.FileTypeOf(FileMode.Directory), fs.Alloc.DataGoal(b.Value)));
        }
        Assert.Equal(d, fs.Lookup(b, "d").Value.Ino);
        Assert.Equal(Errno.EUCLEAN, fs.RmDir(b, "d"));
        Assert.Equal(Errno.EUCLEAN, fs.Rename(b, "d", InodeNo.Root, "elsewhere", RenameFlags.None));
        var e = fs.MkDir(InodeNo.Root, "e", 0x1ED, Me).Value.Ino;
        Assert.Equal(Errno.EUCLEAN, fs.Rename(InodeNo.Root, "e", b, "d", RenameFlags.None));   // replacing d through it
        // Through its real entry the directory behaves as always.
        Assert.Equal(Errno.OK, fs.Rename(a, "d", InodeNo.Root, "d2", RenameFlags.None));
        Assert.Equal(Errno.OK, fs.RmDir(InodeNo.Root, "d2"));
    }

    [Fact]
    public void A_bad_ffs_recovery_value_is_refused_with_one_line()
    {
        var (dev, _) = CrashWithOrphan();
        using var host = Load(dev);
        var guest = host.Attach("ffs", out string? error, options: new Dictionary<string, string> { [FfsLibFs.RecoveryOption] = "later" });
        Assert.False(guest.Ok);
        Assert.Equal(Errno.EINVAL, guest.Error);
        Assert.Equal("cannot mount root 'ffs': ffs: ffs-recovery= takes walk or defer, not 'later'", error);
    }

    [Fact]
    public void A_damaged_superblock_is_still_refused_by_the_deferred_mount()
    {
        var (dev, _) = CrashWithOrphan();
        BlockNo super;
        using (var probe = Load(dev)) super = probe.Roots().Single().Block;
        // The cheap check a deferred mount still makes: the superblock and group table must decode.
        var block = new byte[IBlockDevice.BlockSize];
        dev.Read(super, block);
        block[Format.Superblock.GroupCountOffset] ^= 0x7F;
        dev.Write(super, block);
        using var host = ExoHost.Load(dev, out _, new HostOptions()).Value;
        var guest = host.Attach("ffs", out string? error);
        Assert.False(guest.Ok);
        Assert.NotNull(error);
        Assert.DoesNotContain('\n', error!);
    }
}
