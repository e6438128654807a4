namespace ExoFS.LibFs.Ffs.Format;

/// <summary>
/// The FFS on-disk layout, stated once. Every multi-byte field on disk is little-endian.
///
/// The file system lives under an XN root (by default named "ffs"). Its root block is the superblock
/// (<see cref="Superblock"/>): a 256-byte header and a table of up to <see cref="MaxGroups"/> 32-byte group
/// entries. Group <c>g</c> covers device blocks <c>[g·BlocksPerGroup, (g+1)·BlocksPerGroup)</c> and owns a
/// block bitmap (one block, one bit per block of the group: set = owned by this FFS), an inode bitmap (one
/// block) and a contiguous inode table of <see cref="InodesPerBlock"/> inodes per block.
///
/// Inodes (<see cref="DiskInode"/>, 512 bytes) hold 12 direct pointers, single, double and triple
/// indirect pointers and an xattr-block pointer (u64 block numbers, 0 = none). Indirect blocks hold 511 u64
/// pointers. Directory blocks hold variable-length entries (<see cref="DirBlock"/>). File data and directory
/// blocks are XN's raw data type; the superblock, inode-table blocks and indirect blocks are FFS types whose
/// owns-UDFs (<see cref="FfsUdfs"/>) tell XN which blocks they point to, and bitmaps and xattr blocks are
/// FFS types that own nothing.
///
/// Checksums: every FFS metadata type declares a 4-byte CRC-32C field that XN stamps at write-back and
/// verifies on every read from the device (Xn/README.md, "Checksums"); FFS never writes those bytes. Where
/// they lie: superblock bytes 252–255 (the header's last four), inode-table block bytes 88–91 (inside inode
/// slot 0; bytes 88–95 of every slot are reserved), and bytes 4092–4095 of indirect, bitmap and xattr blocks
/// (<see cref="TailChecksumOffset"/>). Hence 511 pointers per indirect block, 32736 blocks per group (a bitmap
/// has 4092 bytes of bits) and 4092 bytes of xattrs.
/// Inode number n (n ≥ 1) is inode index n−1: group (n−1)/InodesPerGroup, slot (n−1)%InodesPerGroup.
/// Inode 1 is the root directory.
/// </summary>
public static class FfsLayout
{
    public const int BlockSize = 4096;
    /// <summary>Where the checksum lies in indirect, bitmap and xattr blocks: their last four bytes.</summary>
    public const int TailChecksumOffset = BlockSize - 4;
    /// <summary>Bytes of a bitmap block that hold bits (the rest is its checksum).</summary>
    public const int BitmapBytes = TailChecksumOffset;
    public const ulong BlocksPerGroup = BitmapBytes * 8; // one bitmap block covers a group
    public const int MaxGroups = 120;                  // (4096 − 256) / 32
    /// <summary>The largest device FFS lays out: <see cref="MaxGroups"/> groups.</summary>
    public const ulong MaxBlocks = MaxGroups * BlocksPerGroup;
    public const int InodeSize = 512;
    public const int InodesPerBlock = BlockSize / InodeSize;
    /// <summary>One inode per 16 KiB of group, but at most this many inode-table blocks per group, so the
    /// superblock's owns-UDF stays within XN's 1024-extent and 4096-instruction limits.</summary>
    public const int MaxInodeTableBlocks = 1000;
    public const int BytesPerInode = 16 * 1024;
    public const int DirectPointers = 12;
    /// <summary>Pointers in an indirect block: 511 u64 (bytes 4088–4091 are spare, 4092–4095 the checksum).</summary>
    public const int PointersPerBlock = BlockSize / 8 - 1;
    public const int MaxNameBytes = 255;
    /// <summary>Symlink targets up to this many bytes live inside the inode.</summary>
    public const int InlineBytes = InodeSize - DiskInode.InlineOffset;
    public const ulong RootIno = 1;

    /// <summary>The number of inodes a group of <paramref name="groupBlocks"/> blocks gets (multiple of 8).</summary>
    public static uint InodesForGroup(ulong groupBlocks)
    {
        ulong byBytes = groupBlocks * BlockSize / BytesPerInode;
        ulong cap = (ulong)MaxInodeTableBlocks * InodesPerBlock;
        ulong n = Math.Min(byBytes, cap) / InodesPerBlock * InodesPerBlock;
        return (uint)Math.Max(n, (ulong)InodesPerBlock);
    }
}
