using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>Small files' data packed several to a log block: sharing, reads, growth, deletion, cleaning, remount.</summary>
public sealed class PackedFileTests
{
    private static readonly InodeNo Root = InodeNo.Root;

    private static byte[] Content(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void Small_files_share_log_blocks_and_read_back_after_a_remount()
    {
        var (fs, dev) = LfsTestKit.Fresh(32UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var sizes = new[] { 1, 100, 511, 512, 513, 1000, 1024, 2047, 3072, 3073, 4096 };
        var files = new List<(string Name, byte[] Data)>();
        for (int k = 0; k < 60; k++) files.Add(($"f{k}", Content(sizes[k % sizes.Length], k)));
        foreach (var (name, data) in files) fs.WriteFile(Root, name, data);
        fs.Sync().Ok();
        var blocks = new HashSet<ulong>();
        int packed = 0;
        foreach (var (name, data) in files)
        {
            var i = fs.GetInode(fs.Get(Root, name).Ino.Value).Value;
            ulong p = i.Rec.Direct[0];
            Assert.Equal(data.Length is > 0 and <= (int)LfsLayout.PackedMaxBytes, LfsLayout.IsPacked(p));
            if (LfsLayout.IsPacked(p)) { packed++; blocks.Add(LfsLayout.PackedAddr(p)); }
            Assert.Equal(8UL, fs.GetAttr(new InodeNo(i.Ino)).Ok().Blocks512); // st_blocks: one block each
        }
        Assert.True(blocks.Count * 2 <= packed, $"{packed} packed files in {blocks.Count} blocks");
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsTestKit.Mount(dev);
        foreach (var (name, data) in files) Assert.Equal(data, again.ReadFile(again.Get(Root, name).Ino));
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }

    [Fact]
    public void A_packed_file_that_grows_or_shrinks_keeps_its_bytes_and_zeros_past_them()
    {
        var (fs, dev) = LfsTestKit.Fresh(16UL << 20);
        var a = Content(700, 1);
        var f = fs.WriteFile(Root, "a", a);
        fs.WriteFile(Root, "b", Content(900, 2));
        fs.Sync().Ok();
        Assert.True(LfsLayout.IsPacked(fs.GetInode(f.Ino.Value).Value.Rec.Direct[0]));
        // Truncate up: the bytes past the old end read as zeros, not as the neighbour's data.
        fs.SetAttr(f.Ino, new SetAttrRequest { Size = 3000 }).Ok();
        var expect = a.Concat(new byte[2300]).ToArray();
        Assert.Equal(expect, fs.ReadFile(f.Ino));
        // Extend past one block with a write further out: block 0 stays where it is, and reads the same.
        var fh = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        fs.Write(f.Ino, fh, 10000, "tail"u8).Ok();
        fs.Sync().Ok();
        expect = expect.Concat(new byte[10000 - 3000]).Concat("tail"u8.ToArray()).ToArray();
        Assert.Equal(expect, fs.ReadFile(f.Ino));
        // Shrink back into one fragment: repacked.
        fs.SetAttr(f.Ino, new SetAttrRequest { Size = 300 }).Ok();
        fs.Release(f.Ino, fh).Ok();
        fs.Sync().Ok();
        Assert.True(LfsLayout.IsPacked(fs.GetInode(f.Ino.Value).Value.Rec.Direct[0]));
        Assert.Equal(a.AsSpan(0, 300).ToArray(), fs.ReadFile(f.Ino));
        Assert.Equal(Content(900, 2), fs.ReadFile(fs.Get(Root, "b").Ino));
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsTestKit.Mount(dev);
        Assert.Equal(a.AsSpan(0, 300).ToArray(), again.ReadFile(again.Get(Root, "a").Ino));
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }

    [Fact]
    public void Deleting_some_files_of_a_packed_block_keeps_it_until_the_last_and_the_cleaner_repacks_the_rest()
    {
        var (fs, dev) = LfsTestKit.Fresh(16UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var files = Enumerable.Range(0, 200).Select(k => ($"f{k:D3}", Content(1000, k))).ToList();
        foreach (var (name, data) in files) fs.WriteFile(Root, name, data);
        fs.Sync().Ok();
        ulong live0 = fs.Usage.TotalLive;
        // Every other file goes: each packed block keeps half its fragments.
        for (int k = 0; k < files.Count; k += 2) fs.Unlink(Root, files[k].Item1).Ok();
        fs.Sync().Ok();
        LfsTestKit.AssertClean(fs);
        Assert.True(fs.Usage.TotalLive < live0, $"live {fs.Usage.TotalLive} blocks, was {live0}");
        for (int n = 0; n < 10 && fs.Cleaner.CleanOnce(); n++) { }
        Assert.True(fs.Cleaner.SegmentsCleaned > 0);
        for (int k = 1; k < files.Count; k += 2) Assert.Equal(files[k].Item2, fs.ReadFile(fs.Get(Root, files[k].Item1).Ino));
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsTestKit.Mount(dev);
        for (int k = 1; k < files.Count; k += 2) Assert.Equal(files[k].Item2, again.ReadFile(again.Get(Root, files[k].Item1).Ino));
        for (int k = 0; k < files.Count; k += 2) Assert.Null(again.Find(Root, files[k].Item1));
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }
}
