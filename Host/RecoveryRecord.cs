using System.Buffers.Binary;
using System.Text;
using ExoFS.Xn;

namespace ExoFS.Host;

/// <summary>
/// The host's record of the last recovery it ran on an image (or the last repair that changed it): when, what,
/// and what XN and each root's libFS did — a count per source and the first lines. Kept in the host's area of
/// XN's superblock (block 0, which no guest can reach: it is XN's, never allocatable), so <c>exofs info</c> shows it
/// for an unmounted image too. Little-endian, CRC-32C protected:
/// <code>
///   0 magic "EXOHREC1"   8 version u16 (1)   10 stored lines u16   12 payload bytes u32   16 CRC32C u32 of the payload
///   20 payload: when (unix ms) i64 · XN mount count u64 · kind (u8 length + UTF-8) · sources u8, each
///      (u8 length + UTF-8 name, u32 total lines) · the stored lines, each (u16 length + UTF-8)
/// </code>
/// Lines past what the area holds are dropped (the counts stay whole); an area that does not decode is "none".
/// </summary>
public sealed record RecoveryRecord(DateTimeOffset When, ulong MountCount, string Kind,
    IReadOnlyList<(string Source, int Lines)> Sources, IReadOnlyList<string> Lines)
{
    private static ReadOnlySpan<byte> Magic => "EXOHREC1"u8;
    private const ushort Version = 1;
    private const int HeaderBytes = 20;
    private const int MaxLineBytes = 400;

    /// <summary>What a mount after an unclean shutdown recorded.</summary>
    public const string AfterCrash = "recovery after an unclean shutdown";
    /// <summary>What <c>exofs fsck --repair</c> recorded.</summary>
    public const string Repair = "fsck --repair";

    /// <summary>The record of <paramref name="actions"/> (the host's recovery lines: "xn: ...", "ffs root 'home': ...").</summary>
    public static RecoveryRecord From(string kind, ulong mountCount, IReadOnlyList<string> actions, DateTimeOffset? when = null)
    {
        var sources = new List<(string Source, int Lines)>();
        foreach (string a in actions)
        {
            string source = SourceOf(a);
            int i = sources.FindIndex(s => s.Source == source);
            if (i < 0) sources.Add((source, 1)); else sources[i] = (source, sources[i].Lines + 1);
        }
        return new RecoveryRecord(when ?? DateTimeOffset.UtcNow, mountCount, kind, sources, actions);
    }

    /// <summary>"xn" for XN's lines, "ffs root 'home'" for a root's, the text before the first ": " otherwise.</summary>
    private static string SourceOf(string line)
    {
        int root = line.IndexOf("': ", StringComparison.Ordinal);
        if (root > 0 && line.IndexOf("root '", StringComparison.Ordinal) is >= 0 and var r && r < root) return line[..(root + 1)];
        int colon = line.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 ? line[..colon] : "host";
    }

    /// <summary>One line for a summary: "2026-12-02 03:40:11Z, recovery after an unclean shutdown: xn 1, ffs root 'home' 1".</summary>
    public string Summary =>
        $"{When.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z (mount {MountCount}), {Kind}: " +
        (Sources.Count == 0 ? "nothing to do" : string.Join(", ", Sources.Select(s => $"{s.Source} {s.Lines} line(s)")));

    /// <summary>Encodes into at most <paramref name="capacity"/> bytes, dropping the lines that do not fit.</summary>
    public byte[] Encode(int capacity)
    {
        var payload = new List<byte>();
        Span<byte> n = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(n, When.ToUnixTimeMilliseconds());
        payload.AddRange(n.ToArray());
        BinaryPrimitives.WriteUInt64LittleEndian(n, MountCount);
        payload.AddRange(n.ToArray());
        Short(payload, Kind);
        payload.Add((byte)Math.Min(Sources.Count, 255));
        foreach (var (source, lines) in Sources.Take(255))
        {
            Short(payload, source);
            BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)lines);
            payload.AddRange(n[..4].ToArray());
        }
        ushort stored = 0;
        foreach (string line in Lines)
        {
            var bytes = Truncate(line, MaxLineBytes);
            if (HeaderBytes + payload.Count + 2 + bytes.Length > capacity || stored == ushort.MaxValue) break;
            BinaryPrimitives.WriteUInt16LittleEndian(n, (ushort)bytes.Length);
            payload.AddRange(n[..2].ToArray());
            payload.AddRange(bytes);
            stored++;
        }
        if (HeaderBytes + payload.Count > capacity) throw new ArgumentOutOfRangeException(nameof(capacity), "the record's counts alone do not fit");
        var record = new byte[HeaderBytes + payload.Count];
        Magic.CopyTo(record);
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(10), stored);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12), (uint)payload.Count);
        payload.CopyTo(record, HeaderBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(16), XnCrc32C.Compute(record.AsSpan(HeaderBytes)));
        return record;
    }

    /// <summary>Decodes a host area; null when it holds no record (zeros, an older image) or a damaged one (<paramref name="why"/> says which).</summary>
    public static RecoveryRecord? Decode(ReadOnlySpan<byte> area, out string? why)
    {
        why = null;
        if (area.Length < HeaderBytes || !area[..8].SequenceEqual(Magic)) return null;
        try
        {
            if (BinaryPrimitives.ReadUInt16LittleEndian(area[8..]) != Version) { why = "unknown record version"; return null; }
            int stored = BinaryPrimitives.ReadUInt16LittleEndian(area[10..]);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(area[12..]);
            if (length > area.Length - HeaderBytes) { why = "record length past the area"; return null; }
            var p = area.Slice(HeaderBytes, (int)length);
            if (XnCrc32C.Compute(p) != BinaryPrimitives.ReadUInt32LittleEndian(area[16..])) { why = "record checksum mismatch"; return null; }
            int at = 0;
            var when = DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(p[at..]));
            at += 8;
            ulong mounts = BinaryPrimitives.ReadUInt64LittleEndian(p[at..]);
            at += 8;
            string kind = ReadShort(p, ref at);
            int count = p[at++];
            var sources = new List<(string, int)>();
            for (int i = 0; i < count; i++)
            {
                string s = ReadShort(p, ref at);
                sources.Add((s, (int)BinaryPrimitives.ReadUInt32LittleEndian(p[at..])));
                at += 4;
            }
            var lines = new List<string>();
            for (int i = 0; i < stored; i++)
            {
                int len = BinaryPrimitives.ReadUInt16LittleEndian(p[at..]);
                at += 2;
                lines.Add(Encoding.UTF8.GetString(p.Slice(at, len)));
                at += len;
            }
            if (at != p.Length) { why = "record has trailing bytes"; return null; }
            return new RecoveryRecord(when, mounts, kind, sources, lines);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or ArgumentException)
        {
            why = "record truncated";
            return null;
        }
    }

    private static void Short(List<byte> into, string s)
    {
        var bytes = Truncate(s, 255);
        into.Add((byte)bytes.Length);
        into.AddRange(bytes);
    }

    private static string ReadShort(ReadOnlySpan<byte> p, ref int at)
    {
        int len = p[at++];
        string s = Encoding.UTF8.GetString(p.Slice(at, len));
        at += len;
        return s;
    }

    /// <summary>At most <paramref name="max"/> bytes of UTF-8, cut at a character boundary.</summary>
    private static byte[] Truncate(string s, int max)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        if (bytes.Length <= max) return bytes;
        int cut = max;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80) cut--;
        return bytes[..cut];
    }
}
