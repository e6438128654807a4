using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ExoFS.Kernel.Disk;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// What recovering one crash image found: everything a verdict needs except the oracle. Recovery (XN load
/// with its recovery, the libFS's mount and recovery, the target's checks, reading the file system back)
/// is a function of the image's bytes alone — a target is stateless (<see cref="ICrashTarget"/>) and
/// recovery runs under a fixed <see cref="LogicalClock"/> — so two crash states that leave byte-identical
/// images get the same <see cref="RecoveredImage"/>, and <see cref="Judge"/> applies each state's own
/// oracle to it. Immutable once built; safe to share between threads.
/// </summary>
internal sealed class RecoveredImage
{
    private RecoveredImage(IReadOnlyList<string> recoveryProblems, bool mounted, FsSnapshot? snapshot,
        string? readError, string? unmountError, IReadOnlyList<string>? damage = null)
    {
        Damage = damage ?? [];
        RecoveryProblems = recoveryProblems;
        Mounted = mounted;
        Snapshot = snapshot;
        ReadError = readError;
        UnmountError = unmountError;
    }

    /// <summary>Recovery's and the target's own checks' problems, in the order the target gave them.</summary>
    public IReadOnlyList<string> RecoveryProblems { get; }
    /// <summary>Damage-class findings of recovery before it repaired (<see cref="CrashRecovery.Damage"/>).</summary>
    public IReadOnlyList<string> Damage { get; }
    /// <summary>False when the image would not mount (or recovery threw).</summary>
    public bool Mounted { get; }
    /// <summary>The recovered file system as read back; null when it would not mount or reading failed.</summary>
    public FsSnapshot? Snapshot { get; }
    public string? ReadError { get; }
    public string? UnmountError { get; }

    /// <summary>Recovers <paramref name="image"/> with <paramref name="target"/>, reads it back and unmounts it. Never throws for a target bug.</summary>
    public static RecoveredImage Recover(ICrashTarget target, IBlockDevice image)
    {
        // Recovery may read the clock (a libFS stamps what it repairs): a fixed one keeps it a function of the image.
        using var clock = LogicalClock.Use(new LogicalClock(RecoveryClockStart));
        CrashRecovery recovery;
        try { recovery = target.Recover(image); }
        catch (Exception e) { return new([$"recovery threw {e.GetType().Name}: {e.Message}"], false, null, null, null); }
        if (recovery.Mount is null)
            return new(recovery.Problems.ToArray(), false, null, null, null);
        FsSnapshot? snapshot = null;
        string? readError = null, unmountError = null;
        try { snapshot = FsSnapshot.Take(recovery.Mount.Fs); }
        catch (Exception e) { readError = $"reading the recovered file system failed: {e.GetType().Name}: {e.Message}"; }
        finally
        {
            try { recovery.Mount.Dispose(); }
            catch (Exception e) { unmountError = $"unmounting the recovered file system threw {e.GetType().Name}: {e.Message}"; }
            image.Dispose();
        }
        return new(recovery.Problems.ToArray(), true, snapshot, readError, unmountError, recovery.Damage.ToArray());
    }

    /// <summary>The start of the clock every recovery runs under.</summary>
    internal static readonly Timespec RecoveryClockStart = new(1_800_000_000, 0);

    // Verdicts by oracle history (CrashOracle.History): an oracle told the same things judges this image alike, so
    // the states of a common prefix (the first unit of an exhaustive workload is shared by 52 others) are judged once.
    private readonly ConcurrentDictionary<UInt128, string[]> _verdicts = new();
    private const int MaxVerdicts = 64;

    /// <summary>
    /// One line per broken rule for a crash state that left this image, judged by <paramref name="oracle"/>: computed
    /// once per oracle history (<see cref="CrashOracle.History"/>) and shared by every oracle with the same history.
    /// </summary>
    public List<string> Judge(CrashOracle oracle)
    {
        ArgumentNullException.ThrowIfNull(oracle);
        if (oracle.History is not { } history) return JudgeNow(oracle);
        if (_verdicts.TryGetValue(history, out var known)) return [.. known];
        var problems = JudgeNow(oracle);
        if (_verdicts.Count < MaxVerdicts) _verdicts.TryAdd(history, [.. problems]);
        return problems;
    }

    private List<string> JudgeNow(CrashOracle oracle)
    {
        var problems = new List<string>(RecoveryProblems);
        if (oracle.Guarantees.LeaksOnly)
            problems.AddRange(Damage.Select(d => $"recovery found more than leaks: {d}"));
        if (!Mounted)
        {
            if (problems.Count == 0) problems.Add("recovery gave no file system");
            return problems;
        }
        if (Snapshot is not null)
        {
            try { problems.AddRange(oracle.Check(Snapshot)); }
            catch (Exception e) { problems.Add($"reading the recovered file system failed: {e.GetType().Name}: {e.Message}"); }
        }
        else problems.Add(ReadError!);
        if (UnmountError is not null) problems.Add(UnmountError);
        return problems;
    }

