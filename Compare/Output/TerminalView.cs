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

    /// <summary>Writes the results as one table per workload, one row per phase, the table columns that hold a value.</summary>
    public static void WriteTable(TextWriter stdout, IReadOnlyList<PhaseResult> results)
    {
        var console = Console(stdout);
        foreach (var workload in results.GroupBy(r => r.Workload))
        {
            var rows = workload.ToList();
            var columns = ResultColumns.NonEmpty(ResultColumns.Table, rows).Where(c => c.Name != "workload").ToList();
            var table = new Table().Border(TableBorder.Simple).Title(Markup.Escape(workload.Key));
            foreach (var c in columns)
                table.AddColumn(new TableColumn(Markup.Escape(c.Heading)) { Alignment = c.Numeric ? Justify.Right : Justify.Left }.NoWrap());
            foreach (var r in rows)
                table.AddRow(columns.Select(c => Markup.Escape(c.Value(r) is { Length: > 0 } v ? v : "-")).ToArray());
            console.Write(table);
        }
    }

    // A table a little wider than a narrow terminal is better wrapped by the terminal than squeezed into
    // columns of three characters by Spectre, so the console is at least 120 columns wide.
    private static IAnsiConsole Console(TextWriter stdout)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
        console.Profile.Width = Math.Max(console.Profile.Width, 120);
        return console;
    }
}
