using System.Buffers.Binary;

namespace ExoFS.LibFs.Ffs.Format;

/// <summary>
/// An intent record in the superblock header (bytes <see cref="Superblock.IntentOffset"/> onward): the directory
/// entries a RENAME_EXCHANGE between two directory blocks is about to retarget, each as the entry's place (its
/// directory's inode, the logical block in that directory and the byte offset: a mount reaches the block through
/// the directory, as XN requires) and the inode and file type it will name. Written and forced out before the first entry
/// changes, cleared and forced out after the last is durable; a mount that finds one applies it (every retarget
/// sets a final value, so applying twice is applying once), so no crash leaves one of the two inodes under no name.
/// Layout: <c>magic u32 @0, count u32 @4</c>, then <see cref="MaxEntries"/> entries of 32 bytes:
/// <c>directory u64 @0, logical block u64 @8, offset u16 @16, fileType u8 @18, (5 zero bytes), ino u64 @24</c>.
/// </summary>
public static class NameIntent
{
    /// <summary>"XCHG" read as a little-endian u32.</summary>
    public const uint Magic = 0x47484358;
    public const int MaxEntries = 4, EntrySize = 32, HeaderBytes = 8;
    public const int Size = HeaderBytes + MaxEntries * EntrySize;

    /// <summary>One entry to retarget: the record at <see cref="Offset"/> of directory <see cref="Dir"/>'s logical block <see cref="Block"/> names <see cref="Ino"/>.</summary>
    public readonly record struct Retarget(ulong Dir, ulong Block, int Offset, ulong Ino, byte FileType);

    public static byte[] Encode(IReadOnlyList<Retarget> entries)
    {
        if (entries.Count is 0 or > MaxEntries) throw new ArgumentOutOfRangeException(nameof(entries));
        var bytes = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            var e = bytes.AsSpan(HeaderBytes + i * EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(e, entries[i].Dir);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], entries[i].Block);
            BinaryPrimitives.WriteUInt16LittleEndian(e[16..], (ushort)entries[i].Offset);
            e[18] = entries[i].FileType;
            BinaryPrimitives.WriteUInt64LittleEndian(e[24..], entries[i].Ino);
        }
        return bytes;
    }

    /// <summary>
    /// The pending retargets in a superblock (empty when there are none); null when the bytes hold a record that
    /// is not well formed (a count out of range, an offset outside a directory block's records, a zero directory
    /// or inode), which a mount must refuse rather than apply.
    /// </summary>
    public static IReadOnlyList<Retarget>? Decode(ReadOnlySpan<byte> superblock)
    {
        var s = superblock.Slice(Superblock.IntentOffset, Size);
        if (BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic) return s.ContainsAnyExcept((byte)0) ? null : [];
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(s[4..]);
        if (count is 0 or > MaxEntries) return null;
        var list = new List<Retarget>((int)count);
        for (int i = 0; i < count; i++)
        {
            var e = s.Slice(HeaderBytes + i * EntrySize, EntrySize);
            var r = new Retarget(BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                BinaryPrimitives.ReadUInt16LittleEndian(e[16..]), BinaryPrimitives.ReadUInt64LittleEndian(e[24..]), e[18]);
            if (r.Dir == 0 || r.Ino == 0 || r.Offset % 8 != 0 || r.Offset + DirBlock.HeaderSize > DirBlock.RecordsEnd) return null;
            list.Add(r);
        }
        return list;
    }
}
