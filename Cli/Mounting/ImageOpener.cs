using ExoFS.Cli.Commands;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.Xn;

namespace ExoFS.Cli.Mounting;

/// <summary>
/// Opens the libFS root of an image that <c>exofs mount</c> serves. Every refusal is one line of text: a
/// missing or busy image, a file that is not an ExoFS image, a damaged volume, no such root, a root of a
/// type this build cannot mount, several candidate roots and no choice made.
/// </summary>
internal static class ImageOpener
{
    /// <summary>Root types this build can mount, and the libFS that serves each.</summary>
    private static readonly Dictionary<string, string> Mountable = new(StringComparer.Ordinal)
    {
        [FfsUdfs.SuperType] = "ffs",
    };

    /// <summary>
    /// Opens <paramref name="image"/> and mounts the libFS under root <paramref name="rootName"/> (or the only
    /// mountable root when null). The result owns the XN volume and the image file, whose exclusive lock keeps
    /// every other mount or fsck out until it is disposed (<paramref name="readOnly"/>: a shared lock that lets
    /// other read-only mounts in, and nothing is written). Null with <paramref name="error"/> set on refusal.
    /// </summary>
    public static IFileSystem? Open(string image, string? rootName, bool readOnly, out string root, out string error)
    {
        root = "";
        string? chosen = ChooseRoot(image, rootName, out error);
        if (chosen is null) return null;
        root = chosen;
        var fs = FfsImage.Open(image, out string? why, chosen, readOnly);
        if (fs.Ok) return fs.Value;
        // EBUSY: lost a race with another mount between the check above and this open.
        error = fs.Error == Errno.EBUSY
            ? XnImage.InUse(image)
            : $"{image}: cannot mount root '{chosen}': {why ?? fs.Error.ToString()}";
        return null;
    }

    /// <summary>
    /// Reads the root catalogue without changing the image (a shared lock, a read-only XN load) and picks the
    /// root to mount. The read-only load also verifies the superblock, free map, type catalogue and roots,
    /// so a damaged image is refused here rather than mounted.
    /// </summary>
    private static string? ChooseRoot(string image, string? rootName, out string error)
    {
        var opened = XnImage.Open(image, new XnOptions { ReadOnly = true }, out error, out _);
        if (opened is null) return null;
        using var dev = opened.Value.Device;
        using var vol = opened.Value.Volume;
        var roots = vol.Roots();
        string Describe() => roots.Count == 0 ? "none" : string.Join(", ", roots.Select(r => $"{r.Name} ({r.Type})"));
        if (rootName is not null)
        {
            var match = roots.FirstOrDefault(r => r.Name == rootName);
            if (match.Name is null) { error = $"{image} has no root named '{rootName}' (roots: {Describe()})"; return null; }
            if (!Mountable.ContainsKey(match.Type))
            {
                error = $"{image}: root '{rootName}' holds {match.Type}, which this build cannot mount (it mounts: {string.Join(", ", Mountable.Values)})";
                return null;
            }
            return rootName;
        }
        var candidates = roots.Where(r => Mountable.ContainsKey(r.Type)).ToList();
        if (candidates.Count == 1) return candidates[0].Name;
        error = candidates.Count == 0
            ? $"{image} has no root this build can mount (roots: {Describe()})"
            : $"{image} has several libFS roots: {string.Join(", ", candidates.Select(r => $"{r.Name} ({Mountable[r.Type]})"))}; pick one with --libfs NAME";
        return null;
    }
}
