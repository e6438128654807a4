using System.Runtime.CompilerServices;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Udf;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;

namespace ExoFS.Xn;

// The update path: every call here runs under _gate, after XnSession named the caller. The pattern
// of Alloc/Free/Move is always: authorize, validate arguments, build the proposed bytes in a scratch
// page, run owns() of the named partition before (cached) and after, compare with the claimed
// difference, ask the acl-UF, and only then commit. Nothing before the commit point changes a page,
// the free map or the registry, so a refusal changes nothing (it may have brought pages into the cache,
// which under memory pressure can write back or evict others — never change what they hold).
// Alloc and Free take a snapshot of the caller's edit list first, check and propose from it, and commit
// the proposal's bytes of the edited ranges: the bytes committed are the bytes checked, whatever the
// caller does to its list or buffers meanwhile.
public sealed partial class XnVolume
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly byte[] _proposedA = new byte[BlockSize];
    private readonly byte[] _proposedB = new byte[BlockSize];
    private readonly List<UdfExtent> _udfOut = new();
    private readonly List<Edit> _edits = new();
    // Owns outputs are kept as the UDF emitted them (type as an index into the type's child types): the
    // list a check's run filled becomes the cached output on commit, with no copy or conversion.
    private List<UdfExtent> _scratchAfter = new();
    private List<UdfExtent> _scratchAfter2 = new();
    private readonly List<Owned> _expected = new();
    private readonly List<Owned> _scratchSorted = new();
    /// <summary>Shared "owns nothing" output of zero-filled blocks; never mutated (never recycled as scratch).</summary>
    private static readonly List<UdfExtent> KnownEmpty = new();
    private int _cachedPages;
    /// <summary>Pages XN's cache holds now (tests check it stays within <see cref="XnOptions.CachePages"/>).</summary>
    internal int CachedPages => _cachedPages;
    private readonly HashSet<RegistryEntry> _pinned = new();
    private PageFrames? _frameSource;
    private PageFrames Frames => _frameSource ??= new PageFrames(_kernel, Revoke, Repossessed);

    // ------------------------------------------------------------------ authorization and pages

    /// <summary>Finds the registry entry of <paramref name="block"/> and checks the session holds its root.</summary>
    internal XnResult Authorize(XnSession s, BlockNo block, Rights needed, out RegistryEntry entry)
    {
        if (!_registry.TryGetValue(block.Value, out entry!))
            return Fail(XnError.BadCapability, $"block {block} is not reachable from a root you hold (read its parent first)");
        if (!s.Holds(entry.Root, needed))
            return Fail(XnError.BadCapability, $"block {block} belongs to root '{_roots[entry.Root].Name}', which you have not mounted with {needed} rights");
        return XnResult.Success;
    }

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
                try { _dev.Read(e.BlockNo, e.Bytes); }
                catch (IOException x)
                {
                    DropFrame(e);
                    return Fail(XnError.Io, $"read block {e.Block}: {x.Message}");
                }
                // The one place blocks come from the device: a checksummed type is verified here, and a
                // block that fails is never served (it stays uncached, so every access re-reads and fails).
                if (_types.Get(e.Type) is { } t && !ChecksumHolds(e.Block, t, e.Bytes))
                {
                    DropFrame(e);
                    return Fail(XnError.BadChecksum, RecordChecksumFailure(e.Block, t));
                }
                e.Dirty = false;
            }
        }
        else _registry.Touch(e);
        if (!e.ChildrenRegistered) RegisterChildren(e);
        return XnResult.Success;
    }

    /// <summary>
    /// <paramref name="count"/> zeroed frames from the kernel. When the pool is short XN first gives up
    /// its own clean pages (least recently used first), then writes back a bounded batch of dirty pages
    /// in a legal order and gives those up, and only if that frees nothing syncs everything.
    /// </summary>
    private IReadOnlyList<Kernel.Memory.PageFrame>? GetFrames(int count)
    {
        var frames = Frames.TryAllocate(count);
        if (frames is not null) return frames;
        // Give back a good slice at once, so a full cache does not fail every allocation.
        int slice = Math.Max(count + 16, Frames.Held / 8);
        int freed = EvictClean(slice, includeBound: false);
        frames = Frames.TryAllocate(count);
        if (frames is not null || IsReadOnly) return frames;
        if (freed < slice)
        {
            WriteBackUnderPressure(slice - freed);
            EvictClean(slice - freed, includeBound: false);
            frames = Frames.TryAllocate(count);
            if (frames is not null) return frames;
        }
        if (!SyncLocked().Ok) return null;
        EvictClean(slice, includeBound: false);
        return Frames.TryAllocate(count);
    }

    private void DropFrame(RegistryEntry e)
    {
        if (DetachFrame(e) is { } frame) Frames.Release(frame);
    }

    /// <summary>Takes the page away from <paramref name="e"/> (its cached outputs go with it) and returns its frame, or null if it had none.</summary>
    private Kernel.Memory.PageFrame? DetachFrame(RegistryEntry e)
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
    /// a legal order (<see cref="WriteBackUnderPressure"/>) and evicted, so the cache stays bounded under a
    /// long write stream. The 10% slack makes the next trim many calls away: trimming is amortized O(1).
    /// </summary>
    internal void EndCall()
    {
        _pinned.Clear();
        if (_cachedPages <= _options.CachePages || _disposed) return;
        int low = _options.CachePages * 9 / 10;
        EvictClean(_cachedPages - low, includeBound: false);
        if (_cachedPages <= low || IsReadOnly) return;
        WriteBackUnderPressure(_cachedPages - low);
        EvictClean(_cachedPages - low, includeBound: false);
    }

    /// <summary>
    /// Writes back dirty blocks, the longest dirty first, until <paramref name="wantClean"/> cached pages
    /// have become clean or nothing more may legally be written. Each pass writes only blocks whose write
    /// is legal now: untainted (rule 1: every child they point at is on disk) and not waiting for the
    /// target of a Move (rule 3's order); the free map goes first with a barrier, as for any write-back,
    /// and a barrier separates passes, so a parent untainted by a pass is written only after its children
    /// are ordered before it. Nothing is released here (rule 2 waits for a Sync's flush). An I/O error
    /// leaves the rest dirty; the next Sync reports it.
    /// </summary>
    private void WriteBackUnderPressure(int wantClean)
    {
        if (IsReadOnly || _disposed) return;
        var batch = new List<RegistryEntry>();
        int cleaned = 0;
        try
        {
            while (cleaned < wantClean)
            {
                batch.Clear();
                int cachedInBatch = 0;
                foreach (var e in _registry.Dirty)
                {
                    if (e.Tainted || !MoveTargetsWritten(e)) continue;
                    batch.Add(e);
                    if (e.Cached && ++cachedInBatch + cleaned >= wantClean) break;
                }
                if (batch.Count == 0) break;
                WriteFreeMap(all: false);
                if (_unorderedWrites > 0) { _dev.Barrier(); _unorderedWrites = 0; }
                batch.Sort(static (a, b) => a.Block.CompareTo(b.Block));
                WriteBatch(batch);
                cleaned += cachedInBatch;
            }
        }
        catch (IOException)
        {
            // Whatever was not written stays dirty; Sync retries it and reports the error to the caller.
        }
    }

    /// <summary>False while a block this one gave a pointer to (a cross-block Move) is still dirty.</summary>
    private bool MoveTargetsWritten(RegistryEntry e)
    {
        if (e.WriteAfter is not { } targets) return true;
        foreach (var t in targets)
            if (_registry.TryGetValue(t, out var te) && te.Dirty) return false;
        return true;
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
                if (o.Start >= Layout.BlockCount || o.Count > Layout.BlockCount - o.Start) continue;
                var type = t.ChildTypes[o.TypeIndex];
                if (RegisterSegmentChild(e, p, type, o)) continue;
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
    private int EvictClean(int count, bool includeBound, List<Kernel.Memory.PageFrame>? returned = null)
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
            if (chosen.Count < request.Wanted && !IsReadOnly)
            {
                request.Charge(_registry.DirtyCount);
                SyncLocked();
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
                if (e.Dirty) _loadFindings.Add($"page of block {e.Block} was repossessed by the kernel while dirty: its changes are lost");
                DetachFrame(e);   // the kernel has the frame already
            }
        }
    }

    /// <summary>The cached owns output of partition <paramref name="p"/> (emission order), computing it if needed.</summary>
    private List<UdfExtent>? Output(RegistryEntry e, XnType t, int p, out UdfFault fault)
    {
        e.Outputs ??= new List<UdfExtent>?[t.Partitions];
        fault = UdfFault.None;
        if (e.Outputs[p] is { } cached) return cached;
        var list = new List<UdfExtent>();
        fault = RunOwns(t, e.Bytes, p, list);
        if (fault != UdfFault.None) return null;
        e.Outputs[p] = list;
        return list;
    }

    /// <summary>Runs owns(p) on <paramref name="page"/> into <paramref name="into"/>, as emitted (emission order, type indices).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static UdfFault RunOwns(XnType t, ReadOnlySpan<byte> page, int p, List<UdfExtent> into)
    {
        into.Clear();
        return t.Owns!.Run(page, p, into).Fault;
    }

    // ------------------------------------------------------------------ reads and raw writes

    internal XnResult ReadLocked(XnSession s, BlockNo block, Span<byte> into)
    {
        if (into.Length < BlockSize) return Fail(XnError.NotRawRange, $"a block read needs a {BlockSize}-byte buffer");
        var a = Authorize(s, block, Rights.Read, out var e);
        if (!a.Ok) return a;
        var p = PrepareSegmentAccess(e);
        if (!p.Ok) return p;
        // A zero-filled block not yet touched is zeros: no frame is spent on reading it.
        if (e.ZeroFill && !e.Cached) { into[..BlockSize].Clear(); return XnResult.Success; }
        p = EnsurePage(e);
        if (!p.Ok) return p;
        e.Bytes.CopyTo(into);
        return XnResult.Success;
    }

    internal XnResult<ReadOnlyMemory<byte>> ViewLocked(XnSession s, BlockNo block)
    {
        var a = Authorize(s, block, Rights.Read, out var e);
        if (!a.Ok) return XnResult<ReadOnlyMemory<byte>>.Fail(a.Error, a.Detail);
        // A bound page is never evicted: one session may pin only so many (XnOptions.SessionViews).
        if (!s.IsBound(block.Value) && s.BoundCount >= _options.SessionViews)
            return XnResult<ReadOnlyMemory<byte>>.Fail(XnError.NoSpace, $"this session has {s.BoundCount} pages bound, the most one session may pin; unbind some first");
        var p = PrepareSegmentAccess(e);
        if (p.Ok) p = EnsurePage(e);
        if (!p.Ok) return XnResult<ReadOnlyMemory<byte>>.Fail(p.Error, p.Detail);
        // Secure binding through the kernel: a read-only capability for this frame, delegated to the
        // reader, then mapped. Every reader of the block sees the same frame.
        var cap = _kernel.Memory.CapabilityFor(Frames.Environment, e.Frame!, Rights.Read);
        var delegated = cap.Ok ? _kernel.Delegate(Frames.Environment, cap.Capability!, s.Environment, Rights.Read) : cap;
        var map = delegated.Ok ? _kernel.Memory.MapReadOnly(s.Environment, delegated.Capability!) : default;
        if (!map.Ok) return XnResult<ReadOnlyMemory<byte>>.Fail(XnError.BadCapability, $"kernel refused to map block {block}'s page ({delegated.Status}, {map.Status})");
        if (s.Bind(block.Value)) e.RefCount++;
        return XnResult<ReadOnlyMemory<byte>>.Success(map.View);
    }

    internal void UnbindLocked(XnSession s, BlockNo block)
    {
        if (s.Unbind(block.Value) && _registry.TryGetValue(block.Value, out var e) && e.RefCount > 0) e.RefCount--;
    }

    internal XnResult ReadRawLocked(XnSession s, BlockNo block, int offset, Span<byte> into)
    {
        var a = Authorize(s, block, Rights.Read, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var p = PrepareSegmentAccess(e);
        if (!p.Ok) return p;
        t = _types.Get(e.Type)!;   // a segment's registration may have typed a body block
        if (!t.IsRawReadable(offset, into.Length))
            return Fail(XnError.NotRawRange, $"bytes [{offset},{(long)offset + into.Length}) are not in the raw-read ranges of type '{t.Name}'");
        if (e.ZeroFill && !e.Cached) { into.Clear(); return XnResult.Success; }
        p = EnsurePage(e);
        if (!p.Ok) return p;
        e.Bytes.Slice(offset, into.Length).CopyTo(into);
        return XnResult.Success;
    }

    internal XnResult WriteRawLocked(XnSession s, BlockNo block, int offset, ReadOnlySpan<byte> bytes)
    {
        if (IsReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = Authorize(s, block, Rights.Write, out var e);
        if (!a.Ok) return a;
        var p = PrepareSegmentAccess(e);
        if (!p.Ok) return p;
        if (e.Dead)
            return Fail(XnError.FreeDeferred, $"block {block} was freed inside its segment and its former parent's nullifying write is not durable yet");
        var t = _types.Get(e.Type)!;
        // Raw-write ranges are disjoint from every owns read set (checked at registration), so a raw write can
        // never change what the block owns: owns need not run. The acl and size-UDF may read raw bytes: they
        // rule on the proposed bytes of every raw write (types with neither pay one test).
        if (!t.IsRawWritable(offset, bytes.Length))
            return Fail(XnError.NotRawRange, $"bytes [{offset},{(long)offset + bytes.Length}) are not in the raw-write ranges of type '{t.Name}'");
        p = EnsurePage(e);
        if (!p.Ok) return p;
        if (t.GuardsRawWrites && ChecksEnabled)
        {
            p = CheckRawWrite(s, e, t, offset, bytes);
            if (!p.Ok) return p;
        }
        bytes.CopyTo(e.Bytes[offset..]);
        e.Dirty = true;
        return XnResult.Success;
    }

    internal XnResult<BlockNo> FindFreeLocked(BlockNo hint, ulong count)
    {
        if (count == 0) return XnResult<BlockNo>.Fail(XnError.OutOfDisk, "count must be at least 1");
        var h = hint.Value < Layout.ReservedEnd ? FirstDataBlock : hint;
        return _free.FindFree(h, count) is { } b
            ? XnResult<BlockNo>.Success(b)
            : XnResult<BlockNo>.Fail(XnError.NoSpace, $"no run of {count} free blocks");
    }

    // ------------------------------------------------------------------ Alloc / Free / Move

    internal XnResult AllocLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, Extent child) =>
        AllocLocked(s, parent, partition, edits, childType, [child]);

    /// <summary>
    /// Alloc of several extents into one partition in one step: owns after = before ∪ children (as a multiset),
    /// each child free, inside the disk, outside XN's reserved blocks, and not overlapping another.
    /// </summary>
    internal XnResult AllocLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children)
    {
        if (IsReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = Authorize(s, parent, Rights.Alloc, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var r = CheckPartition(t, partition);
        if (!r.Ok) return r;
        if (_types.Get(childType) is null) return Fail(XnError.UnknownType, $"no type {childType}");
        // Confinement: a block inside a segment owns only blocks of its segment (Claim), never free ones.
        if (e.InSegment)
            return Fail(XnError.OutsideSegment, $"block {parent} is inside segment {e.Segment}: it may own only blocks of its segment (Claim), not free blocks");
        if (children is null || children.Count == 0) return Fail(XnError.OutOfDisk, "no extent to allocate");
        for (int i = 0; i < children.Count; i++)
        {
            var child = children[i];
            r = CheckExtent(child);
            if (!r.Ok) return r;
            if (child.Start.Value < Layout.ReservedEnd)
                return Fail(XnError.NotFree, $"extent {child} overlaps XN's reserved blocks [0,{Layout.ReservedEnd})");
            for (int j = 0; j < i; j++)
                if (child.Start.Value < children[j].End.Value && children[j].Start.Value < child.End.Value)
                    return Fail(XnError.NotFree, $"extents {children[j]} and {child} overlap");
            var free = _free.CheckFree(child);
            if (free == XnError.FreeDeferred)
                return Fail(free, $"extent {child} was freed but its parent's nullifying write is not durable yet");
            if (free != XnError.None) return Fail(free, $"extent {child} is not free");
        }
        r = EnsurePage(e);
        if (!r.Ok) return r;
        var eds = Snapshot(edits);
        r = CheckEdits(t, partition, eds);
        if (!r.Ok) return r;

        byte[]? proposed = null;
        List<UdfExtent>? after = null;
        if (ChecksEnabled)
        {
            proposed = _proposedA;
            ProposeFor(t, partition, e.Bytes, eds!, proposed);
            var before = Output(e, t, partition, out var fault);
            if (before is null) return Fail(XnError.Corrupt, $"owns of block {parent} partition {partition} faults ({fault})");
            after = _scratchAfter;
            fault = RunOwns(t, proposed, partition, after);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes ({fault})");
            if (children.Count == 1)
            {
                var added = new Owned(childType, children[0].Start.Value, children[0].Count);
                if (!OneInserted(before, after, t, added))
                {
                    r = CompareDiff(t, before, after, added, removed: null);
                    if (!r.Ok) return r;
                }
            }
            else
            {
                r = CompareDiff(t, before, after, children.Select(c => new Owned(childType, c.Start.Value, c.Count)), removed: null);
                if (!r.Ok) return r;
            }
            r = CheckAclAndSize(s, e, t, proposed, partition, after, eds!);
            if (!r.Ok) return r;
        }

        // Commit point: nothing above changed any state.
        Commit(e, eds!, proposed, partition, after);
        e.PendingChildren ??= new HashSet<ulong>();
        bool segments = IsSegmentType(childType);
        foreach (var child in children)
        {
            _free.Allocate(child);
            // In flight until e's write naming it is durable: recovery asks e's durable bytes.
            _inflight.Add(child, e.Block, e.Type);
            if (segments)
            {
                // One segment per extent: the head is zero-filled (the parent is tainted until it is
                // written); the body is held, untouched, and costs no write unless written.
                RegisterSegment(child.Start.Value, child.Count, childType, e, partition, fresh: true);
                e.PendingChildren.Add(child.Start.Value);
                continue;
            }
            for (ulong b = child.Start.Value; b < child.End.Value; b++)
            {
                // Zero-filled and initialized in the cache; on disk it is uninitialized until written, so
                // the parent is tainted until then (rule 1).
                var entry = new RegistryEntry(b, childType, e.Block, partition, e.Root)
                { ZeroFill = true, Dirty = true, OnDisk = false, ChildrenRegistered = true };
                // A zero block owns nothing in any partition (checked at registration): no UDF need run to know.
                if (_types.Get(childType) is { IsData: false } ct)
                {
                    entry.Outputs = new List<UdfExtent>?[ct.Partitions];
                    Array.Fill(entry.Outputs, KnownEmpty);
                }
                // A stale entry for a free block (registered from a damaged parent) gives its page back first.
                if (_registry.TryGetValue(b, out var stale)) DropFrame(stale);
                _registry.Add(entry);
                e.PendingChildren.Add(b);
            }
        }
        return XnResult.Success;
    }

    internal XnResult FreeLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent child)
    {
        if (IsReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = Authorize(s, parent, Rights.Free, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var r = CheckPartition(t, partition);
        if (!r.Ok) return r;
        r = CheckExtent(child);
        if (!r.Ok) return r;
        r = EnsurePage(e);
        if (!r.Ok) return r;
        var eds = Snapshot(edits);
        r = CheckEdits(t, partition, eds);
        if (!r.Ok) return r;

        byte[]? proposed = null;
        List<UdfExtent>? after = null;
        bool segment;
        if (!ChecksEnabled)
        {
            if (!_registry.TryGetValue(child.Start.Value, out var ce) || ce.Parent != e.Block)
                return Fail(XnError.NotOwned, $"block {parent} does not own {child}");
            segment = IsSegmentType(ce.Type);
        }
        else
        {
            var before = Output(e, t, partition, out var fault);
            if (before is null) return Fail(XnError.Corrupt, $"owns of block {parent} partition {partition} faults ({fault})");
            int idx = IndexOf(before, child);
            // Partial free: a piece of an owned extent goes; owns after = before − {whole} ∪ (whole − piece).
            int whole = idx >= 0 ? idx : IndexContaining(before, child);
            if (whole < 0) return Fail(XnError.NotOwned, $"block {parent} partition {partition} does not own {child}");
            var owned = Resolve(t, before[whole]);
            segment = IsSegmentType(owned.Type);
            if (segment && idx < 0)
                return Fail(XnError.WrongType, $"{child} is part of segment {owned.Extent}: a segment is freed whole");
            // A segment owns only blocks inside itself (confinement), so freeing it whole loses nothing else.
            if (!segment)
            {
                r = CheckEmpty(owned with { Start = child.Start.Value, Count = child.Count });
                if (!r.Ok) return r;
            }
            proposed = _proposedA;
            ProposeFor(t, partition, e.Bytes, eds!, proposed);
            after = _scratchAfter;
            fault = RunOwns(t, proposed, partition, after);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes ({fault})");
            if (idx < 0)
            {
                r = CompareDiff(t, before, after, Remainder(owned, child), removed: owned);
                if (!r.Ok) return r;
            }
            else if (!OneRemoved(before, after, idx))
            {
                r = CompareDiff(t, before, after, added: null, removed: owned);
                if (!r.Ok) return r;
            }
            r = CheckAclAndSize(s, e, t, proposed, partition, after, eds!);
            if (!r.Ok) return r;
        }

        // Commit point: nothing above changed any state.
        Commit(e, eds!, proposed, partition, after);
        if (segment) DropSegment(child.Start.Value);
        for (ulong b = child.Start.Value; b < child.End.Value; b++)
        {
            if (e.InSegment)
            {
                // Back to the segment's body; rule 2 inside the segment keeps it dead until e's write is durable.
                if (_registry.TryGetValue(b, out var inside)) ReturnToBody(inside, e);
                continue;
            }
            if (_registry.Remove(b, out var gone)) DropFrame(gone);
            e.PendingChildren?.Remove(b);
        }
        if (e.InSegment)
        {
            _segmentDeferred.Add(child, e.Block);
            return XnResult.Success;
        }
        // Rule 2: still allocated on disk and for Alloc until the nullified parent is durable.
        _free.Defer(child);
        _inflight.Add(child, e.Block, e.Type);
        if (DeferFreesEnabled) _deferred.Add(child, e.Block);
        else _free.Release(child);     // the broken variant the crash suite must catch
        return XnResult.Success;
    }

    internal XnResult MoveLocked(XnSession s, BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits,
                                 BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, Extent child)
    {
        if (IsReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = Authorize(s, from, Rights.Free, out var ef);
        if (!a.Ok) return a;
        a = Authorize(s, to, Rights.Alloc, out var et);
        if (!a.Ok) return a;
        var tf = _types.Get(ef.Type)!;
        var tt = _types.Get(et.Type)!;
        // Confinement: a pointer moves only between two blocks outside every segment or inside one segment.
        if (ef.Segment != et.Segment)
            return Fail(XnError.OutsideSegment, $"a move from block {from} to block {to} would cross a segment's boundary");
        var r = CheckPartition(tf, fromPartition);
        if (!r.Ok) return r;
        r = CheckPartition(tt, toPartition);
        if (!r.Ok) return r;
        r = CheckExtent(child);
        if (!r.Ok) return r;
        r = EnsurePage(ef);
        if (!r.Ok) return r;
        r = EnsurePage(et);
        if (!r.Ok) return r;
        r = CheckEdits(tf, fromPartition, fromEdits);
        if (!r.Ok) return r;
        r = CheckEdits(tt, toPartition, toEdits);
        if (!r.Ok) return r;

        var fromBefore = Output(ef, tf, fromPartition, out var fault);
        if (fromBefore is null) return Fail(XnError.Corrupt, $"owns of block {from} partition {fromPartition} faults ({fault})");
        int idx = IndexOf(fromBefore, child);
        if (idx < 0) return Fail(XnError.NotOwned, $"block {from} partition {fromPartition} does not own {child}");
        var owned = Resolve(tf, fromBefore[idx]);
        var toBefore = Output(et, tt, toPartition, out fault);
        if (toBefore is null) return Fail(XnError.Corrupt, $"owns of block {to} partition {toPartition} faults ({fault})");

        bool sameBlock = ef == et;
        bool samePartition = sameBlock && fromPartition == toPartition;
        var pf = _proposedA;
        var pt = sameBlock ? _proposedA : _proposedB;
        Propose(ef.Bytes, fromEdits, pf);
        if (sameBlock) ApplyEdits(pf, toEdits);
        else Propose(et.Bytes, toEdits, pt);

        List<UdfExtent>? fromAfter = null, toAfter = null;
        if (ChecksEnabled)
        {
            fromAfter = _scratchAfter;
            fault = RunOwns(tf, pf, fromPartition, fromAfter);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes of {from} ({fault})");
            if (samePartition)
            {
                // A pointer moved inside one partition: the owned set must not change at all.
                r = CompareDiff(tf, fromBefore, fromAfter, added: owned, removed: owned);
                if (!r.Ok) return r;
            }
            else
            {
                if (!OneRemoved(fromBefore, fromAfter, idx))
                {
                    r = CompareDiff(tf, fromBefore, fromAfter, added: null, removed: owned);
                    if (!r.Ok) return r;
                }
                toAfter = _scratchAfter2;
                fault = RunOwns(tt, pt, toPartition, toAfter);
                if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes of {to} ({fault})");
                if (!OneInserted(toBefore, toAfter, tt, owned))
                {
                    r = CompareDiff(tt, toBefore, toAfter, added: owned, removed: null);
                    if (!r.Ok) return r;
                }
            }
            r = CheckAclAndSize(s, ef, tf, pf, fromPartition, fromAfter, fromEdits);
            if (!r.Ok) return r;
            if (!samePartition)
            {
                r = CheckAclAndSize(s, et, tt, pt, toPartition, toAfter!, toEdits);
                if (!r.Ok) return r;
            }
        }

        // Commit both parents in one step.
        if (sameBlock)
        {
            pf.CopyTo(ef.Bytes);
            ef.Dirty = true;
            SetOutput(ef, fromPartition, fromAfter, swapInto: 1);
            if (!samePartition) SetOutput(ef, toPartition, toAfter, swapInto: 2);
        }
        else
        {
            pf.CopyTo(ef.Bytes);
            pt.CopyTo(et.Bytes);
            ef.Dirty = et.Dirty = true;
            SetOutput(ef, fromPartition, fromAfter, swapInto: 1);
            SetOutput(et, toPartition, toAfter, swapInto: 2);
            // Rule 3 (the libFS's, but XN orders its own writes accordingly): the new pointer should be
            // durable before the old one is reset, so a crash can duplicate but never lose the extent.
            (ef.WriteAfter ??= new HashSet<ulong>()).Add(et.Block);
            // Which parent owns the extent on disk now depends on both parents' writes (inside a segment the
            // free map holds the whole segment, whoever owns the block).
            if (!ef.InSegment)
            {
                _inflight.Add(child, ef.Block, ef.Type);
                _inflight.Add(child, et.Block, et.Type);
            }
        }
        for (ulong b = child.Start.Value; b < child.End.Value; b++)
        {
            // Only direct children change parent (inside a moved segment, the body keeps its head).
            if (_registry.TryGetValue(b, out var ce) && ce.Parent == ef.Block)
            {
                ce.Parent = et.Block;
                ce.Partition = toPartition;
                ce.Root = et.Root;
            }
            if (ef.PendingChildren?.Remove(b) == true) (et.PendingChildren ??= new HashSet<ulong>()).Add(b);
        }
        if (ef.Root != et.Root) RecomputeRoots();
        return XnResult.Success;
    }

    // ------------------------------------------------------------------ helpers

    private static XnResult CheckPartition(XnType t, int partition)
    {
        if (t.IsData) return Fail(XnError.BadPartition, $"type '{t.Name}' owns nothing: it has no partitions");
        if (partition < 0 || partition >= t.Partitions)
            return Fail(XnError.BadPartition, $"type '{t.Name}' has partitions 0..{t.Partitions - 1}, not {partition}");
        return XnResult.Success;
    }

    private XnResult CheckExtent(Extent e)
    {
        if (e.Count == 0) return Fail(XnError.OutOfDisk, "an extent needs at least one block");
        if (e.Start.Value >= Layout.BlockCount || e.Count > Layout.BlockCount - e.Start.Value)
            return Fail(XnError.OutOfDisk, $"extent {e} does not fit on a disk of {Layout.BlockCount} blocks");
        return XnResult.Success;
    }

    private static XnResult CheckEdits(XnType t, int partition, IReadOnlyList<Edit>? edits)
    {
        if (edits is null) return Fail(XnError.NotRawRange, "edits list is null");
        for (int i = 0; i < edits.Count; i++)
        {
            var ed = edits[i];
            var err = t.CheckEdit(partition, ed.Offset, ed.Bytes.Length);
            if (err == XnError.BadPartition)
                return Fail(err, $"edit [{ed.Offset},{ed.Offset + ed.Bytes.Length}) touches bytes of another partition than {partition}");
            if (err != XnError.None)
                return Fail(err, $"edit [{ed.Offset},{(long)ed.Offset + ed.Bytes.Length}) is outside partition {partition}'s read set and the raw-write ranges");
        }
        return XnResult.Success;
    }

    /// <summary>Metadata may be freed only once it owns nothing, so no child can be lost with it.</summary>
    private XnResult CheckEmpty(Owned owned)
    {
        var ct = _types.Get(owned.Type)!;
        if (ct.IsData) return XnResult.Success;
        for (ulong b = owned.Start; b < owned.Start + owned.Count; b++)
        {
            // Still zero-filled: owns nothing (checked at registration), no need to materialize it.
            if (!_registry.TryGetValue(b, out var ce) || (ce.ZeroFill && !ce.Cached)) continue;
            var r = EnsurePage(ce);
            if (!r.Ok) return r;
            for (int p = 0; p < ct.Partitions; p++)
            {
                var o = Output(ce, ct, p, out var fault);
                if (o is null) return Fail(XnError.Corrupt, $"owns of block {b} partition {p} faults ({fault})");
                if (o.Count > 0) return Fail(XnError.NotEmpty, $"block {b} ('{ct.Name}') still owns {Resolve(ct, o[0]).Extent} (partition {p}); free its children first");
            }
        }
        return XnResult.Success;
    }

    private static int IndexOf(List<UdfExtent> list, Extent e)
    {
        var s = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);
        for (int i = 0; i < s.Length; i++)
            if (s[i].Start == e.Start.Value && s[i].Count == e.Count) return i;
        return -1;
    }

    /// <summary>An emitted extent with its child type resolved.</summary>
    private static Owned Resolve(XnType t, in UdfExtent x) => new(t.ChildTypes[x.TypeIndex], x.Start, x.Count);

    /// <summary>A copy of the caller's edit list (null stays null, for CheckEdits to refuse), reused per call.</summary>
    private List<Edit>? Snapshot(IReadOnlyList<Edit>? edits)
    {
        if (edits is null) return null;
        _edits.Clear();
        for (int i = 0; i < edits.Count; i++) _edits.Add(edits[i]);
        return _edits;
    }

    /// <summary>The whole proposed block: the page with the edits applied (Move, which checks two partitions).</summary>
    private static void Propose(ReadOnlySpan<byte> page, IReadOnlyList<Edit> edits, byte[] into)
    {
        page.CopyTo(into);
        ApplyEdits(into, edits);
    }

    /// <summary>
    /// The proposed bytes the checks of an update to <paramref name="partition"/> read: the page's bytes
    /// in <see cref="XnType.CheckedBytes"/> (owns' and the acl's read sets for it), then the edits. The
    /// rest of <paramref name="into"/> keeps whatever earlier calls left there: no check of this partition
    /// can read it (the verifier confines each load to the run's partition's read set), and the commit
    /// copies only the edited ranges, which the edits wrote in full. This spares copying the whole block.
    /// </summary>
    private static void ProposeFor(XnType t, int partition, ReadOnlySpan<byte> page, List<Edit> edits, byte[] into)
    {
        var r = t.CheckedBytes(partition);
        for (int i = 0; i < r.Length; i += 2) page[r[i]..r[i + 1]].CopyTo(into.AsSpan(r[i]));
        ApplyEdits(into, edits);
    }

    private static void ApplyEdits(Span<byte> into, IReadOnlyList<Edit> edits)
    {
        for (int i = 0; i < edits.Count; i++) edits[i].Bytes.Span.CopyTo(into[edits[i].Offset..]);
    }

    // Most types have neither an acl nor a size-UDF: that test stays inline in every update.
    /// <summary>
    /// The acl and size checks of an update to <paramref name="partition"/> of <paramref name="e"/> on the
    /// proposed bytes, with owns after = <paramref name="after"/>. An edit may carry raw bytes anywhere, so one
    /// that reaches bytes another partition's acl or size-UDF reads has that partition checked too, on the
    /// whole proposed block (rare: a libFS's edits stay in the partition they update).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private XnResult CheckAclAndSize(XnSession s, RegistryEntry e, XnType t, byte[] proposed, int partition, List<UdfExtent> after,
                                     IReadOnlyList<Edit> edits) =>
        !t.GuardsRawWrites ? XnResult.Success : RunAclAndSize(s, e, t, proposed, partition, after, edits);

    private readonly byte[] _proposedWhole = new byte[BlockSize];

    private XnResult RunAclAndSize(XnSession s, RegistryEntry e, XnType t, byte[] proposed, int partition, List<UdfExtent> after,
                                   IReadOnlyList<Edit> edits)
    {
        if (t.Acl is not null)
        {
            var r = RunAcl(s, t, proposed, t.AclPartition(partition), e.BlockNo);
            if (!r.Ok) return r;
        }
        if (t.Size is not null)
        {
            var r = RunSize(t, proposed, partition, after, e.BlockNo);
            if (!r.Ok) return r;
        }
        bool whole = false;
        int aclOthers = t.Acl is { Partitions: > 1 } acl ? acl.Partitions : 0;
        int sizeOthers = t.Size?.Partitions ?? 0;
        for (int q = 0; q < Math.Max(aclOthers, sizeOthers); q++)
        {
            if (q == partition) continue;
            bool runAcl = q < aclOthers && TouchedBy(t.AclRanges(q), edits);
            bool runSize = q < sizeOthers && TouchedBy(t.SizeRanges(q), edits);
            if (!runAcl && !runSize) continue;
            if (!whole)
            {
                Propose(e.Bytes, edits, _proposedWhole);
                whole = true;
            }
            if (runAcl)
            {
                var r = RunAcl(s, t, _proposedWhole, q, e.BlockNo);
                if (!r.Ok) return r;
            }
            if (runSize)
            {
                // Edits never reach another partition's owns read set (CheckEdits), so q owns what it owned.
                var owned = Output(e, t, q, out var fault);
                if (owned is null) return Fail(XnError.Corrupt, $"owns of block {e.Block} partition {q} faults ({fault})");
                var r = RunSize(t, _proposedWhole, q, owned, e.BlockNo);
                if (!r.Ok) return r;
            }
        }
        return XnResult.Success;
    }

    private static bool TouchedBy(ReadOnlySpan<int> ranges, IReadOnlyList<Edit> edits)
    {
        for (int i = 0; i < edits.Count; i++)
            if (XnType.Touches(ranges, edits[i].Offset, edits[i].Bytes.Length)) return true;
        return false;
    }

    // r2..r5 of an acl run: environment, uid, gid, caller named (Xn/README.md, "acl and size"). Filled per run, under _gate.
    private readonly ulong[] _principal = new ulong[ExoFS.Xn.Types.TypeTable.AclInputs];

    private XnResult RunAcl(XnSession s, XnType t, byte[] proposed, int aclPartition, BlockNo block)
    {
        _udfOut.Clear();
        var caller = s.Caller;
        _principal[0] = (ulong)s.Environment.Id.Value;
        _principal[1] = caller?.Uid ?? 0;
        _principal[2] = caller?.Gid ?? 0;
        _principal[3] = caller is null ? 0UL : 1UL;
        var r = t.Acl!.Run(proposed, aclPartition, _udfOut, _principal);
        if (!r.Ok) return Fail(XnError.AclDenied, $"acl of type '{t.Name}' faults on the proposed bytes of block {block} partition {aclPartition} ({r.Fault})");
        if (r.Value != 0) return XnResult.Success;
        string who = caller is { } c ? $"uid {c.Uid} gid {c.Gid}" : "no caller named";
        return Fail(XnError.AclDenied, $"acl of type '{t.Name}' refuses the change to block {block} partition {aclPartition} (environment {s.Environment.Id.Value}, {who})");
    }

    /// <summary>
    /// The size check of owns partition <paramref name="partition"/>: S = size-UDF(proposed, partition) bytes, and
    /// the blocks of the size-UDF's types among <paramref name="owned"/> must number at most ceil(S / 4096).
    /// </summary>
    private XnResult RunSize(XnType t, byte[] proposed, int partition, List<UdfExtent> owned, BlockNo block)
    {
        _udfOut.Clear();
        var r = t.Size!.Run(proposed, partition, _udfOut);
        if (!r.Ok) return Fail(XnError.SizeMismatch, $"size UDF of type '{t.Name}' faults on the proposed bytes of block {block} partition {partition} ({r.Fault})");
        if (r.Value < 0) return Fail(XnError.SizeMismatch, $"size UDF of type '{t.Name}' gives a negative size ({r.Value}) for block {block} partition {partition}");
        ulong blocks = SizedBlocks(t, owned);
        ulong covered = ((ulong)r.Value + (BlockSize - 1)) / BlockSize;
        return blocks <= covered ? XnResult.Success
            : Fail(XnError.SizeMismatch, $"block {block} partition {partition} ('{t.Name}') would own {blocks} block(s) of its sized types, but its size of {r.Value} bytes covers {covered}");
    }

    internal static ulong SizedBlocks(XnType t, List<UdfExtent> owned)
    {
        ulong n = 0;
        foreach (var o in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(owned))
            if (t.IsSized(o.TypeIndex)) n += o.Count;
        return n;
    }

    /// <summary>
    /// The acl and size checks of a raw write of <paramref name="bytes"/> at <paramref name="offset"/> to
    /// <paramref name="e"/>: the acl's one partition always, or each acl partition whose read set the write
    /// meets; each size partition whose read set it meets (owns is unchanged by a raw write, so a size check
    /// elsewhere could not change its verdict). Builds the proposal from the page and the write in scratch:
    /// nothing changes here.
    /// </summary>
    private XnResult CheckRawWrite(XnSession s, RegistryEntry e, XnType t, int offset, ReadOnlySpan<byte> bytes)
    {
        var page = e.Bytes;
        var proposed = _proposedA;
        var acl = t.Acl;
        var size = t.Size;
        bool oneAcl = acl is { Partitions: 1 };
        // The bytes every check to be run reads, then the write over them.
        if (acl is not null)
            for (int p = 0; p < acl.Partitions; p++)
                if (oneAcl || XnType.Touches(t.AclRanges(p), offset, bytes.Length)) CopyRanges(page, t.AclRanges(p), proposed);
        if (size is not null)
            for (int p = 0; p < size.Partitions; p++)
                if (XnType.Touches(t.SizeRanges(p), offset, bytes.Length)) CopyRanges(page, t.SizeRanges(p), proposed);
        bytes.CopyTo(proposed.AsSpan(offset));
        if (acl is not null)
            for (int p = 0; p < acl.Partitions; p++)
                if (oneAcl || XnType.Touches(t.AclRanges(p), offset, bytes.Length))
                {
                    var r = RunAcl(s, t, proposed, p, e.BlockNo);
                    if (!r.Ok) return r;
                }
        if (size is not null)
            for (int p = 0; p < size.Partitions; p++)
                if (XnType.Touches(t.SizeRanges(p), offset, bytes.Length))
                {
                    var owned = Output(e, t, p, out var fault);
                    if (owned is null) return Fail(XnError.Corrupt, $"owns of block {e.Block} partition {p} faults ({fault})");
                    var r = RunSize(t, proposed, p, owned, e.BlockNo);
                    if (!r.Ok) return r;
                }
        return XnResult.Success;
    }

    private static void CopyRanges(ReadOnlySpan<byte> page, ReadOnlySpan<int> ranges, byte[] into)
    {
        for (int i = 0; i < ranges.Length; i += 2) page[ranges[i]..ranges[i + 1]].CopyTo(into.AsSpan(ranges[i]));
    }

    /// <summary>
    /// Compares <paramref name="after"/> with before − removed + added, as multisets, child types resolved
    /// (sorted copies), and names the difference. The update paths first try <see cref="OneInserted"/> /
    /// <see cref="OneRemoved"/> and come here only when those cannot show the two equal.
    /// </summary>
    private XnResult CompareDiff(XnType t, List<UdfExtent> before, List<UdfExtent> after, Owned? added, Owned? removed) =>
        CompareDiff(t, before, after, added is { } ad ? [ad] : [], removed);

    private XnResult CompareDiff(XnType t, List<UdfExtent> before, List<UdfExtent> after, IEnumerable<Owned> addedAll, Owned? removed)
    {
        var addedList = addedAll as IReadOnlyList<Owned> ?? addedAll.ToList();
        Owned? added = addedList.Count == 1 ? addedList[0] : null;
        _expected.Clear();
        foreach (var x in before) _expected.Add(Resolve(t, x));
        if (removed is { } rm) _expected.Remove(rm);
        foreach (var ad in addedList) _expected.Add(ad);
        _scratchSorted.Clear();
        foreach (var x in after) _scratchSorted.Add(Resolve(t, x));
        _expected.Sort();
        _scratchSorted.Sort();
        if (_expected.SequenceEqual(_scratchSorted)) return XnResult.Success;
        if (added is { } a && after.Any(x => x.Start == a.Start && x.Count == a.Count && Resolve(t, x).Type != a.Type))
        {
            var got = Resolve(t, after.First(x => x.Start == a.Start && x.Count == a.Count));
            return Fail(XnError.WrongType, $"owns gives {a.Extent} type {got.Type}, not the declared type {a.Type}");
        }
        var extra = _scratchSorted.Except(_expected).Select(o => o.Extent.ToString()).ToList();
        var missing = _expected.Except(_scratchSorted).Select(o => o.Extent.ToString()).ToList();
        return Fail(XnError.DiffMismatch,
            $"owns after the edits differs from the claimed change ({after.Count} extents, expected {_expected.Count}"
            + (extra.Count > 0 ? "; unexpected " + string.Join(",", extra) : "")
            + (missing.Count > 0 ? "; missing " + string.Join(",", missing) : "") + ")");
    }

    // The common case of the diff check in O(n) without sorting or resolving types: owns-UDFs emit in a
    // fixed (slot) order, so an alloc inserts the new extent somewhere in the old sequence and a free
    // deletes one. Anything else (a move inside one partition, a UDF whose order depends on the data)
    // falls back to CompareDiff. These tests only ever say "equal" when the multisets are equal: equal
    // raw extents (type index, start, count) have equal resolved types.

    /// <summary>Whether <paramref name="after"/> is <paramref name="before"/> with <paramref name="added"/> inserted at one place.</summary>
    private static bool OneInserted(List<UdfExtent> before, List<UdfExtent> after, XnType t, Owned added)
    {
        if (after.Count != before.Count + 1) return false;
        var types = t.ChildTypes;
        int type = 0;
        while (type < types.Length && types[type].Value != added.Type.Value) type++;
        if (type == types.Length) return false;
        return OneExtra(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(after),
                        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(before),
                        new UdfExtent(type, added.Start, added.Count));
    }

    /// <summary>Whether <paramref name="after"/> is <paramref name="before"/> without its extent at <paramref name="index"/>.</summary>
    private static bool OneRemoved(List<UdfExtent> before, List<UdfExtent> after, int index)
    {
        if (before.Count != after.Count + 1) return false;
        var b = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(before);
        return OneExtra(b, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(after), b[index]);
    }

    /// <summary>Whether <paramref name="longer"/> is <paramref name="shorter"/> with <paramref name="extra"/> inserted at one place (longer is one longer).</summary>
    private static bool OneExtra(ReadOnlySpan<UdfExtent> longer, ReadOnlySpan<UdfExtent> shorter, UdfExtent extra)
    {
        // Greedy: walk the equal prefix; the first difference must be the extra extent, and the rest must
        // match shifted by one. If the two differ by that extent at one place, greedy finds it.
        int i = 0;
        while (i < shorter.Length && Same(shorter[i], longer[i])) i++;
        if (!Same(longer[i], extra)) return false;
        for (; i < shorter.Length; i++)
            if (!Same(shorter[i], longer[i + 1])) return false;
        return true;
    }

    // Explicit field compares: the generated record equality goes through EqualityComparer<T> per field.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Same(in UdfExtent a, in UdfExtent b) =>
        a.Start == b.Start && a.Count == b.Count && a.TypeIndex == b.TypeIndex;

    /// <summary>
    /// Makes the edits in the page in place (readers' views stay coherent): with checks, the edited ranges
    /// are copied from the checked proposal (where the edits wrote them in full, in order), so what is
    /// committed is what was checked; with checks off there is no proposal and the edits go straight in.
    /// </summary>
    private void Commit(RegistryEntry e, List<Edit> edits, byte[]? proposed, int partition, List<UdfExtent>? after)
    {
        var page = e.Bytes;
        if (proposed is null) ApplyEdits(page, edits);
        else
            foreach (var ed in edits)
                proposed.AsSpan(ed.Offset, ed.Bytes.Length).CopyTo(page[ed.Offset..]);
        e.Dirty = true;
        SetOutput(e, partition, after, swapInto: 1);
    }

    /// <summary>Caches <paramref name="after"/> as the partition's output; recycles the old list as scratch.</summary>
    private void SetOutput(RegistryEntry e, int partition, List<UdfExtent>? after, int swapInto)
    {
        if (e.Outputs is null) return;
        var old = e.Outputs[partition];
        e.Outputs[partition] = after;
        if (after is null) return;
        // A fresh scratch list starts at the size just needed, so it does not regrow step by step.
        var recycled = old is null || ReferenceEquals(old, KnownEmpty) ? new List<UdfExtent>(after.Capacity) : old;
        if (swapInto == 1) _scratchAfter = recycled; else _scratchAfter2 = recycled;
    }

    /// <summary>After a cross-root move: every entry's root is its top ancestor's.</summary>
    private void RecomputeRoots()
    {
        foreach (var e in _registry.Values)
        {
            var x = e;
            for (int depth = 0; x.Parent != RegistryEntry.CatalogueParent && depth < 64; depth++)
                if (!_registry.TryGetValue(x.Parent, out x!)) break;
            if (x is not null && x.Parent == RegistryEntry.CatalogueParent) e.Root = x.Root;
        }
    }

    internal static XnResult Fail(XnError e, string detail) => XnResult.Fail(e, detail);
}
