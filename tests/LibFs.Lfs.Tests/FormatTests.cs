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
        var b = new byte[LfsLayout.InodeSize];
        r.WriteTo(b);
        var back = InodeRecord.ReadFrom(b)!;
        Assert.Equal((r.Ino, r.Mode, r.Nlink, r.Size, r.AtimeNsec, r.MtimeSec, r.CtimeSec, r.Xattr), (back.Ino, back.Mode, back.Nlink, back.Size, back.AtimeNsec, back.MtimeSec, back.CtimeSec, back.Xattr));
        Assert.Equal(r.Direct, back.Direct);
        Assert.Equal(r.Roots, back.Roots);
        b[40] ^= 2;
        Assert.Null(InodeRecord.ReadFrom(b));
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
