namespace ExoFS.Cli;

/// <summary>One <c>exofs</c> subcommand. Implementations live under Commands/, one per file, found by reflection.</summary>
public interface ICommand
{
    /// <summary>The first word after <c>exofs</c> ("mkfs", "udf", ...).</summary>
    string Name { get; }
    /// <summary>Usage lines shown by <c>exofs --help</c>.</summary>
    string Usage { get; }
    /// <summary>
    /// Runs with the arguments after the name. Returns the exit code. Bad input is one line on
    /// <paramref name="stderr"/> starting "exofs NAME: " and a non-zero code, never an exception.
    /// </summary>
    int Run(string[] args, TextWriter stdout, TextWriter stderr);
}

/// <summary>The <c>exofs</c> command: dispatches to the <see cref="ICommand"/> named by the first argument.</summary>
public static class Program
{
    public static IReadOnlyList<ICommand> Commands { get; } = typeof(Program).Assembly.GetTypes()
        .Where(t => typeof(ICommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
        .Select(t => (ICommand)Activator.CreateInstance(t)!)
        .OrderBy(c => c.Name, StringComparer.Ordinal)
        .ToList();

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
        if (args.Length == 0)
        {
            stderr.Write(Usage());
            return 2;
        }
        if (args[0] is "--help" or "-h" or "help")
        {
            stdout.Write(Usage());
            return 0;
        }
        if (args[0] == "--version")
        {
            stdout.WriteLine("exofs 0.1");
            return 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"exofs: unknown command '{args[0]}' (try 'exofs --help')");
            return 2;
        }
        return command.Run(args[1..], stdout, stderr);
    }

    public static string Usage()
    {
        var text = new System.Text.StringBuilder("usage: exofs <command> [arguments]\n\n");
        foreach (var c in Commands)
            foreach (var line in c.Usage.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                text.Append("  ").Append(line.TrimEnd()).Append('\n');
        return text.ToString();
    }
}
