using System.Buffers.Binary;

namespace ExoFS.LibFs.Ffs.Format;

/// <summary>One allocation group's entry in the superblock's group table (32 bytes).</summary>
/// <remarks>
/// Bytes 0–27 are pointers (read by the superblock's owns-UDF, changed only through XN Alloc/Free);
/// bytes 28–31 (<see cref="Directories"/>) are a raw counter the placement policy keeps. Bytes 0–7 are reserved
/// (zero) since format 4: they held the group's block bitmap, whose facts are XN's free map now.
/// </remarks>
public record struct GroupEntry(ulong InodeBitmap, ulong InodeTable, uint InodeTableBlocks, uint Directories)
{
    public const int Size = 32;
    public const int ReservedOffset = 0, InodeBitmapOffset = 8, InodeTableOffset = 16, InodeTableBlocksOffset = 24,
        DirectoriesOffset = 28;
    /// <summary>The bytes of an entry the owns-UDF reads (pointer fields).</summary>
    public const int PointerBytes = 28;

    /// <summary>The reserved bytes 0–7 (zero in every entry this format writes; the UDF emits nothing for them).</summary>
    public static ulong Reserved(ReadOnlySpan<byte> s) => BinaryPrimitives.ReadUInt64LittleEndian(s[ReservedOffset..]);

