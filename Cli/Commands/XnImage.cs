using ExoFS.Host;
using ExoFS.LibFs;

namespace ExoFS.Cli.Commands;

/// <summary>Boots a short-lived host on an image file, turning every failure into one line of text (fsck, info, mount).</summary>
internal static class XnImage
{
    /// <summary>
    /// Opens <paramref name="path"/> and loads it in a new host. On failure returns null with <paramref name="error"/>
    /// set and <paramref name="operational"/> telling whether it is an operational problem (missing, busy,
    /// unreadable file) rather than a damaged volume.
    /// </summary>
    public static ExoHost? Open(string path, HostOptions options, out string error, out bool operational)
    {
        var host = ExoHost.OpenImage(path, out string? why, options);
        if (host.Ok)
        {
            error = "";
            operational = false;
            return host.Value;
        }
        operational = host.Error is not Errno.EUCLEAN;
        error = host.Error switch
        {
            Errno.EBUSY => InUse(path),
            Errno.ENOENT or Errno.EISDIR => why ?? $"{path}: cannot open",
            _ => $"{path}: {why}",
        };
        return null;
    }

    /// <summary>The refusal for an image whose lock is held, naming the mount that holds it when known.</summary>
    public static string InUse(string image)
    {
        string full = Path.GetFullPath(image);
        var holder = Mounting.DaemonRecord.Running().FirstOrDefault(r => r.Image == full);
        return holder is null
            ? $"{image}: image is in use (mounted or opened by another process)"
            : $"{image}: image is in use (mounted on {holder.MountPoint} by exofs pid {holder.Pid})";
    }
}
