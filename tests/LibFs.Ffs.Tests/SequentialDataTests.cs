using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// FFS's sequential data path over <see cref="FakeXnDisk"/> (which checks every pointer change with the real
/// UDFs): whole blocks of a write are allocated as runs, one XN call per partition of pointers, and written and
/// read as runs; partial blocks at either end and holes in between keep their bytes.
/// </summary>
public class SequentialDataTests
{
    private const int B = FfsLayout.BlockSize;
    private static readonly Caller Me = new(1000, 1000);

    private static byte[] Content(int bytes, int seed)
    {
        var c = new byte[bytes];
        new Random(seed).NextBytes(c);
        return c;
    }

    [Fact]
    public void A_large_write_allocates_its_blocks_a_partition_of_pointers_per_XN_call()
    {
        var (fs, disk, _) = LogicTests.Fresh();
        var (attr, fh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var data = Content(1 << 20, 1);   // 256 blocks: 12 direct, 244 under the single indirect block
        int allocs = disk.Allocs;
        Assert.Equal(data.Length, fs.Write(attr.Ino, fh, 0, data).Value);
        // The 12 direct pointers in one call, the indirect block, and 244 pointers in 3 partitions of 85.
        Assert.Equal(1 + 1 + 3, disk.Allocs - allocs);
        Assert.Equal(4, disk.RunAllocs);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, fs.Read(attr.Ino, fh, 0, back).Value);
        Assert.Equal(data, back);
        Assert.Equal((ulong)(256 + 1) * (B / 512), fs.GetAttr(attr.Ino).Value.Blocks512);
        Assert.True(Fsck.Check(fs).Clean);
    }

    [Fact]
    public void Unaligned_writes_over_holes_and_existing_blocks_read_back_byte_for_byte()
    {
        var (fs, _, _) = LogicTests.Fresh();
        var (attr, fh) = fs.Create(InodeNo.Root, "f", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var model = new byte[700 * B];
        void Write(long offset, byte[] bytes)
        {
            Assert.Equal(bytes.Length, fs.Write(attr.Ino, fh, offset, bytes).Value);
            bytes.CopyTo(model, offset);
        }
        Write(5 * B + 100, Content(3 * B, 2));           // partial, whole, whole, partial
        Write(40 * B, Content(100 * B, 3));              // leaves a hole before it; crosses into the indirect block
        Write(20 * B - 7, Content(30 * B + 14, 4));      // over the hole and into the written run
        Write(600 * B + 1, Content(90 * B, 5));          // into the double indirect range
        long size = 690 * B + 1;
        var back = new byte[size];
        Assert.Equal((int)size, fs.Read(attr.Ino, fh, 0, back).Value);
        Assert.Equal(model.AsSpan(0, (int)size).ToArray(), back);
        // Reads that start and end inside blocks, across holes.
        var piece = new byte[77 * B + 3];
        Assert.Equal(piece.Length, fs.Read(attr.Ino, fh, 3 * B + 11, piece).Value);
        Assert.Equal(model.AsSpan(3 * B + 11, piece.Length).ToArray(), piece);
        Assert.True(Fsck.Check(fs).Clean);
    }

    [Fact]
    public void A_sequential_file_past_its_first_indirect_block_is_one_disk_run_with_its_pointer_blocks_in_the_zone()
    {
        var (fs, _, _) = LogicTests.Fresh();   // one group of 16,384 blocks: a pointer zone of its last 64
        var (attr, fh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var chunk = Content(1 << 20, 7);
        const int MiB = 8;                      // 2,048 blocks: past the double indirect block's start (block 523)
        for (int m = 0; m < MiB; m++) Assert.Equal(chunk.Length, fs.Write(attr.Ino, fh, (long)m << 20, chunk).Value);
        var inode = fs.Inodes.Get(attr.Ino.Value).Value;
        int blocks = MiB * 256;
        // The direct blocks, the first single indirect block next to them (a small file's one pointer block stays
        // by its data), then every other data block in one run across the double indirect range.
        var (first, count) = fs.Map.LookupExtent(inode, FfsLayout.DirectPointers, blocks - FfsLayout.DirectPointers);
        Assert.Equal(blocks - FfsLayout.DirectPointers, count);
        Assert.Equal(fs.Map.Lookup(inode, FfsLayout.DirectPointers - 1) + 2, first);
        // The double indirect block and the single indirect blocks under it lie in the group's pointer zone.
        ulong ind2 = inode.Ptr[DiskInode.Ind2Slot];
        Assert.Equal(fs.Alloc.PointerZone(new BlockNo(first)).Value, ind2);
        Assert.True(ind2 >= 16384 - 64, $"double indirect block {ind2} is not in the pointer zone");
        var back = new byte[chunk.Length];
        for (int m = 0; m < MiB; m++)
        {
            Assert.Equal(back.Length, fs.Read(attr.Ino, fh, (long)m << 20, back).Value);
            Assert.Equal(chunk, back);
        }
        Assert.True(Fsck.Check(fs).Clean);
    }
}
