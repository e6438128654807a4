using System.Buffers.Binary;
using System.Text;

namespace ExoFS.Xn.Format;

/// <summary>A root as stored: its name, block, type and the principal (environment name) that installed it.</summary>
internal sealed record RootRecord(string Name, ulong Block, ushort Type, string Owner);

/// <summary>
/// The root catalogue and the persistent type catalogue, stored together in one of two slots written
/// alternately, so a crash while writing one leaves the other intact. A slot starts with a 24-byte header:
/// magic "XNCATLG2", generation u64, payload length u32, CRC32C u32 over header bytes [0,20) and the payload;
/// the payload follows contiguously across the slot's blocks. Payload: u16 root count, then per root
/// (string name, u64 block, u16 type, string owner); u16 type count, then per type (ids 1, 2, ...):
/// string name, string owns, ranges raw-read, ranges raw-write, optional string acl, optional string size,
/// i32 checksum offset (<see cref="TypeSpec.ChecksumOffset"/>; -1 = none).
/// string = i32 byte length + UTF-8; ranges = u16 count + (i32 offset, i32 length)*; optional = u8 flag + value.
/// The size UDF's flag byte also carries the type's kind: bit 1 set = a segment type (<see cref="TypeSpec.Segment"/>);
/// catalogues written before segments existed have only 0 or 1 there, so they read as ordinary types. Bit 2 set =
/// the type has a write sequence field: an i32 sequence offset (<see cref="TypeSpec.SequenceOffset"/>) follows the
/// checksum offset. After the types, a catalogue may carry the block-version table (written by XN once a type has a
/// sequence field; older catalogues end after the types and read as an empty table): u64 sequence lease (no block
/// was stamped with a sequence at or above it), u32 entry count, then per entry (u64 block, u64 sequence of its
/// last write XN knew durable), ascending by block.
/// Format 1 ("XNCATLG1") had no checksum offsets; such an image is refused with a line saying so
/// (<see cref="OldMagic"/>): its libFS formats changed with it, so it is re-made, not converted.
/// </summary>
internal sealed record Catalogue(ulong Generation, IReadOnlyList<RootRecord> Roots, IReadOnlyList<TypeSpec> Types)
{
    /// <summary>The block-version table (null: none stored). See <see cref="VersionTable"/>.</summary>
    public VersionTable? Versions { get; init; }

    public static ReadOnlySpan<byte> Magic => "XNCATLG2"u8;
    /// <summary>The magic of format 1, before per-type checksums.</summary>
    public static ReadOnlySpan<byte> OldMagic => "XNCATLG1"u8;
    public const string OldFormatMessage =
        "catalogue: format 1 (an image made before XN's per-type checksums); re-make it with exofs mkfs";
    public const int HeaderBytes = 24;
    public const int MaxNameBytes = 255;
    public const int MaxUdfTextBytes = 256 * 1024;

    public static Catalogue Empty => new(0, [], []);

