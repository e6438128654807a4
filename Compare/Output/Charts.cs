using ScottPlot;

namespace ExoFS.Compare.Output;

/// <summary>A chart to draw: grouped bars (one group per category, one series per configuration) or lines over x.</summary>
public sealed record Chart(string FileStem, string Title, string YLabel, IReadOnlyList<string> Categories, IReadOnlyList<ChartSeries> Series)
{
    /// <summary>Line charts (write cost against utilization): categories are ignored and each series has its own x.</summary>
    public bool Lines { get; init; }
    public string? XLabel { get; init; }
    /// <summary>The legend in the upper left corner (a chart whose values grow to the right), not the upper right.</summary>
    public bool LegendUpperLeft { get; init; }
}

/// <summary>One series: its legend text and a value per category (or, for lines, the points), NaN where absent.</summary>
public sealed record ChartSeries(string Label, IReadOnlyList<double> Values)
{
    /// <summary>For line charts: the x of each value.</summary>
    public IReadOnlyList<double>? X { get; init; }
    public bool Dashed { get; init; }
}

/// <summary>Renders <see cref="Chart"/>s with ScottPlot as SVG and PNG (text needs a font: fonts-dejavu-core).</summary>
public static class ChartRenderer
{
    private const int Width = 900, Height = 480;

    /// <summary>Writes <c>STEM.svg</c> and <c>STEM.png</c> under <paramref name="dir"/>; returns the SVG's file name.</summary>
    public static string Render(Chart chart, string dir)
    {
        var plot = Build(chart);
        plot.SaveSvg(Path.Combine(dir, chart.FileStem + ".svg"), Width, Height);
        plot.SavePng(Path.Combine(dir, chart.FileStem + ".png"), Width, Height);
        return chart.FileStem + ".svg";
    }

    private static Plot Build(Chart chart)
    {
        var plot = new Plot();
        plot.Title(chart.Title);
        plot.YLabel(chart.YLabel);
        if (chart.XLabel is { } x) plot.XLabel(x);
        var palette = new ScottPlot.Palettes.Category10();
        if (chart.Lines)
        {
            for (int s = 0; s < chart.Series.Count; s++)
            {
                var series = chart.Series[s];
                // A point not measured (NaN) is left out rather than drawn as zero.
                var points = series.X!.Zip(series.Values).Where(p => !double.IsNaN(p.Second)).ToArray();
                if (points.Length == 0) continue;
                var line = plot.Add.Scatter(points.Select(p => p.First).ToArray(), points.Select(p => p.Second).ToArray(), palette.GetColor(s));
                line.LegendText = series.Label;
                if (series.Dashed) { line.LinePattern = LinePattern.Dashed; line.MarkerSize = 0; }
            }
        }
        else
        {
            int n = chart.Series.Count;
            double width = 0.8 / Math.Max(1, n);
            for (int s = 0; s < n; s++)
            {
                var series = chart.Series[s];
                var bars = new List<Bar>();
                for (int c = 0; c < chart.Categories.Count; c++)
                {
                    double v = series.Values[c];
                    if (double.IsNaN(v)) continue;
                    bars.Add(new Bar
                    {
                        Position = c - 0.4 + width * (s + 0.5), Value = v, Size = width * 0.95,
                        FillColor = palette.GetColor(s), LineWidth = 0,
                    });
                }
                var plottable = plot.Add.Bars(bars);
                plottable.LegendText = series.Label;
            }
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, chart.Categories.Count).Select(i => (double)i).ToArray(), chart.Categories.ToArray());
            plot.Axes.Bottom.MajorTickStyle.Length = 0;
            plot.Axes.Margins(bottom: 0);
        }
        plot.ShowLegend(chart.LegendUpperLeft ? Alignment.UpperLeft : Alignment.UpperRight);
        return plot;
    }
}
