using System.CommandLine;
using ExoFS.Mount;
using ExoFS.Cli.Mounting;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs mount IMAGE MOUNTPOINT [--libfs NAME] [--foreground] [-o OPTIONS]</c>: serves a libFS root of the
/// image through FUSE. By default it returns once the mount is up, leaving a daemon serving it (see
/// <see cref="MountDaemon"/>); <c>--foreground</c> serves in this process until unmounted or interrupted.
/// </summary>
public sealed class MountCommand : ICommand
{
    /// <summary>Hidden flag: this process is the daemon a background mount started (reports on stdout).</summary>
    internal const string DaemonChildFlag = "--daemon-child";

    public string Name => "mount";

    public Command Build()
    {
        var image = Cli.Argument<string>("IMAGE", "The image file");
        var mountPoint = Cli.Argument<string>("MOUNTPOINT", "An empty directory to mount on");
        var root = Cli.Option<string>("--libfs", "The root to mount (exofs info IMAGE lists them); needed when the image has several");
        var foregroundOption = Cli.Option<bool>("--foreground", "Serve in this process until unmounted or interrupted", "-f");
        var options = Cli.Option<string[]>("-o", "Mount options, comma-separated (ro, rw, allow_other, default_permissions, recovery=record|scan|map, ...); may repeat");
        options.AllowMultipleArgumentsPerToken = false;
        options.CompletionSources.Add("ro", "rw", "allow_other", "default_permissions");
        var daemonChildOption = new Option<bool>(DaemonChildFlag) { Hidden = true };
        var command = new Command(Name, "Mount a root of an image with FUSE (returns when mounted; a daemon serves it)")
        {
            image, mountPoint, root, foregroundOption, options, daemonChildOption,
        };
        command.SetAction(r => Run(r.GetValue(image)!, r.GetValue(mountPoint)!, r.GetValue(root), r.GetValue(foregroundOption),
            r.GetValue(daemonChildOption), r.GetValue(options) ?? [], Cli.Out(r), Cli.Err(r)));
        return command;
    }

    private static int Run(string imageArg, string mountPointArg, string? root, bool foreground, bool daemonChild, string[] optionArgs,
        TextWriter stdout, TextWriter stderr)
    {
        var positional = new List<string> { imageArg, mountPointArg };
        var options = optionArgs.ToList();
        if (daemonChild && !foreground) return Fail(stderr, $"{DaemonChildFlag} is only for the daemon exofs starts itself");

        string mountPoint;
        try { mountPoint = FuseMount.CheckMountPoint(positional[1]); }
        catch (MountException e) { return Fail(stderr, e.Message); }
        var request = new MountRequest(Path.GetFullPath(positional[0]), mountPoint, root, options);
        if (request.ToFuseOptions(_ => { }, out string optionError) is null) return Fail(stderr, optionError);
        if (foreground) return MountDaemon.Serve(request, daemonChild, stdout, stderr);

        // Cheap refusals here, before starting a second process; the daemon checks everything again.
        if (!File.Exists(request.Image))
        {
            return Fail(stderr, Directory.Exists(request.Image) ? $"{positional[0]} is a directory, not an image file" : $"{positional[0]}: no such image file");
        }
        // A daemon already serving this image (another root of it is mounted) attaches this root as one more guest.
        if (HostClient.Ask(request.Image, new { op = "attach", mountpoint = request.MountPoint, root = request.Root, options = request.Options }) is { } reply)
        {
            string last = reply.LastOrDefault() ?? "error: the daemon closed the connection";
            if (last != "ok") return Fail(stderr, last.StartsWith(MountDaemon.ErrorPrefix, StringComparison.Ordinal) ? last[MountDaemon.ErrorPrefix.Length..] : last);
            foreach (var line in reply.Where(l => l.StartsWith(MountDaemon.RecoveryPrefix, StringComparison.Ordinal)))
                stdout.WriteLine($"{request.Image}: recovery: {line[MountDaemon.RecoveryPrefix.Length..]}");
            string pid = reply.FirstOrDefault(l => l.StartsWith("root ", StringComparison.Ordinal))?.Split(' ').LastOrDefault() ?? "?";
            stdout.WriteLine($"{request.Image} mounted on {request.MountPoint} (joined exofs daemon pid {pid}; log {DaemonRecord.LogFile(request.MountPoint)})");
            return 0;
        }
        return MountDaemon.Spawn(request, stdout, stderr);
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine("exofs mount: " + message);
        return 1;
    }
}
