using System.Buffers.Binary;

namespace ExoFS.Xn.Format;

/// <summary>
/// One slot of the in-flight record (two slots, written alternately; the newer valid one wins, so a slot
/// torn by a crash leaves the other, older record in force). Little-endian:
/// <code>
///   0  magic "XNFLIGHT"      8  sequence u64      16 entry count u32     20 flags u32 (1 = overflow)
///   24 CRC32C u32 of bytes [0,24) ++ the entries   28 reserved u32
///   32 entries, 24 bytes each: extent start u64, extent count u32, parent type u32, parent block u64
/// </code>
/// An entry says "whether the extent is allocated depends on what the parent's durable bytes own". Overflow
/// means the blocks in flight did not fit: the record decides nothing and recovery must scan.
/// </summary>
internal static class InFlightRecord
{
    public static ReadOnlySpan<byte> Magic => "XNFLIGHT"u8;
    public const int HeaderBytes = 32;
    public const int EntryBytes = 24;
    private const uint OverflowFlag = 1;

    public readonly record struct Entry(ulong Start, uint Count, uint ParentType, ulong Parent);

    /// <summary>A decoded slot: <see cref="Overflow"/> or the entries.</summary>
    public sealed record Slot(ulong Sequence, bool Overflow, IReadOnlyList<Entry> Entries);

    /// <summary>Entries that fit in a slot of <paramref name="slotBytes"/>.</summary>
    public static int Capacity(int slotBytes) => (slotBytes - HeaderBytes) / EntryBytes;

    /// <summary>
    /// Encodes into <paramref name="slot"/> (whole slot size); returns how many leading bytes must be written
    /// (whole blocks). More entries than fit are written as an overflow record.
    /// </summary>
    public static int Encode(ulong sequence, IReadOnlyCollection<Entry> entries, Span<byte> slot)
    {
        bool overflow = entries.Count > Capacity(slot.Length);
        int count = overflow ? 0 : entries.Count;
        int used = HeaderBytes + count * EntryBytes;
        slot[..used].Clear();
        Magic.CopyTo(slot);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[16..], (uint)count);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[20..], overflow ? OverflowFlag : 0);
        if (!overflow)
        {
            int at = HeaderBytes;
            foreach (var e in entries)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(slot[at..], e.Start);
                BinaryPrimitives.WriteUInt32LittleEndian(slot[(at + 8)..], e.Count);
                BinaryPrimitives.WriteUInt32LittleEndian(slot[(at + 12)..], e.ParentType);
                BinaryPrimitives.WriteUInt64LittleEndian(slot[(at + 16)..], e.Parent);
                at += EntryBytes;
            }
        }
        BinaryPrimitives.WriteUInt32LittleEndian(slot[24..], Checksum(slot, used));
        int blocks = (used + Layout.BlockSize - 1) / Layout.BlockSize;
        slot[used..(blocks * Layout.BlockSize)].Clear();
        return blocks * Layout.BlockSize;
    }

    /// <summary>Decodes a slot; null (with the reason) if it was never written, is torn or is damaged.</summary>
    public static Slot? Decode(ReadOnlySpan<byte> slot, out string why)
    {
        if (!slot[..8].SequenceEqual(Magic)) { why = "no record"; return null; }
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(slot[16..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(slot[20..]);
        if (count > Capacity(slot.Length) || (flags & ~OverflowFlag) != 0 || (flags != 0 && count != 0))
        { why = "bad header"; return null; }
        int used = HeaderBytes + (int)count * EntryBytes;
        if (BinaryPrimitives.ReadUInt32LittleEndian(slot[24..]) != Checksum(slot, used)) { why = "checksum mismatch"; return null; }
        var entries = new Entry[count];
        for (int i = 0, at = HeaderBytes; i < count; i++, at += EntryBytes)
            entries[i] = new Entry(BinaryPrimitives.ReadUInt64LittleEndian(slot[at..]), BinaryPrimitives.ReadUInt32LittleEndian(slot[(at + 8)..]),
                BinaryPrimitives.ReadUInt32LittleEndian(slot[(at + 12)..]), BinaryPrimitives.ReadUInt64LittleEndian(slot[(at + 16)..]));
        why = "";
        return new Slot(BinaryPrimitives.ReadUInt64LittleEndian(slot[8..]), flags != 0, entries);
    }

    /// <summary>CRC32C of the header without its checksum field, then the entries.</summary>
    private static uint Checksum(ReadOnlySpan<byte> slot, int used)
    {
        return Crc32C.Compute(slot[HeaderBytes..used], Crc32C.Compute(slot[..24]));
    }
}
