using System.Text;
using ExoFS.Kernel.Udf;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs.Tests;

public class FormatTests
{
    [Fact]
    public void Every_owns_udf_verifies_with_disjoint_partition_read_sets()
    {
        foreach (var text in new[] { FfsUdfs.SuperOwns, FfsUdfs.InodesOwns, FfsUdfs.Ind1Owns, FfsUdfs.Ind2Owns, FfsUdfs.Ind3Owns,
                                     FfsUdfs.InodeBitmapOwns, FfsUdfs.CsumOwns, FfsUdfs.XattrOwns })
        {
            var r = UdfVerifier.Verify(text);
            Assert.True(r.Accepted, r.Reason);
            Assert.True(r.Udf!.ReadSetsDisjoint);
        }
    }

    [Fact]
    public void Inode_owns_udf_emits_direct_indirect_and_xattr_pointers_of_its_slot_only()
    {
        var udf = FakeXnDisk.Verify(FfsUdfs.InodesOwns);
        var block = new byte[FfsLayout.BlockSize];
        var inode = new DiskInode { Mode = FileMode.Regular | 0x1A4 };
        inode.Ptr[0] = 100; inode.Ptr[11] = 111; inode.Ptr[12] = 200; inode.Ptr[13] = 300; inode.Ptr[14] = 400; inode.Ptr[15] = 500;
        inode.WriteTo(block.AsSpan(3 * FfsLayout.InodeSize));
        var owns = FakeXnDisk.Owns(udf, block, 3);
        Assert.Equal(new HashSet<(string, ulong)>
        {
            ("xn.data", 100), ("xn.data", 111), ("ffs.ind1", 200), ("ffs.ind2", 300), ("ffs.ind3", 400), ("ffs.xattr", 500),
        }, owns);
        Assert.Empty(FakeXnDisk.Owns(udf, block, 2));
    }

    [Fact]
    public void Super_owns_udf_emits_the_inode_bitmap_and_each_inode_table_block_and_no_block_bitmap()
    {
        var udf = FakeXnDisk.Verify(FfsUdfs.SuperOwns);
        var block = new byte[FfsLayout.BlockSize];
        new GroupEntry(11, 20, FfsLayout.MaxInodeTableBlocks, 7).WriteTo(block.AsSpan(Superblock.GroupOffset(5)));
        // Format 3 kept a block bitmap pointer in bytes 0-7: format 4's UDF emits nothing for them.
        BitConverter.TryWriteBytes(block.AsSpan(Superblock.GroupOffset(5) + GroupEntry.ReservedOffset), 10UL);
        var owns = FakeXnDisk.Owns(udf, block, 5);
        Assert.Equal(1 + FfsLayout.MaxInodeTableBlocks, owns.Count);
        Assert.Contains(("ffs.ibitmap", 11UL), owns);
        Assert.Contains(("ffs.inodes", 20UL + FfsLayout.MaxInodeTableBlocks - 1), owns);
        Assert.DoesNotContain(owns, o => o.Item2 == 10);
        // A count beyond the format's limit claims no table at all.
        new GroupEntry(11, 20, FfsLayout.MaxInodeTableBlocks + 1, 0).WriteTo(block.AsSpan(Superblock.GroupOffset(5)));
        Assert.Single(FakeXnDisk.Owns(udf, block, 5));
    }

    [Fact]
    public void Indirect_owns_udf_partition_covers_its_85_pointers_and_never_the_sequence_or_checksum()
    {
        var udf = FakeXnDisk.Verify(FfsUdfs.Ind2Owns);
        var block = new byte[FfsLayout.BlockSize];
        BitConverter.TryWriteBytes(block.AsSpan(85 * 8), 77UL);   // pointer 85: partition 1
        BitConverter.TryWriteBytes(block.AsSpan(509 * 8), 99UL);  // pointer 509 (the last): partition 5
        BitConverter.TryWriteBytes(block.AsSpan(FfsLayout.TailSequenceOffset), 0x0123456789ABCDEFUL);
        BitConverter.TryWriteBytes(block.AsSpan(FfsLayout.TailChecksumOffset), 0xDEADBEEFu);
        Assert.Equal(new HashSet<(string, ulong)> { ("ffs.ind1", 77) }, FakeXnDisk.Owns(udf, block, 1));
        Assert.Equal(new HashSet<(string, ulong)> { ("ffs.ind1", 99) }, FakeXnDisk.Owns(udf, block, 5));
        Assert.Empty(FakeXnDisk.Owns(udf, block, 0));
        Assert.Equal(FfsUdfs.IndirectPartitions, udf.Partitions);
        Assert.Equal(FfsLayout.PointersPerBlock, FfsUdfs.IndirectPartitions * FfsUdfs.PointersPerIndirectPartition);
        Assert.True(udf.ReadSet(FfsUdfs.IndirectPartitions - 1)[^1].End <= FfsLayout.TailSequenceOffset);
    }

    [Fact]
    public void Superblock_round_trips_and_rejects_a_wrong_magic()
    {
        var sb = new Superblock(Superblock.CurrentVersion, 3, 8000, 90000, 1, 42, 1234);
        var buf = new byte[FfsLayout.BlockSize];
        sb.WriteTo(buf);
        Assert.Equal(sb, Superblock.ReadFrom(buf));
        buf[0] ^= 1;
        Assert.Null(Superblock.ReadFrom(buf));
    }

