using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs.Tests;

public sealed class FormatTests
{
    [Fact]
    public void Summary_round_trips_and_a_flipped_byte_is_refused()
    {
        var s = new Summary(42, 3, 17, Summary.Continues, 9, 123456789, 0xDEADBEEF,
            new[] { new SummaryEntry(LogKind.Data, 5, 7), new SummaryEntry(LogKind.Node, 5, BlockTree.Key(2, 1, 3)), new SummaryEntry(LogKind.Inodes, 0, 0) });
        var block = new byte[LfsLayout.BlockSize];
        s.WriteTo(block);
        var back = Summary.ReadFrom(block)!;
        Assert.Equal(s.Seq, back.Seq);
        Assert.Equal(s.Slot, back.Slot);
        Assert.Equal(s.Offset, back.Offset);
        Assert.True(back.ContinuesUnit);
        Assert.Equal(s.NextSlot, back.NextSlot);
        Assert.Equal(s.DataCrc, back.DataCrc);
        Assert.Equal(s.Entries, back.Entries);
        block[100] ^= 1;
        Assert.Null(Summary.ReadFrom(block));
    }

    [Fact]
    public void Checkpoint_round_trips_and_a_torn_region_is_refused()
    {
        var cp = new CheckpointRecord(7, 99, 2, 30, 555, 77, 88, CheckpointRecord.CleanFlag, new ulong[] { 1000, 2000 },
            new[] { new SegUsage(10, 5), new SegUsage(0, 0), new SegUsage(255, 9) }, 1, 2, 3, 4);
        var region = new byte[2 * LfsLayout.BlockSize];
        cp.WriteTo(region);
        var back = CheckpointRecord.ReadFrom(region)!;
        Assert.Equal(cp.Seq, back.Seq);
        Assert.Equal(cp.HeadSlot, back.HeadSlot);
        Assert.Equal(cp.HeadOffset, back.HeadOffset);
        Assert.Equal(cp.NextPartialSeq, back.NextPartialSeq);
        Assert.Equal(cp.ImapBlocks, back.ImapBlocks);
        Assert.Equal(cp.Usage, back.Usage);
        Assert.Equal(cp.NewBlocks, back.NewBlocks);
        // A torn write: the second block of the region is from an older checkpoint.
        region.AsSpan(LfsLayout.BlockSize).Fill(0x5A);
        Assert.Null(CheckpointRecord.ReadFrom(region));
    }

    [Fact]
    public void Inode_record_round_trips_with_nanosecond_times_and_detects_damage()
    {
        var r = new InodeRecord { Ino = 12, Mode = FileMode.Regular | 0x1A4, Nlink = 3, Uid = 1000, Gid = 100, Size = 5UL << 30, Blocks = 2,
            AtimeSec = 1, AtimeNsec = 999_999_999, MtimeSec = -5, MtimeNsec = 1, CtimeSec = 1 << 40, CtimeNsec = 7, Generation = 9, Xattr = 4444 };
        r.Direct[3] = 77;
        r.Roots[2] = 88;
        Assert.Equal(2, r.Slots);
        var b = new byte[2 * InodeRecord.SlotBytes];
        r.WriteTo(b);
        Assert.Null(InodeRecord.ReadFrom(b.AsSpan(0, InodeRecord.SlotBytes))); // a long record cut at one slot
        var back = InodeRecord.ReadFrom(b)!;
        Assert.Equal((r.Ino, r.Mode, r.Nlink, r.Size, r.AtimeNsec, r.MtimeSec, r.CtimeSec, r.Xattr), (back.Ino, back.Mode, back.Nlink, back.Size, back.AtimeNsec, back.MtimeSec, back.CtimeSec, back.Xattr));
        Assert.Equal(r.Direct, back.Direct);
        Assert.Equal(r.Roots, back.Roots);
        b[40] ^= 2;
        Assert.Null(InodeRecord.ReadFrom(b));
    }

