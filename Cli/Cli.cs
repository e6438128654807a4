using System.CommandLine;
using System.CommandLine.Parsing;

namespace ExoFS.Cli;

/// <summary>
/// What every verb shares on top of System.CommandLine: where its output goes, one-line parse errors with a
/// typo suggestion, and terminal detection (plain text when stdout is not a terminal).
/// </summary>
public static class Cli
{
    /// <summary>Exit code of a command line that does not parse (fsck overrides it with fsck(8)'s 16).</summary>
    public const int UsageExit = 2;

    public static TextWriter Out(ParseResult r) => r.InvocationConfiguration.Output;
    public static TextWriter Err(ParseResult r) => r.InvocationConfiguration.Error;

    /// <summary>True when <paramref name="stdout"/> is this process's console and a terminal: progress bars and tables then.</summary>
    public static bool IsTerminal(TextWriter stdout) => ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>A short synopsis of <paramref name="command"/>: "exofs fsck IMAGE [options]".</summary>
    public static string Synopsis(Command command)
    {
        var text = CommandPath(command);
        foreach (var a in command.Arguments.Where(a => !a.Hidden))
            text += a.Arity.MinimumNumberOfValues == 0 ? $" [{a.Name}]" : a.Arity.MaximumNumberOfValues > 1 ? $" {a.Name}..." : $" {a.Name}";
        var subs = command.Subcommands.Where(c => !c.Hidden).ToList();
        if (subs.Count == 1) return Synopsis(subs[0]);
        if (subs.Count > 1) text += " " + string.Join('|', subs.Select(c => c.Name)) + " ...";
        if (command.Options.Any(o => !o.Hidden)) text += " [options]";
        return text;
    }

    /// <summary>"exofs udf verify": the words that name <paramref name="command"/>.</summary>
    public static string CommandPath(Command command)
    {
        var words = new List<string>();
        for (var c = command; c is not null and not RootCommand; c = c.Parents.FirstOrDefault() as Command)
            words.Insert(0, c.Name);
        words.Insert(0, "exofs");
        return string.Join(' ', words);
    }

    /// <summary>
    /// One line for a command line that does not parse: "exofs VERB: what is wrong (did you mean X?) (usage: ...)".
    /// </summary>
    public static string DescribeError(ParseResult r)
    {
        var command = r.CommandResult.Command;
        string prefix = "exofs" + (command is RootCommand ? "" : " " + TopVerb(command).Name);
        string usage = $"(usage: {Synopsis(command)}; see '{CommandPath(command)} --help')";

        // A required argument not given: name it, as the hand parsers did ("missing IMAGE").
        var missing = command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0 && (r.GetResult(a) is not ArgumentResult ar || ar.Tokens.Count == 0))
            .Select(a => a.Name).ToList();
        string what;
        if (r.UnmatchedTokens.Count > 0)
        {
            string token = r.UnmatchedTokens[0];
            string? near = token.StartsWith('-')
                ? Nearest(token, command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name)))
                : Nearest(token, command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
            what = (token.StartsWith('-') ? $"unknown option '{token}'"
                    : command.Subcommands.Count > 0 && missing.Count == 0 ? $"unknown command '{token}'"
                    : $"unexpected argument '{token}'")
                   + (near is null ? "" : $" (did you mean '{near}'?)");
        }
        else if (missing.Count > 0) what = $"missing {string.Join(" and ", missing)}";
        else if (command.Subcommands.Count > 0 && r.Errors.Any(e => e.SymbolResult is CommandResult cr && cr.Command == command))
            what = "missing a command";
        else if (r.Errors[0].SymbolResult is OptionResult { Tokens.Count: 0 } missingValue)
            what = $"{missingValue.Option.Name} needs a value";
        else if (System.Text.RegularExpressions.Regex.Match(r.Errors[0].Message, @"^Cannot parse argument '(.*)' for (?:option|argument) '(.*)' as expected type '(.*)'") is { Success: true } m)
            what = $"{m.Groups[2].Value}: '{m.Groups[1].Value}' is not " + (m.Groups[3].Value.Contains("Int", StringComparison.Ordinal) ? "an integer" : "a number");
        else what = r.Errors[0].Message.TrimEnd('.').Replace('\n', ' ');
        return $"{prefix}: {what} {usage}";
    }

    /// <summary>The verb under the root that <paramref name="command"/> belongs to ("udf" for "udf verify").</summary>
    public static Command TopVerb(Command command)
    {
        var c = command;
        while (c.Parents.FirstOrDefault() is Command p && p is not RootCommand) c = p;
        return c;
    }

    /// <summary>The candidate closest to <paramref name="word"/> by edit distance, if it is close enough to be a typo.</summary>
    public static string? Nearest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var c in candidates.Distinct())
        {
            int d = Distance(word, c);
            if (d < bestDistance) { best = c; bestDistance = d; }
        }
        return best is not null && bestDistance <= Math.Max(1, Math.Min(word.Length, best.Length) / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    /// <summary>An option with a description (and aliases), the form every verb declares.</summary>
    public static Option<T> Option<T>(string name, string description, params string[] aliases) =>
        new(name, aliases) { Description = description };

    /// <summary>A positional argument with a description.</summary>
    public static Argument<T> Argument<T>(string name, string description) => new(name) { Description = description };
}
