using System.Text;

namespace ExoFS.LibFs.Testing.Simulation;

/// <summary>What a multi-guest simulation runs. Everything that varies comes from <see cref="Seed"/>.</summary>
public sealed record SimulationOptions
{
    /// <summary>The one seed: each guest's workload, the slices each environment claims and the kernel's donation choices.</summary>
    public int Seed { get; init; }

    /// <summary>The FFS roots of the image, one guest each.</summary>
    public IReadOnlyList<string> Roots { get; init; } = ["a", "b"];

    /// <summary>Workload steps per FFS guest (the crash namespace's standard setup counts toward them).</summary>
    public int OpsPerGuest { get; init; } = 30;

    /// <summary>
    /// Add the hostile guest (<see cref="HostileSimLibFs"/>, root <see cref="HostileRoot"/>): one attack on the FFS
    /// roots per slice it gets, <see cref="OpsPerGuest"/> in all, each of which XN must refuse with its exact error
    /// while every FFS root keeps matching its model.
    /// </summary>
    public bool Hostile { get; init; }

    /// <summary>The hostile guest's root.</summary>
    public const string HostileRoot = "hostile";

    /// <summary>Add the auditor guest: an environment that wakes every <see cref="AuditEvery"/> slices run by anyone and checks XN's invariants.</summary>
    public bool Auditor { get; init; } = true;

    /// <summary>Slices run system-wide between two audits.</summary>
    public int AuditEvery { get; init; } = 8;

    /// <summary>
    /// For tests of the simulation itself: wraps the file system of a root (by name) before the workload and the
    /// checks see it, e.g. to inject a bug the run must catch. Null: every root runs unwrapped.
    /// </summary>
    public Func<string, IFileSystem, IFileSystem>? Interpose { get; init; }

    /// <summary>Device size in blocks (small keeps crash images cheap).</summary>
    public ulong DeviceBlocks { get; init; } = 1024;

    /// <summary>
    /// Crash states to check per crash point (0: no crash exploration). With crash exploration the run's device
    /// is a <see cref="Kernel.Disk.CrashModelDevice"/>; at every barrier and flush any guest issues, and after
    /// every step, that many states of the one device are recovered and every root checked against its own oracle.
    /// </summary>
    public int CrashStatesPerPoint { get; init; }
}

/// <summary>
/// The outcome of a run: the trace (one line per slice: who ran, the step and its result, the I/O it did, the
/// root's tree digest; audits; the final checks) and the problems found. Two runs of one seed give equal traces.
/// </summary>
public sealed record SimulationResult(int Seed, IReadOnlyList<string> Trace, IReadOnlyList<string> Problems, int CrashPoints, int CrashStates)
{
    /// <summary>Attacks the hostile guest made, and how many XN refused with the expected error.</summary>
    public int Attacks { get; init; }
    public int AttacksRefused { get; init; }

    /// <summary>True when every step agreed with its root's model and every check was clean.</summary>
    public bool Clean => Problems.Count == 0;

    /// <summary>The trace as text, one line per entry.</summary>
    public string TraceText => string.Join('\n', Trace);

    /// <summary>The trace as UTF-8 bytes: what replay compares.</summary>
    public byte[] TraceBytes => Encoding.UTF8.GetBytes(TraceText);

    public override string ToString() =>
        $"simulation seed {Seed}: {Trace.Count} trace lines, {CrashPoints} crash points, {CrashStates} crash states, " +
        (Clean ? "clean" : $"{Problems.Count} problem(s):\n  " + string.Join("\n  ", Problems.Take(20)));
}
