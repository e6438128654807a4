using System.Buffers.Binary;
using System.Text;

namespace ExoFS.LibFs.Ffs.Format;

/// <summary>
/// Directory-entry packing in one 4096-byte directory block (ext2 style). Records tile bytes [0, 4080) exactly
/// (format 5: 4080–4083 spare, 4084–4091 the block's XN write sequence, 4092–4095 its XN checksum; records are
/// multiples of 8, hence 4080, not 4084; XN's acl for ffs.dir checks the tiling):
/// <c>ino u64 @0, recLen u16 @8, nameLen u8 @10, fileType u8 @11, name @12</c>; recLen is a multiple of 8
/// and at least <see cref="RecordSize"/>(nameLen). A record with ino 0 is unused space. Deleting an entry
/// folds its space into the previous record (or zeroes the ino of a block's first record), so live entries
/// never move: a readdir cookie (byte position) stays valid across concurrent changes.
/// </summary>
public static class DirBlock
{
    public const int HeaderSize = 12;
    /// <summary>Where the records end: the last 16 bytes hold a spare word, XN's write sequence and XN's checksum.</summary>
    public const int RecordsEnd = FfsLayout.TailPayloadBytes & ~7;

    public static int RecordSize(int nameLen) => (HeaderSize + nameLen + 7) & ~7;

    /// <summary>A decoded record at <see cref="Offset"/> in its block.</summary>
    public readonly record struct Record(int Offset, ulong Ino, int RecLen, byte FileType, string Name)
    {
        public int Used => Ino == 0 ? 0 : RecordSize(Encoding.UTF8.GetByteCount(Name));
    }

    /// <summary>Makes <paramref name="block"/> an empty directory block (one unused record).</summary>
    public static void InitEmpty(Span<byte> block)
    {
        block[..FfsLayout.BlockSize].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(block[8..], RecordsEnd);
    }

    /// <summary>The records of a block, in order; null if the block is not a well-formed directory block.</summary>
    public static List<Record>? Parse(ReadOnlySpan<byte> block)
    {
        var list = new List<Record>();
        int off = 0;
        while (off < RecordsEnd)
        {
            if (off + HeaderSize > RecordsEnd) return null;
            ulong ino = BinaryPrimitives.ReadUInt64LittleEndian(block[off..]);
            int recLen = BinaryPrimitives.ReadUInt16LittleEndian(block[(off + 8)..]);
            int nameLen = block[off + 10];
            if (recLen < RecordSize(0) || recLen % 8 != 0 || off + recLen > RecordsEnd) return null;
            if (ino != 0 && (nameLen == 0 || RecordSize(nameLen) > recLen)) return null;
            string name = ino == 0 ? "" : Encoding.UTF8.GetString(block.Slice(off + HeaderSize, nameLen));
            list.Add(new Record(off, ino, recLen, block[off + 11], name));
            off += recLen;
        }
        return list;
    }

    /// <summary>Writes a record header and name at <paramref name="offset"/>.</summary>
    public static void WriteRecord(Span<byte> block, int offset, ulong ino, int recLen, byte fileType, ReadOnlySpan<byte> name)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(block[offset..], ino);
        BinaryPrimitives.WriteUInt16LittleEndian(block[(offset + 8)..], (ushort)recLen);
        block[offset + 10] = (byte)name.Length;
        block[offset + 11] = fileType;
        name.CopyTo(block[(offset + HeaderSize)..]);
    }

    /// <summary>
    /// Finds room for a record of <paramref name="nameLen"/> bytes: returns the offset of the record to
    /// split (or reuse), or −1 if the block has no room.
    /// </summary>
    public static int FindRoom(ReadOnlySpan<byte> block, int nameLen)
    {
        int need = RecordSize(nameLen);
        int off = 0;
        while (off < RecordsEnd)
        {
            ulong ino = BinaryPrimitives.ReadUInt64LittleEndian(block[off..]);
            int recLen = BinaryPrimitives.ReadUInt16LittleEndian(block[(off + 8)..]);
            if (recLen < HeaderSize) return -1; // corrupt: never loop forever
            int used = ino == 0 ? 0 : RecordSize(block[off + 10]);
            if (recLen - used >= need) return off;
            off += recLen;
        }
        return -1;
    }

    /// <summary>
    /// Inserts an entry into the record at <paramref name="offset"/> found by <see cref="FindRoom"/>:
    /// reuses it when unused, otherwise splits its slack. Returns the new entry's offset.
    /// </summary>
    public static int Insert(Span<byte> block, int offset, ulong ino, byte fileType, ReadOnlySpan<byte> name)
    {
        ulong cur = BinaryPrimitives.ReadUInt64LittleEndian(block[offset..]);
        int recLen = BinaryPrimitives.ReadUInt16LittleEndian(block[(offset + 8)..]);
        if (cur == 0)
        {
            WriteRecord(block, offset, ino, recLen, fileType, name);
            return offset;
        }
        int used = RecordSize(block[offset + 10]);
        BinaryPrimitives.WriteUInt16LittleEndian(block[(offset + 8)..], (ushort)used);
        int at = offset + used;
        WriteRecord(block, at, ino, recLen - used, fileType, name);
        return at;
    }

    /// <summary>Removes the entry at <paramref name="offset"/> (folding it into its predecessor if any).</summary>
    public static void Remove(Span<byte> block, int offset)
    {
        int prev = -1, off = 0;
        while (off < offset)
        {
            prev = off;
            off += BinaryPrimitives.ReadUInt16LittleEndian(block[(off + 8)..]);
        }
        int recLen = BinaryPrimitives.ReadUInt16LittleEndian(block[(offset + 8)..]);
        if (prev < 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(block[offset..], 0);
            block[offset + 10] = 0;
            return;
        }
        int prevLen = BinaryPrimitives.ReadUInt16LittleEndian(block[(prev + 8)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(block[(prev + 8)..], (ushort)(prevLen + recLen));
    }

    /// <summary>The directory-entry file type (DT_*) for a mode.</summary>
    public static byte FileTypeOf(uint mode) => (byte)((mode & 0xF000) >> 12);
}
