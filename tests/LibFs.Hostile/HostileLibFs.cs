using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

[assembly: LibFsRegistration(typeof(ExoFS.LibFs.Hostile.HostileLibFs))]

namespace ExoFS.LibFs.Hostile;

/// <summary>
/// The hostile libFS's registration. Making and mounting a root are honest (it must get a root to attack
/// from); everything it then tries is in <see cref="HostileFileSystem"/>.
/// </summary>
public sealed class HostileLibFs : ILibFs
{
    public string Name => "hostile";
    public string RootType => HostileTypes.RootType;
    public IXnRootChecker Checker { get; } = new HostileRootChecker();

    public Result<IFileSystem> Format(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var types = RegisterTypes(guest.Session, out error);
        if (types is null) return Errno.EIO;
        var root = guest.Session.InstallRoot(guest.RootName, types.Value.Root);
        if (!root.Ok) { error = $"install root: {root}"; return Errno.EIO; }
        guest.Wallet.Put(guest.RootName, root.Value.Capability);
        error = null;
        return new HostileFileSystem(guest, root.Value, types.Value);
    }

    public Result<IFileSystem> Mount(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var types = RegisterTypes(guest.Session, out error);
        if (types is null) return Errno.EIO;
        if (guest.Wallet.Get(guest.RootName) is not { } cap) { error = $"no capability for root '{guest.RootName}'"; return Errno.EACCES; }
        var root = guest.Session.MountRoot(guest.RootName, cap);
        if (!root.Ok) { error = $"mount root: {root}"; return Errno.EACCES; }
        // Reading the root registers its children, so every block of the tree can be used.
        var read = guest.Session.Read(root.Value.Block, new byte[4096]);
        if (!read.Ok) { error = $"read root: {read}"; return Errno.EIO; }
        error = null;
        return new HostileFileSystem(guest, root.Value, types.Value);
    }

    /// <summary>Registers (or finds, after a reboot: the same spec gives the same id) the three types.</summary>
    private static HostileTypeIds? RegisterTypes(XnSession session, out string? error)
    {
        var ind = session.RegisterType(HostileTypes.Ind);
        var wide = ind.Ok ? session.RegisterType(HostileTypes.Wide) : default;
        var root = wide.Ok ? session.RegisterType(HostileTypes.Root) : default;
        if (!ind.Ok || !wide.Ok || !root.Ok)
        {
            error = $"registering hostile types: {(!ind.Ok ? ind.ToString() : !wide.Ok ? wide.ToString() : root.ToString())}";
            return null;
        }
        error = null;
        return new HostileTypeIds(root.Value, ind.Value, wide.Value);
    }
}

/// <summary>The ids XN gave the hostile types on this volume.</summary>
public readonly record struct HostileTypeIds(TypeId Root, TypeId Ind, TypeId Wide);

/// <summary>
/// The hostile root's checker. The host runs it inside every check, with a session of its own on the hostile
/// root: it checks that the root is readable, and on the way tries what that session might allow — install a
/// root, write its read-only root — and keeps the session to use after the check (<see cref="Observed"/>, per thread:
/// a host runs checkers on the thread that asked for the check).
/// </summary>
public sealed class HostileRootChecker : IXnRootChecker
{
    public sealed record Attempts(XnResult InstallRoot, XnResult WriteRaw, XnSession Kept, RootInfo Root);

    [ThreadStatic] private static Attempts? _observed;
    /// <summary>What the last check on this thread tried.</summary>
    public static Attempts? Observed => _observed;

    public string RootType => HostileTypes.RootType;

    public IEnumerable<XnFinding> Check(XnRootView root)
    {
        var s = root.Session;
        _observed = new Attempts(s.InstallRoot("planted-by-checker", root.Root.Type).Status,
            s.WriteRaw(root.Root.Block, 0, "checker was here"u8), s, root.Root);
        var r = s.Read(root.Root.Block, new byte[4096]);
        return r.Ok ? [] : [new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"hostile root unreadable: {r}")];
    }
}

/// <summary>
/// A checker the hostile guest registers (<see cref="XnRootCheckers.Register"/> is public) for FFS's root type,
/// hoping a host check hands it a session on the victim's root — a read one for a check, a full one for a repair.
/// Records every root it was given (<see cref="Reached"/>, per thread) and, in a repair, writes into it.
/// </summary>
public sealed class SnoopingChecker : IXnRootChecker
{
    [ThreadStatic] private static List<string>? _reached;
    /// <summary>Roots this checker was run on, on this thread.</summary>
    public static List<string> Reached => _reached ??= new();

    public string RootType => "ffs.super";

    public IEnumerable<XnFinding> Check(XnRootView root)
    {
        var buf = new byte[4096];
        Reached.Add($"check {root.Root.Name}: read {root.Session.Read(root.Root.Block, buf)}");
        return [];
    }

    public IEnumerable<string> Repair(XnRootView root)
    {
        Reached.Add($"repair {root.Root.Name}: write {root.Session.WriteRaw(root.Root.Block, 0, new byte[64])}");
        return [];
    }
}
