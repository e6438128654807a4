namespace ExoFS.Cli;

/// <summary>The <c>exofs</c> command: one subcommand per file under Commands/, dispatched here.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            return Dispatch(args, Console.Out, Console.Error);
        }
        catch (Exception e)
        {
            // A bug: still one line, never a stack trace for the user.
            Console.Error.WriteLine($"exofs: internal error: {e.GetType().Name}: {e.Message}");
            return 8;
        }
    }

    public static int Dispatch(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            stdout.Write(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        switch (args[0])
        {
            case "--version":
                stdout.WriteLine("exofs 0.1");
                return 0;
            default:
                stderr.WriteLine($"exofs: unknown command '{args[0]}' (try 'exofs --help')");
                return 2;
        }
    }

    public const string Usage = """
        usage: exofs <command> [arguments]

          mkfs IMAGE [--size 1G] [--libfs ffs] [--libfs lfs]   make an image with one or more libFS roots
          mount IMAGE MOUNTPOINT [--libfs NAME] [--foreground] [-o OPTIONS]
          umount MOUNTPOINT
          fsck IMAGE [--repair]                                exit codes as fsck(8)
          info IMAGE [--json]
          udf verify FILE                                      accepted, or rejected with the reason
          crashtest [--libfs NAME] [--seed N] [--cases N]

        """;
}
