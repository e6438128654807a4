using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// How FFS carries out fallocate over <see cref="FakeXnDisk"/>, which checks every pointer change with the real
/// UDFs: a punched block is an XN Free; a shift moves a pointer in one XN Move when both pointers share a block,
/// and copies the block (Alloc, write, Free) when they do not, so that no crash can find a block named twice.
/// </summary>
public class FallocateLogicTests
{
    private const int B = FfsLayout.BlockSize;
    private static readonly Caller Me = new(1000, 1000);

    private static (FfsFileSystem Fs, FakeXnDisk Disk, InodeNo Ino, FileHandle Fh, byte[] Content) File(int blocks)
    {
        var (fs, disk, _) = LogicTests.Fresh();
        var (attr, fh) = fs.Create(InodeNo.Root, "f", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var content = new byte[blocks * B];
        new Random(blocks).NextBytes(content);
        Assert.Equal(content.Length, fs.Write(attr.Ino, fh, 0, content).Value);
        return (fs, disk, attr.Ino, fh, content);
    }

    private static byte[] ReadAll(FfsFileSystem fs, InodeNo ino, FileHandle fh)
    {
        var buf = new byte[fs.GetAttr(ino).Value.Size];
        Assert.Equal(buf.Length, fs.Read(ino, fh, 0, buf).Value);
        return buf;
    }

    [Fact]
    public void A_collapse_among_direct_pointers_moves_them_without_copying()
    {
        var (fs, disk, ino, fh, content) = File(10);
        int allocs = disk.Allocs, frees = disk.Frees;
        Assert.Equal(Errno.OK, fs.Fallocate(ino, fh, FallocateMode.CollapseRange, 2 * B, 3 * B));
        Assert.Equal(3, disk.Frees - frees);        // the three collapsed blocks
        Assert.Equal(5, disk.Moves);                // blocks 5-9 down to 2-6
        Assert.Equal(allocs, disk.Allocs);          // nothing allocated, nothing copied
        Assert.Equal(content[..(2 * B)].Concat(content[(5 * B)..]).ToArray(), ReadAll(fs, ino, fh));
        Assert.True(Fsck.Check(fs).Clean);
    }

    [Fact]
    public void A_shift_across_pointer_blocks_copies_the_blocks_that_change_parent()
    {
        var (fs, disk, ino, fh, content) = File(20); // blocks 12-19 sit in the single indirect block
        int allocs = disk.Allocs, frees = disk.Frees;
        Assert.Equal(Errno.OK, fs.Fallocate(ino, fh, FallocateMode.InsertRange, 4 * B, 10 * B));
        // Blocks 4-19 go to 14-29: 4-11 leave the inode for the indirect block (copied: a new block each, the
        // old one freed), 12-19 stay inside the indirect block (moved).
        Assert.Equal(8, disk.Moves);
        Assert.Equal(8, disk.Allocs - allocs);
        Assert.Equal(8, disk.Frees - frees);
        var expect = content[..(4 * B)].Concat(new byte[10 * B]).Concat(content[(4 * B)..]).ToArray();
        Assert.Equal(expect, ReadAll(fs, ino, fh));
        Assert.Equal((ulong)(20 + 1) * (B / 512), fs.GetAttr(ino).Value.Blocks512); // 20 data blocks and the indirect one
        Assert.True(Fsck.Check(fs).Clean);
    }

    [Fact]
    public void Punched_blocks_are_freed_through_XN_and_preallocated_ones_allocated()
    {
        var (fs, disk, ino, fh, _) = File(6);
        int frees = disk.Frees;
        Assert.Equal(Errno.OK, fs.Fallocate(ino, fh, FallocateMode.PunchHole | FallocateMode.KeepSize, B, 3 * B));
        Assert.Equal(3, disk.Frees - frees);
        int allocs = disk.Allocs;
        Assert.Equal(Errno.OK, fs.Fallocate(ino, fh, FallocateMode.KeepSize, 0, 10 * B));
        Assert.Equal(3 + 4, disk.Allocs - allocs); // the punched three, and four past the end
        Assert.Equal((ulong)10 * (B / 512), fs.GetAttr(ino).Value.Blocks512);
        Assert.Equal((ulong)6 * B, fs.GetAttr(ino).Value.Size);
        // fsck leaves blocks preallocated past the end alone; without the inode's flag it would free them.
        var report = Fsck.Check(fs);
        Assert.True(report.Clean, report.ToString());
    }
}
