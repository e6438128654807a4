using ExoFS.Kernel;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// FFS's checker for <c>exofs fsck</c> (handed to the host by <see cref="FfsLibFs"/>): runs <see cref="Fsck"/> on every root whose
/// type is the FFS superblock, through the read-only session XN hands it, and reports each problem as an
/// XN finding of kind LibFs. <see cref="Repair"/> runs the same checker with repair on, for
/// <c>exofs fsck --repair</c>.
/// </summary>
public sealed class FfsRootChecker : IXnRootChecker
{
    public string RootType => FfsUdfs.SuperType;

    public IEnumerable<XnFinding> Check(XnRootView root)
    {
        var report = RunOn(root, repair: false, out string? failure, out bool leaksPending);
        string where = $"ffs root '{root.Root.Name}'";
        if (report is null) return [new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"{where}: {failure}")];
        var findings = report.Problems.Select(p => new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"{where}: {p}")).ToList();
        // The flag is itself something --repair fixes (it clears once a repairing walk leaves nothing), even
        // when the crash happened to leave no leak: otherwise every mount would go on reporting one.
        if (leaksPending)
            findings.Add(new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value,
                $"{where}: leaks pending (a mount after a crash deferred FFS's walk); --repair reclaims them and clears the flag"));
        return findings;
    }

    /// <summary>
    /// What was repaired, each line with its class in front ("leak: ...", "damage: ..."); nothing when the root is
    /// not an FFS that mounts (Check reports why).
    /// </summary>
    public IEnumerable<string> Repair(XnRootView root) =>
        RunOn(root, repair: true, out _, out _)?.RepairedWithClass.ToList() ?? [];

    /// <summary>Mounts the root through <paramref name="root"/>'s session without recovery and runs fsck; null with <paramref name="failure"/> if it does not mount.</summary>
    private static FsckReport? RunOn(XnRootView root, bool repair, out string? failure, out bool leaksPending)
    {
        ArgumentNullException.ThrowIfNull(root);
        // A repair checks read-only first and mounts read-write only if there is something to repair: a read-write
        // mount marks the superblock in use and clean again, which rewrites it with a new XN write sequence (format
        // 5), so a repair of a clean FFS would otherwise change the device.
        if (repair && RunOn(root, repair: false, out failure, out leaksPending) is { } look && look.Problems.Count == 0 && !leaksPending)
            return look;
        leaksPending = false;
        var xn = new XnClient(root.Session);
        var disk = XnFfsDisk.Create(xn, ulong.MaxValue, lookupOnly: !repair);
        if (!disk.Ok) { failure = $"FFS types missing ({XnFfsDisk.TypesRefused(xn)})"; return null; }
        var fs = FfsFileSystem.MountOn(disk.Value, root.Root.Block, recover: false, readOnly: !repair);
        if (!fs.Ok) { failure = fs.Error == Errno.EUCLEAN ? $"root {FfsFileSystem.WhyNotValid(disk.Value, root.Root.Block)}" : $"not a valid FFS ({fs.Error})"; return null; }
        using var mounted = fs.Value;
        failure = null;
        var report = Fsck.Run(mounted, repair);
        leaksPending = mounted.LeaksPending;
        if (repair && report.Unrepaired.Count == 0) mounted.LeaksReclaimed();   // written with the clean header at unmount
        // Data checksums: a damaged data block is reported, never repaired (nothing here knows the right bytes).
        var damaged = mounted.ScrubData();
        return damaged.Count == 0 ? report
            : new FsckReport([.. report.Problems, .. damaged], report.Repaired, [.. report.Unrepaired, .. (repair ? damaged : [])]);
    }
}
