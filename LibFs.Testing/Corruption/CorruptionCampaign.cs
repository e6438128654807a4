using System.Diagnostics;
using ExoFS.Host;
using ExoFS.Kernel.Disk;

namespace ExoFS.LibFs.Testing.Corruption;

/// <summary>What a corruption campaign runs.</summary>
public sealed record CorruptionOptions
{
    /// <summary>The libFS whose image is damaged ("ffs", "lfs").</summary>
    public string LibFs { get; init; } = "ffs";
    /// <summary>The libFS's format options for the image (e.g. data-checksums).</summary>
    public IReadOnlyDictionary<string, string>? FormatOptions { get; init; }
    /// <summary>Case i draws its damage from a random source seeded by (Seed, i): any case replays alone.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Number of the first case (replay: one case with its number).</summary>
    public int FirstCase { get; init; }
    /// <summary>Damaged images to try.</summary>
    public int Cases { get; init; } = 100;
    /// <summary>Past this a case is abandoned and reported as a hang.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Cases run at once (each on its own clones, hosts and threads; the report does not depend on it).</summary>
    public int Parallelism { get; init; } = Math.Min(2, Environment.ProcessorCount);
}

/// <summary>The one outcome a case is tallied under, worst first.</summary>
public enum CorruptionOutcome
{
    /// <summary>An exception escaped fsck, the mount or a read.</summary>
    Crash,
    /// <summary>The case did not finish within the timeout.</summary>
    Hang,
    /// <summary>The mounted image served a successful answer that differs from the intact image's.</summary>
    WrongBytes,
    /// <summary>fsck reported the damage (it would exit 4).</summary>
    DetectedByFsck,
    /// <summary>fsck found nothing, but the read-write mount was refused.</summary>
    RefusedReadWrite,
    /// <summary>Neither, but a read of the mounted image answered an error (EIO) rather than wrong bytes.</summary>
    DetectedOnRead,
    /// <summary>Nothing noticed and nothing visible changed (a free block, unused bytes, a no-op damage).</summary>
    Harmless,
}

/// <summary>One damaged image and what each step made of it.</summary>
/// <param name="Case">The case number (with the seed, it replays the case).</param>
/// <param name="Target">The class of the damaged block in the intact image.</param>
/// <param name="Changed">Whether the damage changed any byte (a stale block may equal the current one).</param>
/// <param name="Fsck">fsck's verdict: null when clean, else its first finding.</param>
/// <param name="Refused">Why the read-write mount was refused, or null when it attached.</param>
/// <param name="ReadOnly">The attached root was read-only after the walk (it came up so, or damage turned it: statfs's ST_RDONLY, or a write answered EROFS).</param>
/// <param name="ReadErrors">The walk's failed calls (each a detection).</param>
/// <param name="Mismatches">The walk's wrong answers.</param>
/// <param name="Failure">For a crash or a hang: the step and the exception (type, message, stack).</param>
public sealed record CorruptionCase(int Case, Damage Damage, BlockClass Target, bool Changed, CorruptionOutcome Outcome,
    string? Fsck, string? Refused, bool ReadOnly, IReadOnlyList<string> ReadErrors, IReadOnlyList<string> Mismatches, string? Failure)
{
    /// <summary>
    /// The damaged block is a whole older version of itself (a stale block, or a torn write whose stale sectors are
    /// all that differ): self-consistent, with the checksum it had then, so a per-block checksum cannot tell it from
    /// the current one; a cross-check can: XN's block-version table for a type with a write sequence (every FFS
    /// metadata type since FFS format 5), the segment summary's CRCs for LFS log blocks.
    /// </summary>
    public bool OlderVersion { get; init; }

    /// <summary>Damage to a metadata block that fsck did not report.</summary>
    public bool MetadataUndetected => Changed && Target.IsMetadata && Fsck is null && Outcome is not (CorruptionOutcome.Crash or CorruptionOutcome.Hang);
    /// <summary>Damage to a free block that anything noticed or that changed what is served.</summary>
    public bool FreeDamageVisible => Target == BlockClass.Free && Outcome != CorruptionOutcome.Harmless;
    /// <summary>Whether this case fails the campaign: a crash, a hang, wrong bytes, metadata damage fsck missed, visible free-block damage.</summary>
    public bool Failed => Outcome is CorruptionOutcome.Crash or CorruptionOutcome.Hang or CorruptionOutcome.WrongBytes
                          || MetadataUndetected || FreeDamageVisible;

    public override string ToString()
    {
        string detail = Outcome switch
        {
            CorruptionOutcome.Crash or CorruptionOutcome.Hang => Failure ?? "",
            CorruptionOutcome.WrongBytes => Mismatches[0],
            CorruptionOutcome.DetectedByFsck => Fsck!,
            CorruptionOutcome.RefusedReadWrite => Refused!,
            CorruptionOutcome.DetectedOnRead => ReadErrors[0],
            _ => Changed ? "no visible change" : "the damage changed no byte",
        };
        return $"case {Case}: {Damage} ({Target.Name}): {Outcome}: {detail}" + (MetadataUndetected && Outcome != CorruptionOutcome.DetectedByFsck ? " [metadata damage fsck did not report]" : "");
    }
}

