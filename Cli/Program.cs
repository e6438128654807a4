using System.CommandLine;
using System.CommandLine.Parsing;
using System.Reflection;

namespace ExoFS.Cli;

/// <summary>One <c>exofs</c> subcommand. Implementations live under Commands/, one per file, found by reflection.</summary>
public interface ICommand
{
    /// <summary>The first word after <c>exofs</c> ("mkfs", "udf", ...).</summary>
    string Name { get; }

    /// <summary>
    /// The verb's grammar: its arguments, options (each with a description, for help and completion) and an action
    /// that runs the command's logic with the parsed values and returns the exit code. The action writes to
    /// <c>ParseResult.InvocationConfiguration.Output</c>/<c>Error</c> (see <see cref="Cli.Out"/>). Bad input the
    /// grammar cannot see is one line on stderr starting "exofs NAME: " and a non-zero code, never an exception.
    /// </summary>
    Command Build();

    /// <summary>The exit code for a parse error (2; fsck keeps fsck(8)'s 16).</summary>
    int UsageExit => Cli.UsageExit;
}

/// <summary>The <c>exofs</c> command: a System.CommandLine root with one subcommand per <see cref="ICommand"/>.</summary>
public static class Program
{
    public static IReadOnlyList<ICommand> Commands { get; } = typeof(Program).Assembly.GetTypes()
        .Where(t => typeof(ICommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
        .Select(t => (ICommand)Activator.CreateInstance(t)!)
        .OrderBy(c => c.Name, StringComparer.Ordinal)
        .ToList();

    /// <summary>"0.2.0 (commit 1a2b3c4d5e6f)": the assembly's informational version, whose "+SHA" the SDK embeds from git at build time.</summary>
    public static string Version
    {
        get
        {
            string v = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
            int plus = v.IndexOf('+');
            if (plus < 0) return $"{v} (commit unknown)";
            string sha = v[(plus + 1)..];
            return $"{v[..plus]} (commit {(sha.Length > 12 ? sha[..12] : sha)})";
        }
    }

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

    /// <summary>The whole grammar: every verb, <c>--version</c>, <c>--help</c> and the <c>[suggest]</c> completion directive.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("ExoFS: an exokernel storage stack (XN disk protection, library file systems, a FUSE mount).");
        // Replace the default version option so that it prints "exofs VERSION (commit SHA)".
        foreach (var o in root.Options.OfType<VersionOption>().ToList()) root.Options.Remove(o);
        var version = new Option<bool>("--version") { Description = "Show the version and git commit of this build" };
        root.Options.Add(version);
        foreach (var c in Commands) root.Subcommands.Add(c.Build());
        root.SetAction(r =>
        {
            if (r.GetValue(version)) { r.InvocationConfiguration.Output.WriteLine($"exofs {Version}"); return 0; }
            r.InvocationConfiguration.Error.WriteLine("exofs: missing a command (try 'exofs --help')");
            return 2;
        });
        return root;
    }

    public static int Dispatch(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = BuildRoot();
        // "exofs help [VERB]" as git and many tools take it: the same as "exofs [VERB] --help".
        if (args.Length is 1 or 2 && args[0] == "help") args = [.. args[1..], "--help"];
        // No response files: an argument starting with '@' is a path like any other.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            var top = parsed.CommandResult.Command is RootCommand ? null : Cli.TopVerb(parsed.CommandResult.Command);
            var verb = Commands.FirstOrDefault(c => c.Name == top?.Name);
            stderr.WriteLine(Cli.DescribeError(parsed));
            return verb is null ? Cli.UsageExit : verb.UsageExit;
        }
        return parsed.Invoke(config);
    }
}
