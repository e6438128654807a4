using ExoFS.Xn;
using System.Buffers.Binary;

namespace ExoFS.LibFs.Lfs.Format;

/// <summary>
/// One inode record, in one or two 128-byte slots of an inode block (32 slots a block). Both forms share the
/// first 112 bytes: ino u64 @0 (0: empty slot), mode u32 @8 (0 with a nonzero ino: a tombstone, the inode was
/// deleted), nlink u32 @12, uid u32 @16, gid u32 @20, rdev u64 @24, size u64 @32, data blocks u64 @40, atime
/// s64 @48 + ns u32 @56, mtime ns u32 @60 + s64 @64, ctime s64 @72 + ns u32 @80, generation u64 @88, xattr block
/// u64 @96, slots u32 @104 (1 or 2), reserved u32 @108. The short form (one slot, for a record whose only pointer
/// is its first direct one: a small file, a tombstone, an empty or small directory) then holds direct[0] u64 @112
/// and its crc u32 @124; the long form (two slots) direct[12] u64 @112, tree roots[3] u64 @208 and its crc u32
/// @252. Each crc32c covers the record up to it. A 1 KB file's inode takes 128 bytes, so 10,000 small creates
/// write half the inode blocks they did in 256-byte records.
/// </summary>
public sealed class InodeRecord
{
    public const int SlotBytes = 128;
    public const int SlotsPerBlock = LfsLayout.BlockSize / SlotBytes;
    private const int SlotsOffset = 104, PointersOffset = 112, RootsOffset = 208;

    public ulong Ino;
    public uint Mode, Nlink, Uid, Gid;
    public ulong Rdev, Size, Blocks;
    public long AtimeSec, MtimeSec, CtimeSec;
    public uint AtimeNsec, MtimeNsec, CtimeNsec;
    public ulong Generation, Xattr;
    public ulong[] Direct = new ulong[LfsLayout.DirectPointers];
    public ulong[] Roots = new ulong[3];

    public bool IsTombstone => Mode == 0;

    /// <summary>Slots the record takes: one when nothing but its first direct pointer is set, else two.</summary>
    public int Slots
    {
        get
        {
            for (int i = 1; i < Direct.Length; i++) if (Direct[i] != 0) return 2;
            foreach (ulong r in Roots) if (r != 0) return 2;
            return 1;
        }
    }

    /// <summary>Writes the record into <paramref name="r"/>, <see cref="Slots"/> × 128 bytes of it.</summary>
    public void WriteTo(Span<byte> r)
    {
        int slots = Slots;
        r = r[..(slots * SlotBytes)];
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
        BinaryPrimitives.WriteUInt32LittleEndian(r[SlotsOffset..], (uint)slots);
        int pointers = slots == 1 ? 1 : Direct.Length;
        for (int i = 0; i < pointers; i++) BinaryPrimitives.WriteUInt64LittleEndian(r[(PointersOffset + i * 8)..], Direct[i]);
        if (slots == 2)
            for (int i = 0; i < 3; i++) BinaryPrimitives.WriteUInt64LittleEndian(r[(RootsOffset + i * 8)..], Roots[i]);
        int crc = r.Length - 4;
        BinaryPrimitives.WriteUInt32LittleEndian(r[crc..], XnCrc32C.Compute(r[..crc]));
    }

    /// <summary>
    /// The record starting at <paramref name="r"/> (a slot and what follows it in its block), or null for an empty
    /// slot or a damaged record (bad checksum, a slot count other than 1 or 2, a long record past the block's end).
    /// </summary>
    public static InodeRecord? ReadFrom(ReadOnlySpan<byte> r)
    {
        if (r.Length < SlotBytes) return null;
        ulong ino = BinaryPrimitives.ReadUInt64LittleEndian(r);
        if (ino == 0) return null;
        uint slots = BinaryPrimitives.ReadUInt32LittleEndian(r[SlotsOffset..]);
        if (slots is not (1 or 2) || r.Length < slots * SlotBytes) return null;
        r = r[..(int)(slots * SlotBytes)];
        int crc = r.Length - 4;
        if (BinaryPrimitives.ReadUInt32LittleEndian(r[crc..]) != XnCrc32C.Compute(r[..crc])) return null;
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
        int pointers = slots == 1 ? 1 : x.Direct.Length;
        for (int i = 0; i < pointers; i++) x.Direct[i] = BinaryPrimitives.ReadUInt64LittleEndian(r[(PointersOffset + i * 8)..]);
        if (slots == 2)
            for (int i = 0; i < 3; i++) x.Roots[i] = BinaryPrimitives.ReadUInt64LittleEndian(r[(RootsOffset + i * 8)..]);
        return x;
    }

    /// <summary>The records of an inode block with their slots, in slot order (a damaged record's slot is skipped).</summary>
    public static IEnumerable<(int Slot, InodeRecord Record)> InBlock(byte[] block)
    {
        for (int s = 0; s < SlotsPerBlock; s++)
        {
            var rec = ReadFrom(block.AsSpan(s * SlotBytes));
            if (rec is null) continue;
            yield return (s, rec);
            s += rec.Slots - 1;
        }
    }
}

/// <summary>An inode-map entry: the inode block's address times 32 plus the record's first slot; 0 = no such inode.</summary>
public static class ImapEntry
{
    public static ulong Make(ulong block, int slot) => (block << 5) | (uint)slot;
    public static ulong Block(ulong entry) => entry >> 5;
    public static int Slot(ulong entry) => (int)(entry & 31);
}
