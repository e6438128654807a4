using ExoFS.Kernel;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// FFS's checker for <c>exofs fsck</c> (found by reflection): runs <see cref="Fsck"/> on every root whose
/// type is the FFS superblock, through the read-only session XN hands it, and reports each problem as an
/// XN finding of kind LibFs. <see cref="Repair"/> runs the same checker with repair on, for
/// <c>exofs fsck --repair</c>.
/// </summary>
public sealed class FfsRootChecker : IXnRootChecker
{
    public string RootType => FfsUdfs.SuperType;

    public IEnumerable<XnFinding> Check(XnRootView root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var xn = new XnClient(root.Session);
        var disk = XnFfsDisk.Create(xn, ulong.MaxValue, lookupOnly: true);
        if (!disk.Ok)
            return [new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"ffs root '{root.Root.Name}': FFS types missing ({xn.LastRefusal})")];
        var fs = FfsFileSystem.MountOn(disk.Value, root.Root.Block, recover: false, readOnly: true);
        if (!fs.Ok)
            return [new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"ffs root '{root.Root.Name}': not a valid FFS ({fs.Error})")];
        using var mounted = fs.Value;
        var report = Fsck.Run(mounted, repair: false);
        return report.Problems.Select(p => new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"ffs root '{root.Root.Name}': {p}")).ToList();
    }

    public IEnumerable<string> Repair(XnRootView root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var xn = new XnClient(root.Session);
        var disk = XnFfsDisk.Create(xn, ulong.MaxValue, lookupOnly: false);
        if (!disk.Ok) return [];
        var fs = FfsFileSystem.MountOn(disk.Value, root.Root.Block, recover: false, readOnly: false);
        if (!fs.Ok) return [];
        using var mounted = fs.Value;
        return Fsck.Run(mounted, repair: true).Repaired.ToList();
    }
}
