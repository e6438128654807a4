using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Udf;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;
using static ExoFS.Xn.XnResult;

namespace ExoFS.Xn.Updates;

// Segments: bind at large granularity, access at small (Xn/README.md, "Segments").
//
// A segment is an extent G = [h, h+n) that a parent outside every segment owns with a segment type
// (TypeSpec.Segment). Block h, the head, has that type; the other blocks are the body. The invariant XN
// keeps (confinement):
//   1. only G's parent owns anything of G, and it owns G whole (one extent, one owns check);
//   2. every extent emitted by a block inside G lies inside G's body; no block inside G owns a free
//      block, a block of another segment or a segment;
//   3. a body block is typed by exactly one emission of a block inside G, or is untyped: held by the
//      segment, raw data to its holder (no per-block check), forgotten at a reload (reads as zeros);
//   4. G goes back to the free map only whole, from its parent, with rule-2 deferral; inside G, a block
//      freed from an in-segment parent becomes untyped body again once that parent's nullifying write is
//      durable (until then it is dead: neither written nor claimed).
// So reachability, "no block owned twice" and protection between roots hold for log blocks as for any
// other: a libFS holding a segment can write only that segment's blocks, and a segment freed whole
// takes nothing else with it. The update paths here follow the header of Updates/BlockUpdates.cs:
// authorize, validate, propose in scratch, owns before/after, compare, acl, commit point.
internal sealed class Segments
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly VolumeState _s;
    private readonly IBlockDevice _dev;
    private readonly TypeTable _types;
    private readonly BlockRegistry _registry;
    private readonly FreeMap _free;
    private readonly DeferredFrees _deferred;
    private readonly InFlight _inflight;
    private readonly Format.Layout _layout;
    private readonly Dictionary<ulong, SegmentRecord> _segments;
    private readonly DeferredFrees _segmentDeferred;
    private readonly PageCache _cache;
    private readonly UpdateChecks _checks;
    private readonly WriteOrder _order;
    private readonly MapWriter _map;

    public Segments(VolumeState state, PageCache cache, UpdateChecks checks, WriteOrder order, MapWriter map)
    {
        _s = state;
        _dev = state.Device;
        _types = state.Types;
        _registry = state.Registry;
        _free = state.Free;
        _deferred = state.Deferred;
        _inflight = state.InFlight;
        _layout = state.Layout;
        _segments = state.Segments.Records;
        _segmentDeferred = state.Segments.Deferred;
        _cache = cache;
        _checks = checks;
        _order = order;
        _map = map;
    }

    private readonly List<UdfExtent> _claimScratch = new();

    internal bool IsSegmentType(TypeId t) => _types.Get(t)?.Spec.Segment == true;

    /// <summary>The entry of a block the checks above found registered (a missing one is an XN bug).</summary>
    internal RegistryEntry Entry(ulong b) =>
        _registry.TryGetValue(b, out var e) ? e : throw new InvalidOperationException($"XN bug: block {b} has no registry entry");
    // ------------------------------------------------------------------ registration

    /// <summary>
    /// Registers segment [head, head+count) of <paramref name="type"/> under partition <paramref name="partition"/>
    /// of <paramref name="parent"/>. <paramref name="fresh"/>: just allocated (head zero-filled and dirty, the
    /// body untouched; nothing inside to discover). Otherwise read from disk: the head is on disk, the body
    /// is untyped until the head's emissions say otherwise. Blocks already registered (a double claim on a
    /// damaged disk) keep their entry.
    /// </summary>
    internal void RegisterSegment(ulong head, ulong count, TypeId type, RegistryEntry parent, int partition, bool fresh)
    {
        if (_registry.TryGetValue(head, out var stale))
        {
            if (!fresh) return;
            _cache.DropFrame(stale);
        }
        var h = new RegistryEntry(head, type, parent.Block, partition, parent.Root) { Segment = head };
        if (fresh)
        {
            h.ZeroFill = true;
            h.Dirty = true;
            h.OnDisk = false;
            h.ChildrenRegistered = true;
            // A zero block owns nothing in any partition (checked at registration).
            h.Outputs = new List<UdfExtent>?[_types.Get(type)!.Partitions];
            Array.Fill(h.Outputs, PageCache.KnownEmpty);
        }
        _registry.Add(h);
        for (ulong b = head + 1; b < head + count; b++)
        {
            if (_registry.TryGetValue(b, out var old))
            {
                if (!fresh) continue;
                _cache.DropFrame(old);
            }
            // Untyped body: zeros to its holder until written, never written unless written (no zero-fill
            // write: nothing points at an untyped body block, so rule 1 has nothing to protect).
            _registry.Add(new RegistryEntry(b, XnTypes.Data, head, 0, parent.Root)
            { Segment = head, Body = true, ZeroFill = true, OnDisk = false, ChildrenRegistered = true });
        }
        _segments[head] = new SegmentRecord(head, count, registered: fresh);
    }

    /// <summary>
    /// RegisterChildren's segment cases for one emitted extent <paramref name="o"/> of <paramref name="e"/>:
    /// a segment emitted from outside registers the segment; an emission of a block inside a segment types
    /// body blocks of that segment (anything not confined is left unregistered: Check reports it). Returns
    /// false when the extent is an ordinary one for the caller to register.
    /// </summary>
    internal bool RegisterSegmentChild(RegistryEntry e, int partition, TypeId type, in UdfExtent o)
    {
        if (e.InSegment)
        {
            if (!_segments.TryGetValue(e.Segment, out var seg) || !seg.InBody(o.Start, o.Count) || IsSegmentType(type)) return true;
            for (ulong b = o.Start; b < o.Start + o.Count; b++)
            {
                if (_registry.TryGetValue(b, out var be))
                {
                    if (!be.Body || be.Segment != e.Segment) continue;   // typed twice on a damaged disk: first wins
                    _cache.DropFrame(be);
                    be.Type = type;
                    be.Parent = e.Block;
                    be.Partition = partition;
                    be.Body = be.Dead = be.ZeroFill = false;
                    be.ChildrenRegistered = false;
                    be.OnDisk = true;   // named by an on-disk block, so written before it (rule 1)
                }
                else _registry.Add(new RegistryEntry(b, type, e.Block, partition, e.Root) { Segment = e.Segment });
            }
            return true;
        }
        if (!IsSegmentType(type)) return false;
        RegisterSegment(o.Start, o.Count, type, e, partition, fresh: false);
        return true;
    }

    /// <summary>
    /// Reads every metadata block of the segment (from the head down, inside the segment only), so that its
    /// untyped body entries are known to be untyped. Done once per segment per load, on first body access.
    /// </summary>
    private XnResult EnsureSegmentRegistered(SegmentRecord seg)
    {
        if (seg.Registered) return XnResult.Success;
        if (!_registry.TryGetValue(seg.Head, out var head)) return Fail(XnError.Corrupt, $"segment {seg.Extent} has no head entry");
        var queue = new Queue<RegistryEntry>();
        queue.Enqueue(head);
        while (queue.Count > 0)
        {
            var x = queue.Dequeue();
            var t = _types.Get(x.Type)!;
            if (t.IsData) continue;
            // Not left pinned: a segment may hold many metadata blocks and the cache may be small.
            bool wasPinned = _cache.IsPinned(x);
            var r = _cache.EnsurePage(x);
            if (!wasPinned) _cache.Unpin(x);
            if (!r.Ok) return r;
            for (int p = 0; p < t.Partitions; p++)
            {
                if (!x.Cached) break;   // evicted while its siblings were read: its children are registered already
                var output = _cache.Output(x, t, p, out var fault);
                if (output is null) continue;
                foreach (var o in output)
                {
                    if (!seg.InBody(o.Start, o.Count) || _types.Get(t.ChildTypes[o.TypeIndex])!.IsData) continue;
                    for (ulong b = o.Start; b < o.Start + o.Count; b++)
                        if (_registry.TryGetValue(b, out var c) && c.Parent == x.Block && !c.Body) queue.Enqueue(c);
                }
            }
        }
        seg.Registered = true;
        return XnResult.Success;
    }

    /// <summary>
    /// Before a read or write of an untyped body block: the segment's types are known (see
    /// <see cref="EnsureSegmentRegistered"/>), so it really is untyped. A typed block inside a segment was
    /// registered by the block that emits it and needs nothing (reading a file's block in an old segment
    /// costs no walk of that segment).
    /// </summary>
    internal XnResult PrepareSegmentAccess(RegistryEntry e) => e.Body ? PrepareSegment(e) : XnResult.Success;

    /// <summary>Before trusting the body flags of <paramref name="e"/>'s segment (Claim, Redirect): its types are known.</summary>
    internal XnResult PrepareSegment(RegistryEntry e)
    {
        if (!e.InSegment) return XnResult.Success;
        if (!_segments.TryGetValue(e.Segment, out var seg)) return Fail(XnError.Corrupt, $"block {e.Block} names segment {e.Segment}, which XN does not know");
        return EnsureSegmentRegistered(seg);
    }

    /// <summary>Whether <paramref name="b"/> is a live untyped body block of <paramref name="seg"/>; else the refusal.</summary>
    private XnResult CheckBody(SegmentRecord seg, ulong b, string use)
    {
        if (b <= seg.Head || b >= seg.End)
            return Fail(XnError.OutsideSegment, $"block {b} is outside the body ({seg.Head},{seg.End}) of segment {seg.Extent}: {use}");
        if (!_registry.TryGetValue(b, out var be) || be.Segment != seg.Head)
            return Fail(XnError.Corrupt, $"block {b} of segment {seg.Extent} has no entry");
        if (be.Dead)
            return Fail(XnError.FreeDeferred, $"block {b} of segment {seg.Extent} was freed inside it and its former parent's nullifying write is not durable yet");
        if (!be.Body)
            return Fail(XnError.NotFree, $"block {b} of segment {seg.Extent} is already typed (owned by block {be.Parent} partition {be.Partition})");
        return XnResult.Success;
    }

    /// <summary>Whether the current bytes of <paramref name="be"/> (as <paramref name="ct"/>) own nothing; else NotEmpty.</summary>
    internal XnResult CheckOwnsNothing(RegistryEntry be, XnType ct)
    {
        if (ct.IsData || (be.ZeroFill && !be.Cached)) return XnResult.Success;
        var r = _cache.EnsurePage(be);
        if (!r.Ok) return r;
        for (int p = 0; p < ct.Partitions; p++)
        {
            var fault = PageCache.RunOwns(ct, be.Bytes, p, _claimScratch);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns of '{ct.Name}' faults on the bytes of block {be.Block} (partition {p}: {fault})");
            if (_claimScratch.Count > 0)
                return Fail(XnError.NotEmpty, $"block {be.Block}'s bytes, as '{ct.Name}', already own {UpdateChecks.Resolve(ct, _claimScratch[0]).Extent} (partition {p}): a block enters a segment's types owning nothing; claim its children under it afterwards");
        }
        return XnResult.Success;
    }

    // ------------------------------------------------------------------ Claim

    /// <summary>See <see cref="XnSession.Claim"/>.</summary>
    internal XnResult ClaimLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children) =>
        ClaimLocked(s, parent, partition, edits, children?.Select(c => (childType, c)).ToList()!);

    /// <summary>See <see cref="XnSession.Claim(BlockNo, int, IReadOnlyList{Edit}, IReadOnlyList{ValueTuple{TypeId, Extent}})"/>.</summary>
    internal XnResult ClaimLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, IReadOnlyList<(TypeId Type, Extent Extent)> typed)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = _checks.Authorize(s, parent, Rights.Alloc, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var r = UpdateChecks.CheckPartition(t, partition);
        if (!r.Ok) return r;
        if (typed is null || typed.Count == 0) return Fail(XnError.OutOfDisk, "no extent to claim");
        foreach (var (childType, _) in typed)
        {
            if (_types.Get(childType) is not { } ct) return Fail(XnError.UnknownType, $"no type {childType}");
            if (ct.Spec.Segment) return Fail(XnError.OutsideSegment, $"type '{ct.Name}' is a segment type: a segment cannot lie inside a segment");
        }
        if (!e.InSegment)
            return Fail(XnError.OutsideSegment, $"block {parent} is in no segment: Claim types blocks of the claiming block's own segment (use Alloc for free blocks)");
        r = PrepareSegment(e);
        if (!r.Ok) return r;
        var seg = _segments[e.Segment];
        // Overlaps: sorted by start, each must end before the next begins (O(n log n) for a big partial segment).
        var byStart = typed.OrderBy(x => x.Extent.Start.Value).ToList();
        for (int i = 0; i < byStart.Count; i++)
        {
            var (childType, child) = byStart[i];
            r = _checks.CheckExtent(child);
            if (!r.Ok) return r;
            if (i > 0 && byStart[i - 1].Extent.End.Value > child.Start.Value)
                return Fail(XnError.NotFree, $"extents {byStart[i - 1].Extent} and {child} overlap");
            var ct = _types.Get(childType)!;
            for (ulong b = child.Start.Value; b < child.End.Value; b++)
            {
                r = CheckBody(seg, b, $"block {parent} may claim only blocks of its own segment");
                if (!r.Ok) return r;
                r = CheckOwnsNothing(Entry(b), ct);
                if (!r.Ok) return r;
            }
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
            if (typed.Count != 1 || !UpdateChecks.OneInserted(before, after, t, new Owned(typed[0].Type, typed[0].Extent.Start.Value, typed[0].Extent.Count)))
            {
                r = _checks.CompareDiff(t, before, after, typed.Select(c => new Owned(c.Type, c.Extent.Start.Value, c.Extent.Count)).ToList(), removed: null);
                if (!r.Ok) return r;
            }
            r = _checks.CheckAclAndSize(s, e, t, proposed, partition, after, eds!);
            if (!r.Ok) return r;
        }

        // Commit point: nothing above changed any state.
        _checks.Commit(e, eds!, proposed, partition, after);
        foreach (var (childType, child) in typed)
        {
            var ct = _types.Get(childType)!;
            for (ulong b = child.Start.Value; b < child.End.Value; b++)
                Type(Entry(b), e, partition, childType, ct);
        }
        return XnResult.Success;
    }

    /// <summary>
    /// Makes body entry <paramref name="be"/> a child of <paramref name="parent"/> with the bytes it has. A
    /// body block never written is zeros on the way to the disk (rule 1: the parent may not name stale bytes),
    /// and the parent stays tainted until the child is on disk.
    /// </summary>
    private void Type(RegistryEntry be, RegistryEntry parent, int partition, TypeId type, XnType ct)
    {
        be.Type = type;
        be.Parent = parent.Block;
        be.Partition = partition;
        be.Body = false;
        be.ChildrenRegistered = true;   // it owns nothing (checked)
        be.Outputs = null;
        if (!ct.IsData && be.ZeroFill && !be.Cached)
        {
            be.Outputs = new List<UdfExtent>?[ct.Partitions];
            Array.Fill(be.Outputs, PageCache.KnownEmpty);
        }
        if (be.ZeroFill && !be.Dirty) be.Dirty = true;
        // A checksummed type's stamp covers the type id: raw bytes claimed into it must be written again.
        if (ct.HasChecksum && be.Cached) be.Dirty = true;
        MustPrecede(be, parent);
    }

    /// <summary>
    /// Rule 1 edge for a block that becomes <paramref name="parent"/>'s child with bytes not yet on the disk
    /// (new, or written again since its last write): the parent is tainted until the child is written, so
    /// a durable parent never names bytes that are not durable (a summary after its body; a redirect's
    /// target before the pointer).
    /// </summary>
    private static void MustPrecede(RegistryEntry child, RegistryEntry parent)
    {
        if (!child.Dirty && child.OnDisk) return;
        child.OnDisk = false;
        (parent.PendingChildren ??= new HashSet<ulong>()).Add(child.Block);
    }

    /// <summary>
    /// Gives <paramref name="be"/> back to its segment's body (a Free or Redirect from a block inside the
    /// segment): its page and type go; it is dead until its former parent's nullifying write is durable.
    /// </summary>
    internal void ReturnToBody(RegistryEntry be, RegistryEntry parent)
    {
        _cache.DropFrame(be);
        _s.Versions.Forget(be.Block);
        be.Type = XnTypes.Data;
        be.Parent = be.Segment;
        be.Partition = 0;
        be.Body = true;
        be.Dead = true;
        be.ZeroFill = true;
        be.Dirty = false;
        be.OnDisk = false;
        be.PendingChildren = null;
        be.WriteAfter = null;
        be.Outputs = null;
        be.ChildrenRegistered = true;
        parent.PendingChildren?.Remove(be.Block);
    }

    /// <summary>A freed segment leaves the registry whole: every entry inside it, and its in-segment deferred frees.</summary>
    internal void DropSegment(ulong head)
    {
        if (!_segments.Remove(head, out var seg)) return;
        for (ulong b = seg.Head; b < seg.End; b++)
        {
            if (_registry.Remove(b, out var gone)) _cache.DropFrame(gone);
            _s.Versions.Forget(b);
        }
        _segmentDeferred.RemoveWithin(seg.Extent);
    }

    // ------------------------------------------------------------------ Redirect

    /// <summary>See <see cref="XnSession.Redirect"/>.</summary>
    internal XnResult RedirectLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent from, Extent to, bool copy)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = _checks.Authorize(s, parent, Rights.Alloc | Rights.Free, out var e);
        if (!a.Ok) return a;
        var t = _types.Get(e.Type)!;
        var r = UpdateChecks.CheckPartition(t, partition);
        if (!r.Ok) return r;
        r = _checks.CheckExtent(from);
        if (!r.Ok) return r;
        r = _checks.CheckExtent(to);
        if (!r.Ok) return r;
        if (to.Count != from.Count) return Fail(XnError.DiffMismatch, $"a redirect replaces {from} by an extent of the same length, not {to}");
        if (from.Start.Value < to.End.Value && to.Start.Value < from.End.Value) return Fail(XnError.NotFree, $"{to} overlaps {from}");
        r = PrepareSegment(e);
        if (!r.Ok) return r;
        SegmentRecord? seg = e.InSegment ? _segments[e.Segment] : null;
        if (seg is not null)
        {
            for (ulong b = to.Start.Value; b < to.End.Value; b++)
            {
                r = CheckBody(seg, b, $"block {parent} is inside segment {seg.Extent} and may point only into it");
                if (!r.Ok) return r;
            }
        }
        else
        {
            if (to.Start.Value < _layout.ReservedEnd) return Fail(XnError.NotFree, $"extent {to} overlaps XN's reserved blocks [0,{_layout.ReservedEnd})");
            var free = _free.CheckFree(to);
            if (free == XnError.FreeDeferred) return Fail(free, $"extent {to} was freed but its parent's nullifying write is not durable yet");
            if (free != XnError.None) return Fail(free, $"extent {to} is not free");
        }
        r = _cache.EnsurePage(e);
        if (!r.Ok) return r;
        var eds = _checks.Snapshot(edits);
        r = UpdateChecks.CheckEdits(t, partition, eds);
        if (!r.Ok) return r;
        var before = _cache.Output(e, t, partition, out var fault);
        if (before is null) return Fail(XnError.Corrupt, $"owns of block {parent} partition {partition} faults ({fault})");
        int idx = UpdateChecks.IndexOf(before, from);
        if (idx < 0) return Fail(XnError.NotOwned, $"block {parent} partition {partition} does not own {from} (a redirect replaces one whole owned extent)");
        var owned = UpdateChecks.Resolve(t, before[idx]);
        var ct = _types.Get(owned.Type)!;
        if (ct.Spec.Segment) return Fail(XnError.WrongType, $"{from} is a segment: a segment is freed and allocated, never redirected");

        // What the new blocks will hold: a copy of the old ones (their children come along), or their own
        // bytes (a free block's zeros, or what the holder wrote into a segment body block).
        var olds = new RegistryEntry[from.Count];
        for (ulong i = 0; i < from.Count; i++)
        {
            if (!_registry.TryGetValue(from.Start.Value + i, out var ae)) return Fail(XnError.Corrupt, $"owned block {from.Start.Value + i} has no entry");
            olds[i] = ae;
        }
        if (!copy)
        {
            r = _checks.CheckEmpty(owned);
            if (!r.Ok) return r;
            if (seg is not null)
                for (ulong b = to.Start.Value; b < to.End.Value; b++)
                {
                    r = CheckOwnsNothing(Entry(b), ct);
                    if (!r.Ok) return r;
                }
        }

        byte[]? proposed = null;
        List<UdfExtent>? after = null;
        if (_s.ChecksEnabled)
        {
            proposed = _checks.ProposedA;
            UpdateChecks.ProposeFor(t, partition, e.Bytes, eds!, proposed);
            after = _checks.ScratchAfter;
            fault = PageCache.RunOwns(t, proposed, partition, after);
            if (fault != UdfFault.None) return Fail(XnError.DiffMismatch, $"owns faults on the proposed bytes ({fault})");
            r = _checks.CompareDiff(t, before, after, [new Owned(owned.Type, to.Start.Value, to.Count)], removed: owned);
            if (!r.Ok) return r;
            r = _checks.CheckAclAndSize(s, e, t, proposed, partition, after, eds!);
            if (!r.Ok) return r;
        }
        // Pages for the copies, last: reading the originals and taking frames may write back or evict
        // (never change what a page holds), and a refusal above leaves even the cache as it was.
        IReadOnlyList<Kernel.Memory.PageFrame>? frames = null;
        var news = new RegistryEntry?[to.Count];
        if (copy)
        {
            foreach (var ae in olds)
                if (!(ae.ZeroFill && !ae.Cached))
                {
                    r = _cache.EnsurePage(ae);
                    if (!r.Ok) return r;
                }
            if (seg is null)
            {
                frames = _cache.GetFrames((int)to.Count);
                if (frames is null) return Fail(XnError.NoSpace, "no page frames for the redirected blocks (memory pool exhausted)");
            }
            else
                for (ulong i = 0; i < to.Count; i++)
                {
                    news[i] = Entry(to.Start.Value + i);
                    r = _cache.EnsurePage(news[i]!);
                    if (!r.Ok) return r;
                }
        }

        // Commit point: nothing above changed any state (but the cache, as in every update).
        _checks.Commit(e, eds!, proposed, partition, after);
        for (ulong i = 0; i < to.Count; i++)
        {
            ulong b = to.Start.Value + i;
            var ae = olds[i];
            RegistryEntry be;
            if (seg is not null)
            {
                be = news[i] ?? Entry(b);
                Type(be, e, partition, owned.Type, ct);
            }
            else
            {
                be = new RegistryEntry(b, owned.Type, e.Block, partition, e.Root) { OnDisk = false, ChildrenRegistered = true };
                if (_registry.TryGetValue(b, out var stale)) _cache.DropFrame(stale);
                if (!copy)
                {
                    be.ZeroFill = true;
                    if (!ct.IsData) { be.Outputs = new List<UdfExtent>?[ct.Partitions]; Array.Fill(be.Outputs, PageCache.KnownEmpty); }
                }
                else
                {
                    _cache.Attach(be, frames![(int)i]);
                }
                be.Dirty = true;
                _registry.Add(be);
                (e.PendingChildren ??= new HashSet<ulong>()).Add(b);
            }
            if (copy)
            {
                if (ae.Cached) ae.Bytes.CopyTo(be.Bytes);
                else be.Bytes.Clear();
                be.ZeroFill = false;
                be.Dirty = true;
                be.Outputs = null;
                // The copy owns what the original owned: its children (and their rule-1 edges) move over.
                if (!ct.IsData && ae.Cached)
                {
                    for (int p = 0; p < ct.Partitions; p++)
                    {
                        if (PageCache.RunOwns(ct, ae.Bytes, p, _claimScratch) != UdfFault.None) continue;
                        foreach (var o in _claimScratch)
                            for (ulong c = o.Start; c < o.Start + o.Count; c++)
                                if (_registry.TryGetValue(c, out var ce) && ce.Parent == ae.Block) ce.Parent = be.Block;
                    }
                    be.ChildrenRegistered = ae.ChildrenRegistered;
                }
                if (ae.PendingChildren is { Count: > 0 } kids) (be.PendingChildren ??= new HashSet<ulong>()).UnionWith(kids);
                if (ae.WriteAfter is { Count: > 0 } soft) (be.WriteAfter ??= new HashSet<ulong>()).UnionWith(soft);
            }
            MustPrecede(be, e);
            if (seg is not null) ReturnToBody(ae, e);
            else
            {
                _registry.Remove(ae.Block, out _);
                _s.Versions.Forget(ae.Block);
                _cache.DropFrame(ae);
                e.PendingChildren?.Remove(ae.Block);
            }
        }
        if (seg is not null) _segmentDeferred.Add(from, e.Block);
        else
        {
            _free.Allocate(to);
            // Rule 2: the old blocks stay allocated until the parent's redirected pointer is durable.
            _free.Defer(from);
            _inflight.Add(to, e.Block, e.Type);
            _inflight.Add(from, e.Block, e.Type);
            if (_s.DeferFreesEnabled) _deferred.Add(from, e.Block);
            else _free.Release(from);
        }
        return XnResult.Success;
    }

    /// <summary>See <see cref="XnSession.WriteBackSegment"/>.</summary>
    internal XnResult WriteBackSegmentLocked(ulong block)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        if (!_registry.TryGetValue(block, out var e) || !e.InSegment || !_segments.TryGetValue(e.Segment, out var seg))
            return Fail(XnError.OutsideSegment, $"block {block} is in no segment XN knows");
        var set = new List<RegistryEntry>();
        var seen = new HashSet<ulong>();
        for (ulong b = seg.Head; b < seg.End; b++)
        {
            if (!_registry.TryGetValue(b, out var x) || !x.Dirty) continue;
            if (seen.Add(b)) set.Add(x);
            foreach (var d in _order.DependencyClosure(x, withChildren: true))
                if (seen.Add(d.Block)) set.Add(d);
        }
        if (set.Count == 0) return XnResult.Success;
        try
        {
            var r = _order.WriteInLevels(set);
            if (!r.Ok) return r;
            // Whatever follows (the segment's parent, a checkpoint) is ordered after this segment.
            _map.BarrierIfUnordered();
        }
        catch (IOException x)
        {
            return Fail(XnError.Io, $"write segment {seg.Extent}: {x.Message}");
        }
        return XnResult.Success;
    }

    /// <summary>See <see cref="XnSession.WriteBodyThrough"/>.</summary>
    internal XnResult WriteBodyThroughLocked(XnSession s, BlockNo start, Span<byte> blocks, IReadOnlyList<Extent>? keepPages)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        if (blocks.Length == 0 || blocks.Length % BlockSize != 0)
            return Fail(XnError.NotRawRange, $"WriteBodyThrough takes whole blocks, not {blocks.Length} bytes");
        int n = blocks.Length / BlockSize;
        var r = _checks.CheckExtent(new Extent(start, (ulong)n));
        if (!r.Ok) return r;
        var entries = new RegistryEntry[n];
        var heads = new List<int>();
        SegmentRecord? seg = null;
        for (int i = 0; i < n; i++)
        {
            var b = start.Offset((ulong)i);
            var a = _checks.Authorize(s, b, Rights.Write, out var e);
            if (!a.Ok) return a;
            if (!e.InSegment || !_segments.TryGetValue(e.Segment, out var es))
                return Fail(XnError.OutsideSegment, $"block {b} is in no segment: WriteBodyThrough writes segment bodies (WriteThrough writes xn.data)");
            if (es != seg)
            {
                // A run goes on into the next segment only at its head (consecutive segments, one request).
                if (seg is not null && b.Value != es.Head)
                    return Fail(XnError.OutsideSegment, $"block {b} is in segment {es.Extent}, which the run enters past its head");
                seg = es;
                // The body flags are trusted only once the segment's metadata has been read (a reload).
                r = EnsureSegmentRegistered(seg);
                if (!r.Ok) return r;
            }
            entries[i] = e;
            if (b.Value == seg.Head)
            {
                r = CheckHeadInRun(e);
                if (!r.Ok) return r;
                heads.Add(i);
                continue;
            }
            r = CheckBody(seg, b.Value, "WriteBodyThrough writes untyped body only (a typed block goes through the cache and its parent's order)");
            if (!r.Ok) return r;
        }
        // Pages the caller asked for (blocks it will claim into a metadata type: Claim's owns-nothing check then
        // reads the page, not the device). Taken before the write: taking a frame may write back or evict.
        if (keepPages is not null)
            foreach (var x in keepPages)
                for (ulong b = x.Start.Value; b < x.End.Value; b++)
                {
                    if (b < start.Value || b >= start.Value + (ulong)n) return Fail(XnError.OutsideSegment, $"page to keep {b} is outside the run {start}+{n}");
                    var e = entries[b - start.Value];
                    if (!e.Body) continue;
                    bool wasPinned = _cache.IsPinned(e);
                    r = _cache.EnsurePage(e);
                    if (!wasPinned) _cache.Unpin(e);
                    if (!r.Ok) break;   // a frame shortage only costs the claim a read
                }
        // All checked. Legal at once: an untyped body block is named by nothing on the disk (only a claim names
        // it, and a claim of a block already on disk waits for nothing), so rule 1 has nothing to protect, and a
        // head in the run owns nothing yet (checked), so it names nothing either. Written() counts the blocks
        // unordered, and the barrier XN puts before the next metadata write (the head that claims them) orders
        // them first.
        try
        {
            // A head's bytes are XN's: stamped and copied into the caller's run at its place.
            foreach (int i in heads) _order.Stamped(entries[i]).CopyTo(blocks.Slice(i * BlockSize, BlockSize));
            for (int i = 0; i < n; i++)
            {
                var e = entries[i];
                // A cached page (kept above, or viewed by the holder) gets the same bytes: cache and disk agree.
                if (e.Cached && e.Body) blocks.Slice(i * BlockSize, BlockSize).CopyTo(e.Bytes);
                e.InIo = true;
            }
            try { _dev.Write(start, blocks); }
            finally { foreach (var e in entries) e.InIo = false; }
            foreach (var e in entries) _order.Written(e);
        }
        catch (IOException x)
        {
            return Fail(XnError.Io, $"write body {start}+{n}: {x.Message}");
        }
        return XnResult.Success;
    }

    /// <summary>
    /// Whether segment head <paramref name="h"/> may go to the device inside a body run: it owns nothing (a
    /// segment just bound, before its first claim), so its write needs no child, free-map block or barrier
    /// before it, and no ordering edge holds it back.
    /// </summary>
    private XnResult CheckHeadInRun(RegistryEntry h)
    {
        if (h.Tainted || h.WriteAfter is { Count: > 0 } || h.InIo)
            return Fail(XnError.Tainted, $"segment head {h.Block} waits for other writes: it cannot go inside a body run");
        // A zero block owns nothing in any partition (checked at registration).
        if (h.ZeroFill && !h.Cached) return XnResult.Success;
        var t = _types.Get(h.Type)!;
        bool wasPinned = _cache.IsPinned(h);
        var r = _cache.EnsurePage(h);
        if (!wasPinned) _cache.Unpin(h);
        if (!r.Ok) return r;
        for (int p = 0; p < t.Partitions; p++)
        {
            var output = _cache.Output(h, t, p, out var fault);
            if (output is null) return Fail(XnError.Corrupt, $"owns of segment head {h.Block} partition {p} faults ({fault})");
            if (output.Count > 0)
                return Fail(XnError.NotEmpty, $"segment head {h.Block} already owns {UpdateChecks.Resolve(t, output[0]).Extent}: a head inside a body run must own nothing (write it back with its segment)");
        }
        return XnResult.Success;
    }

    /// <summary>See <see cref="XnSession.SegmentOf"/>.</summary>
    internal XnResult<Extent> SegmentOfLocked(XnSession s, BlockNo block)
    {
        var a = _checks.Authorize(s, block, Rights.Read, out var e);
        if (!a.Ok) return XnResult<Extent>.Fail(a.Error, a.Detail);
        if (!e.InSegment || !_segments.TryGetValue(e.Segment, out var seg))
            return XnResult<Extent>.Fail(XnError.OutsideSegment, $"block {block} is in no segment");
        return XnResult<Extent>.Success(seg.Extent);
    }
}
