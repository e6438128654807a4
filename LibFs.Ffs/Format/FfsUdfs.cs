namespace ExoFS.LibFs.Ffs.Format;

/// <summary>
/// The FFS metadata types as XN sees them: names, owns-UDF texts (see UDF-SPEC) and raw byte ranges.
/// Pointer fields lie outside the raw-write ranges, so only XN Alloc/Free can change them; each UDF's
/// partitions read disjoint pointer areas (one per group, per inode, per 64 indirect pointers), so an
/// update re-runs only the partition it touches.
/// </summary>
public static class FfsUdfs
{
    public const string DataType = Xn.XnTypes.DataName;
    public const string SuperType = "ffs.super", InodesType = "ffs.inodes",
        Ind1Type = "ffs.ind1", Ind2Type = "ffs.ind2", Ind3Type = "ffs.ind3",
        BitmapType = "ffs.bitmap", XattrType = "ffs.xattr", InodeBitmapType = "ffs.ibitmap", CsumType = "ffs.csum";

    /// <summary>Partitions of an indirect block: 7 of 73 pointers (511 in all).</summary>
    public const int IndirectPartitions = 7;
    public const int PointersPerIndirectPartition = FfsLayout.PointersPerBlock / IndirectPartitions;

    /// <summary>
    /// Superblock: partition g emits group g's block bitmap and inode bitmap (ffs.bitmap) and each block of its
    /// inode table (ffs.inodes). An inode-table count above the format's limit emits no table blocks, so
    /// such a count can never be installed.
    /// </summary>
    public static readonly string SuperOwns = $"""
        .udf ffs.super.owns
        .partitions {FfsLayout.MaxGroups}
        .types ffs.bitmap ffs.inodes ffs.ibitmap
        .read {Superblock.GroupTableOffset} {GroupEntry.PointerBytes} {GroupEntry.Size}
        .fuel 3200
          li   r2, {GroupEntry.Size}
          mul  r2, r1, r2
          add  r2, r2, {Superblock.GroupTableOffset}
          ld64 r3, [r2+{GroupEntry.BlockBitmapOffset}]
          beq  r3, 0, nobb
          emit 0, r3, 1
        nobb:
          ld64 r3, [r2+{GroupEntry.InodeBitmapOffset}]
          beq  r3, 0, noib
          emit 2, r3, 1
        noib:
          ld64 r3, [r2+{GroupEntry.InodeTableOffset}]
          ld32 r4, [r2+{GroupEntry.InodeTableBlocksOffset}]
          beq  r3, 0, done
          beq  r4, 0, done
          bgeu r4, {FfsLayout.MaxInodeTableBlocks + 1}, done
        next:
          emit 1, r3, 1
          add  r3, r3, 1
          loop r4, next
        done:
          ret  0
        """;

    /// <summary>Inode-table block: partition s (inode slot s) emits its direct blocks, indirect roots and xattr block (ffs.xattr).</summary>
    public static readonly string InodesOwns = $"""
        .udf ffs.inodes.owns
        .partitions {FfsLayout.InodesPerBlock}
        .types xn.data ffs.ind1 ffs.ind2 ffs.ind3 ffs.xattr
        .read {DiskInode.PointerOffset} {DiskInode.PointerBytes} {FfsLayout.InodeSize}
        .fuel 160
          li   r2, {FfsLayout.InodeSize}
          mul  r2, r1, r2
          add  r2, r2, {DiskInode.PointerOffset}
          li   r3, {FfsLayout.DirectPointers}
        direct:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, direct
          ld64 r4, [r2+0]
          beq  r4, 0, noi1
          emit 1, r4, 1
        noi1:
          ld64 r4, [r2+8]
          beq  r4, 0, noi2
          emit 2, r4, 1
        noi2:
          ld64 r4, [r2+16]
          beq  r4, 0, noi3
          emit 3, r4, 1
        noi3:
          ld64 r4, [r2+24]
          beq  r4, 0, done
          emit 4, r4, 1
        done:
          ret  0
        """;

    /// <summary>An indirect block whose 511 pointers name blocks of <paramref name="childType"/>.</summary>
    public static string IndirectOwns(string name, string childType) => $"""
        .udf {name}.owns
        .partitions {IndirectPartitions}
        .types {childType}
        .read 0 {PointersPerIndirectPartition * 8} {PointersPerIndirectPartition * 8}
        .fuel 500
          li   r2, {PointersPerIndirectPartition * 8}
          mul  r2, r1, r2
          li   r3, {PointersPerIndirectPartition}
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;

    /// <summary>A block that owns nothing (bitmaps, xattr blocks): typed so that XN keeps its checksum.</summary>
    public static string LeafOwns(string name) => $"""
        .udf {name}.owns
        .partitions 1
        .fuel 1
          ret  0
        """;

    public static readonly string BitmapOwns = LeafOwns(BitmapType);
    public static readonly string CsumOwns = LeafOwns(CsumType);

    /// <summary>
    /// An inode bitmap (ffs.ibitmap): the bits, then (with data checksums) the group's run of ffs.csum blocks,
    /// u64 first block at <see cref="CsumBlock.RunOffset"/> and u32 count after it (at most
    /// <see cref="CsumBlock.BlocksPerGroup"/>; a larger count emits nothing, so it can never be installed).
    /// </summary>
    public static readonly string InodeBitmapOwns = $"""
        .udf ffs.ibitmap.owns
        .partitions 1
        .types ffs.csum
        .read {CsumBlock.RunOffset} 12
        .fuel 200
          li   r2, {CsumBlock.RunOffset}
          ld64 r3, [r2+0]
          ld32 r4, [r2+8]
          beq  r3, 0, done
          beq  r4, 0, done
          bgeu r4, {CsumBlock.BlocksPerGroup + 1}, done
        next:
          emit 0, r3, 1
          add  r3, r3, 1
          loop r4, next
        done:
          ret  0
        """;
    public static readonly string XattrOwns = LeafOwns(XattrType);

    public static readonly string Ind1Owns = IndirectOwns(Ind1Type, DataType);
    public static readonly string Ind2Owns = IndirectOwns(Ind2Type, Ind1Type);
    public static readonly string Ind3Owns = IndirectOwns(Ind3Type, Ind2Type);

    /// <summary>Raw-write ranges of the superblock: the header and each group's directory counter.</summary>
    public static IEnumerable<(int Offset, int Length)> SuperRawWrite()
    {
        yield return (0, Superblock.HeaderSize);
        for (int g = 0; g < FfsLayout.MaxGroups; g++)
            yield return (Superblock.GroupOffset(g) + GroupEntry.DirectoriesOffset, 4);
    }

    /// <summary>Raw-write ranges of an inode-table block: every inode's attributes and inline area.</summary>
    public static IEnumerable<(int Offset, int Length)> InodesRawWrite()
    {
        for (int s = 0; s < FfsLayout.InodesPerBlock; s++)
        {
            yield return (s * FfsLayout.InodeSize, DiskInode.AttrBytes);
            yield return (s * FfsLayout.InodeSize + DiskInode.InlineOffset, FfsLayout.InlineBytes);
        }
    }
}
