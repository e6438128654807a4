using Spectre.Console;

namespace ExoFS.Compare.Output;

/// <summary>
/// The terminal form of a comparison (Spectre.Console): a progress bar over the plan's phases while it runs, then
/// the results as a table. Used only when stdout is a terminal; a pipe or file gets <see cref="ResultWriters.ToText"/>.
/// </summary>
public static class TerminalView
{
    /// <summary>
    /// Runs <paramref name="work"/> under a progress bar of <paramref name="totalPhases"/> steps; the work reports each
    /// finished phase through the callback it is given.
    /// </summary>
    public static T WithProgress<T>(TextWriter stdout, int totalPhases, Func<Action<PhaseResult>, T> work)
    {
        var console = Console(stdout);
        T result = default!;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("compare", maxValue: Math.Max(1, totalPhases));
                result = work(r =>
                {
                    task.Increment(1);
                    task.Description = Markup.Escape($"{r.Workload} {r.Phase} · {r.Libfs} @ {r.Disk}");
                });
            });
        return result;
    }

    /// <summary>Writes the results as a table, one row per phase, the table columns that hold a value.</summary>
    public static void WriteTable(TextWriter stdout, IReadOnlyList<PhaseResult> results, string? title = null)
    {
        var columns = ResultColumns.NonEmpty(ResultColumns.Table, results);
        var table = new Table().Border(TableBorder.Simple);
        if (title is not null) table.Title(Markup.Escape(title));
        foreach (var c in columns)
            table.AddColumn(new TableColumn(Markup.Escape(c.Heading)) { Alignment = c.Numeric ? Justify.Right : Justify.Left });
        foreach (var r in results)
            table.AddRow(columns.Select(c => Markup.Escape(c.Value(r) is { Length: > 0 } v ? v : "-")).ToArray());
        Console(stdout).Write(table);
    }

    private static IAnsiConsole Console(TextWriter stdout) =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
}
