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
        XattrType = "ffs.xattr", InodeBitmapType = "ffs.ibitmap", CsumType = "ffs.csum",
        DirType = "ffs.dir", DInd1Type = "ffs.dind1", DInd2Type = "ffs.dind2", DInd3Type = "ffs.dind3";

    /// <summary>Partitions of an indirect block: 6 of 85 pointers (510 in all; format 4 had 7 of 73).</summary>
    public const int IndirectPartitions = 6;
    public const int PointersPerIndirectPartition = FfsLayout.PointersPerBlock / IndirectPartitions;

    /// <summary>
    /// Superblock: partition g emits group g's inode bitmap (ffs.ibitmap) and each block of its inode table
    /// (ffs.inodes). An inode-table count above the format's limit emits no table blocks, so such a count can
    /// never be installed. The entry's reserved bytes 0–7 (format 3's block bitmap) are read and emit nothing.
    /// </summary>
    public static readonly string SuperOwns = $"""
        .udf ffs.super.owns
        .partitions {FfsLayout.MaxGroups}
        .types ffs.inodes ffs.ibitmap
        .read {Superblock.GroupTableOffset} {GroupEntry.PointerBytes} {GroupEntry.Size}
        .fuel 3200
          li   r2, {GroupEntry.Size}
          mul  r2, r1, r2
          add  r2, r2, {Superblock.GroupTableOffset}
          ld64 r3, [r2+{GroupEntry.InodeBitmapOffset}]
          beq  r3, 0, noib
          emit 1, r3, 1
        noib:
          ld64 r3, [r2+{GroupEntry.InodeTableOffset}]
          ld32 r4, [r2+{GroupEntry.InodeTableBlocksOffset}]
          beq  r3, 0, done
          beq  r4, 0, done
          bgeu r4, {FfsLayout.MaxInodeTableBlocks + 1}, done
        next:
          emit 0, r3, 1
          add  r3, r3, 1
          loop r4, next
        done:
          ret  0
        """;

    /// <summary>
    /// Inode-table block: partition s (inode slot s) emits its direct blocks, indirect roots and xattr block
    /// (ffs.xattr). Its kind (<see cref="DiskInode.KindOffset"/>, in the read set, so changed only through an XN
    /// update) picks the types: a directory's blocks are ffs.dir under ffs.dind1/2/3, anything else's xn.data
    /// under ffs.ind1/2/3. XN's diff check makes the kind change only while the inode owns no such block.
    /// </summary>
    public static readonly string InodesOwns = $"""
        .udf ffs.inodes.owns
        .partitions {FfsLayout.InodesPerBlock}
        .types xn.data ffs.ind1 ffs.ind2 ffs.ind3 ffs.xattr ffs.dir ffs.dind1 ffs.dind2 ffs.dind3
        .read {DiskInode.KindOffset} {DiskInode.PointerOffset + DiskInode.PointerBytes - DiskInode.KindOffset} {FfsLayout.InodeSize}
        .fuel 200
          li   r2, {FfsLayout.InodeSize}
          mul  r2, r1, r2
          ld32 r5, [r2+{DiskInode.KindOffset}]
          add  r2, r2, {DiskInode.PointerOffset}
          li   r3, {FfsLayout.DirectPointers}
          beq  r5, {DiskInode.KindDirectory}, dir
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
          beq  r4, 0, xattr
          emit 3, r4, 1
          jmp  xattr
        dir:
          ld64 r4, [r2+0]
          beq  r4, 0, dskip
          emit 5, r4, 1
        dskip:
          add  r2, r2, 8
          loop r3, dir
          ld64 r4, [r2+0]
          beq  r4, 0, dnoi1
          emit 6, r4, 1
        dnoi1:
          ld64 r4, [r2+8]
          beq  r4, 0, dnoi2
          emit 7, r4, 1
        dnoi2:
          ld64 r4, [r2+16]
          beq  r4, 0, xattr
          emit 8, r4, 1
        xattr:
          ld64 r4, [r2+24]
          beq  r4, 0, done
          emit 4, r4, 1
        done:
          ret  0
        """;

    /// <summary>
    /// The inode's acl (XN runs it on every change of an inode-table block, partition s for inode s): the mode is 0
    /// (free) or a valid file type with no bits above 16; the kind is 0 or 1; and a directory has the directory kind,
    /// anything else the file kind, unless it owns nothing in pointer slots 0–14 (an inode being reused: its first
    /// block's Alloc sets the kind). So XN types a directory's blocks ffs.dir and a file's xn.data. It does not use
    /// the principal: one request changes inodes of several owners (the parent directory's too), and the acl sees
    /// only the proposed bytes, so an owner rule here would refuse ordinary requests.
    /// </summary>
    public static readonly string InodesAcl = $"""
        .udf ffs.inodes.acl
        .partitions {FfsLayout.InodesPerBlock}
        .read {DiskInode.ModeOffset} 4 {FfsLayout.InodeSize}
        .read {DiskInode.KindOffset} {DiskInode.PointerOffset + DiskInode.PointerBytes - DiskInode.KindOffset} {FfsLayout.InodeSize}
        .fuel 200
          li   r2, {FfsLayout.InodeSize}
          mul  r2, r1, r2
          ld32 r3, [r2+{DiskInode.ModeOffset}]
          ld32 r4, [r2+{DiskInode.KindOffset}]
          bgeu r4, 2, deny
          beq  r3, 0, allow
          shr  r5, r3, 16
          bne  r5, 0, deny
          and  r5, r3, 0xF000
          beq  r5, 0x1000, typed
          beq  r5, 0x2000, typed
          beq  r5, 0x4000, isdir
          beq  r5, 0x6000, typed
          beq  r5, 0x8000, typed
          beq  r5, 0xA000, typed
          beq  r5, 0xC000, typed
          jmp  deny
        isdir:
          beq  r4, {DiskInode.KindDirectory}, allow
          jmp  empty
        typed:
          beq  r4, 0, allow
        empty:
          add  r6, r2, {DiskInode.PointerOffset}
          li   r7, {DiskInode.XattrSlot}
        slots:
          ld64 r8, [r6+0]
          bne  r8, 0, deny
          add  r6, r6, 8
          loop r7, slots
        allow:
          ret  1
        deny:
          ret  0
        """;

    /// <summary>
    /// The inode's size (XN's size check, Xn/README.md "acl and size"): the file's byte size, so the inode's direct
    /// data and directory blocks number at most ceil(size / 4096); unbounded while the inode keeps blocks past its
    /// end on purpose (<see cref="DiskInode.FlagBlocksPastEof"/>, fallocate KEEP_SIZE).
    /// </summary>
    public static readonly string InodesSize = $"""
        .udf ffs.inodes.size
        .partitions {FfsLayout.InodesPerBlock}
        .types xn.data ffs.dir
        .read {DiskInode.SizeOffset} 8 {FfsLayout.InodeSize}
        .read {DiskInode.FlagsOffset} 4 {FfsLayout.InodeSize}
        .fuel 20
          li   r2, {FfsLayout.InodeSize}
          mul  r2, r1, r2
          ld32 r3, [r2+{DiskInode.FlagsOffset}]
          and  r3, r3, {DiskInode.FlagBlocksPastEof}
          bne  r3, 0, unbounded
          ld64 r4, [r2+{DiskInode.SizeOffset}]
          ret  r4
        unbounded:
          li   r4, 0x7fffffffffffffff
          ret  r4
        """;

    /// <summary>A directory block owns nothing; typed so that XN keeps its checksum and runs <see cref="DirAcl"/>.</summary>
    public static readonly string DirOwns = LeafOwns(DirType);

    /// <summary>
    /// A directory block's acl: records tile bytes [0, <see cref="DirBlock.RecordsEnd"/>) exactly, each record's
    /// length a multiple of 8 and at least 16, and a live record's name 1..255 bytes long inside its record. At most
    /// 255 records fit, so the walk is bounded (about 14 instructions a record). It reads below the block's write
    /// sequence only: a record header starts below <see cref="DirBlock.RecordsEnd"/>, so its last byte read (+10)
    /// is below 4084.
    /// </summary>
    public static readonly string DirAcl = $"""
        .udf ffs.dir.acl
        .read 0 {FfsLayout.TailPayloadBytes}
        .fuel 4000
          li   r2, 0
          li   r9, 256
        next:
          ld16 r5, [r2+8]
          ld64 r4, [r2+0]
          and  r6, r5, 7
          bne  r6, 0, deny
          bltu r5, 16, deny
          beq  r4, 0, unused
          ld8  r6, [r2+10]
          beq  r6, 0, deny
          add  r6, r6, {DirBlock.HeaderSize + 7}
          and  r6, r6, -8
          bltu r5, r6, deny
        unused:
          add  r2, r2, r5
          bgeu r2, {DirBlock.RecordsEnd}, end
          loop r9, next
          ret  0
        end:
          bne  r2, {DirBlock.RecordsEnd}, deny
          ret  1
        deny:
          ret  0
        """;

    /// <summary>An indirect block whose 510 pointers name blocks of <paramref name="childType"/>.</summary>
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
    /// <summary>A directory's indirect blocks: the same layout, naming ffs.dir blocks (and each other).</summary>
    public static readonly string DInd1Owns = IndirectOwns(DInd1Type, DirType);
    public static readonly string DInd2Owns = IndirectOwns(DInd2Type, DInd1Type);
    public static readonly string DInd3Owns = IndirectOwns(DInd3Type, DInd2Type);

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
