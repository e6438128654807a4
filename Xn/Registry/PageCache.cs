using System.Runtime.CompilerServices;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Udf;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Recovery;
using ExoFS.Xn.Types;
using ExoFS.Xn.Updates;
using static ExoFS.Xn.XnResult;

namespace ExoFS.Xn.Registry;

/// <summary>
/// XN's buffer cache: the pages of registered blocks (kernel page frames owned by XN's environment), read in
/// and verified against their type's checksum in one place (<see cref="EnsurePage"/>), their children
/// registered when a metadata block is first read, the owns outputs cached per partition, and the cache kept
/// within <see cref="XnOptions.CachePages"/> and the kernel's pool: clean pages are evicted least recently
/// used first, dirty ones written back through <see cref="WriteOrder"/> in a legal order. Runs under the
/// volume's lock; the kernel's revocation upcalls take it.
/// </summary>
internal sealed class PageCache
{
    private const int BlockSize = IBlockDevice.BlockSize;
    /// <summary>Shared "owns nothing" output of zero-filled blocks; never mutated (never recycled as scratch).</summary>
    internal static readonly List<UdfExtent> KnownEmpty = new();
    private readonly VolumeState _s;
    private readonly object _gate;
    private readonly IBlockDevice _dev;
    private readonly TypeTable _types;
    private readonly BlockRegistry _registry;
    private readonly Format.Layout _layout;
    private readonly ChecksumRecord _checksums;
    private readonly WriteOrder _order;
    private int _cachedPages;
    private readonly HashSet<RegistryEntry> _pinned = new();
    private PageFrames? _frameSource;

    public PageCache(VolumeState state, object gate, ChecksumRecord checksums, WriteOrder order)
    {
        _s = state;
        _gate = gate;
        _dev = state.Device;
        _types = state.Types;
        _registry = state.Registry;
        _layout = state.Layout;
        _checksums = checksums;
        _order = order;
    }

    /// <summary>
    /// The segment operations, which register the blocks a segment's emissions name (set once, right after
    /// construction: the two need each other, since reading a block inside a segment types its body).
    /// </summary>
    internal Segments Segments { get; set; } = null!;

    /// <summary>Pages the cache holds now.</summary>
    internal int CachedPages => _cachedPages;

    internal PageFrames Frames => _frameSource ??= new PageFrames(_s.Kernel, Revoke, Repossessed);

    /// <summary>Ends XN's page environment (at Dispose): every frame returns to the kernel's pool.</summary>
    internal void Shutdown() => _frameSource?.Shutdown();

    /// <summary>Gives <paramref name="e"/> the page <paramref name="frame"/> (a frame taken with <see cref="GetFrames"/>).</summary>
    internal void Attach(RegistryEntry e, Kernel.Memory.PageFrame frame)
    {
        e.Frame = frame;
        _cachedPages++;
    }

    /// <summary>Whether <paramref name="e"/> is pinned by the current call.</summary>
    internal bool IsPinned(RegistryEntry e) => _pinned.Contains(e);

    /// <summary>Lets the current call's pin on <paramref name="e"/> go (it may be evicted again).</summary>
    internal void Unpin(RegistryEntry e) => _pinned.Remove(e);

