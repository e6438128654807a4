using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// The LFS's checker for <c>exofs fsck</c> (the segment variant is handed to the host by <see cref="LfsLibFs"/>): on every root whose type is the
/// LFS superblock, mounts it read-only through the session XN hands it (newest valid checkpoint, roll-forward
/// in memory only, nothing written) and runs <see cref="LfsFsck"/>, each problem an XN finding of kind LibFs.
/// </summary>
public sealed class LfsRootChecker : IXnRootChecker
{
    public string RootType => LfsUdfs.SuperType;

    public IEnumerable<XnFinding> Check(XnRootView root)
    {
        ArgumentNullException.ThrowIfNull(root);
        string where = $"lfs root '{root.Root.Name}'";
        var xn = new XnClient(root.Session);
        var disk = LfsFileSystem.OpenDisk(xn, root.Root, lookupOnly: true, out string? why);
        if (!disk.Ok) return [new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"{where}: not a valid LFS ({disk.Error}: {why})")];
        var checkedDisk = ExoFS.LibFs.Lfs.Log.CheckedLfsDisk.Wrap(disk.Value);
        checkedDisk.Log = _ => { }; // fsck reports what it finds as findings, not log lines
        var fs = LfsFileSystem.MountOn(checkedDisk, readOnly: true);
        if (!fs.Ok)
            return [new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value,
                $"{where}: does not mount ({fs.Error}{(checkedDisk.FirstProblem is { } bad ? ": " + bad : "")})")];
        using var mounted = fs.Value;
        LfsFsckReport report;
        lock (mounted.Lock) report = LfsFsck.Run(mounted, new List<string>());
        return report.Problems.Select(p => new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"{where}: {p}")).ToList();
    }
}

/// <summary>The same checker for roots whose segments are XN segments (root type <see cref="LfsUdfs.XSuperType"/>).</summary>
public sealed class LfsSegmentRootChecker : IXnRootChecker
{
    public string RootType => LfsUdfs.XSuperType;
    public IEnumerable<XnFinding> Check(XnRootView root) => new LfsRootChecker().Check(root);
}
