using System.Buffers.Binary;

namespace ExoFS.LibFs.Ffs.Format;

/// <summary>
/// One 512-byte inode as stored in an inode-table block (8 per block; slot s at byte 512·s).
/// Bytes 0–87 are raw attributes, 88–91 reserved (in slot 0, the table block's checksum, XN's), 92–95 the
/// kind (file or directory, XN-checked), 96–223 the pointer area (12 direct, single, double, triple indirect,
/// xattr block; changed only through XN Alloc/Free), 224–503 the inline area (a symlink target of up to
/// 280 bytes), 504–511 reserved (in slot 0, the table block's write sequence, XN's; format 5). A free inode is
/// all zeros (mode 0).
/// </summary>
public sealed class DiskInode
{
    public const int ModeOffset = 0, NlinkOffset = 4, UidOffset = 8, GidOffset = 12, SizeOffset = 16,
        BlocksOffset = 24, AtimeOffset = 32, MtimeOffset = 40, CtimeOffset = 48, AtimeNsecOffset = 56,
        MtimeNsecOffset = 60, CtimeNsecOffset = 64, GenerationOffset = 68, RdevOffset = 72, FlagsOffset = 80;
    public const int AttrBytes = 88;
    /// <summary>Where an inode-table block's checksum lies: bytes 88–91 of slot 0, outside every raw range and read set.</summary>
    public const int BlockChecksumOffset = AttrBytes;
    /// <summary>
    /// The inode's kind (u32; bytes 92–95, in the owns-UDF's read set, so only an XN update changes it): whether
    /// its blocks are directory blocks (<see cref="KindDirectory"/>) or data (0). Format 3.
    /// </summary>
    public const int KindOffset = 92;
    public const uint KindFile = 0, KindDirectory = 1;
    public const int PointerOffset = 96;
    public const int PointerBytes = 128;
    public const int Ind1Slot = 12, Ind2Slot = 13, Ind3Slot = 14, XattrSlot = 15;
    public const int InlineOffset = 224;
    /// <summary>
    /// Where an inode-table block's write sequence lies (format 5): bytes 504–511 of slot 0, outside every raw range
    /// and read set; bytes 504–511 of every other slot are reserved (zero).
    /// </summary>
    public const int BlockSequenceOffset = FfsLayout.InodeSize - FfsLayout.SequenceBytes;

    /// <summary>
    /// <see cref="Flags"/> bit: the file owns blocks past its end on purpose (fallocate with KEEP_SIZE), which
    /// fsck must not take for a crash's leftovers. Cleared when a truncate frees them.
    /// </summary>
    public const uint FlagBlocksPastEof = 1;

    public uint Mode, Nlink, Uid, Gid, Generation, Flags;
    public ulong Size, Blocks, Rdev;
    public long AtimeSec, MtimeSec, CtimeSec;
    public uint AtimeNsec, MtimeNsec, CtimeNsec;
    /// <summary>Pointer slots: 0–11 direct, 12 single, 13 double, 14 triple indirect, 15 xattr block.</summary>
    public readonly ulong[] Ptr = new ulong[16];
    public readonly byte[] Inline = new byte[FfsLayout.InlineBytes];

    /// <summary>Byte offset within the inode of pointer slot <paramref name="slot"/>.</summary>
    public static int PointerFieldOffset(int slot) => PointerOffset + slot * 8;

    public bool IsFree => Mode == 0;

    public static DiskInode ReadFrom(ReadOnlySpan<byte> s)
    {
        var i = new DiskInode
        {
            Mode = BinaryPrimitives.ReadUInt32LittleEndian(s[ModeOffset..]),
            Nlink = BinaryPrimitives.ReadUInt32LittleEndian(s[NlinkOffset..]),
            Uid = BinaryPrimitives.ReadUInt32LittleEndian(s[UidOffset..]),
            Gid = BinaryPrimitives.ReadUInt32LittleEndian(s[GidOffset..]),
            Size = BinaryPrimitives.ReadUInt64LittleEndian(s[SizeOffset..]),
            Blocks = BinaryPrimitives.ReadUInt64LittleEndian(s[BlocksOffset..]),
            AtimeSec = BinaryPrimitives.ReadInt64LittleEndian(s[AtimeOffset..]),
            MtimeSec = BinaryPrimitives.ReadInt64LittleEndian(s[MtimeOffset..]),
            CtimeSec = BinaryPrimitives.ReadInt64LittleEndian(s[CtimeOffset..]),
            AtimeNsec = BinaryPrimitives.ReadUInt32LittleEndian(s[AtimeNsecOffset..]),
            MtimeNsec = BinaryPrimitives.ReadUInt32LittleEndian(s[MtimeNsecOffset..]),
            CtimeNsec = BinaryPrimitives.ReadUInt32LittleEndian(s[CtimeNsecOffset..]),
            Generation = BinaryPrimitives.ReadUInt32LittleEndian(s[GenerationOffset..]),
            Rdev = BinaryPrimitives.ReadUInt64LittleEndian(s[RdevOffset..]),
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(s[FlagsOffset..]),
        };
        for (int k = 0; k < 16; k++)
            i.Ptr[k] = BinaryPrimitives.ReadUInt64LittleEndian(s[PointerFieldOffset(k)..]);
        s.Slice(InlineOffset, FfsLayout.InlineBytes).CopyTo(i.Inline);
        return i;
    }

    /// <summary>Writes the raw attribute area (bytes 0–87) only; pointers are XN's to change.</summary>
    public void WriteAttrsTo(Span<byte> s)
    {
        s[..AttrBytes].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[ModeOffset..], Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(s[NlinkOffset..], Nlink);
        BinaryPrimitives.WriteUInt32LittleEndian(s[UidOffset..], Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(s[GidOffset..], Gid);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SizeOffset..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(s[BlocksOffset..], Blocks);
        BinaryPrimitives.WriteInt64LittleEndian(s[AtimeOffset..], AtimeSec);
        BinaryPrimitives.WriteInt64LittleEndian(s[MtimeOffset..], MtimeSec);
        BinaryPrimitives.WriteInt64LittleEndian(s[CtimeOffset..], CtimeSec);
        BinaryPrimitives.WriteUInt32LittleEndian(s[AtimeNsecOffset..], AtimeNsec);
        BinaryPrimitives.WriteUInt32LittleEndian(s[MtimeNsecOffset..], MtimeNsec);
        BinaryPrimitives.WriteUInt32LittleEndian(s[CtimeNsecOffset..], CtimeNsec);
        BinaryPrimitives.WriteUInt32LittleEndian(s[GenerationOffset..], Generation);
        BinaryPrimitives.WriteUInt64LittleEndian(s[RdevOffset..], Rdev);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FlagsOffset..], Flags);
    }

    /// <summary>Writes the whole inode (used by tests and by the in-memory encoders; XN refuses pointer bytes through WriteRaw).</summary>
    public void WriteTo(Span<byte> s)
    {
        WriteAttrsTo(s);
        for (int k = 0; k < 16; k++)
            BinaryPrimitives.WriteUInt64LittleEndian(s[PointerFieldOffset(k)..], Ptr[k]);
        Inline.CopyTo(s[InlineOffset..]);
    }
}
