using System.Text;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>The FFS logic over <see cref="FakeXnDisk"/>, which checks every pointer change with the real UDFs.</summary>
public class LogicTests
{
    private static readonly Caller Me = new(1000, 1000);

    internal static (FfsFileSystem Fs, FakeXnDisk Disk, BlockNo Root) Fresh(ulong blocks = 16384)
    {
        var disk = new FakeXnDisk(blocks);
        var root = disk.InstallRoot();
        var r = FfsFileSystem.FormatOn(disk, root, blocks);
        Assert.True(r.Ok, r.ToString());
        return (r.Value, disk, root);
    }

    private static void AssertClean(FfsFileSystem fs)
    {
        var report = Fsck.Check(fs);
        Assert.True(report.Clean, report.ToString());
    }

    private static List<string> List(FfsFileSystem fs, InodeNo dir)
    {
        var names = new List<string>();
        var fh = fs.OpenDir(dir).Value;
        Assert.Equal(Errno.OK, fs.ReadDir(dir, fh, 0, (in DirEntry e) => { names.Add(e.Name); return true; }));
        fs.ReleaseDir(dir, fh);
        return names;
    }

    [Fact]
    public void Create_write_read_list_and_unlink_round_trip()
    {
        var (fs, disk, _) = Fresh();
        var (attr, fh) = fs.Create(InodeNo.Root, "hello.txt", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var data = Encoding.UTF8.GetBytes("hello, exokernel");
        Assert.Equal(data.Length, fs.Write(attr.Ino, fh, 0, data).Value);
        var back = new byte[100];
        Assert.Equal(data.Length, fs.Read(attr.Ino, fh, 0, back).Value);
        Assert.Equal(data, back[..data.Length]);
        Assert.Equal(new[] { ".", "..", "hello.txt" }, List(fs, InodeNo.Root));
        Assert.Equal((uint)(FileMode.Regular | 0x1A4), fs.GetAttr(attr.Ino).Value.Mode);
        Assert.Equal(1000u, fs.GetAttr(attr.Ino).Value.Uid);
        fs.Release(attr.Ino, fh);
        int used = disk.UsedCount;
        Assert.Equal(Errno.OK, fs.Unlink(InodeNo.Root, "hello.txt"));
        Assert.Equal(used, disk.UsedCount); // still looked up: the orphan keeps its block
        fs.Forget(attr.Ino, 1);
        Assert.Equal(used, disk.UsedCount); // freed only once the unlink is on disk
        fs.Sync();
        Assert.Equal(used - 1, disk.UsedCount);
        Assert.Equal(Errno.ENOENT, fs.Lookup(InodeNo.Root, "hello.txt").Error);
        AssertClean(fs);
    }

    [Fact]
    public void Large_file_through_double_indirect_blocks_reads_back_and_truncates_to_nothing()
    {
        var (fs, disk, _) = Fresh(32768);
        int before = disk.UsedCount;
        var (attr, fh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var chunk = new byte[64 * 1024];
        int chunks = 40; // 2.5 MiB: past the single indirect block into the double
        for (int c = 0; c < chunks; c++)
        {
            Array.Fill(chunk, (byte)(c + 1));
            Assert.Equal(chunk.Length, fs.Write(attr.Ino, fh, (long)c * chunk.Length, chunk).Value);
        }
        var back = new byte[chunk.Length];
        for (int c = 0; c < chunks; c += 7)
        {
            Assert.Equal(chunk.Length, fs.Read(attr.Ino, fh, (long)c * chunk.Length, back).Value);
            Assert.All(back, b => Assert.Equal((byte)(c + 1), b));
        }
        AssertClean(fs);
        var a = fs.SetAttr(attr.Ino, new SetAttrRequest { Size = 5000 }).Value;
        Assert.Equal(5000UL, a.Size);
        Assert.Equal(16UL, a.Blocks512); // two data blocks left
        a = fs.SetAttr(attr.Ino, new SetAttrRequest { Size = 9000 }).Value;
        Assert.Equal(1000, fs.Read(attr.Ino, fh, 5000, back.AsSpan(0, 1000)).Value);
        Assert.All(back[..1000], b => Assert.Equal(0, b)); // the cut tail reads as zeros after growing
        fs.SetAttr(attr.Ino, new SetAttrRequest { Size = 0 });
        Assert.Equal(before, disk.UsedCount);
        AssertClean(fs);
    }

    [Fact]
    public void Sparse_file_with_a_byte_beyond_4_GiB_uses_a_handful_of_blocks()
    {
        var (fs, disk, _) = Fresh();
        int before = disk.UsedCount;
        var (attr, fh) = fs.Create(InodeNo.Root, "sparse", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        long off = 5L << 30;
        Assert.Equal(1, fs.Write(attr.Ino, fh, off, new byte[] { 0xAB }).Value);
        Assert.Equal((ulong)off + 1, fs.GetAttr(attr.Ino).Value.Size);
        Assert.Equal(before + 4, disk.UsedCount); // triple, double, single indirect + one data block
        var two = new byte[2];
        Assert.Equal(1, fs.Read(attr.Ino, fh, off, two).Value);
        Assert.Equal(0xAB, two[0]);
        Assert.Equal(2, fs.Read(attr.Ino, fh, 1L << 32, two).Value);
        Assert.Equal(new byte[2], two);
        AssertClean(fs);
        fs.Release(attr.Ino, fh);
        fs.Unlink(InodeNo.Root, "sparse");
        fs.Forget(attr.Ino, 1);
        fs.Sync();
        Assert.Equal(before, disk.UsedCount);
    }

    [Fact]
    public void Many_entries_spill_over_directory_blocks_and_stay_findable()
    {
        var (fs, _, _) = Fresh();
        var d = fs.MkDir(InodeNo.Root, "d", 0x1ED, Me).Value;
        for (int i = 0; i < 600; i++) Assert.True(fs.MkNod(d.Ino, $"entry-number-{i}", FileMode.Regular | 0x1A4, 0, Me).Ok);
        Assert.True(fs.GetAttr(d.Ino).Value.Size > FfsLayout.BlockSize);
        for (int i = 0; i < 600; i += 2) Assert.Equal(Errno.OK, fs.Unlink(d.Ino, $"entry-number-{i}"));
        var names = List(fs, d.Ino);
        Assert.Equal(2 + 300, names.Count);
        // Paging with cookies, ten entries per call, with the sink calling back from another thread:
        // every entry comes exactly once and nothing deadlocks.
        var paged = new List<string>();
        var dh = fs.OpenDir(d.Ino).Value;
        long cookie = 0;
        while (true)
        {
            int took = 0;
            long next = cookie;
            fs.ReadDir(d.Ino, dh, cookie, (in DirEntry e) =>
            {
                if (took == 10) return false;
                var ino = e.Ino;
                Assert.True(Task.Run(() => fs.GetAttr(ino).Ok).Wait(5000));
                paged.Add(e.Name);
                took++;
                next = e.NextOffset;
                return true;
            });
            if (took == 0) break;
            cookie = next;
        }
        fs.ReleaseDir(d.Ino, dh);
        Assert.Equal(names.OrderBy(n => n, StringComparer.Ordinal), paged.OrderBy(n => n, StringComparer.Ordinal));
        Assert.True(fs.Lookup(d.Ino, "entry-number-599").Ok);
        Assert.Equal(Errno.ENOENT, fs.Lookup(d.Ino, "entry-number-598").Error);
        AssertClean(fs);
    }

    [Fact]
    public void Directories_count_links_and_refuse_removal_until_empty()
    {
        var (fs, _, _) = Fresh();
        var a = fs.MkDir(InodeNo.Root, "a", 0x1ED, Me).Value;
        fs.MkDir(a.Ino, "b", 0x1ED, Me);
        Assert.Equal(3u, fs.GetAttr(a.Ino).Value.Nlink);
        Assert.Equal(3u, fs.GetAttr(InodeNo.Root).Value.Nlink);
        Assert.Equal(Errno.ENOTEMPTY, fs.RmDir(InodeNo.Root, "a"));
        Assert.Equal(Errno.OK, fs.RmDir(a.Ino, "b"));
        Assert.Equal(Errno.OK, fs.RmDir(InodeNo.Root, "a"));
        Assert.Equal(2u, fs.GetAttr(InodeNo.Root).Value.Nlink);
        AssertClean(fs);
    }

    [Fact]
    public void Rename_moves_directories_updates_dotdot_and_refuses_loops()
    {
        var (fs, _, _) = Fresh();
        var a = fs.MkDir(InodeNo.Root, "a", 0x1ED, Me).Value;
        var b = fs.MkDir(InodeNo.Root, "b", 0x1ED, Me).Value;
        var c = fs.MkDir(a.Ino, "c", 0x1ED, Me).Value;
        Assert.Equal(Errno.EINVAL, fs.Rename(InodeNo.Root, "a", c.Ino, "x", RenameFlags.None));
        Assert.Equal(Errno.OK, fs.Rename(a.Ino, "c", b.Ino, "c2", RenameFlags.None));
        Assert.Equal(b.Ino, fs.Lookup(c.Ino, "..").Value.Ino);
        Assert.Equal(2u, fs.GetAttr(a.Ino).Value.Nlink);
        Assert.Equal(3u, fs.GetAttr(b.Ino).Value.Nlink);
        var f = fs.MkNod(InodeNo.Root, "f", FileMode.Regular | 0x1A4, 0, Me).Value;
        Assert.Equal(Errno.EEXIST, fs.Rename(InodeNo.Root, "f", InodeNo.Root, "a", RenameFlags.NoReplace));
        Assert.Equal(Errno.EISDIR, fs.Rename(InodeNo.Root, "f", InodeNo.Root, "a", RenameFlags.None));
        Assert.Equal(Errno.OK, fs.Rename(InodeNo.Root, "f", b.Ino, "c2", RenameFlags.Exchange));
        Assert.Equal(f.Ino, fs.Lookup(b.Ino, "c2").Value.Ino);
        Assert.Equal(c.Ino, fs.Lookup(InodeNo.Root, "f").Value.Ino);
        Assert.Equal(InodeNo.Root, fs.Lookup(c.Ino, "..").Value.Ino);
        AssertClean(fs);
    }

    [Fact]
    public void Symlinks_short_inline_and_long_in_a_block()
    {
        var (fs, _, _) = Fresh();
        var s = fs.Symlink(InodeNo.Root, "short", "target/file", Me).Value;
        Assert.Equal(0UL, s.Blocks512);
        Assert.Equal("target/file", fs.ReadLink(s.Ino).Value);
        string longTarget = new string('t', 1000);
        var l = fs.Symlink(InodeNo.Root, "long", longTarget, Me).Value;
        Assert.Equal(longTarget, fs.ReadLink(l.Ino).Value);
        Assert.Equal(8UL, l.Blocks512);
        AssertClean(fs);
    }

    [Fact]
    public void Xattrs_set_get_list_remove()
    {
        var (fs, _, _) = Fresh();
        var f = fs.MkNod(InodeNo.Root, "f", FileMode.Regular | 0x1A4, 0, Me).Value;
        Assert.Equal(Errno.OK, fs.SetXattr(f.Ino, "user.k", new byte[] { 1 }, XattrFlags.None));
        Assert.Equal(Errno.EEXIST, fs.SetXattr(f.Ino, "user.k", new byte[] { 2 }, XattrFlags.Create));
        Assert.Equal(Errno.ENODATA, fs.SetXattr(f.Ino, "user.z", new byte[] { 2 }, XattrFlags.Replace));
        Assert.Equal(new byte[] { 1 }, fs.GetXattr(f.Ino, "user.k").Value);
        Assert.Equal(new[] { "user.k" }, fs.ListXattr(f.Ino).Value);
        Assert.Equal(Errno.OK, fs.RemoveXattr(f.Ino, "user.k"));
        Assert.Equal(Errno.ENODATA, fs.GetXattr(f.Ino, "user.k").Error);
        Assert.Equal(0UL, fs.GetAttr(f.Ino).Value.Blocks512);
        AssertClean(fs);
    }

    [Fact]
    public void Full_disk_gives_ENOSPC_and_space_returns_after_delete()
    {
        var (fs, _, _) = Fresh(2048);
        var (attr, fh) = fs.Create(InodeNo.Root, "fill", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var chunk = new byte[1 << 20];
        long off = 0;
        while (true)
        {
            var w = fs.Write(attr.Ino, fh, off, chunk);
            if (!w.Ok) { Assert.Equal(Errno.ENOSPC, w.Error); break; }
            off += w.Value;
            if (w.Value < chunk.Length) { Assert.Equal(Errno.ENOSPC, fs.Write(attr.Ino, fh, off, chunk).Error); break; }
        }
        Assert.Equal(Errno.ENOSPC, fs.MkDir(InodeNo.Root, "d", 0x1ED, Me).Error);
        AssertClean(fs);
        fs.Release(attr.Ino, fh);
        fs.Unlink(InodeNo.Root, "fill");
        fs.Forget(attr.Ino, 1);
        var (a2, fh2) = fs.Create(InodeNo.Root, "again", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        Assert.Equal(chunk.Length, fs.Write(a2.Ino, fh2, 0, chunk).Value);
        AssertClean(fs);
    }

    [Fact]
    public void Remount_keeps_content_and_unclean_mount_frees_orphans()
    {
        var (fs, disk, root) = Fresh();
        var d = fs.MkDir(InodeNo.Root, "dir", 0x1ED, Me).Value;
        var (f, fh) = fs.Create(d.Ino, "file", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Write(f.Ino, fh, 0, Encoding.UTF8.GetBytes("persist me"));
        var (o, ofh) = fs.Create(d.Ino, "orphan", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Write(o.Ino, ofh, 0, new byte[10000]);
        fs.Unlink(d.Ino, "orphan");
        int used = disk.UsedCount;
        // "Crash": drop the instance without Dispose, then mount again.
        var again = FfsFileSystem.MountOn(disk, root).Value;
        Assert.NotNull(again.RecoveryReport);
        Assert.Contains(again.RecoveryReport!.Problems, p => p.Contains($"inode {o.Ino}"));
        Assert.Equal(used - 3, disk.UsedCount);
        AssertClean(again);
        var dir = again.Lookup(InodeNo.Root, "dir").Value;
        var file = again.Lookup(dir.Ino, "file").Value;
        var buf = new byte[10];
        Assert.Equal(10, again.Read(file.Ino, again.Open(file.Ino, OpenFlags.ReadOnly).Value, 0, buf).Value);
        Assert.Equal("persist me", Encoding.UTF8.GetString(buf));
        again.Dispose();
        var third = FfsFileSystem.MountOn(disk, root).Value;
        Assert.Null(third.RecoveryReport); // clean unmount: no scan
        AssertClean(third);
    }

    [Fact]
    public void Fsck_finds_and_repairs_a_wrong_link_count_and_directory_count()
    {
        var (fs, _, _) = Fresh();
        var f = fs.MkNod(InodeNo.Root, "f", FileMode.Regular | 0x1A4, 0, Me).Value;
        var inode = fs.Inodes.Get(f.Ino.Value).Value;
        inode.Nlink = 5;
        fs.Inodes.Put(f.Ino.Value, inode);
        fs.Alloc.SetDirectories(0, 7);
        var report = Fsck.Check(fs);
        Assert.Equal(2, report.Problems.Count);
        var fixedIt = Fsck.Check(fs, repair: true);
        Assert.Equal(1, fixedIt.ExitCode);
        AssertClean(fs);
        Assert.Equal(1u, fs.GetAttr(f.Ino).Value.Nlink);
    }

    [Fact]
    public void Group_free_space_is_xn_free_map_so_another_libfs_blocks_are_not_free()
    {
        var (fs, disk, _) = Fresh();
        ulong before = fs.StatFs().Value.BlocksFree;
        var (f, fh) = fs.Create(InodeNo.Root, "f", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        Assert.Equal(8 * 4096, fs.Write(f.Ino, fh, 0, new byte[8 * 4096]).Value);
        Assert.Equal(before - 8, fs.StatFs().Value.BlocksFree);
        // Blocks another libFS took in FFS's groups: FFS never counted them as its own, and XN's map says they are taken.
        for (ulong b = 12000; b < 12010; b++) disk.TakeForeign(b);
        Assert.Equal(before - 18, fs.StatFs().Value.BlocksFree);
        Assert.Equal(disk.CountFree(new BlockNo(0), 16384).Value.Free, fs.Alloc.FreeBlocks);
        AssertClean(fs);
        fs.Release(f.Ino, fh);
    }

    [Fact]
    public void Fsck_reports_a_claimed_block_that_xn_free_map_calls_free_as_damage_it_cannot_repair()
    {
        var (fs, disk, _) = Fresh();
        var (f, fh) = fs.Create(InodeNo.Root, "f", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        Assert.Equal(4096, fs.Write(f.Ino, fh, 0, new byte[4096]).Value);
        ulong b = fs.Inodes.Get(f.Ino.Value).Value.Ptr[0];
        disk.ForgetBlock(b);
        var report = Fsck.Check(fs, repair: true);
        var finding = Assert.Single(report.Findings);
        Assert.Equal(FsckFindingKind.Damage, finding.Kind);
        Assert.Contains($"block {b} (inode {f.Ino.Value}): claimed, but free in XN's free map", finding.What);
        Assert.Equal(4, report.ExitCode);
        fs.Release(f.Ino, fh);
    }

    [Fact]
    public void Fsck_frees_the_blocks_of_an_inode_marked_free_that_still_owns_them()
    {
        var (fs, disk, _) = Fresh();
        // An inode given a mode of 0 (free) with its pointers left, as a buggy free would leave it.
        var (f2, fh2) = fs.Create(InodeNo.Root, "g", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        Assert.Equal(2 * 4096, fs.Write(f2.Ino, fh2, 0, new byte[2 * 4096]).Value);
        fs.Release(f2.Ino, fh2);
        var inode = fs.Inodes.Get(f2.Ino.Value).Value;
        ulong owned = inode.Ptr[0];
        inode.Mode = 0;
        fs.Inodes.Put(f2.Ino.Value, inode);
        var report = Fsck.Check(fs);
        Assert.Contains(report.Findings, x => x.IsLeak && x.What == $"inode {f2.Ino.Value}: free but owns blocks");
        Assert.DoesNotContain(report.Findings, x => !x.IsLeak && x.What.Contains("owns blocks"));
        Fsck.Check(fs, repair: true);
        Assert.Equal(Errno.OK, fs.Sync());
        Assert.False(disk.IsUsed(owned));
        AssertClean(fs);
    }

    [Fact]
    public void Inode_placement_spreads_directories_and_keeps_files_near_their_directory()
    {
        var (fs, _, _) = Fresh(4 * 32768);
        var d1 = fs.MkDir(InodeNo.Root, "d1", 0x1ED, Me).Value;
        var d2 = fs.MkDir(InodeNo.Root, "d2", 0x1ED, Me).Value;
        int g1 = fs.Alloc.GroupOfIno(d1.Ino.Value), g2 = fs.Alloc.GroupOfIno(d2.Ino.Value);
        Assert.NotEqual(g1, g2);
        Assert.NotEqual(0, g1); // group 0 already holds the root directory
        var f = fs.MkNod(d2.Ino, "f", FileMode.Regular | 0x1A4, 0, Me).Value;
        Assert.Equal(g2, fs.Alloc.GroupOfIno(f.Ino.Value));
        AssertClean(fs);
    }
}

public class ConcurrencyAndHandleTests
{
    private static readonly Caller Me = new(1000, 1000);

    [Fact]
    public void Many_threads_creating_writing_and_removing_leave_a_clean_file_system()
    {
        var (fs, _, _) = LogicTests.Fresh(32768);
        var shared = fs.MkDir(InodeNo.Root, "shared", 0x1ED, Me).Value.Ino;
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 4, t =>
        {
            var mine = fs.MkDir(InodeNo.Root, $"t{t}", 0x1ED, Me).Value.Ino;
            var data = new byte[5000];
            Array.Fill(data, (byte)t);
            for (int i = 0; i < 40; i++)
            {
                var dir = i % 2 == 0 ? mine : shared;
                string name = $"f-{t}-{i}";
                var (a, fh) = fs.Create(dir, name, 0x1A4, OpenFlags.ReadWrite, Me).Value;
                if (fs.Write(a.Ino, fh, 0, data).Value != data.Length) errors.Add("short write");
                var back = new byte[data.Length];
                fs.Read(a.Ino, fh, 0, back);
                if (!back.AsSpan().SequenceEqual(data)) errors.Add($"{name}: wrong data");
                fs.Release(a.Ino, fh);
                if (i % 3 == 0 && fs.Unlink(dir, name) != Errno.OK) errors.Add($"{name}: unlink failed");
                fs.Forget(a.Ino, 1);
            }
        });
        Assert.Empty(errors);
        var report = Fsck.Check(fs);
        Assert.True(report.Clean, report.ToString());
    }

    [Fact]
    public void Handles_are_checked_for_owner_and_access_mode()
    {
        var (fs, _, _) = LogicTests.Fresh();
        var (a, wfh) = fs.Create(InodeNo.Root, "f", 0x1A4, OpenFlags.WriteOnly, Me).Value;
        Assert.Equal(Errno.EBADF, fs.Read(a.Ino, wfh, 0, new byte[1]).Error);
        var rfh = fs.Open(a.Ino, OpenFlags.ReadOnly).Value;
        Assert.Equal(Errno.EBADF, fs.Write(a.Ino, rfh, 0, new byte[1]).Error);
        Assert.Equal(Errno.EBADF, fs.Read(InodeNo.Root, rfh, 0, new byte[1]).Error);
        Assert.Equal(Errno.OK, fs.Release(a.Ino, rfh));
        Assert.Equal(Errno.EBADF, fs.Release(a.Ino, rfh));
        Assert.Equal(Errno.EISDIR, fs.Open(InodeNo.Root, OpenFlags.ReadOnly).Error);
        var s = fs.Symlink(InodeNo.Root, "s", "f", Me).Value;
        Assert.Equal(Errno.ELOOP, fs.Open(s.Ino, OpenFlags.ReadOnly).Error);
        var p = fs.MkNod(InodeNo.Root, "p", FileMode.Fifo | 0x1A4, 0, Me).Value;
        Assert.Equal(Errno.EINVAL, fs.Open(p.Ino, OpenFlags.ReadOnly).Error);
        Assert.Equal(Errno.EPERM, fs.MkNod(InodeNo.Root, "d", FileMode.Directory | 0x1ED, 0, Me).Error);
    }

    [Fact]
    public void A_removed_directory_refuses_new_entries_and_lists_nothing()
    {
        var (fs, _, _) = LogicTests.Fresh();
        var d = fs.MkDir(InodeNo.Root, "d", 0x1ED, Me).Value;
        var dh = fs.OpenDir(d.Ino).Value;
        Assert.Equal(Errno.OK, fs.RmDir(InodeNo.Root, "d"));
        Assert.Equal(Errno.ENOENT, fs.MkNod(d.Ino, "x", FileMode.Regular | 0x1A4, 0, Me).Error);
        Assert.Equal(Errno.ENOENT, fs.ReadDir(d.Ino, dh, 0, (in DirEntry e) => true));
        fs.ReleaseDir(d.Ino, dh);
        fs.Forget(d.Ino, 1);
        Assert.Equal(Errno.ENOENT, fs.GetAttr(d.Ino).Error);
        Assert.True(Fsck.Check(fs).Clean);
    }
}

public class FsckTests
{
    [Fact]
    public void Blocks_past_end_of_file_are_found_and_freed()
    {
        var (fs, disk, _) = LogicTests.Fresh();
        var (a, fh) = fs.Create(InodeNo.Root, "f", 0x1A4, OpenFlags.ReadWrite, Caller.Root).Value;
        fs.Write(a.Ino, fh, 0, new byte[3 * 4096]);
        var inode = fs.Inodes.Get(a.Ino.Value).Value;
        inode.Size = 100; // as if a crash lost the size update
        fs.Inodes.Put(a.Ino.Value, inode);
        int used = disk.UsedCount;
        Assert.Contains(Fsck.Check(fs).Problems, p => p.Contains("past the end"));
        Fsck.Check(fs, repair: true);
        Assert.Equal(used - 2, disk.UsedCount);
        Assert.True(Fsck.Check(fs).Clean);
    }

    [Fact]
    public void A_block_count_that_trails_the_pointers_never_wraps_below_zero()
    {
        var (fs, _, _) = LogicTests.Fresh();
        var (a, fh) = fs.Create(InodeNo.Root, "f", 0x1A4, OpenFlags.ReadWrite, Caller.Root).Value;
        fs.Write(a.Ino, fh, 0, new byte[3 * 4096]);
        var inode = fs.Inodes.Get(a.Ino.Value).Value;
        inode.Blocks = 1; // as if a crash left the count behind the three pointers
        fs.Inodes.Put(a.Ino.Value, inode);
        Assert.True(fs.SetAttr(a.Ino, new SetAttrRequest { Size = 0 }).Ok);
        Assert.Equal(0UL, fs.Inodes.Get(a.Ino.Value).Value.Blocks);
        Assert.True(Fsck.Check(fs).Clean, Fsck.Check(fs).ToString());
    }
}
