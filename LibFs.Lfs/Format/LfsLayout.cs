using ExoFS.Xn;
using System.Buffers.Binary;
using System.Numerics;

namespace ExoFS.LibFs.Lfs.Format;

/// <summary>
/// The LFS on-disk format, little-endian throughout. Every block is 4096 bytes; an address is an XN block
/// number (a block inside one of the LFS's segments). What lives where:
/// <list type="bullet">
/// <item>the XN root block (<see cref="LfsSuper"/>): a raw header, then pointer entries naming the two
/// checkpoint regions and the segment-table blocks;</item>
/// <item>segment-table blocks (<see cref="SegTab"/>): one entry per segment slot, naming the segment's extent;</item>
/// <item>segments: the log. Each holds partial segments, each a <see cref="Summary"/> block followed by the
/// blocks it describes in this order: file contents (data, directory, xattr and packed blocks), tree nodes,
/// inode blocks, inode-map blocks (the last three typed in XN by the segment head's <see cref="ClaimEntry"/>);</item>
/// <item>two checkpoint regions (<see cref="CheckpointRecord"/>), written alternately.</item>
/// </list>
/// </summary>
public static class LfsLayout
{
    public const int BlockSize = 4096;
    /// <summary>
    /// Where XN keeps its CRC-32C (TypeSpec.ChecksumOffset) in each of the LFS's typed blocks (superblock,
    /// segment tables, segment heads): their last 4 bytes, outside every raw range and UDF read set.
    /// </summary>
    public const int ChecksumOffset = BlockSize - 4;
    public const ulong RootIno = 1;
    /// <summary>Inode records an inode block holds at least (all in the long form); up to 32 in the short one.</summary>
    public const int MinInodesPerBlock = BlockSize / (2 * InodeRecord.SlotBytes);
    public const int ImapEntriesPerBlock = BlockSize / 8;
    public const int PointersPerBlock = BlockSize / 8;
    public const int DirectPointers = 12;
    public const int MaxNameBytes = 255;
    public const int MinSegmentBytes = 256 << 10, MaxSegmentBytes = 4 << 20, DefaultSegmentBytes = 1 << 20;
    public const int SegmentBlocksMin = MinSegmentBytes / BlockSize;

    /// <summary>
    /// A block-map pointer that names no block: the file block was allocated by fallocate and not written
    /// since. It reads as zeros, counts in st_blocks and is data to SEEK_DATA; its space is held in the
    /// reservation count (<see cref="CheckpointRecord.Reserved"/>), not in the log.
    /// </summary>
    public const ulong ReservedBlock = ulong.MaxValue;

    /// <summary>
    /// Small files share log blocks: a regular file of at most <see cref="PackedMaxBytes"/> whose block 0 is
    /// flushed alone has it written as a run of 512-byte fragments inside a <see cref="LogKind.Packed"/> block
    /// holding up to <see cref="PackedMaxMembers"/> files' data (as FFS fragments or F2FS inline data). The
    /// pointer to it is packed: bits 62-63 = 2, fragment count − 1 in bits 59-61, first fragment in bits 56-58,
    /// the block's address in bits 0-55. The file block reads as those fragments, then zeros. Segment usage is
    /// counted in fragments (<see cref="FragmentsPerBlock"/> to a block), so a packed block is live while any of
    /// its fragments is.
    /// </summary>
    public const int FragmentSize = 512, FragmentsPerBlock = BlockSize / FragmentSize;
    public const ulong PackedMaxBytes = 3 * 1024;
    /// <summary>Members of one packed block: its summary entry names the first inode and four 16-bit deltas.</summary>
    public const int PackedMaxMembers = 5;

    public static bool IsPacked(ulong ptr) => ptr >> 62 == 2;
    public static ulong Packed(ulong addr, int firstFragment, int fragments) =>
        (2UL << 62) | ((ulong)(fragments - 1) << 59) | ((ulong)firstFragment << 56) | addr;
    public static ulong PackedAddr(ulong ptr) => ptr & ((1UL << 56) - 1);
    public static int PackedFirst(ulong ptr) => (int)((ptr >> 56) & 7);
    public static int PackedFragments(ulong ptr) => (int)((ptr >> 59) & 7) + 1;
    /// <summary>The block a data pointer lives in (its own value unless packed).</summary>
    public static ulong BlockOf(ulong ptr) => IsPacked(ptr) ? PackedAddr(ptr) : ptr;

