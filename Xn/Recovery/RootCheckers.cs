using ExoFS.Kernel.Capabilities;

namespace ExoFS.Xn;

/// <summary>
/// A libFS's own consistency checker, run by <c>exofs fsck</c> after XN's global check on every root whose
/// root block has type <see cref="RootType"/>. XN knows nothing of the libFS's format; the checker gets a
/// read-only view of its root and reports findings in its own words.
/// </summary>
public interface IXnRootChecker
{
    /// <summary>Name of the root block's type this checker understands (e.g. "ffs.super").</summary>
    string RootType { get; }

    /// <summary>Checks one root; must not throw on garbage (report it instead).</summary>
    IEnumerable<XnFinding> Check(XnRootView root);

    /// <summary>
    /// Repairs what the libFS safely can in one root (<c>exofs fsck --repair</c>), through a session with
    /// full rights on it; returns one line per fix. A checker that cannot repair keeps this default.
    /// </summary>
    IEnumerable<string> Repair(XnRootView root) => [];
}

/// <summary>
/// What a root checker sees: the root's name, block and type, and a session that has the root mounted
/// with read rights only for a check (so a checker cannot change anything), full rights for a repair.
/// </summary>
public sealed record XnRootView(RootInfo Root, XnSession Session);

/// <summary>
/// The registry of libFS root checkers. A libFS registers its checker once (e.g. from a static
/// constructor or its mount code); <c>exofs fsck</c> also finds public <see cref="IXnRootChecker"/>
/// implementations with a parameterless constructor in the assemblies it loads. Thread-safe.
/// </summary>
public static class XnRootCheckers
{
    private static readonly List<IXnRootChecker> Registered = new();

    public static void Register(IXnRootChecker checker)
    {
        ArgumentNullException.ThrowIfNull(checker);
        lock (Registered)
            if (!Registered.Any(c => c.GetType() == checker.GetType())) Registered.Add(checker);
    }

    public static IReadOnlyList<IXnRootChecker> All { get { lock (Registered) return Registered.ToList(); } }
}

/// <summary>Runs libFS root checkers (<see cref="XnVolume.CheckRoots"/>, <see cref="XnVolume.RepairRoots"/>) through the volume's administrator calls.</summary>
internal static class XnRootCheckRun
{
    internal static List<XnFinding> ForEachRoot(XnVolume volume, Kernel.ExoKernel kernel, IEnumerable<IXnRootChecker> checkers, Rights rights,
                                               Func<IXnRootChecker, XnRootView, IEnumerable<XnFinding>> run)
    {
        ArgumentNullException.ThrowIfNull(checkers);
        var list = checkers.ToList();
        var findings = new List<XnFinding>();
        var env = kernel.CreateEnvironment("fsck");
        try
        {
            foreach (var (name, block, type, _) in volume.Roots())
            {
                foreach (var checker in list.Where(c => c.RootType == type))
                {
                    // A checker's session may not install roots: the checker is libFS code.
                    var session = volume.Attach(env, mayInstallRoots: false);
                    var cap = volume.GrantRoot(name, env, rights);
                    if (!cap.Ok) continue;
                    var root = session.MountRoot(name, cap.Value);
                    if (!root.Ok) continue;
                    try
                    {
                        findings.AddRange(run(checker, new XnRootView(root.Value, session)).ToList());
                    }
                    catch (Exception e)
                    {
                        findings.Add(new XnFinding(XnFindingKind.LibFs, block.Value,
                            $"checker {checker.GetType().Name} for root '{name}' failed: {e.GetType().Name}: {e.Message}"));
                    }
                }
            }
        }
        finally
        {
            kernel.DestroyEnvironment(env);
        }
        return findings;
    }
}
