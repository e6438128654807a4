using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.Cli.Commands;

/// <summary>Opens an image file and loads its XN volume, turning every failure into one line of text (fsck, info, mount).</summary>
internal static class XnImage
{
    /// <summary>
    /// Opens <paramref name="path"/>. On failure returns null with <paramref name="error"/> set and
    /// <paramref name="operational"/> telling whether it is an operational problem (missing, busy,
    /// unreadable file) rather than a damaged volume.
    /// </summary>
    public static (ImageFileDevice Device, XnVolume Volume)? Open(string path, XnOptions options,
                                                                   out string error, out bool operational)
    {
        error = "";
        operational = true;
        if (Directory.Exists(path)) { error = $"{path} is a directory, not an image file"; return null; }
        ImageFileDevice dev;
        try
        {
            dev = ImageFileDevice.Open(path, options.ReadOnly ? ImageOpenMode.ReadOnly : ImageOpenMode.ReadWrite);
        }
        catch (ImageBusyException)
        {
            error = InUse(path);
            return null;
        }
        catch (ImageFileException e) when (e.Error == ImageError.NotFound)
        {
            error = $"{path}: no such image file";
            return null;
        }
        catch (ImageFileException e) when (e.Error is ImageError.TooSmall or ImageError.NotBlockMultiple)
        {
            error = $"{path}: not an ExoFS image ({FirstLine(e.Message)})";
            operational = false;
            return null;
        }
        catch (ImageFileException e)
        {
            error = $"{path}: {FirstLine(e.Message)}";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{path}: {FirstLine(e.Message)}";
            return null;
        }
        var loaded = XnVolume.Load(dev, new ExoKernel(), options);
        if (!loaded.Ok)
        {
            dev.Dispose();
            operational = loaded.Error == XnError.Io;
            error = loaded.Error == XnError.Corrupt
                ? $"{path}: not an ExoFS image, or a damaged one (corrupt XN volume: {loaded.Detail})"
                : $"{path}: {loaded.Detail}";
            return null;
        }
        return (dev, loaded.Value);
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

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