    /// <summary>File blocks a file can map: 12 direct, then one tree of depth 1, 2 and 3.</summary>
    public const ulong MaxFileBlocks = DirectPointers + 512UL + 512UL * 512 + 512UL * 512 * 512;
}

/// <summary>
/// The LFS superblock, the XN root: header <c>[0,256)</c> (raw-writable): magic u64 @0, version u32 @8,
/// segment blocks u32 @12, segment slots u32 @16, segment-table blocks u32 @20, checkpoint blocks u32 @24,
/// max inodes u32 @28, created s64 @32, cleaner policy u32 @40, start % u32 @44, stop % u32 @48, where the cleaner
/// writes survivors u32 @52 (0: a head of its own, 1: the log's head; 0 in images made before it), crc u32 @252.
/// From <c>@256</c>, 16-byte pointer entries (XN's read set; changed only by Alloc/Free): start u64,
/// count u32, kind u32 (0 = xn.data, 1 = lfs.segtab). Entry 0 and 1 are the checkpoint regions,
/// entries 2.. the segment-table blocks.
/// </summary>
public sealed record LfsSuper(uint SegmentBlocks, uint SegmentSlots, uint SegTabBlocks, uint CheckpointBlocks,
    uint MaxInodes, long Created, uint CleanerPolicy, uint CleanStartPercent, uint CleanStopPercent, uint Survivors = 0)
{
    /// <summary><see cref="Survivors"/>: the cleaner's copies go to a head of their own, apart from new data (the default).</summary>
    public const uint SurvivorsOwnHead = 0;
    /// <summary><see cref="Survivors"/>: the cleaner's copies go to the log's head, with new data (Sprite LFS).</summary>
    public const uint SurvivorsLogHead = 1;

    public const ulong Magic = 0x3130_5346_4C4F_5845; // "EXOLFS01"
    /// <summary>
    /// 6: inode records in 128-byte slots, one for a record whose only pointer is its first direct one, two for
    /// the rest (5: 256-byte records, 16 to a block);
    /// 5: a segment head's claim entry types a partial's tree-node blocks too (lfs.nodes; count u16, nodes u16);
    /// 4: each summary entry carries its block's CRC-32C, verified on every read (3: packed small-file blocks and
    /// segment usage in fragments; 2: whole blocks only).
    /// </summary>
    public const uint Version = 6;
    public const int HeaderSize = 256;
    public const int EntriesOffset = 256, EntrySize = 16;
    public const int Entries = (LfsLayout.ChecksumOffset - EntriesOffset) / EntrySize;
    public const int FirstSegTabEntry = 2;
    public const int MaxSegTabBlocks = Entries - FirstSegTabEntry;

    public static int EntryOffset(int entry) => EntriesOffset + entry * EntrySize;

    public void WriteTo(Span<byte> header)
    {
        header[..HeaderSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], SegmentBlocks);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SegmentSlots);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], SegTabBlocks);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], CheckpointBlocks);
        BinaryPrimitives.WriteUInt32LittleEndian(header[28..], MaxInodes);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], Created);
        BinaryPrimitives.WriteUInt32LittleEndian(header[40..], CleanerPolicy);
        BinaryPrimitives.WriteUInt32LittleEndian(header[44..], CleanStartPercent);
        BinaryPrimitives.WriteUInt32LittleEndian(header[48..], CleanStopPercent);
        BinaryPrimitives.WriteUInt32LittleEndian(header[52..], Survivors);
        BinaryPrimitives.WriteUInt32LittleEndian(header[252..], XnCrc32C.Compute(header[..252]));
    }

    /// <summary>The format version of an intact LFS header of any version (null if it is not one), to name an older image.</summary>
    public static uint? VersionOf(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderSize || BinaryPrimitives.ReadUInt64LittleEndian(header) != Magic) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[252..]) != XnCrc32C.Compute(header[..252])) return null;
        return BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
    }

    /// <summary>The header, or null if it is not a valid LFS superblock.</summary>
    public static LfsSuper? ReadFrom(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderSize || BinaryPrimitives.ReadUInt64LittleEndian(header) != Magic) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[252..]) != XnCrc32C.Compute(header[..252])) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) != Version) return null;
        var s = new LfsSuper(
            BinaryPrimitives.ReadUInt32LittleEndian(header[12..]), BinaryPrimitives.ReadUInt32LittleEndian(header[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(header[20..]), BinaryPrimitives.ReadUInt32LittleEndian(header[24..]),
            BinaryPrimitives.ReadUInt32LittleEndian(header[28..]), BinaryPrimitives.ReadInt64LittleEndian(header[32..]),
            BinaryPrimitives.ReadUInt32LittleEndian(header[40..]), BinaryPrimitives.ReadUInt32LittleEndian(header[44..]),
            BinaryPrimitives.ReadUInt32LittleEndian(header[48..]), BinaryPrimitives.ReadUInt32LittleEndian(header[52..]));
        bool sane = s.SegmentBlocks is >= LfsLayout.MinSegmentBytes / LfsLayout.BlockSize and <= LfsLayout.MaxSegmentBytes / LfsLayout.BlockSize
            && s.SegTabBlocks >= 1 && s.SegTabBlocks <= MaxSegTabBlocks
            && s.SegmentSlots >= 1 && s.SegmentSlots <= s.SegTabBlocks * (uint)SegTab.Entries
            && s.CheckpointBlocks >= 1 && s.CheckpointBlocks <= 1024 && s.MaxInodes >= 16 && s.Survivors <= SurvivorsLogHead
            && CheckpointRecord.BlocksFor(s.MaxInodes, s.SegmentSlots) <= s.CheckpointBlocks;
        return sane ? s : null;
    }
}

