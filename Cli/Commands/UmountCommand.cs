using System.CommandLine;
using ExoFS.Mount;
using System.Diagnostics;
using ExoFS.Cli.Mounting;
using ExoFS.Kernel.Disk;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs umount MOUNTPOINT</c> (or the IMAGE that is mounted): unmounts an ExoFS FUSE mount and waits until
/// its daemon has flushed the image and exited, so that a check of the image right after finds it clean.
/// Refuses what is not mounted or not an ExoFS mount, and a mount still in use.
/// </summary>
public sealed class UmountCommand : ICommand
{
    public string Name => "umount";

    /// <summary>How long to wait for the daemon to flush and exit after the kernel unmount.</summary>
    internal static TimeSpan ExitTimeout { get; set; } = TimeSpan.FromSeconds(120);

    public Command Build()
    {
        var target = Cli.Argument<string>("MOUNTPOINT", "The mount point (or the image file that is mounted)");
        var command = new Command(Name, "Unmount, and wait until the image is flushed and closed") { target };
        command.SetAction(r => Run(r.GetValue(target)!, Cli.Out(r), Cli.Err(r)));
        return command;
    }

    private static int Run(string targetArg, TextWriter stdout, TextWriter stderr)
    {
        string[] args = [targetArg];
        string target = Path.GetFullPath(args[0]);
        DaemonRecord? daemon;
        string mountPoint;
        if (File.Exists(target) && DaemonRecord.Running().FirstOrDefault(r => r.Image == target) is { } byImage)
        {
            daemon = byImage;
            mountPoint = byImage.MountPoint;
        }
        else
        {
            mountPoint = FuseMount.RealPath(target);
            daemon = DaemonRecord.ForMountPoint(mountPoint);
        }

        if (MountTable.Find(mountPoint) is not { } entry)
            return Fail(stderr, $"{args[0]} is not mounted");
        if (entry.FsType != MountTable.ExofsType)
            return Fail(stderr, $"{mountPoint} is not an exofs mount ({entry.Source} is mounted there as {entry.FsType})");

        if (FuseMount.UnmountPath(mountPoint) is { } refusal) return Fail(stderr, refusal);

        // The kernel has let go; now the daemon drains its last requests, syncs, marks the image clean and exits.
        var clock = Stopwatch.StartNew();
        string image = daemon?.Image ?? entry.Source;
        while (!Finished(daemon, image, mountPoint))
        {
            if (clock.Elapsed > ExitTimeout)
            {
                string who = daemon is null ? $"the daemon serving {image}" : $"exofs daemon pid {daemon.Pid}";
                return Fail(stderr, $"{mountPoint} is unmounted but {who} has not finished writing the image after {ExitTimeout.TotalSeconds:0} s");
            }
            Thread.Sleep(20);
        }
        return 0;
    }

    /// <summary>
    /// The daemon is done with this mount when its process is gone, or when it serves other roots and has closed
    /// this one (its record removed); without a record of it, when nobody holds the image's lock
    /// (the daemon holds it exclusively until the file system is closed).
    /// </summary>
    private static bool Finished(DaemonRecord? daemon, string image, string mountPoint)
    {
        if (daemon is not null)
        {
            if (!daemon.IsRunning) return true;
            // The daemon removes a mount's record once that root's guest has synced and closed. If it serves
            // other roots it keeps running; if this was its last, wait for it to close the image and exit.
            if (DaemonRecord.ForMountPoint(mountPoint) is not null) return false;
            return DaemonRecord.Running().Any(r => r.Pid == daemon.Pid);
        }
        if (!File.Exists(image)) return true; // the source is not an image file we can watch
        try
        {
            using var dev = ImageFileDevice.Open(image, ImageOpenMode.ReadOnly);
            return true;
        }
        catch (ImageBusyException)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine("exofs umount: " + message);
        return 1;
    }
}
