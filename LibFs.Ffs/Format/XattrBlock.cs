using System.Buffers.Binary;
using System.Text;

namespace ExoFS.LibFs.Ffs.Format;

/// <summary>
/// Extended attributes of one inode, packed into its xattr block:
/// <c>count u16 @0, then entries from @4: nameLen u8, 0 u8, valueLen u16, name, value</c>, within the first
/// <see cref="Capacity"/> bytes (the last twelve are the block's write sequence and checksum, XN's).
/// </summary>
public static class XattrBlock
{
    /// <summary>Bytes of the block that hold attributes; FFS writes exactly these.</summary>
    public const int Capacity = FfsLayout.TailPayloadBytes;
    public const int HeaderSize = 4;
    public const int EntryHeader = 4;

    /// <summary>The attributes in the block, in stored order; null if the block is malformed.</summary>
    public static List<KeyValuePair<string, byte[]>>? Parse(ReadOnlySpan<byte> block)
    {
        int count = BinaryPrimitives.ReadUInt16LittleEndian(block);
        var list = new List<KeyValuePair<string, byte[]>>(count);
        int off = HeaderSize;
        for (int i = 0; i < count; i++)
        {
            if (off + EntryHeader > Capacity) return null;
            int nameLen = block[off];
            int valueLen = BinaryPrimitives.ReadUInt16LittleEndian(block[(off + 2)..]);
            if (nameLen == 0 || off + EntryHeader + nameLen + valueLen > Capacity) return null;
            string name = Encoding.UTF8.GetString(block.Slice(off + EntryHeader, nameLen));
            byte[] value = block.Slice(off + EntryHeader + nameLen, valueLen).ToArray();
            list.Add(new(name, value));
            off += EntryHeader + nameLen + valueLen;
        }
        return list;
    }

    /// <summary>Bytes a set of attributes needs in a block.</summary>
    public static int SizeOf(IEnumerable<KeyValuePair<string, byte[]>> attrs) =>
        HeaderSize + attrs.Sum(a => EntryHeader + Encoding.UTF8.GetByteCount(a.Key) + a.Value.Length);

    /// <summary>Packs <paramref name="attrs"/> into a zeroed 4096-byte block; false if they do not fit.</summary>
    public static bool TryWrite(IReadOnlyList<KeyValuePair<string, byte[]>> attrs, Span<byte> block)
    {
        if (SizeOf(attrs) > Capacity) return false;
        block[..FfsLayout.BlockSize].Clear();
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