/// <summary>
/// A segment-table block: 255 entries of 16 bytes (start u64, count u32, 0 u32), one per segment slot; 0 = no
/// segment; XN's CRC-32C in the last 4 bytes.
/// </summary>
public static class SegTab
{
    public const int EntrySize = 16;
    public const int Entries = LfsLayout.ChecksumOffset / EntrySize;
    public static int EntryOffset(int slotInBlock) => slotInBlock * EntrySize;
}

/// <summary>What a log block holds, as its summary entry says.</summary>
/// <summary>
/// What a log block is. <see cref="Packed"/>: several small files' block 0 (see <see cref="LfsLayout.PackedMaxBytes"/>);
/// its summary entry's inode is the first member and its index four 16-bit deltas to the others (0: none).
/// </summary>
public enum LogKind : byte { Data = 1, Node = 2, Inodes = 3, Imap = 4, Xattr = 5, Packed = 6 }

/// <summary>
/// One summary entry: the kind of block, the inode it belongs to, where in it (file block, tree-node key or imap
/// block index), and the block's CRC-32C. The LFS never rewrites a live address, so the CRC the summary recorded
/// when the block was appended stays the block's as long as anything points at it: every read checks it, which
/// also catches an older copy of a block that carries a valid checksum of its own.
/// </summary>
public readonly record struct SummaryEntry(LogKind Kind, uint Ino, ulong Index, uint Crc = 0);