/// <summary>Counts of one row of the report (a damage kind, a target class, or all).</summary>
public sealed record CorruptionTally(string Name)
{
    public int Tried { get; set; }
    public int Changed { get; set; }
    /// <summary>Cases by outcome, indexed by <see cref="CorruptionOutcome"/>.</summary>
    public int[] Outcomes { get; } = new int[Enum.GetValues<CorruptionOutcome>().Length];
    /// <summary>fsck reported it (whatever else happened).</summary>
    public int FsckDetected { get; set; }
    /// <summary>The read-write mount was refused (whatever fsck said).</summary>
    public int Refused { get; set; }
    /// <summary>Attached, and read-only after the walk (statfs's ST_RDONLY, or a write answered EROFS).</summary>
    public int ReadOnly { get; set; }
    public int MetadataUndetected { get; set; }
    public int Failed { get; set; }
    public int this[CorruptionOutcome o] => Outcomes[(int)o];

    internal void Add(CorruptionCase c)
    {
        Tried++;
        if (c.Changed) Changed++;
        Outcomes[(int)c.Outcome]++;
        if (c.Fsck is not null) FsckDetected++;
        if (c.Refused is not null) Refused++;
        if (c.ReadOnly) ReadOnly++;
        if (c.MetadataUndetected) MetadataUndetected++;
        if (c.Failed) Failed++;
    }
}

/// <summary>The figures of a campaign: every case, tallied overall, by damage kind and by target class.</summary>
public sealed record CorruptionReport(CorruptionOptions Options, IReadOnlyList<CorruptionCase> Cases, TimeSpan Elapsed, TimeSpan Build)
{
    public CorruptionTally Total => Tally("all", _ => true);
    public IReadOnlyList<CorruptionTally> ByKind =>
        Enum.GetValues<DamageKind>().Select(k => Tally(k.ToString(), c => c.Damage.Kind == k)).Where(t => t.Tried > 0).ToList();
    public IReadOnlyList<CorruptionTally> ByTarget =>
        Cases.Select(c => c.Target.Name).Distinct().Order(StringComparer.Ordinal).Select(n => Tally(n, c => c.Target.Name == n)).ToList();
    public IEnumerable<CorruptionCase> Failures => Cases.Where(c => c.Failed);

    private CorruptionTally Tally(string name, Func<CorruptionCase, bool> which)
    {
        var t = new CorruptionTally(name);
        foreach (var c in Cases.Where(which)) t.Add(c);
        return t;
    }

