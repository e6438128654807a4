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