    /// <summary>Rough bytes held, for the cache's bound.</summary>
    public long ApproximateBytes =>
        256 + 48L * MaxVerdicts + (Snapshot is null ? 0 : Snapshot.Paths.Count * 96L + Snapshot.Contents.Values.Sum(c => c.StoredBytes + 64));
}

/// <summary>
/// Recovered crash images of one target, by content, shared by every workload explored in the process: a
/// crash image is recovered and checked by the target once, and every crash state that leaves the same
/// bytes is judged by its own oracle against that one result. The images of workloads that share a prefix
/// (every exhaustive workload of two units shares its first unit with 32 others) are mostly the same.
/// <para>
/// Key: an image is the frozen setup image its exploration started from (<see cref="ImageKeys"/>'s base
/// token) overlaid with the blocks written since; the key is XxHash128 over the base token and the sorted
/// (block number, XxHash128 of the block) pairs of the overlay. Two different images share a key only
/// through a 128-bit hash collision between non-adversarial blocks; an overlay block equal to the base's
/// gives a different key for the same image, which only costs a recovery. Bounded: past
/// <see cref="MaxEntries"/> entries or <see cref="MaxBytes"/> bytes it starts over.
/// </para>
/// </summary>
internal sealed class RecoveryCache
{
    public const int MaxEntries = 1 << 16;
    public const long MaxBytes = 256L << 20;

    private static readonly ConditionalWeakTable<ICrashTarget, RecoveryCache> ByTarget = new();
    private readonly ConcurrentDictionary<UInt128, RecoveredImage> _images = new();
    private long _bytes;

    /// <summary>The cache of <paramref name="target"/> (one per target object: recovery depends on it).</summary>
    public static RecoveryCache For(ICrashTarget target) => ByTarget.GetValue(target, _ => new RecoveryCache());

    /// <summary>The recovered image with <paramref name="key"/>, recovering <paramref name="image"/> if none is cached yet.</summary>
    public RecoveredImage GetOrRecover(UInt128 key, ICrashTarget target, IBlockDevice image, out bool recovered)
    {
        if (_images.TryGetValue(key, out var hit))
        {
            recovered = false;
            image.Dispose();
            return hit;
        }
        recovered = true;
        var result = RecoveredImage.Recover(target, image);
        if (_images.Count >= MaxEntries || Interlocked.Read(ref _bytes) >= MaxBytes)
        {
            _images.Clear();
            Interlocked.Exchange(ref _bytes, 0);
        }
        if (_images.TryAdd(key, result)) Interlocked.Add(ref _bytes, result.ApproximateBytes);
        return result;
    }
}

/// <summary>
/// Content keys of crash images materialized as overlays on one frozen base (see <see cref="RecoveryCache"/>).
/// Each block array is hashed once: the crash model hands out the same immutable arrays for a write in
/// every state that keeps it. Not thread-safe (one per exploration).
/// </summary>
internal sealed class ImageKeys(ulong baseToken)
{
    private readonly Dictionary<byte[], UInt128> _blockHashes = new(ReferenceEqualityComparer.Instance);
    private byte[] _buffer = new byte[8 + 24 * 64];

    /// <summary>The content key of <paramref name="image"/>, whose base is the one this object was made for.</summary>
    public UInt128 Of(OverlayDevice image)
    {
        var blocks = image.OverlayBlocks();
        var sorted = new (ulong Block, UInt128 Hash)[blocks.Count];
        for (int i = 0; i < blocks.Count; i++) sorted[i] = (blocks[i].Block, HashOf(blocks[i].Data));
        Array.Sort(sorted, (a, b) => a.Block.CompareTo(b.Block));
        int length = 8 + 24 * sorted.Length;
        if (_buffer.Length < length) _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        var span = _buffer.AsSpan(0, length);
        BinaryPrimitives.WriteUInt64LittleEndian(span, baseToken);
        for (int i = 0; i < sorted.Length; i++)
        {
            var at = span.Slice(8 + 24 * i, 24);
            BinaryPrimitives.WriteUInt64LittleEndian(at, sorted[i].Block);
            BinaryPrimitives.WriteUInt128LittleEndian(at[8..], sorted[i].Hash);
        }
        return XxHash128.HashToUInt128(span);
    }

    private UInt128 HashOf(ReadOnlyMemory<byte> data)
    {
        if (!MemoryMarshal.TryGetArray(data, out var segment) || segment.Array is null || segment.Count != segment.Array.Length)
            return XxHash128.HashToUInt128(data.Span);
        var array = segment.Array;
        if (!_blockHashes.TryGetValue(array, out var h)) _blockHashes[array] = h = XxHash128.HashToUInt128(array);
        return h;
    }
}
