using ExoFS.LibFs.Testing.Model;

namespace ExoFS.LibFs.Testing.Tests;

/// <summary>Behaviour specific to the model (its checker, remount, capacity), beyond the shared suite.</summary>
public sealed class ModelFileSystemTests
{
    [Fact]
    public void Check_is_clean_on_a_fresh_model()
    {
        using var fs = new ModelFileSystem();
        Assert.Empty(fs.Check());
    }

    [Fact]
    public void Check_reports_a_wrong_link_count()
    {
        using var fs = new ModelFileSystem();
        var f = fs.WriteFile(InodeNo.Root, "f", "x");
        CorruptNode(fs, f.Ino.Value, n => n.Nlink = 5);
        Assert.Contains(fs.Check(), e => e.Contains("nlink 5"));
    }

    [Fact]
    public void Check_reports_data_beyond_the_file_size()
    {
        using var fs = new ModelFileSystem();
        var f = fs.WriteFile(InodeNo.Root, "f", new byte[10000]);
        CorruptNode(fs, f.Ino.Value, n => n.Size = 10);
        Assert.Contains(fs.Check(), e => e.Contains("beyond its size"));
    }

    [Fact]
    public void Check_reports_an_entry_naming_a_missing_inode()
    {
        using var fs = new ModelFileSystem();
        CorruptNode(fs, 1, n => n.Dir!.Add("ghost", 424242));
        Assert.Contains(fs.Check(), e => e.Contains("missing inode 424242"));
    }

    [Fact]
    public void Capacity_is_counted_in_4_KiB_chunks()
    {
        using var fs = new ModelFileSystem(capacityBytes: 16 * 4096 + 100);
        Assert.Equal(16 * 4096, fs.CapacityBytes);
        var f = fs.WriteFile(InodeNo.Root, "f", new byte[1]);
        var fh = fs.Open(f.Ino, OpenFlags.WriteOnly).Ok();
        Assert.Equal(Errno.ENOSPC, fs.Write(f.Ino, fh, 4096, new byte[15 * 4096 + 1]).Error);
        Assert.Equal(15 * 4096, fs.Write(f.Ino, fh, 4096, new byte[15 * 4096]).Ok());
        fs.Release(f.Ino, fh).Ok();
        Assert.Equal(0UL, fs.StatFs().Ok().BlocksFree);
        Assert.Empty(fs.Check());
    }

    [Fact]
    public void Inode_limit_gives_ENOSPC_on_create()
    {
        using var fs = new ModelFileSystem(maxInodes: 3);
        fs.MakeDir(InodeNo.Root, "a");
        fs.MakeDir(InodeNo.Root, "b");
        Assert.Equal(Errno.ENOSPC, fs.MkDir(InodeNo.Root, "c", 0x1ED, Caller.Root).Error);
    }

    [Fact]
    public void Remount_drops_orphans_and_handles_but_keeps_linked_state()
    {
        var fs = new ModelFileSystem();
        var keep = fs.WriteFile(InodeNo.Root, "keep", "k");
        var orphan = fs.WriteFile(InodeNo.Root, "orphan", new byte[8192]);
        var fh = fs.Open(orphan.Ino, OpenFlags.ReadOnly).Ok();
        fs.Unlink(InodeNo.Root, "orphan").Ok();
        using var again = fs.Remount();
        Assert.Throws<ObjectDisposedException>(() => fs.GetAttr(InodeNo.Root));
        Assert.Equal(Errno.ENOENT, again.GetAttr(orphan.Ino).Error);
        Assert.Equal(Errno.EBADF, again.Read(orphan.Ino, fh, 0, new byte[1]).Error);
        Assert.Equal("k", again.ReadText(keep.Ino));
        Assert.Equal(again.StatFs().Ok().Blocks - 1, again.StatFs().Ok().BlocksFree);
        Assert.Empty(again.Check());
    }

    [Fact]
    public void Forget_of_more_than_the_lookup_count_does_not_underflow()
    {
        using var fs = new ModelFileSystem();
        var f = fs.WriteFile(InodeNo.Root, "f", "x");
        fs.Forget(f.Ino, 100);
        fs.Lookup(InodeNo.Root, "f").Ok();
        fs.Unlink(InodeNo.Root, "f").Ok();
        Assert.True(fs.GetAttr(f.Ino).Ok) ; // one lookup still held
        fs.Forget(f.Ino, 1);
        Assert.Equal(Errno.ENOENT, fs.GetAttr(f.Ino).Error);
        Assert.Empty(fs.Check());
    }

    [Fact]
    public void Readdir_cookies_keep_their_place_when_earlier_entries_are_removed()
    {
        using var fs = new ModelFileSystem();
        for (int i = 0; i < 5; i++) fs.WriteFile(InodeNo.Root, $"f{i}", "");
        var all = fs.ListDir(InodeNo.Root);
        long afterF2 = all.Single(e => e.Name == "f2").NextOffset;
        fs.Unlink(InodeNo.Root, "f0").Ok();
        fs.Unlink(InodeNo.Root, "f1").Ok();
        var fh = fs.OpenDir(InodeNo.Root).Ok();
        var rest = new List<string>();
        fs.ReadDir(InodeNo.Root, fh, afterF2, (in DirEntry e) => { rest.Add(e.Name); return true; }).Ok();
        fs.ReleaseDir(InodeNo.Root, fh).Ok();
        Assert.Equal(["f3", "f4"], rest);
    }

    private static void CorruptNode(ModelFileSystem fs, ulong ino, Action<ModelNode> corrupt)
    {
        // Reach the private table through reflection: only a test that checks the checker may do this.
        var nodes = (Dictionary<ulong, ModelNode>)typeof(ModelFileSystem)
            .GetField("_nodes", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(fs)!;
        corrupt(nodes[ino]);
    }
}
