using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.Cli.Commands;

/// <summary>Opens an image file and loads its XN volume, turning every failure into one line of text.</summary>
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
        ImageFileDevice dev;
        try
        {
            dev = ImageFileDevice.Open(path, options.ReadOnly ? ImageOpenMode.ReadOnly : ImageOpenMode.ReadWrite);
        }
        catch (ImageBusyException)
        {
            error = $"{path}: image is in use (mounted or opened by another process)";
            return null;
        }
        catch (ImageFileException e) when (e.Error == ImageError.NotFound)
        {
            error = $"{path}: no such image file";
            return null;
        }
        catch (ImageFileException e)
        {
            error = $"{path}: {FirstLine(e.Message)}";
            operational = e.Error is not (ImageError.TooSmall or ImageError.NotBlockMultiple);
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
            error = $"{path}: {(loaded.Error == XnError.Corrupt ? "corrupt XN volume: " : "")}{loaded.Detail}";
            return null;
        }
        return (dev, loaded.Value);
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
