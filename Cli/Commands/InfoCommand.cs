using System.CommandLine;
using Spectre.Console;
using System.Text;
using System.Text.Json;
using ExoFS.Cli.Mounting;
using ExoFS.Host;
using ExoFS.LibFs;
using ExoFS.LibFs.Runtime;

namespace ExoFS.Cli.Commands;

/// <summary><c>exofs info IMAGE [--json]</c>: geometry, roots, types and usage of an XN volume (read-only).</summary>
public sealed class InfoCommand : ICommand
{
    public string Name => "info";
    public Command Build()
    {
        var image = Cli.Argument<string>("IMAGE", "An ExoFS image file (a mounted one is asked of its daemon)");
        var json = Cli.Option<bool>("--json", "Print JSON instead of text");
        var command = new Command(Name, "Geometry, roots, types and usage of an image (read-only)") { image, json };
        command.SetAction(r => Run(r.GetValue(image)!, r.GetValue(json), Cli.Out(r), Cli.Err(r)));
        return command;
    }

    private static int Run(string path, bool json, TextWriter stdout, TextWriter stderr)
    {
        var opened = XnImage.Open(path, new HostOptions { ReadOnly = true }, out var error, out _);
        if (opened is null)
        {
            // A mounted image: its host answers, as dumpe2fs reads a mounted ext4.
            if (HostClient.Ask(Path.GetFullPath(path), new { op = "info", json }) is { } reply && reply.LastOrDefault() == "ok")
            {
                foreach (var line in reply.SkipLast(1)) stdout.WriteLine(line);
                return 0;
            }
            return Fail(stderr, error, 1);
        }
        using (var vol = opened)
        {
            if (!json && Cli.IsTerminal(stdout)) WriteTables(path, vol);
            else Write(stdout, path, vol, json, []);
        }
        return 0;
    }