    /// <summary>
    /// Makes sure the entry's page is cached (reading it in, or taking a zeroed frame for a zero-filled
    /// block) and its children registered. The entry stays pinned (not evictable) until the call ends.
    /// </summary>
    internal XnResult EnsurePage(RegistryEntry e)
    {
        _pinned.Add(e);
        if (!e.Cached)
        {
            var frames = GetFrames(1);
            if (frames is null) return Fail(XnError.NoSpace, "no page frame for XN's cache (memory pool exhausted)");
            e.Frame = frames[0];
            _cachedPages++;
            if (e.ZeroFill)
            {
                // The kernel hands out zeroed frames: the page is the zero block; keep its known outputs.
                e.ZeroFill = false;
            }
            else
            {
                e.Outputs = null;
                var followers = ClusterAfter(e);
                try
                {
                    if (followers is null) _dev.Read(e.BlockNo, e.Bytes);
                    else ReadCluster(e, followers);
                }
                catch (IOException x)
                {
                    if (followers is not null) foreach (var f in followers) DropFrame(f);
                    DropFrame(e);
                    return Fail(XnError.Io, $"read block {e.Block}: {x.Message}");
                }
                // The one place blocks come from the device: a checksummed type is verified here, and a
                // block that fails is never served (it stays uncached, so every access re-reads and fails).
                if (_types.Get(e.Type) is { } t && !Servable(e.Block, t, e.Bytes, out var stale))
                {
                    DropFrame(e);
                    return Fail(XnError.BadChecksum, _checksums.Record(e.Block, t, stale));
                }
                e.Dirty = false;
            }
        }
        else _registry.Touch(e);
        if (!e.ChildrenRegistered) RegisterChildren(e);
        return XnResult.Success;
    }

    /// <summary>
    /// Whether bytes just read from the device for <paramref name="block"/> may be served: its type's checksum holds,
    /// and, for a type with a write sequence, it is no older copy than the version table knows (a valid CRC on a lost
    /// write or a rollback; <paramref name="stale"/> then says which write it holds, and is null on a checksum mismatch).
    /// </summary>
    private bool Servable(ulong block, XnType t, ReadOnlySpan<byte> bytes, out string? stale)
    {
        stale = null;
        if (!ChecksumRecord.Holds(block, t, bytes)) return false;
        if (t.HasSequence && _s.Versions.IsStale(block, bytes, t.SequenceOffset, out var why)) { stale = why; return false; }
        return true;
    }

    /// <summary>The most blocks one metadata read brings in (the block asked for and those after it): 128 KiB.</summary>
    internal const int MaxReadCluster = 32;

    /// <summary>
    /// Read clustering for metadata (the buffer cache's breada): the blocks right after <paramref name="e"/> on disk
    /// that XN already knows (registered by their parents' owns), of a metadata type of the same root, outside
    /// segments, not cached, not zero-fill and not being written, up to <see cref="MaxReadCluster"/> in all, each
    /// given a frame here (only frames the pool has free and room under <see cref="XnOptions.CachePages"/>: read-ahead
    /// never evicts or writes back). Null when there is none. A file's pointer blocks lie together (FFS's pointer
    /// zone), so a sequential reader's next ones arrive with the first in one device request.
    /// </summary>
    private List<RegistryEntry>? ClusterAfter(RegistryEntry e)
    {
        if (e.InSegment || e.Body || _types.Get(e.Type) is not { IsData: false }) return null;
        List<RegistryEntry>? run = null;
        for (ulong b = e.Block + 1; b < _layout.BlockCount && b - e.Block < MaxReadCluster; b++)
        {
            if (!_registry.TryGetValue(b, out var f) || f.Cached || f.ZeroFill || f.InIo || f.InSegment || f.Body
                || f.Dead || f.Root != e.Root || !f.OnDisk || _types.Get(f.Type) is not { IsData: false }) break;
            (run ??= new List<RegistryEntry>()).Add(f);
        }
        if (run is null || _cachedPages + run.Count > _s.Options.CachePages) return null;
        var frames = Frames.TryAllocate(run.Count);
        if (frames is null) return null;
        for (int i = 0; i < run.Count; i++) Attach(run[i], frames[i]);
        return run;
    }

    /// <summary>
    /// Reads <paramref name="e"/> and its <paramref name="followers"/> (consecutive blocks) in one device request.
    /// A follower is kept only if it passes its type's checksum and version check; one that fails is dropped
    /// unrecorded (never served), so the access that asks for it reads it alone and reports the failure then.
    /// </summary>
    private void ReadCluster(RegistryEntry e, List<RegistryEntry> followers)
    {
        var buffer = new byte[(followers.Count + 1) * BlockSize];
        _dev.Read(e.BlockNo, buffer);
        buffer.AsSpan(0, BlockSize).CopyTo(e.Bytes);
        for (int i = 0; i < followers.Count; i++)
        {
            var f = followers[i];
            var bytes = buffer.AsSpan((i + 1) * BlockSize, BlockSize);
            if (!Servable(f.Block, _types.Get(f.Type)!, bytes, out _))
            {
                DropFrame(f);
                continue;
            }
            bytes.CopyTo(f.Bytes);
            f.Outputs = null;
            f.Dirty = false;
        }
    }

