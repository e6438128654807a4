using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;

namespace ExoFS.Xn.Recovery;

/// <summary>
/// XN's global invariants and recovery: the reachability walk from the roots (Check, recovery by scan), the
/// settling of the in-flight record's blocks after a crash (no walk), and the state fingerprint tests compare
/// around a refused call. Runs under the volume's lock; Check reads the cache over the device.
/// </summary>
internal sealed class VolumeCheck
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly VolumeState _s;
    private readonly IBlockDevice _dev;
    private readonly TypeTable _types;
    private readonly BlockRegistry _registry;
    private readonly FreeMap _free;
    private readonly DeferredFrees _deferred;
    private readonly InFlight _inflight;
    private readonly Layout _layout;
    private readonly List<RootRecord> _roots;
    private readonly ChecksumRecord _checksums;

    public VolumeCheck(VolumeState state, ChecksumRecord checksums)
    {
        _s = state;
        _dev = state.Device;
        _types = state.Types;
        _registry = state.Registry;
        _free = state.Free;
        _deferred = state.Deferred;
        _inflight = state.InFlight;
        _layout = state.Layout;
        _roots = state.Roots;
        _checksums = checksums;
    }

    /// <summary>
    /// Checks XN's global invariants on the current (cached over on-disk) state: no block owned twice,
    /// every owned extent on the disk and outside XN's reserved area, every reachable block allocated in
    /// the free map and of one type, every owns-UDF runs cleanly, and the free map is exactly the
    /// reachable set plus reserved blocks plus deferred frees (anything else allocated is a leak).
    /// Read-only; cheap enough for tests to call after every step.
    /// </summary>
    internal XnCheckReport Check()
    {
        var walk = Walk(live: true, out var badChecksums);
        var findings = new List<XnFinding>(_s.Findings.Select(f => new XnFinding(XnFindingKind.Corrupt, 0, f)));
        findings.AddRange(walk.Findings);
        foreach (var (b, why) in badChecksums)
            findings.Add(new XnFinding(XnFindingKind.Corrupt, b, why));
        ulong reachable = (ulong)walk.Reached.Count, allocated = 0, deferred = 0;
        ulong leakStart = 0, leakCount = 0;
        void FlushLeak()
        {
            if (leakCount > 0)
                findings.Add(new XnFinding(XnFindingKind.Leaked, leakStart, $"{leakCount} block(s) [{leakStart}+{leakCount}] allocated but reachable from no root"));
            leakCount = 0;
        }
        for (ulong b = _layout.ReservedEnd; b < _layout.BlockCount; b++)
        {
            bool isReached = walk.Reached.ContainsKey(b), isAlloc = _free.IsAllocated(b), isDeferred = _free.IsDeferred(b);
            if (isAlloc) allocated++;
            if (isDeferred) deferred++;
            if (isReached && (!isAlloc || isDeferred))
                findings.Add(new XnFinding(XnFindingKind.PointerToFree, b, isDeferred ? "reachable but freed (deferred)" : "reachable but marked free in the free map"));
            if (!isReached && isAlloc && !isDeferred)
            {
                if (leakCount > 0 && leakStart + leakCount == b) leakCount++;
                else { FlushLeak(); leakStart = b; leakCount = 1; }
            }
        }
        FlushLeak();
        return new XnCheckReport(findings, reachable, allocated, _free.FreeCount, _layout.ReservedEnd, deferred);
    }

    /// <summary>
    /// Recovery without a scan (at load, after an unclean shutdown): each block the in-flight record names is
    /// settled by its recorded parents' owns-UDFs over their durable bytes (Xn/Recovery/InFlightRecovery.cs);
    /// every other block keeps the persisted map's bit. The map changes in memory; the caller persists it.
    /// </summary>
    internal void SettleInFlight(IReadOnlyList<InFlightRecord.Entry> entries, List<string> recoveryActions)
    {
        var buffer = new byte[BlockSize];
        byte[]? Read(ulong b)
        {
            try { _dev.Read(new BlockNo(b), buffer); return buffer; }
            catch (IOException) { return null; }
        }
        var settle = new InFlightRecovery(_layout.BlockCount, _layout.ReservedEnd, _types, _free.IsAllocated, Read);
        var verdicts = settle.Settle(entries);
        ulong freed = 0, allocated = 0;
        foreach (var (b, isAllocated) in verdicts.OrderBy(v => v.Key))
        {
            var one = new Extent(new BlockNo(b), 1);
            if (isAllocated) { allocated++; if (!_free.IsAllocated(b)) _free.Allocate(one); }
            else if (_free.IsAllocated(b)) { freed++; _free.Release(one); }
        }
        recoveryActions.Add($"free map settled from the in-flight record ({entries.Count} entr{(entries.Count == 1 ? "y" : "ies")}, " +
            $"{verdicts.Count} block(s) in flight): {freed} freed, {allocated} allocated");
        foreach (var u in settle.Undecided) recoveryActions.Add($"in-flight record: {u}; its blocks keep the map's bit");
    }

    /// <summary>Recovery by scan: the free map becomes reserved ∪ reachable (deferred frees are dropped).</summary>
    internal void RebuildFreeMapByScan()
    {
        var walk = Walk(live: true);
        _deferred.TakeAll();
        _inflight.Clear();
        _free.Rebuild(b => b < _layout.ReservedEnd || walk.Reached.ContainsKey(b));
    }

    /// <summary>

    /// A canonical text of XN's in-memory state (registry entries with page hashes and state bits, free
    /// map, deferred frees, roots, types). Tests compare it before and after a refused call.
    /// </summary>
    internal string StateFingerprint()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var e in _registry.Values.OrderBy(e => e.Block))
        {
            sb.Append(e.Block).Append(':').Append(e.Type).Append(':').Append(e.Parent).Append('/').Append(e.Partition)
              .Append(':').Append(e.Root).Append(e.Dirty ? 'D' : 'c').Append(e.OnDisk ? 'o' : 'u')
              .Append(':').Append(e.Cached ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(e.Bytes)) : e.ZeroFill ? "zero" : "-")
              .Append(":p=").Append(string.Join(",", (e.PendingChildren ?? []).Order()))
              .Append(":w=").Append(string.Join(",", (e.WriteAfter ?? []).Order()))
              .Append(e.InSegment ? $":s={e.Segment}{(e.Body ? "b" : "")}{(e.Dead ? "x" : "")}" : "").Append('\n');
        }
        for (ulong b = 0; b < _layout.BlockCount; b++)
            sb.Append(_free.IsDeferred(b) ? 'd' : _free.IsAllocated(b) ? '1' : '0');
        sb.Append("\nfree=").Append(_free.FreeCount).Append(" deferred=").Append(string.Join(",", _deferred.Pending));
        sb.Append("\nroots=").Append(string.Join(",", _roots)).Append("\ntypes=").Append(_types.Count);
        sb.Append('\n').Append(_s.Segments.Fingerprint());
        return sb.ToString();
    }

    internal Reachability Walk(bool live) => Walk(live, out _);

    /// <summary>
    /// The reachability walk; <paramref name="badChecksums"/> gets every block read from the device that
    /// failed its type's checksum or is older than the block-version table says (each recorded in
    /// <see cref="ChecksumRecord"/>), with the reason. Such a block is still
    /// expanded: its pointers are all a walk has, and dropping them would free its children by scan.
    /// </summary>
    internal Reachability Walk(bool live, out List<(ulong Block, string Why)> badChecksums)
    {
        var buffer = new byte[BlockSize];
        var bad = badChecksums = new List<(ulong, string)>();
        Reachability? walk = null;
        byte[]? Read(ulong b)
        {
            if (live && _registry.TryGetValue(b, out var e) && (e.Cached || e.ZeroFill))
            {
                if (e.Cached) e.Bytes.CopyTo(buffer);
                else Array.Clear(buffer);
                return buffer;
            }
            try { _dev.Read(new BlockNo(b), buffer); }
            catch (IOException) { return null; }
            if (walk!.Reached.TryGetValue(b, out var type) && _types.Get(type) is { } t)
            {
                if (!ChecksumRecord.Holds(b, t, buffer)) bad.Add((b, _checksums.Record(b, t)));
                else if (t.HasSequence && _s.Versions.IsStale(b, buffer, t.SequenceOffset, out var stale)) bad.Add((b, _checksums.Record(b, t, stale)));
            }
            return buffer;
        }
        walk = new Reachability(_layout.BlockCount, _layout.ReservedEnd, _types, Read);
        walk.Walk(_roots.Select(r => (r.Name, r.Block, new TypeId(r.Type))));
        return walk;
    }
}
