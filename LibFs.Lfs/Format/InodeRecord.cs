using ExoFS.Xn;
using System.Buffers.Binary;

namespace ExoFS.LibFs.Lfs.Format;

/// <summary>
/// One 256-byte inode record; an inode block holds 16. ino u64 @0 (0: empty slot), mode u32 @8 (0 with a
/// nonzero ino: a tombstone, the inode was deleted), nlink u32 @12, uid u32 @16, gid u32 @20, rdev u64 @24,
/// size u64 @32, data blocks u64 @40, atime s64 @48 + ns u32 @56, mtime ns u32 @60 + s64 @64, ctime s64 @72 +
/// ns u32 @80, generation u64 @88, xattr block u64 @96, direct[12] u64 @104, tree roots[3] u64 @200,
/// crc u32 @252 over the record with this field zero.
/// </summary>
public sealed class InodeRecord
{
    public ulong Ino;
    public uint Mode, Nlink, Uid, Gid;
    public ulong Rdev, Size, Blocks;
    public long AtimeSec, MtimeSec, CtimeSec;
    public uint AtimeNsec, MtimeNsec, CtimeNsec;
    public ulong Generation, Xattr;
    public ulong[] Direct = new ulong[LfsLayout.DirectPointers];
    public ulong[] Roots = new ulong[3];

    public bool IsTombstone => Mode == 0;

    public void WriteTo(Span<byte> r)
    {
        r = r[..LfsLayout.InodeSize];
        r.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(r, Ino);
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(r[12..], Nlink);
        BinaryPrimitives.WriteUInt32LittleEndian(r[16..], Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(r[20..], Gid);
        BinaryPrimitives.WriteUInt64LittleEndian(r[24..], Rdev);
        BinaryPrimitives.WriteUInt64LittleEndian(r[32..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(r[40..], Blocks);
        BinaryPrimitives.WriteInt64LittleEndian(r[48..], AtimeSec);
        BinaryPrimitives.WriteUInt32LittleEndian(r[56..], AtimeNsec);
        BinaryPrimitives.WriteUInt32LittleEndian(r[60..], MtimeNsec);
        BinaryPrimitives.WriteInt64LittleEndian(r[64..], MtimeSec);
        BinaryPrimitives.WriteInt64LittleEndian(r[72..], CtimeSec);
        BinaryPrimitives.WriteUInt32LittleEndian(r[80..], CtimeNsec);
        BinaryPrimitives.WriteUInt64LittleEndian(r[88..], Generation);
        BinaryPrimitives.WriteUInt64LittleEndian(r[96..], Xattr);
        for (int i = 0; i < Direct.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(r[(104 + i * 8)..], Direct[i]);
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteUInt64LittleEndian(r[(200 + i * 8)..], Roots[i]);
        BinaryPrimitives.WriteUInt32LittleEndian(r[252..], XnCrc32C.Compute(r[..252]));
    }

    /// <summary>The record, or null for an empty slot or a damaged record (bad checksum).</summary>
    public static InodeRecord? ReadFrom(ReadOnlySpan<byte> r)
    {
        r = r[..LfsLayout.InodeSize];
        ulong ino = BinaryPrimitives.ReadUInt64LittleEndian(r);
        if (ino == 0) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(r[252..]) != XnCrc32C.Compute(r[..252])) return null;
        var x = new InodeRecord
        {
            Ino = ino,
            Mode = BinaryPrimitives.ReadUInt32LittleEndian(r[8..]),
            Nlink = BinaryPrimitives.ReadUInt32LittleEndian(r[12..]),
            Uid = BinaryPrimitives.ReadUInt32LittleEndian(r[16..]),
            Gid = BinaryPrimitives.ReadUInt32LittleEndian(r[20..]),
            Rdev = BinaryPrimitives.ReadUInt64LittleEndian(r[24..]),
            Size = BinaryPrimitives.ReadUInt64LittleEndian(r[32..]),
            Blocks = BinaryPrimitives.ReadUInt64LittleEndian(r[40..]),
            AtimeSec = BinaryPrimitives.ReadInt64LittleEndian(r[48..]),
            AtimeNsec = BinaryPrimitives.ReadUInt32LittleEndian(r[56..]),
            MtimeNsec = BinaryPrimitives.ReadUInt32LittleEndian(r[60..]),
            MtimeSec = BinaryPrimitives.ReadInt64LittleEndian(r[64..]),
            CtimeSec = BinaryPrimitives.ReadInt64LittleEndian(r[72..]),
            CtimeNsec = BinaryPrimitives.ReadUInt32LittleEndian(r[80..]),
            Generation = BinaryPrimitives.ReadUInt64LittleEndian(r[88..]),
            Xattr = BinaryPrimitives.ReadUInt64LittleEndian(r[96..]),
        };
        for (int i = 0; i < x.Direct.Length; i++) x.Direct[i] = BinaryPrimitives.ReadUInt64LittleEndian(r[(104 + i * 8)..]);
        for (int i = 0; i < 3; i++) x.Roots[i] = BinaryPrimitives.ReadUInt64LittleEndian(r[(200 + i * 8)..]);
        return x;
    }
}

/// <summary>An inode-map entry: the inode block's address times 16 plus the record's slot; 0 = no such inode.</summary>
public static class ImapEntry
{
    public static ulong Make(ulong block, int slot) => (block << 4) | (uint)slot;
    public static ulong Block(ulong entry) => entry >> 4;
    public static int Slot(ulong entry) => (int)(entry & 15);
}
