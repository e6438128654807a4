using System.CommandLine;
using System.Globalization;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs mkfs IMAGE [--size 1G] [--libfs NAME[:ROOT][,key=value]]... [--force] [-L LABEL] [-U UUID] [--dry-run]</c>: creates an image file, boots a host
/// on it that formats an XN volume and has each libFS make its root (<c>--libfs ffs --libfs ffs:home</c> makes
/// two FFS roots, "ffs" and "home"; the default is one ffs root). Refuses an existing non-empty file unless
/// <c>--force</c>.
/// </summary>
public sealed class MkfsCommand : ICommand
{
    public string Name => "mkfs";

    private const ulong DefaultSize = 1UL << 30;

    /// <summary>The extended attributes on each root's directory that hold the image's label and UUID (XN's superblock has no room for them).</summary>
    public const string LabelXattr = "user.exofs.label", UuidXattr = "user.exofs.uuid";

    public Command Build()
    {
        var image = Cli.Argument<string>("IMAGE", "The image file to make");
        var size = Cli.Option<string>("--size", "Image size: a number with an optional K, M, G or T suffix (default 1G)", "-s");
        var libfs = Cli.Option<string[]>("--libfs",
            $"A root to make: NAME[:ROOT][,key=value...] or NAME:key=value (libFS tunables); repeat for several roots (default ffs; available: {LibFsCatalog.Names})");
        libfs.AllowMultipleArgumentsPerToken = false;
        libfs.HelpName = "NAME[:ROOT][,key=value...]";
        libfs.CompletionSources.Add(_ => LibFsCatalog.All.Select(l => l.Name));
        var force = Cli.Option<bool>("--force", "Overwrite an existing non-empty file", "-f");
        var label = Cli.Option<string>("--label", "A label for the image (up to 64 bytes), kept as the root directories' user.exofs.label", "-L");
        var uuid = Cli.Option<string>("--uuid", "The image's UUID (default: a new random one), kept as user.exofs.uuid", "-U");
        var dryRun = Cli.Option<bool>("--dry-run", "Say what would be made and write nothing", "-n");
        var dataChecksums = Cli.Option<bool>("--data-checksums",
            "Every ffs root keeps a CRC-32C per data block, verified on each read (the ffs format option data-checksums)");
        var command = new Command(Name, "Make an image: an XN volume with one root per --libfs (default one ffs root)")
        {
            image, size, libfs, force, label, uuid, dryRun, dataChecksums,
        };
        command.SetAction(r => Run(r.GetValue(image)!, r.GetValue(size), r.GetValue(libfs) ?? [], r.GetValue(force),
            r.GetValue(label), r.GetValue(uuid), r.GetValue(dryRun), Cli.Out(r), Cli.Err(r), r.GetValue(dataChecksums)));
        return command;
    }

