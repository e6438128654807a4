using System.Text;

namespace ExoFS.Cli.Mounting;

/// <summary>One mount of the kernel's table: where, what type, from what source.</summary>
internal readonly record struct MountEntry(string MountPoint, string FsType, string Source);

/// <summary>
/// The kernel's mount table as /proc/self/mountinfo shows it (proc(5)). Mount/ has its own reader, which is
/// internal to that assembly; this one reads only the three fields the CLI needs.
/// </summary>
internal static class MountInfo
{
    /// <summary>The file system type an ExoFS FUSE mount shows.</summary>
    public const string ExofsType = "fuse.exofs";

    /// <summary>The topmost mount at exactly <paramref name="mountPoint"/>, if any.</summary>
    public static MountEntry? Find(string mountPoint)
    {
        MountEntry? found = null;
        foreach (var e in Read())
            if (e.MountPoint == mountPoint) found = e;
        return found;
    }

    public static List<MountEntry> Read()
    {
        var list = new List<MountEntry>();
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw": optional fields end at " - ".
            string[] f = line.Split(' ');
            if (f.Length < 10) continue;
            int dash = Array.IndexOf(f, "-", 6);
            if (dash < 0 || dash + 2 >= f.Length) continue;
            list.Add(new MountEntry(Unescape(f[4]), Unescape(f[dash + 1]), Unescape(f[dash + 2])));
        }
        return list;
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