    /// <summary>
    /// Encodes for a slot of <paramref name="slotBytes"/> bytes; null if it does not fit. The image is only the
    /// slot's first blocks that hold the header and payload (the last one zero-padded), not the whole slot: a
    /// catalogue is written at every Sync that changes the block-version table, and the slot (up to 64 blocks)
    /// is mostly empty. Blocks of the slot past the image keep what they held; nothing reads them (the length
    /// in the header bounds the payload, and the CRC covers exactly that).
    /// </summary>
    public byte[]? Encode(int slotBytes)
    {
        var payload = new List<byte>(4096);
        void U8(byte v) => payload.Add(v);
        void U16(ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); payload.AddRange(b.ToArray()); }
        void I32(int v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); payload.AddRange(b.ToArray()); }
        void U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); payload.AddRange(b.ToArray()); }
        void Str(string s) { var bytes = Encoding.UTF8.GetBytes(s); I32(bytes.Length); payload.AddRange(bytes); }
        void Ranges(IReadOnlyList<ByteRange> rs) { U16((ushort)rs.Count); foreach (var r in rs) { I32(r.Offset); I32(r.Length); } }
        void Opt(string? s, byte kind = 0) { U8((byte)(kind | (s is null ? 0 : 1))); if (s is not null) Str(s); }

        U16((ushort)Roots.Count);
        foreach (var r in Roots) { Str(r.Name); U64(r.Block); U16(r.Type); Str(r.Owner); }
        U16((ushort)Types.Count);
        foreach (var t in Types) { Str(t.Name); Str(t.OwnsUdf); Ranges(t.RawRead); Ranges(t.RawWrite); Opt(t.AclUdf); Opt(t.SizeUdf, (byte)((t.Segment ? 2 : 0) | (t.SequenceOffset is null ? 0 : 4))); I32(t.ChecksumOffset ?? -1);
                                 if (t.SequenceOffset is { } so) I32(so); }
        if (Versions is { } v)
        {
            // As many entries as fit: an entry left out only means that block is not checked for staleness.
            U64(v.Lease);
            int room = Math.Max(0, (slotBytes - HeaderBytes - payload.Count - 4) / 16);
            int n = Math.Min(room, v.Entries.Count);
            I32(n);
            for (int i = 0; i < n; i++) { U64(v.Entries[i].Block); U64(v.Entries[i].Sequence); }
        }

        if (HeaderBytes + payload.Count > slotBytes) return null;
        int blockSize = Layout.BlockSize;
        var image = new byte[(HeaderBytes + payload.Count + blockSize - 1) / blockSize * blockSize];
        Magic.CopyTo(image);
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(8), Generation);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(16), (uint)payload.Count);
        payload.CopyTo(image, HeaderBytes);
        uint crc = Crc32C.Compute(image.AsSpan(0, 20));
        crc = Crc32C.Compute(image.AsSpan(HeaderBytes, payload.Count), crc);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(20), crc);
        return image;
    }

    /// <summary>Decodes a slot image; null (with the reason) if it is not a valid catalogue.</summary>
    public static Catalogue? Decode(ReadOnlySpan<byte> image, out string why)
    {
        why = "";
        if (image.Length >= HeaderBytes && image[..8].SequenceEqual(OldMagic)) { why = OldFormatMessage; return null; }
        if (image.Length < HeaderBytes || !image[..8].SequenceEqual(Magic)) { why = "catalogue: bad magic"; return null; }
        ulong gen = BinaryPrimitives.ReadUInt64LittleEndian(image[8..]);
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(image[16..]);
        if (len > image.Length - HeaderBytes) { why = "catalogue: length out of range"; return null; }
        var payload = image.Slice(HeaderBytes, (int)len);
        uint crc = Crc32C.Compute(payload, Crc32C.Compute(image[..20]));
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(image[20..])) { why = "catalogue: checksum mismatch"; return null; }

        var r = new Reader(payload.ToArray());
        var roots = new List<RootRecord>();
        int nRoots = r.U16();
        for (int i = 0; i < nRoots && !r.Failed; i++)
            roots.Add(new RootRecord(r.Str(MaxNameBytes), r.U64(), r.U16(), r.Str(MaxNameBytes)));
        var types = new List<TypeSpec>();
        int nTypes = r.U16();
        for (int i = 0; i < nTypes && !r.Failed; i++)
        {
            string name = r.Str(MaxNameBytes), owns = r.Str(MaxUdfTextBytes);
            var read = r.Ranges();
            var write = r.Ranges();
            string? acl = r.Opt(MaxUdfTextBytes);
            string? size = r.Opt(MaxUdfTextBytes, out byte kind);
            int checksum = r.I32();
            int sequence = (kind & 4) != 0 ? r.I32() : -1;
            if (checksum < -1 || ((kind & 4) != 0 && sequence < 0)) { why = "catalogue: malformed payload"; return null; }
            types.Add(new TypeSpec(name, owns, read, write, acl, size)
            { Segment = (kind & 2) != 0, ChecksumOffset = checksum < 0 ? null : checksum, SequenceOffset = sequence < 0 ? null : sequence });
        }
        VersionTable? versions = null;
        if (!r.Failed && !r.AtEnd)
        {
            ulong lease = r.U64();
            int n = r.I32();
            if (n < 0) { why = "catalogue: malformed payload"; return null; }
            var entries = new List<(ulong Block, ulong Sequence)>();
            for (int i = 0; i < n && !r.Failed; i++) entries.Add((r.U64(), r.U64()));
            versions = new VersionTable(lease, entries);
        }
        if (r.Failed || !r.AtEnd) { why = "catalogue: malformed payload"; return null; }
        return new Catalogue(gen, roots, types) { Versions = versions };
    }

    /// <summary>A bounds-checked little-endian reader: past the end it sets <see cref="Failed"/> instead of throwing.</summary>
    private sealed class Reader(byte[] data)
    {
        private int _pos;
        public bool Failed { get; private set; }
        public bool AtEnd => _pos == data.Length;

        private ReadOnlySpan<byte> Take(int n)
        {
            if (Failed || n < 0 || n > data.Length - _pos) { Failed = true; return default; }
            var s = data.AsSpan(_pos, n);
            _pos += n;
            return s;
        }

        public byte U8() { var s = Take(1); return Failed ? (byte)0 : s[0]; }
        public ushort U16() { var s = Take(2); return Failed ? (ushort)0 : BinaryPrimitives.ReadUInt16LittleEndian(s); }
        public int I32() { var s = Take(4); return Failed ? 0 : BinaryPrimitives.ReadInt32LittleEndian(s); }
        public ulong U64() { var s = Take(8); return Failed ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(s); }

        public string Str(int max)
        {
            int n = I32();
            if (n < 0 || n > max) { Failed = true; return ""; }
            var s = Take(n);
            return Failed ? "" : Encoding.UTF8.GetString(s);
        }

        public string? Opt(int max) => Opt(max, out byte kind) is var s && kind == 0 ? s : Fail();

        /// <summary>An optional string whose flag byte may carry kind bits above bit 0 (returned in <paramref name="kind"/>).</summary>
        public string? Opt(int max, out byte kind)
        {
            byte flag = U8();
            kind = (byte)(flag & 6);
            return (flag & ~7) != 0 ? Fail() : (flag & 1) != 0 ? Str(max) : null;
        }

        private string? Fail() { Failed = true; return null; }

        public IReadOnlyList<ByteRange> Ranges()
        {
            int n = U16();
            var list = new List<ByteRange>();
            for (int i = 0; i < n && !Failed; i++) list.Add(new ByteRange(I32(), I32()));
            return list;
        }
    }
}

/// <summary>
/// The block-version table as stored in the catalogue: the sequence lease and, per block of a sequenced type, the
/// sequence of its last write XN knew to be durable when the catalogue was written (Xn/README.md, "Block versions").
/// </summary>
internal sealed record VersionTable(ulong Lease, IReadOnlyList<(ulong Block, ulong Sequence)> Entries);
