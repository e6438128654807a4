using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.Compare.Workloads;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;
using ExoFS.LibFs.Testing;

namespace ExoFS.Compare.Tests;

/// <summary>Counts the calls a workload makes, by name (and opens by access mode), passing each on unchanged.</summary>
public sealed class CountingFileSystem(IFileSystem inner, Dictionary<string, long> counts) : ForwardingFileSystem<IFileSystem>(inner)
{
    /// <summary>Writes per inode, to check how a pick spreads its writes.</summary>
    public Dictionary<ulong, long> WritesByIno { get; } = [];

    private void Count(string name) => counts[name] = counts.GetValueOrDefault(name) + 1;

    public override Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller)
    { Count("create"); return base.Create(parent, name, mode, flags, caller); }
    public override Errno Unlink(InodeNo parent, string name) { Count("unlink"); return base.Unlink(parent, name); }
    public override Result<FileAttr> Lookup(InodeNo parent, string name) { Count("lookup"); return base.Lookup(parent, name); }
    public override Result<FileAttr> GetAttr(InodeNo ino) { Count("getattr"); return base.GetAttr(ino); }
    public override Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller) { Count("mkdir"); return base.MkDir(parent, name, mode, caller); }
    public override Result<FileHandle> Open(InodeNo ino, OpenFlags flags)
    { Count((flags & OpenFlags.AccessMask) == OpenFlags.ReadOnly ? "open-read" : "open-write"); return base.Open(ino, flags); }
    public override Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer) { Count("read"); return base.Read(ino, fh, offset, buffer); }
    public override Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
    {
        Count("write");
        WritesByIno[ino.Value] = WritesByIno.GetValueOrDefault(ino.Value) + 1;
        return base.Write(ino, fh, offset, data);
    }
    public override Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) { Count("fsync"); return base.Fsync(ino, fh, dataOnly); }
    public override Errno Sync() { Count("sync"); return base.Sync(); }
}

/// <summary>FFS under another name and with declared tunables (which change nothing): a second design for parser and chart tests.</summary>
public sealed class TwinDesign(string name, params Tunable[] tunables) : IDesign
{
    public string Name => name;
    public string Description => "FFS under another name (tests)";
    public IReadOnlyList<Tunable> Tunables => tunables;
    public bool HasCleaner => false;
    public Result<IFileSystem> Format(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error) =>
        FfsDesign.Instance.Format(device, settings, out error);
    public Result<IFileSystem> Mount(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error) =>
        FfsDesign.Instance.Mount(device, settings, out error);
    public CleanerCounters? ReadCleaner(IFileSystem fs) => null;
    public IReadOnlyList<double>? CleanedSegmentUtilizations(IFileSystem fs) => null;
}

/// <summary>Shorthands for running small workloads in tests.</summary>
public static class Runs
{
    public static DesignConfig Ffs { get; } = DesignRegistry.Configure(FfsDesign.Instance, [], out _)!;
    public static DiskKind Disk(string name) => DiskRegistry.All.Single(d => d.Name == name);

    /// <summary>Runs <paramref name="spec"/> on FFS, asserting it completes; the counts of every call made, per phase.</summary>
    public static (IReadOnlyList<PhaseResult> Results, Dictionary<string, Dictionary<string, long>> Calls, List<CountingFileSystem> Mounts)
        Counted(WorkloadSpec spec, int seed = 1, double utilization = 0.5, string disk = "mem")
    {
        var calls = new Dictionary<string, Dictionary<string, long>>();
        var current = new Dictionary<string, long>();
        var mounts = new List<CountingFileSystem>();
        // Each phase's calls land in a fresh dictionary: OnPhase files the finished phase's counts under its name.
        var options = new RunOptions
        {
            Seed = seed, Utilization = utilization,
            Wrap = fs => { var c = new CountingFileSystem(fs, current); mounts.Add(c); return c; },
            OnPhase = r => { calls[r.Phase] = new Dictionary<string, long>(current); current.Clear(); },
        };
        var outcome = WorkloadRunner.Run(spec, Ffs, Disk(disk), options);
        Assert.Null(outcome.Error);
        return (outcome.Results, calls, mounts);
    }

    public static long Get(this Dictionary<string, long> counts, string name) => counts.GetValueOrDefault(name);
}

/// <summary>
/// FFS presented as a design with a cleaner, for testing the plumbing of the cleaning experiments before a real
/// cleaner exists: every ReadCleaner call advances fixed counters (so any phase's write cost is exactly 5) and
/// adds one cleaned segment of live fraction <paramref name="live"/>. Its figures say nothing about any libFS.
/// </summary>
public sealed class StandInCleanerDesign(double live) : IDesign
{
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<IFileSystem, List<double>> _cleaned = new();

    public string Name => "stand-in";
    public string Description => "FFS with stand-in cleaner counters (tests)";
    public IReadOnlyList<Tunable> Tunables { get; } = [new Tunable("cleaner", ["greedy", "cost-benefit"], "greedy", "victim policy")];
    public bool HasCleaner => true;
    public Result<IFileSystem> Format(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error) =>
        FfsDesign.Instance.Format(device, settings, out error);
    public Result<IFileSystem> Mount(IBlockDevice device, IReadOnlyDictionary<string, string> settings, out string? error) =>
        FfsDesign.Instance.Mount(device, settings, out error);

    public CleanerCounters? ReadCleaner(IFileSystem fs)
    {
        var list = _cleaned.GetOrCreateValue(fs);
        list.Add(live);
        long k = list.Count;
        return new CleanerCounters(3 * k, k, k);
    }

    public IReadOnlyList<double>? CleanedSegmentUtilizations(IFileSystem fs) => _cleaned.GetOrCreateValue(fs).ToList();
}
