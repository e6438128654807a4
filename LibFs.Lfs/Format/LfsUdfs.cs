namespace ExoFS.LibFs.Lfs.Format;

/// <summary>
/// The LFS metadata types as XN sees them. XN owns the LFS at segment granularity: the superblock (the root)
/// emits the two checkpoint regions (xn.data) and the segment-table blocks; each segment-table entry emits one
/// whole segment as an xn.data extent. Blocks inside a segment are raw to XN (bind at large granularity,
/// access at small); the log's own structure (summaries, inodes, inode map) is the LFS's business.
/// </summary>
public static class LfsUdfs
{
    public const string SuperType = "lfs.super", SegTabType = "lfs.segtab";

    /// <summary>Superblock: partition p is pointer entry p (start, count, kind: 0 data, 1 segment table).</summary>
    public static readonly string SuperOwns = $"""
        .udf lfs.super.owns
        .partitions {LfsSuper.Entries}
        .types xn.data lfs.segtab
        .read {LfsSuper.EntriesOffset} {LfsSuper.EntrySize} {LfsSuper.EntrySize}
        .fuel 32
          li   r2, {LfsSuper.EntrySize}
          mul  r2, r1, r2
          add  r2, r2, {LfsSuper.EntriesOffset}
          ld64 r3, [r2+0]
          beq  r3, 0, done
          ld32 r4, [r2+8]
          beq  r4, 0, done
          ld32 r5, [r2+12]
          beq  r5, 0, data
          emit 1, r3, r4
          ret  0
        data:
          emit 0, r3, r4
        done:
          ret  0
        """;

    /// <summary>Segment table: partition e is entry e, one segment (start, count) of raw blocks.</summary>
    public static readonly string SegTabOwns = $"""
        .udf lfs.segtab.owns
        .partitions {SegTab.Entries}
        .types xn.data
        .read 0 {SegTab.EntrySize} {SegTab.EntrySize}
        .fuel 32
          li   r2, {SegTab.EntrySize}
          mul  r2, r1, r2
          ld64 r3, [r2+0]
          beq  r3, 0, done
          ld32 r4, [r2+8]
          beq  r4, 0, done
          emit 0, r3, r4
        done:
          ret  0
        """;

    // ------------------------------------------------------------------ on XN segments (the xnlog API)

    public const string XSuperType = "lfs.xsuper", XSegTabType = "lfs.xsegtab", SegHeadType = "lfs.seghead";

    /// <summary>The superblock when segments are XN segments: as <see cref="SuperOwns"/>, the tables being <see cref="XSegTabType"/>.</summary>
    public static readonly string XSuperOwns = SuperOwns.Replace(".udf lfs.super.owns", ".udf lfs.xsuper.owns").Replace(".types xn.data lfs.segtab", ".types xn.data lfs.xsegtab");

    /// <summary>Segment table whose entries are XN segments (head of type <see cref="SegHeadType"/>).</summary>
    public static readonly string XSegTabOwns = SegTabOwns.Replace(".udf lfs.segtab.owns", ".udf lfs.xsegtab.owns").Replace(".types xn.data", ".types lfs.seghead");

    /// <summary>Log blocks of inode records and of the inode map, as XN types them (they own nothing XN follows).</summary>
    public const string InodesType = "lfs.inodes", ImapType = "lfs.imap";
    public static readonly string InodesOwns = LeafOwns(InodesType), ImapOwns = LeafOwns(ImapType);

    private static string LeafOwns(string name) => $"""
        .udf {name}.owns
        .partitions 1
        .fuel 1
          ret  0
        """;

    /// <summary>
    /// A segment's head (block 0, the XN segment type): header [0,16) raw (magic, slot), then 255 claim
    /// entries of 16 bytes (start u64, count u32, inode blocks u16, imap blocks u16): partition e emits entry e,
    /// one partial segment — its summary and the blocks it describes — as typed extents: the run's last
    /// <c>imap</c> blocks as lfs.imap, the <c>inode</c> blocks before them as lfs.inodes, the rest (summary, data,
    /// directory, xattr and tree-node blocks) as xn.data. So XN knows every log block the LFS wrote, forgets none,
    /// and knows which hold inodes and the inode map; an entry whose typed counts exceed its run emits nothing.
    /// </summary>
    public static readonly string SegHeadOwns = $"""
        .udf lfs.seghead.owns
        .partitions {SegHead.Entries}
        .types xn.data {InodesType} {ImapType}
        .read {SegHead.EntriesOffset} {SegHead.EntrySize} {SegHead.EntrySize}
        .fuel 48
          li   r2, {SegHead.EntrySize}
          mul  r2, r1, r2
          add  r2, r2, {SegHead.EntriesOffset}
          ld64 r3, [r2+0]
          beq  r3, 0, done
          ld32 r4, [r2+8]
          beq  r4, 0, done
          ld16 r5, [r2+12]
          ld16 r6, [r2+14]
          add  r7, r5, r6
          bltu r4, r7, done
          sub  r8, r4, r7
          beq  r8, 0, inodes
          emit 0, r3, r8
          add  r3, r3, r8
        inodes:
          beq  r5, 0, imap
          emit 1, r3, r5
          add  r3, r3, r5
        imap:
          beq  r6, 0, done
          emit 2, r3, r6
        done:
          ret  0
        """;
}

/// <summary>The head block of a segment bound as an XN segment: raw header [0,16), claim entries from 16, XN's CRC-32C in the last 4 bytes.</summary>
public static class SegHead
{
    public const int EntriesOffset = 16, EntrySize = 16;
    public const int Entries = (LfsLayout.ChecksumOffset - EntriesOffset) / EntrySize;
    public static int EntryOffset(int e) => EntriesOffset + e * EntrySize;
}
