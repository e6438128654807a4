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
/// indirect pointers and an xattr-block pointer (u64 block numbers, 0 = none). Indirect blocks hold 510 u64
/// pointers. Directory blocks hold variable-length entries (<see cref="DirBlock"/>). File data and directory
/// blocks are XN's raw data type; the superblock, inode-table blocks and indirect blocks are FFS types whose
/// owns-UDFs (<see cref="FfsUdfs"/>) tell XN which blocks they point to, and bitmaps and xattr blocks are
/// FFS types that own nothing.
///
/// Checksums: every FFS metadata type declares a 4-byte CRC-32C field that XN stamps at write-back and
/// verifies on every read from the device (Xn/README.md, "Checksums"); FFS never writes those bytes. Where
/// they lie: superblock bytes 252–255 (the header's last four), inode-table block bytes 88–91 (inside inode
/// slot 0; bytes 88–95 of every slot are reserved), and bytes 4092–4095 of indirect, bitmap, directory, xattr
/// and csum blocks (<see cref="TailChecksumOffset"/>).
///
/// Write sequences (format 5): every FFS metadata type also declares an 8-byte field where XN stamps a
/// volume-wide write sequence at write-back (covered by the CRC), so that XN's block-version table refuses a
/// whole older copy of the block, which carries a valid CRC (Xn/README.md, "Block versions"). FFS never
/// writes those bytes either, and no UDF reads them: superblock bytes 244–251, inode-table block bytes 504–511
/// (the end of slot 0's inline area, which is why inline symlink targets stop at 280 bytes), and bytes
/// 4084–4091 of every block with a tail checksum (<see cref="TailSequenceOffset"/>). Hence 510 pointers per
/// indirect block, directory records ending at 4080 and 4084 bytes of xattrs.
/// Groups keep 32736 blocks (format 2's block bitmap: 4092 bytes of bits), though no bitmap is kept any more.
/// Inode number n (n ≥ 1) is inode index n−1: group (n−1)/InodesPerGroup, slot (n−1)%InodesPerGroup.
/// Inode 1 is the root directory.
/// </summary>
public static class FfsLayout
{
    public const int BlockSize = 4096;
    /// <summary>Where the checksum lies in indirect, bitmap, directory, xattr and csum blocks: their last four bytes.</summary>
    public const int TailChecksumOffset = BlockSize - 4;
    /// <summary>Where XN's write sequence lies in those blocks: the 8 bytes before the checksum (format 5).</summary>
    public const int TailSequenceOffset = TailChecksumOffset - 8;
    /// <summary>The bytes FFS may use in a tail-checksummed block: [0, 4084).</summary>
    public const int TailPayloadBytes = TailSequenceOffset;
    /// <summary>Bytes of XN's write sequence field.</summary>
    public const int SequenceBytes = 8;
    /// <summary>Bytes of bits format 2's block bitmap had (4092); they still set the group size.</summary>
    public const int BitmapBytes = TailChecksumOffset;
    public const ulong BlocksPerGroup = BitmapBytes * 8; // 32736: what one format-2 bitmap block covered
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
    /// <summary>Pointers in an indirect block: 510 u64 (bytes 4080–4083 are spare, 4084–4091 the sequence, 4092–4095 the checksum).</summary>
    public const int PointersPerBlock = TailPayloadBytes / 8;
    public const int MaxNameBytes = 255;
    /// <summary>Symlink targets up to this many bytes live inside the inode (280: slot 0's last 8 bytes are the block's sequence).</summary>
    public const int InlineBytes = DiskInode.BlockSequenceOffset - DiskInode.InlineOffset;
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
