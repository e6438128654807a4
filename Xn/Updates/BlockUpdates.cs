using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Udf;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;
using static ExoFS.Xn.XnResult;

namespace ExoFS.Xn.Updates;

// The update path: every call here runs under the volume's lock, after XnSession named the caller. The pattern
// of Alloc/Free/Move is always: authorize, validate arguments, build the proposed bytes in a scratch
// page, run owns() of the named partition before (cached) and after, compare with the claimed
// difference, ask the acl-UF, and only then commit. Nothing before the commit point changes a page,
// the free map or the registry, so a refusal changes nothing (it may have brought pages into the cache,
// which under memory pressure can write back or evict others — never change what they hold).
// Alloc and Free take a snapshot of the caller's edit list first, check and propose from it, and commit
// the proposal's bytes of the edited ranges: the bytes committed are the bytes checked, whatever the
// caller does to its list or buffers meanwhile.
internal sealed class BlockUpdates
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly VolumeState _s;
    private readonly TypeTable _types;
    private readonly BlockRegistry _registry;
    private readonly FreeMap _free;
    private readonly DeferredFrees _deferred;
    private readonly InFlight _inflight;
    private readonly Format.Layout _layout;
    private readonly PageCache _cache;
    private readonly UpdateChecks _checks;
    private readonly Segments _segs;
    private readonly WriteOrder _order;

    public BlockUpdates(VolumeState state, PageCache cache, UpdateChecks checks, Segments segs, WriteOrder order)
    {
        _s = state;
        _types = state.Types;
        _registry = state.Registry;
        _free = state.Free;
        _deferred = state.Deferred;
        _inflight = state.InFlight;
        _layout = state.Layout;
        _cache = cache;
        _checks = checks;
        _segs = segs;
        _order = order;
    }

    internal XnResult ReadLocked(XnSession s, BlockNo block, Span<byte> into)
    {
        if (into.Length < BlockSize) return Fail(XnError.NotRawRange, $"a block read needs a {BlockSize}-byte buffer");
        var a = _checks.Authorize(s, block, Rights.Read, out var e);
        if (!a.Ok) return a;
        var p = _segs.PrepareSegmentAccess(e);
        if (!p.Ok) return p;
        // A zero-filled block not yet touched is zeros: no frame is spent on reading it.
        if (e.ZeroFill && !e.Cached) { into[..BlockSize].Clear(); return XnResult.Success; }
        p = _cache.EnsurePage(e);
        if (!p.Ok) return p;
        e.Bytes.CopyTo(into);
        return XnResult.Success;
    }

    internal XnResult<ReadOnlyMemory<byte>> ViewLocked(XnSession s, BlockNo block)
    {
        var a = _checks.Authorize(s, block, Rights.Read, out var e);
        if (!a.Ok) return XnResult<ReadOnlyMemory<byte>>.Fail(a.Error, a.Detail);
        // A bound page is never evicted: one session may pin only so many (XnOptions.SessionViews).
        if (!s.IsBound(block.Value) && s.BoundCount >= _s.Options.SessionViews)
            return XnResult<ReadOnlyMemory<byte>>.Fail(XnError.NoSpace, $"this session has {s.BoundCount} pages bound, the most one session may pin; unbind some first");
        var p = _segs.PrepareSegmentAccess(e);
        if (p.Ok) p = _cache.EnsurePage(e);
        if (!p.Ok) return XnResult<ReadOnlyMemory<byte>>.Fail(p.Error, p.Detail);
        // Secure binding through the kernel: a read-only capability for this frame, delegated to the
        // reader, then mapped. Every reader of the block sees the same frame.
        var cap = _s.Kernel.Memory.CapabilityFor(_cache.Frames.Environment, e.Frame!, Rights.Read);
        var delegated = cap.Ok ? _s.Kernel.Delegate(_cache.Frames.Environment, cap.Capability!, s.Environment, Rights.Read) : cap;
        var map = delegated.Ok ? _s.Kernel.Memory.MapReadOnly(s.Environment, delegated.Capability!) : default;
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
        var a = _checks.Authorize(s, block, Rights.Read, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var p = _segs.PrepareSegmentAccess(e);
        if (!p.Ok) return p;
        t = _types.Get(e.Type)!;   // a segment's registration may have typed a body block
        if (!t.IsRawReadable(offset, into.Length))
            return Fail(XnError.NotRawRange, $"bytes [{offset},{(long)offset + into.Length}) are not in the raw-read ranges of type '{t.Name}'");
        if (e.ZeroFill && !e.Cached) { into.Clear(); return XnResult.Success; }
        p = _cache.EnsurePage(e);
        if (!p.Ok) return p;
        e.Bytes.Slice(offset, into.Length).CopyTo(into);
        return XnResult.Success;
    }

    internal XnResult WriteRawLocked(XnSession s, BlockNo block, int offset, ReadOnlySpan<byte> bytes)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = _checks.Authorize(s, block, Rights.Write, out var e);
        if (!a.Ok) return a;
        var p = _segs.PrepareSegmentAccess(e);
        if (!p.Ok) return p;
        if (e.Dead)
            return Fail(XnError.FreeDeferred, $"block {block} was freed inside its segment and its former parent's nullifying write is not durable yet");
        var t = _types.Get(e.Type)!;
        // Raw-write ranges are disjoint from every owns read set (checked at registration), so a raw write can
        // never change what the block owns: owns need not run. The acl and size-UDF may read raw bytes: they
        // rule on the proposed bytes of every raw write (types with neither pay one test).
        if (!t.IsRawWritable(offset, bytes.Length))
            return Fail(XnError.NotRawRange, $"bytes [{offset},{(long)offset + bytes.Length}) are not in the raw-write ranges of type '{t.Name}'");
        p = _cache.EnsurePage(e);
        if (!p.Ok) return p;
        if (t.GuardsRawWrites && _s.ChecksEnabled)
        {
            p = _checks.CheckRawWrite(s, e, t, offset, bytes);
            if (!p.Ok) return p;
        }
        // A raw write of the bytes a clean page already holds, of a block initialized on disk, changes nothing: the
        // block stays clean, so it is not written back again (with a write sequence, a rewrite would stamp a new one
        // and restate the same block). A block not yet on disk (allocated, never written) is dirtied as before.
        if (!e.Dirty && e.OnDisk && !e.ZeroFill && e.Bytes.Slice(offset, bytes.Length).SequenceEqual(bytes)) return XnResult.Success;
        bytes.CopyTo(e.Bytes[offset..]);
        e.Dirty = true;
        return XnResult.Success;
    }

    internal XnResult<BlockNo> FindFreeLocked(BlockNo hint, ulong count)
    {
        if (count == 0) return XnResult<BlockNo>.Fail(XnError.OutOfDisk, "count must be at least 1");
        var h = hint.Value < _layout.ReservedEnd ? new BlockNo(_layout.ReservedEnd) : hint;
        return _free.FindFree(h, count) is { } b
            ? XnResult<BlockNo>.Success(b)
            : XnResult<BlockNo>.Fail(XnError.NoSpace, $"no run of {count} free blocks");
    }

    /// <summary>
    /// A raw write whose bytes must reach the disk only after <paramref name="after"/>'s current contents:
    /// the libFS's own ordering that XN cannot see in pointers (FFS: a directory entry names an inode by
    /// number, so the entry's block goes after the inode's table block). XN records a soft edge that Sync,
    /// WriteBack and write-back under pressure all honour; the edge holds until <paramref name="block"/> is
    /// next written. The caller needs Write on <paramref name="block"/> and Read on <paramref name="after"/>
    /// (an edge can delay only the caller's own block). An edge that would close a cycle is not recorded
    /// (see below); Sync also drops a soft edge that closes a cycle with Move's edges.
    /// </summary>
    internal XnResult WriteRawAfterLocked(XnSession s, BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = _checks.Authorize(s, after, Rights.Read, out var first);
        if (!a.Ok) return a;
        var r = WriteRawLocked(s, block, offset, bytes);
        // A block already clean is on the medium (or queued before the next barrier, which every later
        // write of this block waits for): nothing to wait for. And if `after` itself must follow this
        // block (it points at it, directly or through others), the edge would close a cycle; it is not
        // needed either: until `after` is written, nothing on disk reaches these bytes through it.
        if (!r.Ok || first.Block == block.Value || !first.Dirty || _order.MustFollow(first, block.Value)) return r;
        _registry.TryGetValue(block.Value, out var e);
        // A write that changed nothing left the block clean: its bytes are on the medium already, nothing to order.
        if (!e!.Dirty) return r;
        (e!.WriteAfter ??= new HashSet<ulong>()).Add(first.Block);
        return r;
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
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = _checks.Authorize(s, parent, Rights.Alloc, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var r = UpdateChecks.CheckPartition(t, partition);
        if (!r.Ok) return r;
        if (_types.Get(childType) is null) return Fail(XnError.UnknownType, $"no type {childType}");
        // Confinement: a block inside a segment owns only blocks of its segment (Claim), never free ones.
        if (e.InSegment)
            return Fail(XnError.OutsideSegment, $"block {parent} is inside segment {e.Segment}: it may own only blocks of its segment (Claim), not free blocks");
        if (children is null || children.Count == 0) return Fail(XnError.OutOfDisk, "no extent to allocate");
        // Extents in ascending order, each past the one before (a run, as FFS asks), overlap none before them: the
        // pairwise test is needed only from the first extent out of order on.
        bool ascending = true;
        for (int i = 0; i < children.Count; i++)
        {
            var child = children[i];
            r = _checks.CheckExtent(child);
            if (!r.Ok) return r;
            if (child.Start.Value < _layout.ReservedEnd)
                return Fail(XnError.NotFree, $"extent {child} overlaps XN's reserved blocks [0,{_layout.ReservedEnd})");
            ascending = ascending && (i == 0 || children[i - 1].End.Value <= child.Start.Value);
            if (!ascending)
                for (int j = 0; j < i; j++)
                    if (child.Start.Value < children[j].End.Value && children[j].Start.Value < child.End.Value)
                        return Fail(XnError.NotFree, $"extents {children[j]} and {child} overlap");
            var free = _free.CheckFree(child);
            if (free == XnError.FreeDeferred)
                return Fail(free, $"extent {child} was freed but its parent's nullifying write is not durable yet");
            if (free != XnError.None) return Fail(free, $"extent {child} is not free");
        }
        r = _cache.EnsurePage(e);
        if (!r.Ok) return r;
        var eds = _checks.Snapshot(edits);
        r = UpdateChecks.CheckEdits(t, partition, eds);
        if (!r.Ok) return r;

        byte[]? proposed = null;
        List<UdfExtent>? after = null;
        if (_s.ChecksEnabled)
        {
            proposed = _checks.ProposedA;
            UpdateChecks.ProposeFor(t, partition, e.Bytes, eds!, proposed);
            var before = _cache.Output(e, t, partition, out var fault);
            if (before is null) return Fail(XnError.Corrupt, $"owns of block {parent} partition {partition} faults ({fault})");
            after = _checks.ScratchAfter;
            fault = PageCache.RunOwns(t, proposed, partition, after);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes ({fault})");
            if (children.Count == 1)
            {
                var added = new Owned(childType, children[0].Start.Value, children[0].Count);
                if (!UpdateChecks.OneInserted(before, after, t, added))
                {
                    r = _checks.CompareDiff(t, before, after, added, removed: null);
                    if (!r.Ok) return r;
                }
            }
            else if (!UpdateChecks.RunInserted(before, after, t, childType, children))
            {
                r = _checks.CompareDiff(t, before, after, children.Select(c => new Owned(childType, c.Start.Value, c.Count)), removed: null);
                if (!r.Ok) return r;
            }
            r = _checks.CheckAclAndSize(s, e, t, proposed, partition, after, eds!);
            if (!r.Ok) return r;
        }

        // Commit point: nothing above changed any state.
        _checks.Commit(e, eds!, proposed, partition, after);
        e.PendingChildren ??= new HashSet<ulong>();
        bool segments = _segs.IsSegmentType(childType);
        var childSpec = _types.Get(childType)!;
        foreach (var child in children)
        {
            _free.Allocate(child);
            // In flight until e's write naming it is durable: recovery asks e's durable bytes.
            _inflight.Add(child, e.Block, e.Type);
            if (segments)
            {
                // One segment per extent: the head is zero-filled (the parent is tainted until it is
                // written); the body is held, untouched, and costs no write unless written.
                _segs.RegisterSegment(child.Start.Value, child.Count, childType, e, partition, fresh: true);
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
                if (childSpec is { IsData: false } ct)
                {
                    entry.Outputs = new List<UdfExtent>?[ct.Partitions];
                    Array.Fill(entry.Outputs, PageCache.KnownEmpty);
                }
                // A stale entry for a free block (registered from a damaged parent) gives its page back first.
                if (_registry.TryGetValue(b, out var stale)) _cache.DropFrame(stale);
                _registry.Add(entry);
                e.PendingChildren.Add(b);
            }
        }
        return XnResult.Success;
    }

    internal XnResult FreeLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent child)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = _checks.Authorize(s, parent, Rights.Free, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var r = UpdateChecks.CheckPartition(t, partition);
        if (!r.Ok) return r;
        r = _checks.CheckExtent(child);
        if (!r.Ok) return r;
        r = _cache.EnsurePage(e);
        if (!r.Ok) return r;
        var eds = _checks.Snapshot(edits);
        r = UpdateChecks.CheckEdits(t, partition, eds);
        if (!r.Ok) return r;

        byte[]? proposed = null;
        List<UdfExtent>? after = null;
        bool segment;
        if (!_s.ChecksEnabled)
        {
            if (!_registry.TryGetValue(child.Start.Value, out var ce) || ce.Parent != e.Block)
                return Fail(XnError.NotOwned, $"block {parent} does not own {child}");
            segment = _segs.IsSegmentType(ce.Type);
        }
        else
        {
            var before = _cache.Output(e, t, partition, out var fault);
            if (before is null) return Fail(XnError.Corrupt, $"owns of block {parent} partition {partition} faults ({fault})");
            int idx = UpdateChecks.IndexOf(before, child);
            // Partial free: a piece of an owned extent goes; owns after = before − {whole} ∪ (whole − piece).
            int whole = idx >= 0 ? idx : UpdateChecks.IndexContaining(before, child);
            if (whole < 0) return Fail(XnError.NotOwned, $"block {parent} partition {partition} does not own {child}");
            var owned = UpdateChecks.Resolve(t, before[whole]);
            segment = _segs.IsSegmentType(owned.Type);
            if (segment && idx < 0)
                return Fail(XnError.WrongType, $"{child} is part of segment {owned.Extent}: a segment is freed whole");
            // A segment owns only blocks inside itself (confinement), so freeing it whole loses nothing else.
            if (!segment)
            {
                r = _checks.CheckEmpty(owned with { Start = child.Start.Value, Count = child.Count });
                if (!r.Ok) return r;
            }
            proposed = _checks.ProposedA;
            UpdateChecks.ProposeFor(t, partition, e.Bytes, eds!, proposed);
            after = _checks.ScratchAfter;
            fault = PageCache.RunOwns(t, proposed, partition, after);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes ({fault})");
            if (idx < 0)
            {
                r = _checks.CompareDiff(t, before, after, UpdateChecks.Remainder(owned, child), removed: owned);
                if (!r.Ok) return r;
            }
            else if (!UpdateChecks.OneRemoved(before, after, idx))
            {
                r = _checks.CompareDiff(t, before, after, added: null, removed: owned);
                if (!r.Ok) return r;
            }
            r = _checks.CheckAclAndSize(s, e, t, proposed, partition, after, eds!);
            if (!r.Ok) return r;
        }

        // Commit point: nothing above changed any state.
        _checks.Commit(e, eds!, proposed, partition, after);
        if (segment) _segs.DropSegment(child.Start.Value);
        for (ulong b = child.Start.Value; b < child.End.Value; b++)
        {
            if (e.InSegment)
            {
                // Back to the segment's body; rule 2 inside the segment keeps it dead until e's write is durable.
                if (_registry.TryGetValue(b, out var inside)) _segs.ReturnToBody(inside, e);
                continue;
            }
            if (_registry.Remove(b, out var gone)) _cache.DropFrame(gone);
            _s.Versions.Forget(b);
            e.PendingChildren?.Remove(b);
        }
        if (e.InSegment)
        {
            _s.Segments.Deferred.Add(child, e.Block);
            return XnResult.Success;
        }
        // Rule 2: still allocated on disk and for Alloc until the nullified parent is durable.
        _free.Defer(child);
        _inflight.Add(child, e.Block, e.Type);
        if (_s.DeferFreesEnabled) _deferred.Add(child, e.Block);
        else _free.Release(child);     // the broken variant the crash suite must catch
        return XnResult.Success;
    }

    internal XnResult MoveLocked(XnSession s, BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits,
                                 BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, Extent child)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = _checks.Authorize(s, from, Rights.Free, out var ef);
        if (!a.Ok) return a;
        a = _checks.Authorize(s, to, Rights.Alloc, out var et);
        if (!a.Ok) return a;
        var tf = _types.Get(ef.Type)!;
        var tt = _types.Get(et.Type)!;
        // Confinement: a pointer moves only between two blocks outside every segment or inside one segment.
        if (ef.Segment != et.Segment)
            return Fail(XnError.OutsideSegment, $"a move from block {from} to block {to} would cross a segment's boundary");
        var r = UpdateChecks.CheckPartition(tf, fromPartition);
        if (!r.Ok) return r;
        r = UpdateChecks.CheckPartition(tt, toPartition);
        if (!r.Ok) return r;
        r = _checks.CheckExtent(child);
        if (!r.Ok) return r;
        r = _cache.EnsurePage(ef);
        if (!r.Ok) return r;
        r = _cache.EnsurePage(et);
        if (!r.Ok) return r;
        r = UpdateChecks.CheckEdits(tf, fromPartition, fromEdits);
        if (!r.Ok) return r;
        r = UpdateChecks.CheckEdits(tt, toPartition, toEdits);
        if (!r.Ok) return r;

        var fromBefore = _cache.Output(ef, tf, fromPartition, out var fault);
        if (fromBefore is null) return Fail(XnError.Corrupt, $"owns of block {from} partition {fromPartition} faults ({fault})");
        int idx = UpdateChecks.IndexOf(fromBefore, child);
        if (idx < 0) return Fail(XnError.NotOwned, $"block {from} partition {fromPartition} does not own {child}");
        var owned = UpdateChecks.Resolve(tf, fromBefore[idx]);
        var toBefore = _cache.Output(et, tt, toPartition, out fault);
        if (toBefore is null) return Fail(XnError.Corrupt, $"owns of block {to} partition {toPartition} faults ({fault})");

        bool sameBlock = ef == et;
        bool samePartition = sameBlock && fromPartition == toPartition;
        var pf = _checks.ProposedA;
        var pt = sameBlock ? _checks.ProposedA : _checks.ProposedB;
        UpdateChecks.Propose(ef.Bytes, fromEdits, pf);
        if (sameBlock) UpdateChecks.ApplyEdits(pf, toEdits);
        else UpdateChecks.Propose(et.Bytes, toEdits, pt);

        List<UdfExtent>? fromAfter = null, toAfter = null;
        if (_s.ChecksEnabled)
        {
            fromAfter = _checks.ScratchAfter;
            fault = PageCache.RunOwns(tf, pf, fromPartition, fromAfter);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes of {from} ({fault})");
            if (samePartition)
            {
                // A pointer moved inside one partition: the owned set must not change at all.
                r = _checks.CompareDiff(tf, fromBefore, fromAfter, added: owned, removed: owned);
                if (!r.Ok) return r;
            }
            else
            {
                if (!UpdateChecks.OneRemoved(fromBefore, fromAfter, idx))
                {
                    r = _checks.CompareDiff(tf, fromBefore, fromAfter, added: null, removed: owned);
                    if (!r.Ok) return r;
                }
                toAfter = _checks.ScratchAfter2;
                fault = PageCache.RunOwns(tt, pt, toPartition, toAfter);
                if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes of {to} ({fault})");
                if (!UpdateChecks.OneInserted(toBefore, toAfter, tt, owned))
                {
                    r = _checks.CompareDiff(tt, toBefore, toAfter, added: owned, removed: null);
                    if (!r.Ok) return r;
                }
            }
            r = _checks.CheckAclAndSize(s, ef, tf, pf, fromPartition, fromAfter, fromEdits);
            if (!r.Ok) return r;
            if (!samePartition)
            {
                r = _checks.CheckAclAndSize(s, et, tt, pt, toPartition, toAfter!, toEdits);
                if (!r.Ok) return r;
            }
        }

        // Commit both parents in one step.
        if (sameBlock)
        {
            pf.CopyTo(ef.Bytes);
            ef.Dirty = true;
            _checks.SetOutput(ef, fromPartition, fromAfter, swapInto: 1);
            if (!samePartition) _checks.SetOutput(ef, toPartition, toAfter, swapInto: 2);
        }
        else
        {
            pf.CopyTo(ef.Bytes);
            pt.CopyTo(et.Bytes);
            ef.Dirty = et.Dirty = true;
            _checks.SetOutput(ef, fromPartition, fromAfter, swapInto: 1);
            _checks.SetOutput(et, toPartition, toAfter, swapInto: 2);
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
}
