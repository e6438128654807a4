using System.Globalization;
using System.Text;

namespace ExoFS.Mount;

/// <summary>One line of /proc/self/mountinfo, the fields this project uses.</summary>
public readonly record struct MountInfoEntry(uint Major, uint Minor, string MountPoint, string FsType, string Source)
{
    /// <summary>The device number as the kernel packs it (the connection's number under /sys/fs/fuse/connections).</summary>
    public uint Dev => (Major << 20) | Minor;
}

/// <summary>Reads the kernel's mount table (/proc/self/mountinfo, see proc(5)). Thread-safe (reads the file each call).</summary>
public static class MountTable
{
    /// <summary>The file system type an ExoFS FUSE mount shows ("fuse." + the default subtype).</summary>
    public const string ExofsType = "fuse.exofs";

    public static IReadOnlyList<MountInfoEntry> Read()
    {
        var entries = new List<MountInfoEntry>();
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            if (TryParse(line, out var entry)) entries.Add(entry);
        }
        return entries;
    }

    /// <summary>The last (topmost) mount at exactly <paramref name="path"/>, if any.</summary>
    public static MountInfoEntry? Find(string path)
    {
        MountInfoEntry? found = null;
        foreach (var e in Read())
        {
            if (e.MountPoint == path) found = e;
        }
        return found;
    }

    // "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw": optional fields end at " - ".
    internal static bool TryParse(string line, out MountInfoEntry entry)
    {
        entry = default;
        string[] f = line.Split(' ');
        if (f.Length < 10) return false;
        int dash = Array.IndexOf(f, "-", 6);
        if (dash < 0 || dash + 2 >= f.Length) return false;
        string[] dev = f[2].Split(':');
        if (dev.Length != 2
            || !uint.TryParse(dev[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint major)
            || !uint.TryParse(dev[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
        {
            return false;
        }
        entry = new MountInfoEntry(major, minor, Unescape(f[4]), Unescape(f[dash + 1]), Unescape(f[dash + 2]));
        return true;
    }

    /// <summary>The kernel writes space, tab, newline and backslash in paths as \ooo octal escapes (all ASCII).</summary>
    internal static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && IsOctal(s[i + 1]) && IsOctal(s[i + 2]) && IsOctal(s[i + 3]))
            {
                sb.Append((char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }
        return sb.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