    private static int Run(string image, string? sizeText, string[] libfsArgs, bool force, string? label, string? uuidText, bool dryRun,
        TextWriter stdout, TextWriter stderr, bool dataChecksums = false)
    {
        ulong size = DefaultSize;
        if (sizeText is not null)
        {
            if (LibFs.ByteSize.Parse(sizeText) is not { } s) return Fail(stderr, $"bad size '{sizeText}' (use a number with an optional K, M, G or T suffix)");
            size = s;
        }
        if (label is not null && (label.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(label) > 64))
            return Fail(stderr, $"bad label '{label}' (1..64 bytes)");
        Guid uuid = Guid.NewGuid();
        if (uuidText is not null && !Guid.TryParse(uuidText, out uuid)) return Fail(stderr, $"bad UUID '{uuidText}' (like 0f8fad5b-d9cb-469f-a165-70867728950e)");
        var libfses = libfsArgs.ToList();
        if (libfses.Count == 0) libfses.Add("ffs");
        var roots = new List<RootRequest>();
        foreach (var text in libfses)
        {
            var root = ParseRoot(text, out string? why);
            if (root is null) return Fail(stderr, why!);
            if (LibFsCatalog.Find(root.LibFs) is null)
                return Fail(stderr, $"libfs '{root.LibFs}' cannot be made by this build (available: {LibFsCatalog.Names})");
            if (root.Name.Length == 0 || root.Name.Length > 255 || root.Name.Contains('/'))
                return Fail(stderr, $"bad root name '{root.Name}' (1..255 characters, no '/')");
            if (roots.Any(r => r.Name == root.Name))
                return Fail(stderr, $"two roots named '{root.Name}' (name the second one: --libfs {root.LibFs}:NAME)");
            if (dataChecksums && root.LibFs == "ffs" && root.Options?.ContainsKey("data-checksums") != true)
                root = root with { Options = new Dictionary<string, string>(root.Options ?? new Dictionary<string, string>()) { ["data-checksums"] = "on" } };
            roots.Add(root);
        }
        ulong blocks = size / IBlockDevice.BlockSize;
        if (blocks < 256) return Fail(stderr, $"size {size} is too small (at least 1M)");
        // Checked before the file is made, so a size FFS cannot lay out leaves nothing behind.
        if (roots.Any(r => r.LibFs == "ffs") && blocks > FfsLayout.MaxBlocks)
            return Fail(stderr, $"size {FormatSize(size)} is larger than FFS supports ({FormatSize(FfsLayout.MaxBlocks * IBlockDevice.BlockSize)})");
        if (File.Exists(image) && new FileInfo(image).Length > 0 && !force)
            return Fail(stderr, $"'{image}' exists and is not empty (use --force to overwrite it)");

        string what = string.Join(", ", roots.Select(r => (r.Name == r.LibFs ? r.Name : $"{r.Name} ({r.LibFs})")
            + (r.Options is { Count: > 0 } o ? " with " + string.Join(",", o.Select(kv => $"{kv.Key}={kv.Value}")) : "")));
        string labelText = (label is null ? "" : $", label '{label}'") + $", UUID {uuid}";
        if (dryRun)
        {
            stdout.WriteLine($"{image}: would make {what} ({FormatSize(blocks * IBlockDevice.BlockSize)}, {blocks} blocks of 4 KiB{labelText}); nothing written (--dry-run)");
            return 0;
        }
        stdout.WriteLine($"{image}: making {what} ({FormatSize(blocks * IBlockDevice.BlockSize)}{labelText}) ...");
        string? error = null;
        var host = size >= 1UL << 30 && Cli.IsTerminal(stdout)
            ? Spinner($"formatting {image}", () => ExoHost.CreateImage(image, size, roots, out error, overwrite: true))
            : ExoHost.CreateImage(image, size, roots, out error, overwrite: true);
        if (!host.Ok)
        {
            try { File.Delete(image); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return Fail(stderr, $"cannot make '{image}': {error ?? host.Error.ToString()}");
        }
        using (host.Value)
        {
            if (Identify(host.Value, label, uuid, required: label is not null || uuidText is not null, stdout, out string? why) is var e && e != LibFs.Errno.OK)
            {
                try { File.Delete(image); } catch (Exception x) when (x is IOException or UnauthorizedAccessException) { }
                return Fail(stderr, $"cannot store the label and UUID in '{image}': {why}");
            }
            var synced = host.Value.Sync();
            if (synced != LibFs.Errno.OK) return Fail(stderr, $"writing '{image}' failed: {synced}");
            foreach (var r in host.Value.Roots())
                stdout.WriteLine($"{image}: root '{r.Name}' ({r.LibFs ?? r.Type}) at block {r.Block}");
            stdout.WriteLine($"{image}: {host.Value.BlockCount} blocks of 4 KiB, {host.Value.FreeBlocks} free");
        }
        return 0;
    }

    private static T Spinner<T>(string what, Func<T> work)
    {
        T result = default!;
        Spectre.Console.AnsiConsole.Status().Start(what + " ...", _ => result = work());
        return result;
    }

    /// <summary>
    /// Parses a --libfs value: <c>NAME</c>, <c>NAME:ROOT</c>, <c>NAME:ROOT,key=value,...</c> or <c>NAME:key=value,...</c>
    /// (the root then named after the libFS). The tunables go to the libFS as <see cref="RootRequest.Options"/>.
    /// </summary>
    internal static RootRequest? ParseRoot(string text, out string? error)
    {
        // RootRequest.Parse is the one parser (the host's); this refuses what it would read loosely.
        error = null;
        int colon = text.IndexOf(':');
        // A bare word that is one of the libFS's on/off tunables (ffs:data-checksums) switches it on; else it names the root.
        if (colon >= 0 && LibFsCatalog.Find(text[..colon]) is { } lib)
            text = text[..(colon + 1)] + string.Join(",", text[(colon + 1)..].Split(',')
                .Select(i => !i.Contains('=') && lib.FormatOptions.TryGetValue(i, out var d) && d.Contains("on or off", StringComparison.Ordinal) ? i + "=on" : i));
        colon = text.IndexOf(':');
        if (colon >= 0)
        {
            var items = text[(colon + 1)..].Split(',');
            if (items.Skip(1).Any(i => !i.Contains('=')))
            {
                error = $"--libfs {text}: the root name comes first, once (NAME:ROOT,key=value,...)";
                return null;
            }
            var keys = items.Where(i => i.Contains('=')).Select(i => i[..i.IndexOf('=')]).ToList();
            if (keys.FirstOrDefault(k => k.Length == 0 || keys.Count(x => x == k) > 1) is { } bad)
            {
                error = $"--libfs {text}: bad or repeated tunable '{items.First(i => i.StartsWith(bad + "=", StringComparison.Ordinal))}' (key=value)";
                return null;
            }
        }
        return RootRequest.Parse(text);
    }

    /// <summary>
    /// Stores the label (if any) and UUID on every root's directory through its libFS, as extended attributes. A
    /// libFS without extended attributes (ENOTSUP) is a failure only when the user asked for a label or UUID
    /// (<paramref name="required"/>); otherwise that root just keeps none, and says so.
    /// </summary>
    private static LibFs.Errno Identify(ExoHost host, string? label, Guid uuid, bool required, TextWriter stdout, out string? error)
    {
        error = null;
        foreach (var r in host.Roots())
        {
            var guest = host.Attach(r.Name, out error);
            if (!guest.Ok) return guest.Error;
            using (guest.Value)
            {
                var fs = guest.Value.FileSystem;
                var e = fs.SetXattr(LibFs.InodeNo.Root, UuidXattr, System.Text.Encoding.UTF8.GetBytes(uuid.ToString()), default);
                if (e == LibFs.Errno.OK && label is not null) e = fs.SetXattr(LibFs.InodeNo.Root, LabelXattr, System.Text.Encoding.UTF8.GetBytes(label), default);
                if (e is LibFs.Errno.ENOTSUP or LibFs.Errno.ENOSYS && !required)
                {
                    stdout.WriteLine($"root '{r.Name}' keeps no UUID ({r.LibFs} has no extended attributes)");
                    continue;
                }
                if (e != LibFs.Errno.OK) { error = $"root '{r.Name}': {e}"; return e; }
            }
        }
        return LibFs.Errno.OK;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"exofs mkfs: {message}");
        return 2;
    }

    private static string FormatSize(ulong bytes) =>
        bytes >= 1UL << 30 && bytes % (1UL << 30) == 0 ? $"{bytes >> 30} GiB"
        : bytes >= 1UL << 20 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
}
