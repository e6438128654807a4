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

    /// <summary>
    /// A segment's head (block 0, the XN segment type): header [0,16) raw (magic, slot), then 255 claim
    /// entries of 16 bytes (start u64, count u32): partition e emits entry e, one partial segment (its summary
    /// and the blocks it describes) as xn.data. So XN knows every log block the LFS wrote, and forgets none.
    /// </summary>
    public static readonly string SegHeadOwns = $"""
        .udf lfs.seghead.owns
        .partitions {SegHead.Entries}
        .types xn.data
        .read {SegHead.EntriesOffset} {SegHead.EntrySize} {SegHead.EntrySize}
        .fuel 32
          li   r2, {SegHead.EntrySize}
          mul  r2, r1, r2
          add  r2, r2, {SegHead.EntriesOffset}
          ld64 r3, [r2+0]
          beq  r3, 0, done
          ld32 r4, [r2+8]
          beq  r4, 0, done
          emit 0, r3, r4
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