    [Fact]
    public void A_small_files_inode_takes_one_slot_and_a_block_mixes_both_forms()
    {
        var small = new InodeRecord { Ino = 5, Mode = FileMode.Regular | 0x1A4, Nlink = 1, Size = 1024, Blocks = 1, MtimeNsec = 3 };
        small.Direct[0] = LfsLayout.BlockSize * 7UL + 1;
        var big = new InodeRecord { Ino = 6, Mode = FileMode.Directory | 0x1ED, Nlink = 2 };
        big.Direct[1] = 99;
        var tomb = new InodeRecord { Ino = 7 };
        Assert.Equal((1, 2, 1), (small.Slots, big.Slots, tomb.Slots));
        var block = new byte[LfsLayout.BlockSize];
        small.WriteTo(block.AsSpan(0));
        big.WriteTo(block.AsSpan(InodeRecord.SlotBytes));
        tomb.WriteTo(block.AsSpan(3 * InodeRecord.SlotBytes));
        var found = InodeRecord.InBlock(block).Select(x => (x.Slot, x.Record.Ino, x.Record.IsTombstone)).ToList();
        Assert.Equal([(0, 5UL, false), (1, 6UL, false), (3, 7UL, true)], found);
        var back = InodeRecord.ReadFrom(block)!;
        Assert.Equal((small.Size, small.Direct[0], small.MtimeNsec), (back.Size, back.Direct[0], back.MtimeNsec));
        Assert.Equal(99UL, InodeRecord.ReadFrom(block.AsSpan(InodeRecord.SlotBytes))!.Direct[1]);
        // A damaged short record reads as none, and leaves its neighbours readable.
        block[40] ^= 1;
        Assert.Equal([6UL, 7UL], InodeRecord.InBlock(block).Select(x => x.Record.Ino));
        Assert.Equal(32, InodeRecord.SlotsPerBlock);
        Assert.Equal(16, LfsLayout.MinInodesPerBlock);
    }

    [Fact]
    public void An_older_format_version_is_refused_but_named()
    {
        var s = new LfsSuper(256, 100, 1, CheckpointRecord.BlocksFor(4096, 100), 4096, 5, 1, 10, 20);
        var h = new byte[LfsSuper.HeaderSize];
        s.WriteTo(h);
        Assert.Equal(LfsSuper.Version, LfsSuper.VersionOf(h));
        // Version 2 (whole-block usage, no packed blocks), with its checksum made right.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), 2);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(252), ExoFS.Xn.XnCrc32C.Compute(h.AsSpan(0, 252)));
        Assert.Null(LfsSuper.ReadFrom(h));
        Assert.Equal(2u, LfsSuper.VersionOf(h));
        h[20] ^= 1; // damaged, not older: not named as a version
        Assert.Null(LfsSuper.VersionOf(h));
    }

