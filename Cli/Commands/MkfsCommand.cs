using System.Globalization;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs mkfs IMAGE [--size 1G] [--libfs NAME[:ROOT]]... [--force]</c>: creates an image file, boots a host
/// on it that formats an XN volume and has each libFS make its root (<c>--libfs ffs --libfs ffs:home</c> makes
/// two FFS roots, "ffs" and "home"; the default is one ffs root). Refuses an existing non-empty file unless
/// <c>--force</c>.
/// </summary>
public sealed class MkfsCommand : ICommand
{
    public string Name => "mkfs";

    public string Usage => "mkfs IMAGE [--size 1G] [--libfs NAME[:ROOT]]... [--force]   make an image with one root per --libfs (default ffs)";

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
                    if (i + 1 >= args.Length) return Fail(stderr, $"--libfs needs a name ({LibFsCatalog.Names}), optionally :ROOT");
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
        var roots = new List<RootRequest>();
        foreach (var text in libfses)
        {
            var root = RootRequest.Parse(text);
            if (LibFsCatalog.Find(root.LibFs) is null)
                return Fail(stderr, $"libfs '{root.LibFs}' cannot be made by this build (available: {LibFsCatalog.Names})");
            if (root.Name.Length == 0 || root.Name.Length > 255 || root.Name.Contains('/'))
                return Fail(stderr, $"bad root name '{root.Name}' (1..255 characters, no '/')");
            if (roots.Any(r => r.Name == root.Name))
                return Fail(stderr, $"two roots named '{root.Name}' (name the second one: --libfs {root.LibFs}:NAME)");
            roots.Add(root);
        }
        ulong blocks = size / IBlockDevice.BlockSize;
        if (blocks < 256) return Fail(stderr, $"size {size} is too small (at least 1M)");
        // Checked before the file is made, so a size FFS cannot lay out leaves nothing behind.
        if (roots.Any(r => r.LibFs == "ffs") && blocks > FfsLayout.MaxBlocks)
            return Fail(stderr, $"size {FormatSize(size)} is larger than FFS supports ({FormatSize(FfsLayout.MaxBlocks * IBlockDevice.BlockSize)})");
        if (File.Exists(image) && new FileInfo(image).Length > 0 && !force)
            return Fail(stderr, $"'{image}' exists and is not empty (use --force to overwrite it)");

        string what = string.Join(", ", roots.Select(r => r.Name == r.LibFs ? r.Name : $"{r.Name} ({r.LibFs})"));
        stdout.WriteLine($"{image}: making {what} ({FormatSize(blocks * IBlockDevice.BlockSize)}) ...");
        var host = ExoHost.CreateImage(image, size, roots, out string? error, overwrite: true);
        if (!host.Ok)
        {
            try { File.Delete(image); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return Fail(stderr, $"cannot make '{image}': {error ?? host.Error.ToString()}");
        }
        using (host.Value)
        {
            var synced = host.Value.Sync();
            if (synced != LibFs.Errno.OK) return Fail(stderr, $"writing '{image}' failed: {synced}");
            foreach (var r in host.Value.Roots())
                stdout.WriteLine($"{image}: root '{r.Name}' ({r.LibFs ?? r.Type}) at block {r.Block}");
            stdout.WriteLine($"{image}: {host.Value.BlockCount} blocks of 4 KiB, {host.Value.FreeBlocks} free");
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
