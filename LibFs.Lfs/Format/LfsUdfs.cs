using System.Buffers.Binary;

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
    /// Log blocks of block-map (tree) nodes, of inode records and of the inode map, as XN types them. Leaves to
    /// XN: what they point at is raw bytes to it (the summary of the pointed-at block's segment owns that block).
    /// </summary>
    public const string NodesType = "lfs.nodes", InodesType = "lfs.inodes", ImapType = "lfs.imap";
    public static readonly string NodesOwns = LeafOwns(NodesType), InodesOwns = LeafOwns(InodesType), ImapOwns = LeafOwns(ImapType);

    private static string LeafOwns(string name) => $"""
        .udf {name}.owns
        .partitions 1
        .fuel 1
          ret  0
        """;

    /// <summary>
    /// A segment's head (block 0, the XN segment type): header [0,16) raw (magic, slot), then 255 claim entries
    /// (<see cref="ClaimEntry"/>: start u64, count u16, node blocks u16, inode blocks u16, imap blocks u16):
    /// partition e emits entry e, one partial segment laid out [summary, data/directory/xattr/packed blocks,
    /// nodes, inodes, imap], as typed extents: the run's last <c>imap</c> blocks as lfs.imap, the <c>inodes</c>
    /// blocks before them as lfs.inodes, the <c>nodes</c> blocks before those as lfs.nodes, the rest (summary and
    /// file contents) as xn.data. So XN knows every log block the LFS wrote, forgets none, and knows which hold
    /// tree nodes, inodes and the inode map; an entry whose typed counts exceed its run emits nothing.
    /// </summary>
    public static readonly string SegHeadOwns = $"""
        .udf lfs.seghead.owns
        .partitions {SegHead.Entries}
        .types xn.data {NodesType} {InodesType} {ImapType}
        .read {SegHead.EntriesOffset} {SegHead.EntrySize} {SegHead.EntrySize}
        .fuel 64
          li   r2, {SegHead.EntrySize}
          mul  r2, r1, r2
          add  r2, r2, {SegHead.EntriesOffset}
          ld64 r3, [r2+0]
          beq  r3, 0, done
          ld16 r4, [r2+8]
          beq  r4, 0, done
          ld16 r9, [r2+10]
          ld16 r5, [r2+12]
          ld16 r6, [r2+14]
          add  r7, r5, r6
          add  r7, r7, r9
          bltu r4, r7, done
          sub  r8, r4, r7
          beq  r8, 0, nodes
          emit 0, r3, r8
          add  r3, r3, r8
        nodes:
          beq  r9, 0, inodes
          emit 1, r3, r9
          add  r3, r3, r9
        inodes:
          beq  r5, 0, imap
          emit 2, r3, r5
          add  r3, r3, r5
        imap:
          beq  r6, 0, done
          emit 3, r3, r6
        done:
          ret  0
        """;
}

/// <summary>The head block of a segment bound as an XN segment: raw header [0,16), claim entries from 16, XN's CRC-32C in the last 4 bytes.</summary>
public static class SegHead
{
    public const int EntriesOffset = 16, EntrySize = ClaimEntry.Size;
    public const int Entries = (LfsLayout.ChecksumOffset - EntriesOffset) / EntrySize;
    public static int EntryOffset(int e) => EntriesOffset + e * EntrySize;
}

/// <summary>
/// One claim entry of a segment head, one partial segment of <paramref name="Count"/> blocks from
/// <paramref name="Start"/> (its summary first): start u64 @0, count u16 @8, node blocks u16 @10, inode blocks
/// u16 @12, inode-map blocks u16 @14 (a segment is at most 1024 blocks). The typed blocks are the run's last
/// ones, nodes then inodes then imap (<see cref="TypedCounts"/>); Start 0 = unused.
/// </summary>
public readonly record struct ClaimEntry(ulong Start, uint Count, TypedCounts Typed)
{
    public const int Size = 16;

    public void WriteTo(Span<byte> e)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(e, Start);
        BinaryPrimitives.WriteUInt16LittleEndian(e[8..], checked((ushort)Count));
        BinaryPrimitives.WriteUInt16LittleEndian(e[10..], checked((ushort)Typed.Nodes));
        BinaryPrimitives.WriteUInt16LittleEndian(e[12..], checked((ushort)Typed.Inodes));
        BinaryPrimitives.WriteUInt16LittleEndian(e[14..], checked((ushort)Typed.Imap));
    }

    public static ClaimEntry ReadFrom(ReadOnlySpan<byte> e) => new(BinaryPrimitives.ReadUInt64LittleEndian(e),
        BinaryPrimitives.ReadUInt16LittleEndian(e[8..]), new TypedCounts(BinaryPrimitives.ReadUInt16LittleEndian(e[10..]),
            BinaryPrimitives.ReadUInt16LittleEndian(e[12..]), BinaryPrimitives.ReadUInt16LittleEndian(e[14..])));

    /// <summary>The entry of a partial whose summary is <paramref name="sum"/>, at <paramref name="start"/>.</summary>
    public static ClaimEntry For(ulong start, Summary sum) => new(start, 1 + (uint)sum.Entries.Count, TypedCounts.Of(sum));

    /// <summary>
    /// Why this entry does not say what the summary at its start says (null when it does): the run's length, its
    /// typed counts, or a summary whose typed blocks are not the run's tail (a node, inode or imap block XN would
    /// hold as xn.data).
    /// </summary>
    public string? Disagreement(Summary sum)
    {
        var want = For(Start, sum);
        if (Count != want.Count) return $"claims {Count} blocks, its summary describes {want.Count}";
        if (Typed != want.Typed) return $"types {Typed} blocks, its summary's entries say {want.Typed}";
        if (!TypedCounts.InOrder(sum)) return "its summary has a node, inode or inode-map block before the typed tail (typed xn.data)";
        return null;
    }
}

/// <summary>
/// How many of a partial's last blocks XN types: node blocks, then inode blocks, then inode-map blocks (the order a
/// flush appends them: file contents first, then the tree nodes bottom-up, then inode records, then the map).
/// </summary>
public readonly record struct TypedCounts(uint Nodes, uint Inodes, uint Imap)
{
    /// <summary>The summary's typed tail, counted from its last entry.</summary>
    public static TypedCounts Of(Summary sum)
    {
        var e = sum.Entries;
        int i = e.Count;
        uint imap = 0, inodes = 0, nodes = 0;
        while (i > 0 && e[i - 1].Kind == LogKind.Imap) { imap++; i--; }
        while (i > 0 && e[i - 1].Kind == LogKind.Inodes) { inodes++; i--; }
        while (i > 0 && e[i - 1].Kind == LogKind.Node) { nodes++; i--; }
        return new TypedCounts(nodes, inodes, imap);
    }

    /// <summary>True when no node, inode or inode-map block lies before the summary's typed tail.</summary>
    public static bool InOrder(Summary sum)
    {
        var t = Of(sum);
        int untyped = sum.Entries.Count - (int)(t.Nodes + t.Inodes + t.Imap);
        for (int i = 0; i < untyped; i++)
            if (sum.Entries[i].Kind is LogKind.Node or LogKind.Inodes or LogKind.Imap) return false;
        return true;
    }

    public override string ToString() => $"{Nodes} node, {Inodes} inode, {Imap} imap";
}