    [Fact]
    public void Inode_round_trips_every_field()
    {
        var i = new DiskInode
        {
            Mode = 0x81A4, Nlink = 3, Uid = 1000, Gid = 100, Size = 5UL << 30, Blocks = 9, AtimeSec = -5, AtimeNsec = 999_999_999,
            MtimeSec = 1_700_000_000, MtimeNsec = 1, CtimeSec = 2, CtimeNsec = 3, Generation = 77, Rdev = 0x0801, Flags = 4,
        };
        for (int k = 0; k < 16; k++) i.Ptr[k] = (ulong)k * 1000 + 1;
        i.Inline[0] = 42;
        var buf = new byte[FfsLayout.InodeSize];
        i.WriteTo(buf);
        var j = DiskInode.ReadFrom(buf);
        Assert.Equal((i.Mode, i.Nlink, i.Uid, i.Gid, i.Size, i.Blocks, i.AtimeSec, i.AtimeNsec, i.MtimeSec, i.MtimeNsec, i.CtimeSec, i.CtimeNsec, i.Generation, i.Rdev, i.Flags),
            (j.Mode, j.Nlink, j.Uid, j.Gid, j.Size, j.Blocks, j.AtimeSec, j.AtimeNsec, j.MtimeSec, j.MtimeNsec, j.CtimeSec, j.CtimeNsec, j.Generation, j.Rdev, j.Flags));
        Assert.Equal(i.Ptr, j.Ptr);
        Assert.Equal(42, j.Inline[0]);
    }

    [Fact]
    public void Directory_block_packs_entries_and_reuses_space_of_removed_ones()
    {
        var block = new byte[FfsLayout.BlockSize];
        DirBlock.InitEmpty(block);
        var offsets = new List<int>();
        for (int k = 0; ; k++)
        {
            var name = Encoding.UTF8.GetBytes($"file-{k:D5}");
            int room = DirBlock.FindRoom(block, name.Length);
            if (room < 0) break;
            offsets.Add(DirBlock.Insert(block, room, (ulong)k + 2, 8, name));
        }
        Assert.Equal(FfsLayout.BlockSize / DirBlock.RecordSize(10), offsets.Count);
        var parsed = DirBlock.Parse(block)!;
        Assert.Equal(offsets.Count, parsed.Count(r => r.Ino != 0));
        Assert.Equal("file-00003", parsed[3].Name);
        DirBlock.Remove(block, offsets[3]);
        DirBlock.Remove(block, offsets[0]);
        parsed = DirBlock.Parse(block)!;
        Assert.DoesNotContain(parsed, r => r.Name is "file-00003" or "file-00000" && r.Ino != 0);
        Assert.Equal(offsets[4], parsed.First(r => r.Name == "file-00004").Offset); // live entries never move
        var longName = new byte[255];
        Array.Fill(longName, (byte)'x');
        Assert.Equal(-1, DirBlock.FindRoom(block, longName.Length));
        Assert.True(DirBlock.FindRoom(block, 10) >= 0);
    }

    [Fact]
    public void Malformed_directory_block_is_rejected_not_looped_on()
    {
        var block = new byte[FfsLayout.BlockSize]; // recLen 0 everywhere
        Assert.Null(DirBlock.Parse(block));
        Assert.Equal(-1, DirBlock.FindRoom(block, 3));
    }

    [Theory]
    [InlineData(0UL, 0, 0, 0, 0)]
    [InlineData(11UL, 11, 0, 0, 0)]
    [InlineData(12UL, 12, 1, 0, 0)]
    [InlineData(521UL, 12, 1, 509, 0)]
    [InlineData(522UL, 13, 2, 0, 0)]
    [InlineData(522UL + 510 * 510 - 1, 13, 2, 509, 509)]
    [InlineData(522UL + 510 * 510, 14, 3, 0, 0)]
    public void Block_map_resolves_file_blocks_to_pointer_paths(ulong n, int slot, int depth, int i0, int i1)
    {
        var p = BlockMap.Resolve(n);
        Assert.Equal((slot, depth, i0, i1), (p.Slot, p.Depth, p.I0, p.I1));
    }

    [Fact]
    public void Block_map_reaches_beyond_4_GiB_and_to_the_last_triple_indirect_block()
    {
        var p = BlockMap.Resolve((5UL << 30) / FfsLayout.BlockSize);
        Assert.Equal(3, p.Depth);
        var last = BlockMap.Resolve(BlockMap.MaxFileBlocks - 1);
        Assert.Equal((509, 509, 509), (last.I0, last.I1, last.I2));
    }

    [Fact]
    public void Xattr_block_round_trips_and_refuses_what_does_not_fit()
    {
        var attrs = new List<KeyValuePair<string, byte[]>> { new("user.a", new byte[] { 1, 2 }), new("user.empty", Array.Empty<byte>()) };
        var block = new byte[FfsLayout.BlockSize];
        Assert.True(XattrBlock.TryWrite(attrs, block));
        var back = XattrBlock.Parse(block)!;
        Assert.Equal(attrs.Select(a => a.Key), back.Select(a => a.Key));
        Assert.Equal(new byte[] { 1, 2 }, back[0].Value);
        attrs.Add(new("user.big", new byte[4096]));
        Assert.False(XattrBlock.TryWrite(attrs, block));
    }
}