    public static GroupEntry ReadFrom(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(s[InodeBitmapOffset..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[InodeTableOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[InodeTableBlocksOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[DirectoriesOffset..]));

    public readonly void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[ReservedOffset..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(s[InodeBitmapOffset..], InodeBitmap);
        BinaryPrimitives.WriteUInt64LittleEndian(s[InodeTableOffset..], InodeTable);
        BinaryPrimitives.WriteUInt32LittleEndian(s[InodeTableBlocksOffset..], InodeTableBlocks);
        BinaryPrimitives.WriteUInt32LittleEndian(s[DirectoriesOffset..], Directories);
    }
}

/// <summary>
/// The superblock header (bytes 0–243 of the FFS root block; all raw fields; 244–251 XN's write sequence, 252–255
/// the checksum). The group table follows
/// at <see cref="GroupTableOffset"/>, entry g at <c>GroupTableOffset + 32·g</c>.
/// </summary>
public record struct Superblock(
    uint Version,
    uint GroupCount,
    uint InodesPerGroup,
    ulong TotalBlocks,
    uint Clean,
    ulong NextGeneration,
    long CreatedSec)
{
    public const ulong MagicValue = 0x31305346464F5845; // "EXOFFS01" read as little-endian u64
    /// <summary>
    /// 2: checksummed metadata (the header's last four bytes, 511-pointer indirect blocks, 32736-block groups);
    /// 3: acl and size UDFs, typed directory blocks; 4: no block bitmaps (a group's free space is XN's free map);
    /// 5: a write sequence in every metadata block (XN's block versions refuse a stale copy; <see cref="FfsLayout"/>).
    /// </summary>
    public const uint CurrentVersion = 5;
    /// <summary>The raw header FFS writes: bytes 0–243. Bytes 244–251 are the block's write sequence, 252–255 its checksum (XN's).</summary>
    public const int HeaderSize = 244;
    public const int SequenceOffset = HeaderSize;
    public const int ChecksumOffset = SequenceOffset + FfsLayout.SequenceBytes;
    public const int GroupTableOffset = 256;

    public const int MagicOffset = 0, VersionOffset = 8, BlockSizeOffset = 12, GroupCountOffset = 16,
        BlocksPerGroupOffset = 20, InodesPerGroupOffset = 24, InodeSizeOffset = 28, TotalBlocksOffset = 32,
        CleanOffset = 40, NextGenerationOffset = 48, CreatedOffset = 56, FeaturesOffset = 64;

    /// <summary>Where a pending <see cref="NameIntent"/> lives in the header (zero when none; 136 bytes, to 208).</summary>
    public const int IntentOffset = 72;

    /// <summary>
    /// <see cref="Clean"/> bits: <see cref="CleanUnmounted"/>, the last session unmounted cleanly;
    /// <see cref="LeaksPending"/>, a mount after a crash deferred its recovery walk, so leaks (soft updates'
    /// allowance, nothing else) may remain until a walk (fsck --repair, or a mount that walks) reclaims them.
    /// </summary>
    public const uint CleanUnmounted = 1, LeaksPending = 2;

    /// <summary><see cref="Features"/> bit: data blocks carry CRC-32Cs in ffs.csum blocks (mkfs --data-checksums).</summary>
    public const uint FeatureDataChecksums = 1;
    public const uint KnownFeatures = FeatureDataChecksums;

    /// <summary>Format options chosen at mkfs (<see cref="FeatureDataChecksums"/>); an unknown bit refuses the mount.</summary>
    public uint Features { get; init; }
    public readonly bool DataChecksums => (Features & FeatureDataChecksums) != 0;

    /// <summary>
    /// Blocks per allocation group, chosen at mkfs: <see cref="FfsLayout.BlocksPerGroup"/> (what one bitmap block
    /// covers) unless smaller groups were asked for (a multiple of 8, at least <see cref="MinBlocksPerGroup"/>).
    /// </summary>
    public uint BlocksPerGroup { get; init; } = (uint)FfsLayout.BlocksPerGroup;
    public const uint MinBlocksPerGroup = 64;

    public static int GroupOffset(int group) => GroupTableOffset + group * GroupEntry.Size;

    /// <summary>Decodes the header; null when the magic, block size or geometry do not match this format.</summary>
    public static Superblock? ReadFrom(ReadOnlySpan<byte> s)
    {
        if (BinaryPrimitives.ReadUInt64LittleEndian(s[MagicOffset..]) != MagicValue) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(s[BlockSizeOffset..]) != FfsLayout.BlockSize) return null;
        uint blocksPerGroup = BinaryPrimitives.ReadUInt32LittleEndian(s[BlocksPerGroupOffset..]);
        if (blocksPerGroup < MinBlocksPerGroup || blocksPerGroup > FfsLayout.BlocksPerGroup || blocksPerGroup % 8 != 0) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(s[InodeSizeOffset..]) != FfsLayout.InodeSize) return null;
        var sb = new Superblock(
            BinaryPrimitives.ReadUInt32LittleEndian(s[VersionOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[GroupCountOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[InodesPerGroupOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[TotalBlocksOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[CleanOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[NextGenerationOffset..]),
            BinaryPrimitives.ReadInt64LittleEndian(s[CreatedOffset..]))
        { Features = BinaryPrimitives.ReadUInt32LittleEndian(s[FeaturesOffset..]), BlocksPerGroup = blocksPerGroup };
        if ((sb.Features & ~KnownFeatures) != 0) return null;
        if (sb.Version != CurrentVersion || sb.GroupCount == 0 || sb.GroupCount > FfsLayout.MaxGroups
            || sb.InodesPerGroup == 0 || sb.InodesPerGroup % FfsLayout.InodesPerBlock != 0) return null;
        return sb;
    }

    /// <summary>Writes the 244-byte raw header (not the sequence, the checksum or the group table).</summary>
    public readonly void WriteTo(Span<byte> s)
    {
        s[..HeaderSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(s[MagicOffset..], MagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(s[VersionOffset..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(s[BlockSizeOffset..], FfsLayout.BlockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[GroupCountOffset..], GroupCount);
        BinaryPrimitives.WriteUInt32LittleEndian(s[BlocksPerGroupOffset..], BlocksPerGroup);
        BinaryPrimitives.WriteUInt32LittleEndian(s[InodesPerGroupOffset..], InodesPerGroup);
        BinaryPrimitives.WriteUInt32LittleEndian(s[InodeSizeOffset..], FfsLayout.InodeSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[TotalBlocksOffset..], TotalBlocks);
        BinaryPrimitives.WriteUInt32LittleEndian(s[CleanOffset..], Clean);
        BinaryPrimitives.WriteUInt64LittleEndian(s[NextGenerationOffset..], NextGeneration);
        BinaryPrimitives.WriteInt64LittleEndian(s[CreatedOffset..], CreatedSec);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FeaturesOffset..], Features);
    }
}
