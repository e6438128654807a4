using System.Globalization;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs mkfs IMAGE [--size 1G] [--libfs ffs] [--force]</c>: creates an image file, formats an XN volume
/// over it and makes one libFS root per <c>--libfs</c> (default ffs). Refuses an existing non-empty file
/// unless <c>--force</c>.
/// </summary>
public sealed class MkfsCommand : ICommand
{
    public string Name => "mkfs";

    public string Usage => "mkfs IMAGE [--size 1G] [--libfs ffs] [--force]   make an image (sizes like 64M, 1G; default 1G)";

    private const ulong DefaultSize = 1UL << 30;

    public int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? image = null;
        ulong size = DefaultSize;
        bool force = false;
        var libfses = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "--size":
                    if (i + 1 >= args.Length) return Fail(stderr, "--size needs a value (like 64M or 1G)");
                    if (ParseSize(args[++i]) is not { } s) return Fail(stderr, $"bad size '{args[i]}' (use a number with an optional K, M, G or T suffix)");
                    size = s;
                    break;
                case "--libfs":
                    if (i + 1 >= args.Length) return Fail(stderr, "--libfs needs a name (ffs)");
                    libfses.Add(args[++i]);
                    break;
                case "--force":
                case "-f":
                    force = true;
                    break;
                default:
                    if (a.StartsWith('-')) return Fail(stderr, $"unknown option '{a}'");
                    if (image is not null) return Fail(stderr, $"one image only (got '{image}' and '{a}')");
                    image = a;
                    break;
            }
        }
        if (image is null) return Fail(stderr, "missing IMAGE (usage: exofs " + Usage.Split("   ")[0] + ")");
        if (libfses.Count == 0) libfses.Add("ffs");
        foreach (var name in libfses.Distinct())
            if (name != "ffs")
                return Fail(stderr, $"libfs '{name}' cannot be made by this build (available: ffs)");
        if (libfses.Count != libfses.Distinct().Count()) return Fail(stderr, "each --libfs may be given once");
        ulong blocks = size / IBlockDevice.BlockSize;
        if (blocks < 256) return Fail(stderr, $"size {size} is too small (at least 1M)");
        // Checked before the file is made, so a size FFS cannot lay out leaves nothing behind.
        if (blocks > FfsLayout.MaxBlocks) return Fail(stderr, $"size {FormatSize(size)} is larger than FFS supports ({FormatSize(FfsLayout.MaxBlocks * IBlockDevice.BlockSize)})");
        if (File.Exists(image) && new FileInfo(image).Length > 0 && !force)
            return Fail(stderr, $"'{image}' exists and is not empty (use --force to overwrite it)");

        // Only ffs can be made so far (checked above), so the one root is FFS's.
        stdout.WriteLine($"{image}: making ffs ({FormatSize(blocks * IBlockDevice.BlockSize)}) ...");
        var fs = FfsImage.Create(image, size, out string? error, overwrite: true);
        if (!fs.Ok) return Fail(stderr, $"cannot make '{image}': {error ?? fs.Error.ToString()}");
        using (fs.Value)
        {
            var stats = fs.Value.StatFs().Value;
            var synced = fs.Value.Sync();
            if (synced != LibFs.Errno.OK) return Fail(stderr, $"writing '{image}' failed: {synced}");
            stdout.WriteLine($"{image}: ffs: {stats.Blocks} blocks of 4 KiB, {stats.BlocksFree} free, {stats.Files} inodes");
        }
        return 0;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"exofs mkfs: {message}");
        return 2;
    }

    /// <summary>Parses "1G", "64M", "512K", "4096": binary multiples; null if malformed or zero.</summary>
    internal static ulong? ParseSize(string text)
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

    private static string FormatSize(ulong bytes) =>
        bytes >= 1UL << 30 && bytes % (1UL << 30) == 0 ? $"{bytes >> 30} GiB"
        : bytes >= 1UL << 20 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
}