/// <summary>
/// The summary block opening each partial segment: magic u64 @0, partial sequence u64 @8, slot u32 @16,
/// offset in segment u32 @20, entry count u32 @24, flags u32 @28 (bit 0: the write unit continues in the next
/// partial), next slot u32 @32 (where the log goes when this segment is full; uint.MaxValue: not yet chosen),
/// time (ns since the epoch) s64 @40, crc of the blocks described u32 @48, crc of this block u32 @60; then
/// from @64, 20-byte entries: kind u8, 0 u8 u16, inode u32, index u64, the block's CRC-32C u32.
/// </summary>
public sealed record Summary(ulong Seq, uint Slot, uint Offset, uint Flags, uint NextSlot, long TimeNs, uint DataCrc,
    IReadOnlyList<SummaryEntry> Entries)
{
    public const ulong Magic = 0x5952_414D_4D55_5346; // "FSUMMARY"
    public const int HeaderSize = 64, EntrySize = 20;
    public const int MaxEntries = (LfsLayout.BlockSize - HeaderSize) / EntrySize;
    public const uint Continues = 1;
    public const uint NoSlot = uint.MaxValue;

    public bool ContinuesUnit => (Flags & Continues) != 0;

    public void WriteTo(Span<byte> block)
    {
        block[..LfsLayout.BlockSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(block, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], Seq);
        BinaryPrimitives.WriteUInt32LittleEndian(block[16..], Slot);
        BinaryPrimitives.WriteUInt32LittleEndian(block[20..], Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(block[24..], (uint)Entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(block[28..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(block[32..], NextSlot);
        BinaryPrimitives.WriteInt64LittleEndian(block[40..], TimeNs);
        BinaryPrimitives.WriteUInt32LittleEndian(block[48..], DataCrc);
        for (int i = 0; i < Entries.Count; i++)
        {
            var e = block.Slice(HeaderSize + i * EntrySize, EntrySize);
            e[0] = (byte)Entries[i].Kind;
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], Entries[i].Ino);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], Entries[i].Index);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], Entries[i].Crc);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(block[60..], XnCrc32C.Compute(block[..LfsLayout.BlockSize]));
    }

    /// <summary>The summary, or null if the block is not one (bad magic, checksum or count).</summary>
    public static Summary? ReadFrom(ReadOnlySpan<byte> block)
    {
        if (BinaryPrimitives.ReadUInt64LittleEndian(block) != Magic) return null;
        Span<byte> copy = stackalloc byte[LfsLayout.BlockSize];
        block[..LfsLayout.BlockSize].CopyTo(copy);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(copy[60..]);
        copy[60..64].Clear();
        if (crc != XnCrc32C.Compute(copy)) return null;
        int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(block[24..]);
        if (count is < 0 or > MaxEntries) return null;
        var entries = new SummaryEntry[count];
        for (int i = 0; i < count; i++)
        {
            var e = block.Slice(HeaderSize + i * EntrySize, EntrySize);
            var kind = (LogKind)e[0];
            if (kind is < LogKind.Data or > LogKind.Packed) return null;
            entries[i] = new SummaryEntry(kind, BinaryPrimitives.ReadUInt32LittleEndian(e[4..]), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                BinaryPrimitives.ReadUInt32LittleEndian(e[16..]));
        }
        return new Summary(BinaryPrimitives.ReadUInt64LittleEndian(block[8..]), BinaryPrimitives.ReadUInt32LittleEndian(block[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(block[20..]), BinaryPrimitives.ReadUInt32LittleEndian(block[28..]),
            BinaryPrimitives.ReadUInt32LittleEndian(block[32..]), BinaryPrimitives.ReadInt64LittleEndian(block[40..]),
            BinaryPrimitives.ReadUInt32LittleEndian(block[48..]), entries);
    }
}

/// <summary>Per-segment usage as a checkpoint stores it: live blocks and the last write (the log clock: blocks appended, see SegmentWriter.Clock).</summary>
/// <summary>A segment's usage: live fragments (8 to a block, see <see cref="LfsLayout.FragmentsPerBlock"/>) and last write.</summary>
public readonly record struct SegUsage(uint LiveFragments, uint LastWrite);

/// <summary>
/// A checkpoint region (<see cref="BlocksFor"/> blocks): magic u64 @0, sequence u64 @8, time ns s64 @16,
/// head slot u32 @24 (uint.MaxValue: none), head offset u32 @28, next partial sequence u64 @32, next inode
/// u64 @40, next generation u64 @48, imap blocks u32 @56, slots u32 @60, flags u32 @64 (bit 0: clean unmount),
/// cleaner figures @72 (segments cleaned u64, blocks read u64, live blocks moved u64, new blocks u64), file
/// blocks reserved by fallocate u64 @104 (pointers equal to <see cref="LfsLayout.ReservedBlock"/>), crc u32
/// @124 over the whole region with this field zero; from @128 the imap block addresses (u64 each), then per
/// slot its usage (live u32, last write u32).
/// </summary>
public sealed record CheckpointRecord(ulong Seq, long TimeNs, uint HeadSlot, uint HeadOffset, ulong NextPartialSeq,
    ulong NextIno, ulong NextGeneration, uint Flags, ulong[] ImapBlocks, SegUsage[] Usage,
    ulong SegmentsCleaned, ulong CleanerBlocksRead, ulong CleanerBlocksMoved, ulong NewBlocks)
{
    public const ulong Magic = 0x544E_494F_504B_4843; // "CHKPOINT"
    public const int HeaderSize = 128;
    public const uint CleanFlag = 1;

    /// <summary>File blocks fallocate reserved and nothing has written yet, across every file (0 in older images: none).</summary>
    public ulong Reserved { get; init; }

    public static uint BlocksFor(uint maxInodes, uint slots)
    {
        ulong imapBlocks = (maxInodes + (ulong)LfsLayout.ImapEntriesPerBlock - 1) / LfsLayout.ImapEntriesPerBlock;
        ulong bytes = HeaderSize + imapBlocks * 8 + slots * 8UL;
        return (uint)((bytes + LfsLayout.BlockSize - 1) / LfsLayout.BlockSize);
    }

    public void WriteTo(Span<byte> region)
    {
        region.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(region, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], Seq);
        BinaryPrimitives.WriteInt64LittleEndian(region[16..], TimeNs);
        BinaryPrimitives.WriteUInt32LittleEndian(region[24..], HeadSlot);
        BinaryPrimitives.WriteUInt32LittleEndian(region[28..], HeadOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(region[32..], NextPartialSeq);
        BinaryPrimitives.WriteUInt64LittleEndian(region[40..], NextIno);
        BinaryPrimitives.WriteUInt64LittleEndian(region[48..], NextGeneration);
        BinaryPrimitives.WriteUInt32LittleEndian(region[56..], (uint)ImapBlocks.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(region[60..], (uint)Usage.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(region[64..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(region[72..], SegmentsCleaned);
        BinaryPrimitives.WriteUInt64LittleEndian(region[80..], CleanerBlocksRead);
        BinaryPrimitives.WriteUInt64LittleEndian(region[88..], CleanerBlocksMoved);
        BinaryPrimitives.WriteUInt64LittleEndian(region[96..], NewBlocks);
        BinaryPrimitives.WriteUInt64LittleEndian(region[104..], Reserved);
        int off = HeaderSize;
        foreach (ulong a in ImapBlocks) { BinaryPrimitives.WriteUInt64LittleEndian(region[off..], a); off += 8; }
        foreach (var u in Usage)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(region[off..], u.LiveFragments);
            BinaryPrimitives.WriteUInt32LittleEndian(region[(off + 4)..], u.LastWrite);
            off += 8;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(region[124..], XnCrc32C.Compute(region));
    }

    /// <summary>The checkpoint, or null if the region is torn, blank or not one.</summary>
    public static CheckpointRecord? ReadFrom(ReadOnlySpan<byte> region)
    {
        if (region.Length < HeaderSize || BinaryPrimitives.ReadUInt64LittleEndian(region) != Magic) return null;
        var copy = region.ToArray();
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(124));
        copy.AsSpan(124, 4).Clear();
        if (crc != XnCrc32C.Compute(copy)) return null;
        uint imapCount = BinaryPrimitives.ReadUInt32LittleEndian(region[56..]);
        uint slots = BinaryPrimitives.ReadUInt32LittleEndian(region[60..]);
        if (HeaderSize + (imapCount + (ulong)slots) * 8 > (ulong)region.Length) return null;
        var imap = new ulong[imapCount];
        int off = HeaderSize;
        for (int i = 0; i < imap.Length; i++, off += 8) imap[i] = BinaryPrimitives.ReadUInt64LittleEndian(region[off..]);
        var usage = new SegUsage[slots];
        for (int i = 0; i < usage.Length; i++, off += 8)
            usage[i] = new SegUsage(BinaryPrimitives.ReadUInt32LittleEndian(region[off..]), BinaryPrimitives.ReadUInt32LittleEndian(region[(off + 4)..]));
        return new CheckpointRecord(BinaryPrimitives.ReadUInt64LittleEndian(region[8..]), BinaryPrimitives.ReadInt64LittleEndian(region[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(region[24..]), BinaryPrimitives.ReadUInt32LittleEndian(region[28..]),
            BinaryPrimitives.ReadUInt64LittleEndian(region[32..]), BinaryPrimitives.ReadUInt64LittleEndian(region[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(region[48..]), BinaryPrimitives.ReadUInt32LittleEndian(region[64..]),
            imap, usage, BinaryPrimitives.ReadUInt64LittleEndian(region[72..]), BinaryPrimitives.ReadUInt64LittleEndian(region[80..]),
            BinaryPrimitives.ReadUInt64LittleEndian(region[88..]), BinaryPrimitives.ReadUInt64LittleEndian(region[96..]))
        { Reserved = BinaryPrimitives.ReadUInt64LittleEndian(region[104..]) };
    }
}