    /// <summary>The command that replays case <paramref name="c"/> alone.</summary>
    public string Replay(CorruptionCase c)
    {
        var options = Options.FormatOptions is { Count: > 0 } o ? $" --options {string.Join(",", o.Select(kv => $"{kv.Key}={kv.Value}"))}" : "";
        return $"exofs crashtest --corrupt 1 --libfs {Options.LibFs}{options} --seed {Options.Seed} --first-case {c.Case}";
    }
}

/// <summary>
/// The corruption campaign: damages one block of a copy of a <see cref="CorruptionImage"/> per case and runs
/// on it what a user would — <c>exofs fsck</c> (the host's check, after the recovery a mount would do when
/// the image says it was not cleanly unmounted), then a read-write mount (host load with its recovery, then
/// attach of every root, refused as the daemon refuses), then a walk of the whole tree comparing every answer
/// with the intact image's and a write to see whether the root is read-only. Each case runs on a thread of
/// its own under a timeout (a hang is abandoned and reported); an exception anywhere is a crash. Outcomes are
/// measured, never assumed: a detection is an fsck finding, a refusal or an error answer that happened.
/// </summary>
public static class CorruptionCampaign
{
    /// <summary>Runs the campaign on a new image. Null with <paramref name="error"/> when the image cannot be made.</summary>
    public static CorruptionReport? Run(CorruptionOptions options, out string? error, Action<int, CorruptionCase>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var image = CorruptionImage.Build(options.LibFs, options.FormatOptions, out error);
        if (image is null) return null;
        return Run(image, options, sw.Elapsed, progress);
    }

