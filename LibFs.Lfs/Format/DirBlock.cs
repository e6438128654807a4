using System.Buffers.Binary;
using System.Text;

namespace ExoFS.LibFs.Lfs.Format;

/// <summary>One directory entry as stored: a cookie (stable readdir position), the inode, its type (mode >> 12).</summary>
public sealed record DirRecord(string Name, ulong Ino, byte Type, ulong Cookie)
{
    public int Size => DirBlock.EntryHeader + Encoding.UTF8.GetByteCount(Name);
}

/// <summary>
/// A directory's data block: count u16 @0, 0 u16 @2; block 0 also holds parent u64 @4 and next cookie u64 @12.
/// Entries follow (from @4, or @20 in block 0): cookie u64, ino u64, type u8, name length u8, name.
/// </summary>
public static class DirBlock
{
    public const int EntryHeader = 18;
    public const int Block0Header = 20, OtherHeader = 4;

    public static int HeaderOf(ulong fb) => fb == 0 ? Block0Header : OtherHeader;
    public static int Capacity(ulong fb) => LfsLayout.BlockSize - HeaderOf(fb);

    public static void Write(Span<byte> block, ulong fb, IReadOnlyCollection<DirRecord> entries, ulong parent, ulong nextCookie)
    {
        block[..LfsLayout.BlockSize].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(block, (ushort)entries.Count);
        if (fb == 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(block[4..], parent);
            BinaryPrimitives.WriteUInt64LittleEndian(block[12..], nextCookie);
        }
        int off = HeaderOf(fb);
        foreach (var e in entries)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(block[off..], e.Cookie);
            BinaryPrimitives.WriteUInt64LittleEndian(block[(off + 8)..], e.Ino);
            block[off + 16] = e.Type;
            int n = Encoding.UTF8.GetBytes(e.Name, block[(off + EntryHeader)..]);
            block[off + 17] = (byte)n;
            off += EntryHeader + n;
        }
    }

    /// <summary>The entries of a block (and, for block 0, parent and next cookie); null if malformed.</summary>
    public static List<DirRecord>? Read(ReadOnlySpan<byte> block, ulong fb, out ulong parent, out ulong nextCookie)
    {
        parent = nextCookie = 0;
        int count = BinaryPrimitives.ReadUInt16LittleEndian(block);
        if (fb == 0)
        {
            parent = BinaryPrimitives.ReadUInt64LittleEndian(block[4..]);
            nextCookie = BinaryPrimitives.ReadUInt64LittleEndian(block[12..]);
        }
        var list = new List<DirRecord>(count);
        int off = HeaderOf(fb);
        for (int i = 0; i < count; i++)
        {
            if (off + EntryHeader > LfsLayout.BlockSize) return null;
            int n = block[off + 17];
            if (n == 0 || off + EntryHeader + n > LfsLayout.BlockSize) return null;
            list.Add(new DirRecord(Encoding.UTF8.GetString(block.Slice(off + EntryHeader, n)),
                BinaryPrimitives.ReadUInt64LittleEndian(block[(off + 8)..]), block[off + 16],
                BinaryPrimitives.ReadUInt64LittleEndian(block[off..])));
            off += EntryHeader + n;
        }
        return list;
    }
}

/// <summary>
/// Extended attributes of one inode in its xattr block: count u16 @0, then from @4 entries
/// (name length u8, 0 u8, value length u16, name, value).
/// </summary>
public static class XattrBlock
{
    public const int HeaderSize = 4, EntryHeader = 4;

    public static List<KeyValuePair<string, byte[]>>? Parse(ReadOnlySpan<byte> block)
    {
        int count = BinaryPrimitives.ReadUInt16LittleEndian(block);
        var list = new List<KeyValuePair<string, byte[]>>(count);
        int off = HeaderSize;
        for (int i = 0; i < count; i++)
        {
            if (off + EntryHeader > LfsLayout.BlockSize) return null;
            int nameLen = block[off];
            int valueLen = BinaryPrimitives.ReadUInt16LittleEndian(block[(off + 2)..]);
            if (nameLen == 0 || off + EntryHeader + nameLen + valueLen > LfsLayout.BlockSize) return null;
            list.Add(new(Encoding.UTF8.GetString(block.Slice(off + EntryHeader, nameLen)), block.Slice(off + EntryHeader + nameLen, valueLen).ToArray()));
            off += EntryHeader + nameLen + valueLen;
        }
        return list;
    }

    public static int SizeOf(IEnumerable<KeyValuePair<string, byte[]>> attrs) =>
        HeaderSize + attrs.Sum(a => EntryHeader + Encoding.UTF8.GetByteCount(a.Key) + a.Value.Length);

    public static bool TryWrite(IReadOnlyList<KeyValuePair<string, byte[]>> attrs, Span<byte> block)
    {
        if (SizeOf(attrs) > LfsLayout.BlockSize) return false;
        block[..LfsLayout.BlockSize].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(block, (ushort)attrs.Count);
        int off = HeaderSize;
        foreach (var (name, value) in attrs)
        {
            int n = Encoding.UTF8.GetBytes(name, block[(off + EntryHeader)..]);
            block[off] = (byte)n;
            BinaryPrimitives.WriteUInt16LittleEndian(block[(off + 2)..], (ushort)value.Length);
            value.CopyTo(block[(off + EntryHeader + n)..]);
            off += EntryHeader + n + value.Length;
        }
        return true;
    }
}
