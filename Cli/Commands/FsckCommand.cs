using System.Reflection;
using ExoFS.Xn;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs fsck IMAGE [--repair]</c>: XN's global invariants, then every libFS root checker registered
/// for a root's type. Exit codes as fsck(8): 0 clean, 1 errors corrected, 4 errors left uncorrected,
/// 8 operational error (missing or busy file), 16 usage error.
/// </summary>
public sealed class FsckCommand : ICommand
{
    public const int Clean = 0, Corrected = 1, ErrorsLeft = 4, Operational = 8, UsageError = 16;

    public string Name => "fsck";
    public string Usage => "fsck IMAGE [--repair]          check XN invariants and each libFS (exit 0/1/4/8 as fsck(8))";

    public int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        bool repair = false;
        string? path = null;
        foreach (var a in args)
        {
            if (a == "--repair") repair = true;
            else if (a.StartsWith('-')) return Fail(stderr, $"unknown option '{a}' (usage: exofs fsck IMAGE [--repair])", UsageError);
            else if (path is null) path = a;
            else return Fail(stderr, $"unexpected argument '{a}'", UsageError);
        }
        if (path is null) return Fail(stderr, "missing IMAGE (usage: exofs fsck IMAGE [--repair])", UsageError);

        // A damaged free map is reported (read-only) or rebuilt (--repair) instead of refusing to check.
        var opened = XnImage.Open(path, new XnOptions { ReadOnly = !repair, TolerateCorruptFreeMap = true }, out var error, out bool operational);
        if (opened is null) return Fail(stderr, error, operational ? Operational : ErrorsLeft);
        var (dev, vol) = opened.Value;
        using (dev)
        using (vol)
        {
            var checkers = DiscoverCheckers();
            var findings = Findings(vol, checkers);
            if (!vol.Geometry.WasClean) stdout.WriteLine($"{path}: was not cleanly unmounted");
            foreach (var r in vol.LoadRepairs) stdout.WriteLine($"{path}: repaired: {r}");
            if (findings.Count == 0)
            {
                bool repairedOnLoad = vol.LoadRepairs.Count > 0;
                Summary(stdout, path, vol, repairedOnLoad ? "repaired" : "clean");
                return repairedOnLoad ? Corrected : Clean;
            }
            foreach (var f in findings) stdout.WriteLine($"{path}: {f}");
            if (!repair)
            {
                Summary(stdout, path, vol, $"{findings.Count} problem(s) found; run with --repair to fix what XN can");
                return ErrorsLeft;
            }
            var repaired = vol.Repair();
            if (!repaired.Ok) return Fail(stderr, $"{path}: repair failed: {repaired.Detail}", repaired.Error == XnError.Io ? Operational : ErrorsLeft);
            // XN's repair first (free map, ownership), then each libFS repairs its own structures.
            foreach (var fix in vol.RepairRoots(checkers)) stdout.WriteLine($"{path}: {fix}");
            var left = Findings(vol, checkers);
            foreach (var f in left) stdout.WriteLine($"{path}: left: {f}");
            Summary(stdout, path, vol, left.Count == 0 ? "repaired" : $"{left.Count} problem(s) left after repair");
            return left.Count == 0 ? Corrected : ErrorsLeft;
        }
    }

    private static List<XnFinding> Findings(XnVolume vol, IReadOnlyList<IXnRootChecker> checkers)
    {
        var list = vol.Check().Findings.ToList();
        list.AddRange(vol.CheckRoots(checkers));
        return list;
    }

    private static void Summary(TextWriter stdout, string path, XnVolume vol, string verdict)
    {
        var g = vol.Geometry;
        ulong used = g.BlockCount - vol.FreeBlocks;
        stdout.WriteLine($"{path}: {verdict}; {vol.RootNames().Count} root(s), {used}/{g.BlockCount} blocks used");
    }

    /// <summary>
    /// Registered checkers plus public <see cref="IXnRootChecker"/> implementations (with a parameterless
    /// constructor) in this program's assemblies and the ones it references (the libFSes).
    /// </summary>
    internal static IReadOnlyList<IXnRootChecker> DiscoverCheckers()
    {
        var found = new List<IXnRootChecker>(XnRootCheckers.All);
        var assemblies = new List<Assembly> { typeof(FsckCommand).Assembly };
        foreach (var name in typeof(FsckCommand).Assembly.GetReferencedAssemblies())
        {
            try { assemblies.Add(Assembly.Load(name)); }
            catch (Exception e) when (e is IOException or BadImageFormatException) { /* a missing optional assembly has no checkers */ }
        }
        foreach (var asm in assemblies.Distinct())
        {
            Type[] types;
            try { types = asm.GetTypes(); }
            catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t is not null).ToArray()!; }
            foreach (var t in types)
            {
                if (!typeof(IXnRootChecker).IsAssignableFrom(t) || t.IsAbstract || t.IsInterface || !t.IsPublic) continue;
                if (t.GetConstructor(Type.EmptyTypes) is null || found.Any(c => c.GetType() == t)) continue;
                found.Add((IXnRootChecker)Activator.CreateInstance(t)!);
            }
        }
        return found;
    }

    private static int Fail(TextWriter stderr, string message, int code)
    {
        stderr.WriteLine($"exofs fsck: {message}");
        return code;
    }
}