    [Fact]
    public void An_image_of_format_version_4_is_refused_with_one_line_naming_it()
    {
        // Format 4's claim entries had a u32 count and typed no tree nodes; its catalogue holds that head type.
        var dev = new ExoFS.Kernel.Disk.MemoryDevice(8192);
        var fs = LfsImage.FormatDevice(dev, out string? error).Value;
        lock (fs.Lock)
        {
            var disk = (XnLfsDisk)fs.RawDisk;
            var h = new byte[LfsSuper.HeaderSize];
            disk.Super.WriteTo(h);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), 4);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(252), ExoFS.Xn.XnCrc32C.Compute(h.AsSpan(0, 252)));
            Assert.Equal(Errno.OK, disk.Client.WriteRaw(disk.Root, 0, h));
        }
        fs.Dispose();
        var again = LfsImage.MountDevice(dev, out error);
        Assert.False(again.Ok);
        Assert.Contains($"holds an LFS of format version 4; this exofs reads version {LfsSuper.Version} only", error);
    }

    [Fact]
    public void Claim_entries_round_trip_and_agree_only_with_the_summary_they_describe()
    {
        var sum = new Summary(1, 0, 1, 0, Summary.NoSlot, 0, 0,
            [new SummaryEntry(LogKind.Data, 5, 0), new SummaryEntry(LogKind.Xattr, 5, 0), new SummaryEntry(LogKind.Node, 5, 0),
             new SummaryEntry(LogKind.Node, 5, 1), new SummaryEntry(LogKind.Inodes, 0, 0), new SummaryEntry(LogKind.Imap, 0, 0)]);
        var c = ClaimEntry.For(1000, sum);
        Assert.Equal(new ClaimEntry(1000, 7, new TypedCounts(2, 1, 1)), c);
        var b = new byte[ClaimEntry.Size];
        c.WriteTo(b);
        Assert.Equal(c, ClaimEntry.ReadFrom(b));
        Assert.Null(c.Disagreement(sum));
        Assert.NotNull((c with { Count = 8 }).Disagreement(sum));
        Assert.NotNull((c with { Typed = new TypedCounts(1, 1, 1) }).Disagreement(sum));
        // A node before the contents: the summary is out of the claimable order, whatever the entry says.
        var misordered = sum with { Entries = [sum.Entries[2], sum.Entries[0], sum.Entries[1], sum.Entries[3], sum.Entries[4], sum.Entries[5]] };
        Assert.False(TypedCounts.InOrder(misordered));
        Assert.NotNull(ClaimEntry.For(1000, misordered).Disagreement(misordered));
    }

    [Fact]
    public void Packed_pointers_round_trip_and_are_told_apart_from_addresses_and_reservations()
    {
        ulong p = LfsLayout.Packed(123_456_789, 5, 3);
        Assert.True(LfsLayout.IsPacked(p));
        Assert.Equal((123_456_789UL, 5, 3), (LfsLayout.PackedAddr(p), LfsLayout.PackedFirst(p), LfsLayout.PackedFragments(p)));
        Assert.Equal(123_456_789UL, LfsLayout.BlockOf(p));
        Assert.False(LfsLayout.IsPacked(123_456_789));
        Assert.False(LfsLayout.IsPacked(LfsLayout.ReservedBlock));
        Assert.True(LfsLayout.IsPacked(LfsLayout.Packed(1, 0, 8)));
    }

    [Fact]
    public void Superblock_round_trips_and_nonsense_sizes_are_refused()
    {
        var s = new LfsSuper(256, 100, 1, CheckpointRecord.BlocksFor(4096, 100), 4096, 5, 1, 10, 20);
        var h = new byte[LfsSuper.HeaderSize];
        s.WriteTo(h);
        Assert.Equal(s, LfsSuper.ReadFrom(h));
        var bad = s with { SegmentBlocks = 3 };
        bad.WriteTo(h);
        Assert.Null(LfsSuper.ReadFrom(h));
    }

    [Fact]
    public void Directory_block_round_trips_entries_and_cookies()
    {
        var entries = new[] { new DirRecord("a", 2, 8, 3), new DirRecord("ünïcode", 9, 4, 17) };
        var b = new byte[LfsLayout.BlockSize];
        DirBlock.Write(b, 0, entries, parent: 1, nextCookie: 18);
        var back = DirBlock.Read(b, 0, out ulong parent, out ulong next)!;
        Assert.Equal(entries, back);
        Assert.Equal((1UL, 18UL), (parent, next));
    }

    [Fact]
    public void Block_tree_paths_cover_direct_and_three_depths()
    {
        Span<int> idx = stackalloc int[3];
        Assert.Equal(0, BlockTree.Path(11, idx));
        Assert.Equal(1, BlockTree.Path(12, idx));
        Assert.Equal(0, idx[0]);
        Assert.Equal(2, BlockTree.Path(12 + 512, idx));
        Assert.Equal(3, BlockTree.Path(12 + 512 + 512 * 512, idx));
        Assert.Equal(3, BlockTree.Path(LfsLayout.MaxFileBlocks - 1, idx));
        Assert.Equal((511, 511, 511), (idx[0], idx[1], idx[2]));
    }
}