    /// <summary>
    /// <paramref name="count"/> zeroed frames from the kernel. When the pool is short XN first gives up
    /// its own clean pages (least recently used first), then writes back a bounded batch of dirty pages
    /// in a legal order and gives those up, and only if that frees nothing syncs everything.
    /// </summary>
    internal IReadOnlyList<Kernel.Memory.PageFrame>? GetFrames(int count)
    {
        var frames = Frames.TryAllocate(count);
        if (frames is not null) return frames;
        // Give back a good slice at once, so a full cache does not fail every allocation.
        int slice = Math.Max(count + 16, Frames.Held / 8);
        int freed = EvictClean(slice, includeBound: false);
        frames = Frames.TryAllocate(count);
        if (frames is not null || _s.ReadOnly) return frames;
        if (freed < slice)
        {
            _order.WriteBackUnderPressure(slice - freed);
            EvictClean(slice - freed, includeBound: false);
            frames = Frames.TryAllocate(count);
            if (frames is not null) return frames;
        }
        if (!_order.SyncLocked().Ok) return null;
        EvictClean(slice, includeBound: false);
        return Frames.TryAllocate(count);
    }

    internal void DropFrame(RegistryEntry e)
    {
        if (DetachFrame(e) is { } frame) Frames.Release(frame);
    }

    /// <summary>Takes the page away from <paramref name="e"/> (its cached outputs go with it) and returns its frame, or null if it had none.</summary>
    internal Kernel.Memory.PageFrame? DetachFrame(RegistryEntry e)
    {
        var frame = e.Frame;
        if (frame is null) return null;
        e.Frame = null;
        e.Outputs = null;
        _cachedPages--;
        return frame;
    }

    /// <summary>
    /// Ends one XN call: its pinned pages become evictable, and a cache over its limit is trimmed to 90%
    /// of it — clean pages first; if dirty pages keep it over, a bounded batch of them is written back in
    /// a legal order (<see cref="WriteOrder.WriteBackUnderPressure"/>) and evicted, so the cache stays bounded under a
    /// long write stream. The 10% slack makes the next trim many calls away: trimming is amortized O(1).
    /// </summary>
    internal void EndCall()
    {
        _pinned.Clear();
        if (_cachedPages <= _s.Options.CachePages || _s.Closed) return;
        int low = _s.Options.CachePages * 9 / 10;
        EvictClean(_cachedPages - low, includeBound: false);
        if (_cachedPages <= low || _s.ReadOnly) return;
        _order.WriteBackUnderPressure(_cachedPages - low);
        EvictClean(_cachedPages - low, includeBound: false);
    }

    /// <summary>
    /// Inserts every child named by the page's owns output into the registry (the original XN's
    /// insert-attr, done eagerly), so that reading a child later needs no search. A child already
    /// registered under another parent (a double claim on a damaged disk) keeps its first parent.
    /// </summary>
    private void RegisterChildren(RegistryEntry e)
    {
        e.ChildrenRegistered = true;
        var t = _types.Get(e.Type)!;
        if (t.IsData) return;
        for (int p = 0; p < t.Partitions; p++)
        {
            var output = Output(e, t, p, out var fault);
            if (fault != UdfFault.None) continue;
            foreach (var o in output!)
            {
                if (o.Start >= _layout.BlockCount || o.Count > _layout.BlockCount - o.Start) continue;
                var type = t.ChildTypes[o.TypeIndex];
                if (Segments.RegisterSegmentChild(e, p, type, o)) continue;
                for (ulong b = o.Start; b < o.Start + o.Count; b++)
                    if (!_registry.ContainsKey(b))
                        _registry.Add(new RegistryEntry(b, type, e.Block, p, e.Root));
            }
        }
    }