    /// <summary>The text report's facts as Spectre tables, for a terminal (scripts get <see cref="Write"/>'s plain text or JSON).</summary>
    private static void WriteTables(string path, ExoHost vol)
    {
        var g = vol.Geometry;
        ulong free = vol.FreeBlocks, used = g.BlockCount - free;
        var summary = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.Rounded).HideHeaders().AddColumn("").AddColumn("");
        summary.Title = new Spectre.Console.TableTitle(Spectre.Console.Markup.Escape(path));
        void Row(string k, string v) => summary.AddRow(Spectre.Console.Markup.Escape(k), Spectre.Console.Markup.Escape(v));
        Row("geometry", $"{g.BlockCount} blocks of {g.BlockSize} bytes ({FormatBytes(g.BlockCount * (ulong)g.BlockSize)})");
        Row("layout", $"superblock 0, free map [{g.FreeMapStart}+{g.FreeMapBlocks}], catalogue slots [{g.CatalogueStart}+2x{g.CatalogueSlotBlocks}], data from {g.FirstDataBlock}");
        Row("state", $"{(g.WasClean ? "clean" : "not cleanly unmounted")}, mounted {g.MountCount} time(s), catalogue generation {g.CatalogueGeneration}");
        Row("usage", $"{used} used, {free} free ({(g.BlockCount == 0 ? 0 : 100.0 * used / g.BlockCount):F1}% used)");
        Spectre.Console.AnsiConsole.Write(summary);
        var roots = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.Rounded).AddColumns("root", "block", "type", "libfs", "installed by");
        roots.Title = new Spectre.Console.TableTitle("roots");
        foreach (var r in vol.Roots())
            roots.AddRow(new[] { r.Name, r.Block.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Type, r.LibFs ?? "(unknown)", r.Owner }
                .Select(Spectre.Console.Markup.Escape).ToArray());
        Spectre.Console.AnsiConsole.Write(roots);
        foreach (var r in vol.Roots())
        {
            var lines = RootInfo(vol, r, out string? why);
            if (lines is null && why is null) continue;
            var own = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.Rounded).HideHeaders().AddColumn("").AddColumn("");
            own.Title = new Spectre.Console.TableTitle(Spectre.Console.Markup.Escape($"root '{r.Name}' ({r.LibFs})"));
            if (why is not null) own.AddRow("figures", Spectre.Console.Markup.Escape($"not available: {why}"));
            foreach (var (name, value) in lines ?? []) own.AddRow(Spectre.Console.Markup.Escape(name), Spectre.Console.Markup.Escape(value));
            Spectre.Console.AnsiConsole.Write(own);
        }
        var types = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.Rounded).AddColumns("id", "type", "partitions", "raw read", "raw write", "udfs");
        types.Title = new Spectre.Console.TableTitle("types");
        foreach (var (id, spec, partitions) in vol.Types)
            types.AddRow(new[] { id.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), spec.Name, partitions.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    $"{spec.RawRead.Count} range(s)", $"{spec.RawWrite.Count} range(s)",
                    string.Join(", ", new[] { spec.OwnsUdf.Length > 0 && partitions > 0 ? "owns" : null, spec.AclUdf is null ? null : "acl", spec.SizeUdf is null ? null : "size" }.Where(x => x is not null)) }
                .Select(Spectre.Console.Markup.Escape).ToArray());
        Spectre.Console.AnsiConsole.Write(types);
        if (!vol.Recovery.WasClean) Spectre.Console.AnsiConsole.WriteLine($"recovery: {vol.Recovery}");
        var last = new StringWriter();
        WriteLastRecovery(last, vol);
        Spectre.Console.AnsiConsole.Write(new Spectre.Console.Text(last.ToString()));
    }

    /// <summary>The report for <paramref name="host"/>; <paramref name="mounted"/> lists the roots a daemon serves now.</summary>
    internal static void Write(TextWriter o, string path, ExoHost host, bool json, IReadOnlyList<(string MountPoint, string Root)> mounted)
    {
        if (json) WriteJson(o, path, host, mounted);
        else
        {
            WriteText(o, path, host);
            foreach (var (mp, root) in mounted) o.WriteLine($"mounted:    root '{root}' on {mp} (exofs pid {Environment.ProcessId})");
            var rec = host.Recovery;
            if (!rec.WasClean) o.WriteLine($"recovery:   {rec}");
        }
    }

    private static void WriteText(TextWriter o, string path, ExoHost vol)
    {
        var g = vol.Geometry;
        ulong free = vol.FreeBlocks, used = g.BlockCount - free;
        o.WriteLine($"image:      {path}");
        o.WriteLine($"geometry:   {g.BlockCount} blocks of {g.BlockSize} bytes ({FormatBytes(g.BlockCount * (ulong)g.BlockSize)})");
        o.WriteLine($"layout:     superblock 0, free map [{g.FreeMapStart}+{g.FreeMapBlocks}], catalogue slots [{g.CatalogueStart}+2x{g.CatalogueSlotBlocks}], data from {g.FirstDataBlock}");
        o.WriteLine($"state:      {(g.WasClean ? "clean" : "not cleanly unmounted")}, mounted {g.MountCount} time(s), catalogue generation {g.CatalogueGeneration}");
        o.WriteLine($"usage:      {used} used, {free} free ({(g.BlockCount == 0 ? 0 : 100.0 * used / g.BlockCount):F1}% used)");
        var roots = vol.Roots();
        o.WriteLine($"roots:      {roots.Count}");
        foreach (var r in roots)
        {
            o.WriteLine($"  {r.Name,-16} block {r.Block,-10} type {r.Type,-20} libfs {r.LibFs ?? "(unknown)",-6} installed by {r.Owner}");
            var lines = RootInfo(vol, r, out string? why);
            if (why is not null) o.WriteLine($"    {r.LibFs} figures not available: {why}");
            foreach (var (name, value) in lines ?? []) o.WriteLine($"    {name + ":",-13} {value}");
        }
        var types = vol.Types;
        o.WriteLine($"types:      {types.Count}");
        foreach (var (id, spec, partitions) in types)
            o.WriteLine($"  {id.Value,4} {spec.Name,-24} {partitions} partition(s), {spec.RawRead.Count} raw-read / {spec.RawWrite.Count} raw-write range(s)"
                        + (spec.AclUdf is null ? "" : ", acl") + (spec.SizeUdf is null ? "" : ", size"));
        WriteLastRecovery(o, vol);
    }

    /// <summary>
    /// The root's own figures when its libFS reports any (<see cref="IReportsInfo"/>): from the guest serving it in
    /// this host (a daemon answering for a mounted image), or from a read-only attach made for the report and
    /// dropped after it. Null, with <paramref name="why"/>, when the attach is refused.
    /// </summary>
    private static IReadOnlyList<(string Name, string Value)>? RootInfo(ExoHost host, HostRoot root, out string? why)
    {
        why = null;
        if (LibFsCatalog.ForRootType(root.Type) is not { ReportsInfo: true }) return null;
        if (host.Guests.FirstOrDefault(g => g.RootName == root.Name) is { } serving) return (serving.FileSystem as IReportsInfo)?.InfoLines();
        var attached = host.Attach(root.Name, out why, readOnly: true);
        if (!attached.Ok) return null;
        using var guest = attached.Value;
        return (guest.FileSystem as IReportsInfo)?.InfoLines();
    }

    /// <summary>The host's last-recovery record (kept in XN's superblock), so an unmounted image shows it too.</summary>
    private static void WriteLastRecovery(TextWriter o, ExoHost vol)
    {
        if (vol.LastRecovery is not { } last) { o.WriteLine("last recovery: none recorded"); return; }
        o.WriteLine($"last recovery: {last.Summary}");
        foreach (var line in last.Lines) o.WriteLine($"  {line}");
        int dropped = last.Sources.Sum(s => s.Lines) - last.Lines.Count;
        if (dropped > 0) o.WriteLine($"  ... and {dropped} more line(s)");
    }

    private static void WriteJson(TextWriter o, string path, ExoHost vol, IReadOnlyList<(string MountPoint, string Root)> mounted)
    {
        var g = vol.Geometry;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("image", path);
            w.WriteStartObject("geometry");
            w.WriteNumber("blocks", g.BlockCount);
            w.WriteNumber("blockSize", g.BlockSize);
            w.WriteNumber("freeMapStart", g.FreeMapStart);
            w.WriteNumber("freeMapBlocks", g.FreeMapBlocks);
            w.WriteNumber("catalogueStart", g.CatalogueStart);
            w.WriteNumber("catalogueSlotBlocks", g.CatalogueSlotBlocks);
            w.WriteNumber("firstDataBlock", g.FirstDataBlock);
            w.WriteEndObject();
            w.WriteBoolean("clean", g.WasClean);
            w.WriteNumber("mountCount", g.MountCount);
            w.WriteStartObject("usage");
            w.WriteNumber("used", g.BlockCount - vol.FreeBlocks);
            w.WriteNumber("free", vol.FreeBlocks);
            w.WriteEndObject();
            w.WriteStartArray("roots");
            foreach (var r in vol.Roots())
            {
                w.WriteStartObject();
                w.WriteString("name", r.Name);
                w.WriteNumber("block", r.Block.Value);
                w.WriteString("type", r.Type);
                if (r.LibFs is null) w.WriteNull("libfs"); else w.WriteString("libfs", r.LibFs);
                w.WriteString("owner", r.Owner);
                var lines = RootInfo(vol, r, out string? why);
                if (why is not null) w.WriteString("infoError", why);
                if (lines is not null)
                {
                    w.WriteStartObject("info");
                    foreach (var (name, value) in lines) w.WriteString(name, value);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("mounted");
            foreach (var (mp, root) in mounted)
            {
                w.WriteStartObject();
                w.WriteString("root", root);
                w.WriteString("mountpoint", mp);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("types");
            foreach (var (id, spec, partitions) in vol.Types)
            {
                w.WriteStartObject();
                w.WriteNumber("id", id.Value);
                w.WriteString("name", spec.Name);
                w.WriteNumber("partitions", partitions);
                w.WriteNumber("rawReadRanges", spec.RawRead.Count);
                w.WriteNumber("rawWriteRanges", spec.RawWrite.Count);
                w.WriteBoolean("acl", spec.AclUdf is not null);
                w.WriteBoolean("size", spec.SizeUdf is not null);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (vol.LastRecovery is { } last)
            {
                w.WriteStartObject("lastRecovery");
                w.WriteString("when", last.When.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
                w.WriteNumber("mountCount", last.MountCount);
                w.WriteString("kind", last.Kind);
                w.WriteStartArray("sources");
                foreach (var (source, lines) in last.Sources)
                {
                    w.WriteStartObject();
                    w.WriteString("source", source);
                    w.WriteNumber("lines", lines);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("lines");
                foreach (var line in last.Lines) w.WriteStringValue(line);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            else w.WriteNull("lastRecovery");
            w.WriteEndObject();
        }
        o.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
    }

    private static string FormatBytes(ulong n) =>
        n >= 1UL << 30 ? $"{n / (double)(1UL << 30):F1} GiB" : n >= 1UL << 20 ? $"{n / (double)(1UL << 20):F1} MiB" : $"{n / 1024.0:F1} KiB";

    private static int Fail(TextWriter stderr, string message, int code)
    {
        stderr.WriteLine($"exofs info: {message}");
        return code;
    }
}
