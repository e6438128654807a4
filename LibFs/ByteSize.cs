using System.Globalization;

namespace ExoFS.LibFs;

/// <summary>Sizes as people type them on command lines and in options ("1G", "64M", "256K", "4096").</summary>
public static class ByteSize
{
    /// <summary>Parses binary multiples (K, M, G, T, an optional trailing B); null if malformed, zero or too large.</summary>
    public static ulong? Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        text = text.Trim();
        ulong mult = 1;
        char last = char.ToUpperInvariant(text[^1]);
        if (last == 'B' && text.Length > 1) { text = text[..^1]; last = char.ToUpperInvariant(text[^1]); }
        int shift = last switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        if (shift != 0) { text = text[..^1]; mult = 1UL << shift; }
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n) || n == 0) return null;
        if (n > ulong.MaxValue / mult) return null;
        return n * mult;
    }
}