    /// <summary>Runs the campaign's cases on <paramref name="image"/>.</summary>
    public static CorruptionReport Run(CorruptionImage image, CorruptionOptions options, TimeSpan build = default, Action<int, CorruptionCase>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var cases = new CorruptionCase[options.Cases];
        int next = -1, done = 0;
        var workers = Enumerable.Range(0, Math.Max(1, options.Parallelism)).Select(_ => new Thread(() =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < cases.Length)
            {
                cases[i] = RunCase(image, options, options.FirstCase + i);
                progress?.Invoke(Interlocked.Increment(ref done), cases[i]);
            }
        }) { IsBackground = true, Name = "corruption-worker" }).ToList();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        return new CorruptionReport(options, cases, sw.Elapsed, build);
    }

    /// <summary>The damage case <paramref name="number"/> does: its kind, its target block, the damaged bytes.</summary>
    public static (Damage Damage, BlockClass Target, byte[] Bytes, bool Changed) Plan(CorruptionImage image, int seed, int number)
    {
        // Not HashCode.Combine: it is seeded per process, and a case must replay in another one.
        var rng = new Random(unchecked((int)(((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (uint)number) * 0xBF58476D1CE4E5B9UL >> 33)));
        var kinds = Enum.GetValues<DamageKind>();
        var kind = kinds[rng.Next(kinds.Length)];
        // Weighted by class, not by block: each class (XN's areas, each libFS type, data, free) is as likely as
        // any other, then a block within it. Torn and stale damage go where the stale image differs, zeroing
        // where the block is not zero already, when the class has such blocks.
        var pool = image.Targets(kind);
        var classes = pool.Keys.ToList();
        var cls = classes[rng.Next(classes.Count)];
        var list = pool[cls];
        ulong block = list[rng.Next(list.Count)];
        var current = image.Block(block);
        var (bytes, damage) = Damages.Apply(kind, block, current, image.StaleBlock(block), rng);
        return (damage, image.Classes[(int)block], bytes, !bytes.AsSpan().SequenceEqual(current));
    }

    /// <summary>Runs case <paramref name="number"/> under the timeout.</summary>
    public static CorruptionCase RunCase(CorruptionImage image, CorruptionOptions options, int number)
    {
        var (damage, _, bytes, _) = Plan(image, options.Seed, number);
        return RunDamage(image, options, number, damage, bytes);
    }

    /// <summary>
    /// Runs one chosen damage under the timeout: <paramref name="bytes"/> replace block <c>damage.Block</c> of a copy of
    /// the image (tests that sweep a kind over every block of a class, not a random draw; numbered <paramref name="number"/>).
    /// </summary>
    public static CorruptionCase RunDamage(CorruptionImage image, CorruptionOptions options, int number, Damage damage, byte[] bytes)
    {
        var target = image.Classes[(int)damage.Block];
        bool changed = !bytes.AsSpan().SequenceEqual(image.Block(damage.Block));
        var damaged = image.Device.Clone();
        damaged.Write(new BlockNo(damage.Block), bytes);

        var state = new CaseState();
        var thread = new Thread(() =>
        {
            state.ThreadId = AbandonedThreads.CurrentId();
            using var clock = LogicalClock.Use(new LogicalClock(new Timespec(1_800_000_000, 0)));
            try { Examine(image, damaged, state); }
            catch (Exception e) { state.Failure = $"{state.Step}: {Describe(e)}"; }
        }, 16 << 20) { IsBackground = true, Name = $"corrupt-{number}" };
        thread.Start();
        CorruptionOutcome outcome;
        string? failure = null;
        if (!thread.Join(options.Timeout))
        {
            outcome = CorruptionOutcome.Hang;
            // .NET cannot stop a thread: the abandoned one runs on at the lowest priority, so that a campaign
            // meeting many hangs does not take the machine from its other users.
            AbandonedThreads.Deprioritize(state.ThreadId);
            failure = $"{state.Step}: no answer within {options.Timeout.TotalSeconds:F0} s (the case's thread was abandoned)";
        }
        else if (state.Failure is not null) { outcome = CorruptionOutcome.Crash; failure = state.Failure; }
        else if (state.Mismatches.Count > 0) outcome = CorruptionOutcome.WrongBytes;
        else if (state.Fsck is not null) outcome = CorruptionOutcome.DetectedByFsck;
        else if (state.Refused is not null) outcome = CorruptionOutcome.RefusedReadWrite;
        else if (state.Errors.Count > 0) outcome = CorruptionOutcome.DetectedOnRead;
        else outcome = CorruptionOutcome.Harmless;
        lock (state)
            return new CorruptionCase(number, damage, target, changed, outcome, state.Fsck, state.Refused, state.ReadOnly,
                state.Errors.ToList(), state.Mismatches.ToList(), failure)
            {
                OlderVersion = changed && bytes.AsSpan().SequenceEqual(image.StaleBlock(damage.Block)),
            };
    }

    private sealed class CaseState
    {
        public volatile string Step = "fsck";
        public volatile int ThreadId;
        public string? Fsck, Refused, Failure;
        public bool ReadOnly;
        public List<string> Errors { get; } = [];
        public List<string> Mismatches { get; } = [];
    }

    private static string Describe(Exception e)
    {
        var frames = (e.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(6);
        return $"{e.GetType().FullName}: {e.Message.Split('\n')[0]} | {string.Join(" | ", frames)}";
    }

    private static void Examine(CorruptionImage image, MemoryDevice damaged, CaseState state)
    {
        state.Step = "fsck";
        var fsck = Fsck(damaged.Clone());
        lock (state) state.Fsck = fsck;

        state.Step = "mount";
        var host = Mount(damaged.Clone(), out string? refused);
        if (host is null) { lock (state) state.Refused = refused; return; }
        using (host)
        {
            var guests = new List<Guest>();
            foreach (var root in host.Roots().Where(r => r.LibFs is not null))
            {
                var guest = host.Attach(root.Name, out string? why, libFs: root.Name == image.RootName ? image.LibFs : null);
                if (!guest.Ok) { lock (state) state.Refused = $"attach of root '{root.Name}' refused: {why}"; return; }
                guests.Add(guest.Value);
            }
            var served = guests.FirstOrDefault(g => g.RootName == image.RootName);
            if (served is null) { lock (state) state.Refused = $"no root '{image.RootName}' to attach"; return; }

            state.Step = "read";
            var check = TreeView.Compare(served.FileSystem, image.Expected);
            lock (state)
            {
                state.Errors.AddRange(check.Errors);
                state.Mismatches.AddRange(check.Mismatches);
            }

            // Is the root read-only now (it came up so, or turned so on damage)? statfs says so (ST_RDONLY), and
            // a create answers EROFS then, unless its lookup in a damaged directory answers EIO first.
            state.Step = "write probe";
            var fs = served.FileSystem;
            var probe = fs.Create(InodeNo.Root, ".corruption-probe", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root);
            if (probe.Ok) { fs.Release(probe.Value.Attr.Ino, probe.Value.Handle); fs.Forget(probe.Value.Attr.Ino, 1); }
            var stats = fs.StatFs();
            lock (state) state.ReadOnly = !probe.Ok && probe.Error == Errno.EROFS || served.ReadOnly || stats.Ok && stats.Value.ReadOnly;
            state.Step = "unmount";
        }
    }

    /// <summary>
    /// What <c>exofs fsck IMAGE</c> (without --repair) reports: null when it would exit 0, else the first reason
    /// it would exit non-zero. As the command does: a read-only load tolerating a damaged free map; after an
    /// unclean shutdown the recovery a mount would do, in memory, then the check.
    /// </summary>
    public static string? Fsck(IBlockDevice device)
    {
        var loaded = ExoHost.Load(device, out string? error, new HostOptions { ReadOnly = true, TolerateCorruptFreeMap = true });
        if (!loaded.Ok) return $"load: {error}";
        using (var host = loaded.Value)
        {
            if (host.WasClean)
            {
                var findings = host.Check().Findings;
                return findings.Count == 0 ? null : $"{findings.Count} finding(s), first: {findings[0]}";
            }
        }
        var recovered = ExoHost.RecoverInMemory(device, out error, options: new HostOptions { TolerateCorruptFreeMap = true });
        if (!recovered.Ok) return $"the recovery a mount would do fails: {error}";
        using var again = recovered.Value;
        var left = again.Check().Findings;
        return left.Count == 0 ? null : $"{left.Count} finding(s) after recovery, first: {left[0]}";
    }

    /// <summary>
    /// A read-write mount's host as the daemon brings it up: load (XN's recovery), and after an unclean shutdown
    /// every root's recovery and a check whose findings refuse the mount. Null with the reason when refused.
    /// </summary>
    public static ExoHost? Mount(IBlockDevice device, out string? refused)
    {
        var loaded = ExoHost.Load(device, out string? error);
        if (!loaded.Ok) { refused = $"load: {error}"; return null; }
        var host = loaded.Value;
        if (!host.WasClean)
        {
            if (host.RunRootRecovery(out string? failed) != Errno.OK) { host.Dispose(); refused = $"recovery failed: {failed}"; return null; }
            var left = host.Check().Findings;
            if (left.Count > 0) { host.Dispose(); refused = $"damage remains after recovery: {left[0]}"; return null; }
        }
        refused = null;
        return host;
    }
}

/// <summary>Lowers the scheduling priority of a thread a campaign abandoned (Linux: setpriority on its thread id).</summary>
internal static class AbandonedThreads
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern long syscall(long number);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int setpriority(int which, uint who, int prio);

    /// <summary>The calling thread's kernel id, or 0 where it cannot be had.</summary>
    public static int CurrentId()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        long gettid = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => 186,
            System.Runtime.InteropServices.Architecture.Arm64 => 178,
            _ => -1,
        };
        if (gettid < 0) return 0;
        try { return (int)syscall(gettid); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return 0; }
    }

    /// <summary>Nice 19 for thread <paramref name="id"/> (0: nothing known, nothing done).</summary>
    public static void Deprioritize(int id)
    {
        if (id <= 0) return;
        try { _ = setpriority(0 /* PRIO_PROCESS: on Linux a thread id names one thread */, (uint)id, 19); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
