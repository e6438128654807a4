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

    public string Usage =>
        "mount IMAGE MOUNTPOINT [--libfs NAME] [--foreground] [-o OPTIONS]   mount with FUSE (returns when mounted; a daemon serves it)";

    private const string Synopsis = "exofs mount IMAGE MOUNTPOINT [--libfs NAME] [--foreground] [-o OPTIONS]";

    public int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var positional = new List<string>();
        var options = new List<string>();
        string? root = null;
        bool foreground = false, daemonChild = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "--libfs":
                    if (i + 1 >= args.Length) return Fail(stderr, "--libfs needs a root name (exofs info IMAGE lists them)");
                    root = args[++i];
                    break;
                case "--foreground":
                case "-f":
                    foreground = true;
                    break;
                case DaemonChildFlag:
                    daemonChild = true;
                    break;
                case "-o":
                    if (i + 1 >= args.Length) return Fail(stderr, "-o needs a comma-separated list of mount options");
                    options.Add(args[++i]);
                    break;
                case "--help":
                case "-h":
                    stdout.WriteLine("usage: " + Synopsis);
                    return 0;
                default:
                    if (a.StartsWith("-o", StringComparison.Ordinal) && a.Length > 2) options.Add(a[2..]);
                    else if (a.StartsWith('-')) return Fail(stderr, $"unknown option '{a}' (usage: {Synopsis})");
                    else positional.Add(a);
                    break;
            }
        }
        if (positional.Count != 2)
        {
            return Fail(stderr, positional.Count < 2 ? $"missing {(positional.Count == 0 ? "IMAGE and " : "")}MOUNTPOINT (usage: {Synopsis})"
                : $"unexpected argument '{positional[2]}' (usage: {Synopsis})");
        }
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