    /// <summary>
    /// Drops up to <paramref name="count"/> clean, untainted, unpinned pages, least recently used first
    /// (then bound ones if <paramref name="includeBound"/>), returning their frames to the kernel or, with
    /// <paramref name="returned"/>, handing them over; returns how many. Walks only the registry's
    /// evictable lists, so it costs O(pages dropped + pages pinned by the current call).
    /// </summary>
    internal int EvictClean(int count, bool includeBound, List<Kernel.Memory.PageFrame>? returned = null)
    {
        int done = EvictFrom(_registry.Evictable, count, returned);
        if (includeBound && done < count) done += EvictFrom(_registry.EvictableBound, count - done, returned);
        return done;
    }

    private int EvictFrom(LinkedList<RegistryEntry> list, int count, List<Kernel.Memory.PageFrame>? returned)
    {
        int done = 0;
        var node = list.First;
        while (node is not null && done < count)
        {
            var e = node.Value;
            node = node.Next;   // dropping the frame unlinks e
            if (_pinned.Contains(e) || e.InIo) continue;
            if (returned is not null) returned.Add(DetachFrame(e)!);
            else DropFrame(e);
            done++;
        }
        return done;
    }

    /// <summary>
    /// The kernel's revocation upcall: give back <see cref="Kernel.Memory.RevocationRequest.Wanted"/>
    /// frames. XN picks clean unbound pages; if there are too few it writes everything back in a legal
    /// order and picks again, then takes bound pages last (their readers must bind again).
    /// </summary>
    private IReadOnlyList<Kernel.Memory.PageFrame> Revoke(Kernel.Memory.RevocationRequest request)
    {
        lock (_gate)
        {
            var chosen = new List<Kernel.Memory.PageFrame>();
            EvictClean(request.Wanted, includeBound: false, chosen);
            if (chosen.Count < request.Wanted && !_s.ReadOnly)
            {
                request.Charge(_registry.DirtyCount);
                _order.SyncLocked();
                EvictClean(request.Wanted - chosen.Count, includeBound: false, chosen);
            }
            if (chosen.Count < request.Wanted) EvictClean(request.Wanted - chosen.Count, includeBound: true, chosen);
            return chosen;
        }
    }

    /// <summary>Abort protocol notice: frames taken by force. A clean page is simply gone; a dirty one lost data.</summary>
    private void Repossessed(IReadOnlyList<Kernel.Memory.PageFrameNo> taken)
    {
        lock (_gate)
        {
            // A full scan, but only on the abort path (XN failed to answer a revocation in time).
            var set = taken.ToHashSet();
            foreach (var e in _registry.Values.Where(e => e.Frame is { } f && set.Contains(f.Number)).ToList())
            {
                if (e.Dirty) _s.Findings.Add($"page of block {e.Block} was repossessed by the kernel while dirty: its changes are lost");
                DetachFrame(e);   // the kernel has the frame already
            }
        }
    }

    /// <summary>The cached owns output of partition <paramref name="p"/> (emission order), computing it if needed.</summary>
    internal List<UdfExtent>? Output(RegistryEntry e, XnType t, int p, out UdfFault fault)
    {
        e.Outputs ??= new List<UdfExtent>?[t.Partitions];
        fault = UdfFault.None;
        if (e.Outputs[p] is { } cached) return cached;
        var list = new List<UdfExtent>();
        fault = PageCache.RunOwns(t, e.Bytes, p, list);
        if (fault != UdfFault.None) return null;
        e.Outputs[p] = list;
        return list;
    }

    /// <summary>Runs owns(p) on <paramref name="page"/> into <paramref name="into"/>, as emitted (emission order, type indices).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static UdfFault RunOwns(XnType t, ReadOnlySpan<byte> page, int p, List<UdfExtent> into)
    {
        into.Clear();
        return t.Owns!.Run(page, p, into).Fault;
    }
}
