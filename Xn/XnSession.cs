using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;

namespace ExoFS.Xn;

/// <summary>
/// One environment's handle on an XN volume: the only surface a libFS uses. Access is checked at bind
/// time: a root is bound by presenting its capability (<see cref="MountRoot"/>), after which every block
/// reachable from it may be used with the rights that capability carries (Read for reads, Write for raw
/// writes, Alloc/Free for ownership changes). Every refusal is a result carrying an <see cref="XnError"/>
/// and leaves disk and cache unchanged. All members are thread-safe.
/// </summary>
public sealed class XnSession
{
    private readonly XnVolume _vol;
    private readonly Dictionary<int, Rights> _held = new();
    private readonly HashSet<ulong> _bound = new();

    private readonly bool _mayInstallRoots;

    internal XnSession(XnVolume volume, ExoEnvironment env, bool mayInstallRoots)
    {
        _vol = volume;
        Environment = env;
        _mayInstallRoots = mayInstallRoots;
    }

    /// <summary>The environment every call of this session acts for.</summary>
    public ExoEnvironment Environment { get; }

    // ------------------------------------------------------------------ the caller (the acl-UDF's principal)

    // Per thread, so that concurrent requests of different users through one session each carry their own caller
    // (the session is shared by all of a libFS's threads). Thread-static rather than AsyncLocal: setting it costs
    // no allocation, and a libFS names its caller around synchronous calls.
    [ThreadStatic] private static XnSession? t_callerSession;
    [ThreadStatic] private static XnCaller t_caller;

    /// <summary>
    /// The caller the libFS names for the calls this thread makes next through this session (null: none named, the
    /// libFS acting for itself). XN passes it to acl-UDFs as r3 = uid, r4 = gid, r5 = 1 (0/0/0 when none is named)
    /// beside r2 = the session's environment id, which is XN's own fact. The uid and gid are the libFS's claim, not
    /// XN's: an acl may use them for the libFS's own invariants (who may change an inode), never to protect one
    /// libFS from another. One caller per thread: naming one for another session replaces it.
    /// </summary>
    public XnCaller? Caller => ReferenceEquals(t_callerSession, this) ? t_caller : null;

    /// <summary>Names the caller for this thread's following calls until <see cref="ClearCaller"/> or another <see cref="SetCaller"/>.</summary>
    public void SetCaller(uint uid, uint gid)
    {
        t_callerSession = this;
        t_caller = new XnCaller(uid, gid);
    }

    /// <summary>Forgets the caller named on this thread: later calls act for the libFS itself.</summary>
    public void ClearCaller()
    {
        if (ReferenceEquals(t_callerSession, this)) t_callerSession = null;
    }

    /// <summary>Names the caller for this thread until the returned scope is disposed (which restores the one before).</summary>
    public CallerScope ActAs(uint uid, uint gid)
    {
        var scope = new CallerScope(t_callerSession, t_caller);
        SetCaller(uid, gid);
        return scope;
    }

    /// <summary>Restores the caller named before <see cref="ActAs"/>.</summary>
    public sealed class CallerScope : IDisposable
    {
        private readonly XnSession? _session;
        private readonly XnCaller _caller;
        internal CallerScope(XnSession? session, XnCaller caller) { _session = session; _caller = caller; }
        public void Dispose()
        {
            t_callerSession = _session;
            t_caller = _caller;
        }
    }

    /// <summary>True when the volume was loaded read-only: every change is refused with <see cref="XnError.ReadOnly"/>.</summary>
    public bool IsReadOnly => _vol.IsReadOnly;

    internal bool Holds(int root, Rights needed) => _held.TryGetValue(root, out var r) && (r & needed) == needed;
    internal bool Bind(ulong block) => _bound.Add(block);
    internal bool Unbind(ulong block) => _bound.Remove(block);
    internal bool IsBound(ulong block) => _bound.Contains(block);
    internal int BoundCount => _bound.Count;

    /// <summary>
    /// Releases every page this session has bound (the host calls it when it ends the guest's environment:
    /// a dead session's views must not pin XN's cache forever).
    /// </summary>
    internal void UnbindAll()
    {
        lock (_vol.Gate)
            foreach (ulong b in _bound.ToList()) _vol.UnbindLocked(this, new BlockNo(b));
    }

    // ------------------------------------------------------------------ types and roots

    /// <summary>Registers (and persists) a type; the same name with an identical spec returns the same id.</summary>
    public XnResult<TypeId> RegisterType(TypeSpec spec)
    {
        return Call(() => _vol.RegisterTypeLocked(spec));
    }

    /// <summary>The id of a registered type ("xn.data" is <see cref="XnTypes.Data"/>).</summary>
    public XnResult<TypeId> FindType(string name)
    {
        lock (_vol.Gate)
            return _vol.TypeTable.Find(name) is { } t
                ? XnResult<TypeId>.Success(t.Id)
                : XnResult<TypeId>.Fail(XnError.UnknownType, $"no type named '{name}'");
    }

    /// <summary>
    /// Creates root <paramref name="name"/> of type <paramref name="type"/>: allocates its block (zero-filled,
    /// initialized, on disk before the catalogue names it) and mints a capability with all rights for
    /// this session's environment, which is also mounted.
    /// </summary>
    public XnResult<RootInfo> InstallRoot(string name, TypeId type) => Call(() =>
    {
        // Making a root is the host's decision (mkfs): only a session the host opened for formatting may.
        if (!_mayInstallRoots)
            return XnResult<RootInfo>.Fail(XnError.BadCapability, $"installing root '{name}' is a host operation; this session may not");
        var r = _vol.InstallRootLocked(name, type, Environment);
        if (!r.Ok) return XnResult<RootInfo>.Fail(r.Error, r.Detail);
        var cap = _vol.Kernel.Mint(Environment, new RootResource(name), Rights.All);
        _held[r.Value] = Rights.All;
        return XnResult<RootInfo>.Success(Info(r.Value, cap));
    });

    /// <summary>
    /// Binds root <paramref name="name"/> for this session by presenting <paramref name="cap"/>, which must
    /// be a genuine capability of this boot, held by this environment, naming this root, with Read rights
    /// at least. The session may then do what the capability's rights allow.
    /// </summary>
    public XnResult<RootInfo> MountRoot(string name, Capability cap)
    {
        if (cap is null) return XnResult<RootInfo>.Fail(XnError.BadCapability, "no capability presented");
        lock (_vol.Gate)
        {
            int idx = _vol.FindRoot(name);
            if (idx < 0) return XnResult<RootInfo>.Fail(XnError.UnknownRoot, $"no root named '{name}'");
            var check = _vol.Kernel.Check(Environment, cap, new RootResource(name), Rights.Read);
            if (check != CapabilityCheck.Ok)
                return XnResult<RootInfo>.Fail(XnError.BadCapability, $"capability refused for root '{name}': {check}");
            _held[idx] = _held.GetValueOrDefault(idx) | cap.Rights;
            return XnResult<RootInfo>.Success(Info(idx, cap));
        }
    }

    private RootInfo Info(int idx, Capability cap)
    {
        var r = _vol.RootAt(idx);
        return new RootInfo(r.Name, new BlockNo(r.Block), new TypeId(r.Type), cap);
    }

    /// <summary>Names of every root on the volume (mounted or not).</summary>
    public IReadOnlyList<string> RootNames() => _vol.RootNames();

    // ------------------------------------------------------------------ reads

    /// <summary>Copies a whole block (4096 bytes) reachable from a root this session holds with Read.</summary>
    public XnResult Read(BlockNo block, Span<byte> into4096)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.ReadLocked(this, block, into4096); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// Binds the cached page of <paramref name="block"/> read-only: the memory is XN's shared page, so two
    /// sessions viewing one block see the same bytes and later updates. Release with <see cref="Unbind"/>.
    /// </summary>
    public XnResult<ReadOnlyMemory<byte>> View(BlockNo block) => Call(() => _vol.ViewLocked(this, block));

    /// <summary>Releases a page bound with <see cref="View"/> (it may be evicted again).</summary>
    public void Unbind(BlockNo block)
    {
        lock (_vol.Gate) _vol.UnbindLocked(this, block);
    }

    /// <summary>Copies bytes inside the block type's raw-read ranges (anywhere for xn.data).</summary>
    public XnResult ReadRaw(BlockNo block, int offset, Span<byte> into)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.ReadRawLocked(this, block, offset, into); }
            finally { Leave(); }
        }
    }

    // ------------------------------------------------------------------ updates

    /// <summary>Writes bytes inside the block type's raw-write ranges (anywhere for xn.data). Needs Write.</summary>
    public XnResult WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.WriteRawLocked(this, block, offset, bytes); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// <see cref="WriteRaw(BlockNo, int, ReadOnlySpan{byte})"/>, and these bytes reach the disk only after
    /// <paramref name="after"/>'s current contents do (an ordering XN cannot see in pointers, such as a
    /// directory entry naming an inode by number). Needs Write on <paramref name="block"/>, Read on <paramref name="after"/>.
    /// </summary>
    public XnResult WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.WriteRawAfterLocked(this, block, offset, bytes, after); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// Gives <paramref name="child"/> (which must be free) to partition <paramref name="partition"/> of
    /// <paramref name="parent"/>: owns(parent, partition) after <paramref name="edits"/> must equal before ∪
    /// {child as <paramref name="childType"/>}. The child is zero-filled and initialized in the cache; the
    /// parent is tainted (cannot be written back) until the child has been written. Needs Alloc.
    /// </summary>
    public XnResult Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, Extent child)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.AllocLocked(this, parent, partition, edits, childType, child); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// <see cref="Alloc(BlockNo, int, IReadOnlyList{Edit}, TypeId, Extent)"/> of several extents into one
    /// partition in one step (a run of file blocks under one indirect block): owns after = before ∪
    /// <paramref name="children"/>, each free and none overlapping another. One owns run checks them all.
    /// </summary>
    public XnResult Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.AllocLocked(this, parent, partition, edits, childType, children); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// Writes whole xn.data blocks <paramref name="start"/>, start+1, ... from <paramref name="blocks"/> (a
    /// multiple of 4096 bytes) straight to the device, consecutive blocks in one request, with no cache page
    /// per block (a cached page gets the same bytes). Each block needs Write and must be xn.data outside every
    /// segment (else <see cref="XnError.WrongType"/> / <see cref="XnError.OutsideSegment"/>); all are checked
    /// before any is written, so a refusal writes none. Data owns nothing, so the write is legal at once: the
    /// blocks count as initialized on disk (a parent tainted by them is not any more) and the next metadata
    /// write is ordered after them. A block with a soft ordering edge is written through the cache instead.
    /// In flight like any write-back: durable at the next <see cref="Sync"/>. Xn/Updates/Transfers.cs.
    /// </summary>
    public XnResult WriteThrough(BlockNo start, ReadOnlySpan<byte> blocks)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.WriteThroughLocked(this, start, blocks); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// Reads whole blocks <paramref name="start"/>, start+1, ... into <paramref name="into"/> (a multiple of
    /// 4096 bytes), as <see cref="Read"/> of each would, but consecutive xn.data blocks that are not cached
    /// come from the device in one request, into the caller's buffer, taking no cache page. Needs Read on each.
    /// </summary>
    public XnResult ReadBlocks(BlockNo start, Span<byte> into)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.ReadBlocksLocked(this, start, into); }
            finally { Leave(); }
        }
    }

    /// <summary>A free extent of <paramref name="count"/> blocks at or after <paramref name="hint"/> (wrapping). Nothing is reserved.</summary>
    public XnResult<BlockNo> FindFree(BlockNo hint, ulong count) => Call(() => _vol.FindFreeLocked(hint, count));

    /// <summary>How many blocks of the disk XN could give out now, to any session (disk information, not a reservation).</summary>
    public ulong FreeBlocks => _vol.FreeBlocks;

    /// <summary>
    /// XN's free map over [<paramref name="start"/>, start + <paramref name="count"/>), read-only ("expose
    /// information"): the blocks free now and the blocks freed but deferred until a later <see cref="Sync"/>
    /// (rule 2). Disk information about every session's blocks, not a reservation; needs no capability, as
    /// <see cref="FindFree"/> does not. A range past the disk is clipped. Xn/XnVolume.FreeMapView.cs.
    /// </summary>
    public XnResult<XnFreeCount> CountFree(BlockNo start, ulong count) =>
        Call(() => XnResult<XnFreeCount>.Success(_vol.CountFreeLocked(start, count)));

    /// <summary>
    /// Takes <paramref name="child"/> away from partition <paramref name="partition"/> of
    /// <paramref name="parent"/>: owns after = before − {child}. A metadata child must own nothing. The
    /// extent becomes reusable only once the parent's nullifying write is durable (a later Sync). Needs Free.
    /// <para>Partial free: <paramref name="child"/> may be a piece of an owned extent E (not of a segment):
    /// owns after = (before − {E}) ∪ (E − child), the one or two pieces left, with E's type. A segment is
    /// freed whole, with everything inside it (confinement: nothing inside owns anything outside). From a
    /// parent inside a segment the child goes back to that segment's body, dead (neither written nor claimed,
    /// <see cref="XnError.FreeDeferred"/>) until the parent's nullifying write is durable.</para>
    /// </summary>
    public XnResult Free(BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent child)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.FreeLocked(this, parent, partition, edits, child); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// In one step, <paramref name="child"/> leaves owns(<paramref name="from"/>, fromPartition) and joins
    /// owns(<paramref name="to"/>, toPartition); the two may be the same block (and partition). Needs Free
    /// on from's root and Alloc on to's. XN writes <paramref name="to"/> before <paramref name="from"/> when
    /// it can, so a crash in between duplicates the pointer (reported by Check) rather than losing it.
    /// </summary>
    public XnResult Move(BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits,
                         BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, Extent child)
    {
        return Call(() => _vol.MoveLocked(this, from, fromPartition, fromEdits, to, toPartition, toEdits, child));
    }

    /// <summary>
    /// Writes one dirty block now, after whatever it must follow (blocks named by its soft edges, and their
    /// own dependencies, in levels with barriers); refused with <see cref="XnError.Tainted"/> while a child
    /// it points at is unwritten.
    /// </summary>
    public XnResult WriteBack(BlockNo block)
    {
        return Call(() => _vol.WriteBackLocked(block.Value));
    }

    /// <summary>Writes everything dirty in a legal order (children before parents, barriers between), then flushes.</summary>
    public XnResult Sync() => Call(() => _vol.SyncLocked());

    // Every call: the volume lock, Enter, the body, Leave. Read, ReadRaw, WriteRaw, Alloc and Free spell it out
    // rather than go through Call: a span cannot be captured by a lambda, and the per-block calls stay
    // free of a closure allocation each.

    /// <summary>
    /// Starts one XN call under the volume lock: refused if the volume is closed or if this thread is
    /// already inside XN (a re-entrant call from an upcall); pinned pages are released at the end.
    /// </summary>
    private XnResult Enter()
    {
        if (_vol.IsClosed) return XnResult.Fail(XnError.Io, "the volume is closed");
        // The host ends a guest by destroying its environment: from then on the session acts for no one,
        // though the guest may still hold the object (and the roots it had bound).
        if (!Environment.IsAlive) return XnResult.Fail(XnError.BadCapability, $"environment {Environment} has ended: its session no longer acts for it");
        if (_vol.InCall) return XnResult.Fail(XnError.Io, "XN re-entered from inside an XN call (e.g. a revocation upcall)");
        _vol.InCall = true;
        return XnResult.Success;
    }

    private void Leave()
    {
        _vol.InCall = false;
        _vol.EndCall();
    }

    private XnResult Call(Func<XnResult> body)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return body(); }
            finally { Leave(); }
        }
    }

    private XnResult<T> Call<T>(Func<XnResult<T>> body)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return XnResult<T>.Fail(refused.Error, refused.Detail);
            try { return body(); }
            finally { Leave(); }
        }
    }

    // ------------------------------------------------------------------ log-structured support
    // Segments, Claim, Redirect, partial Free and segment write-back (Xn/README.md, "Segments"; the code
    // is in Xn/Updates/Segments.cs). Free also does partial frees and in-segment frees: see Free.

    /// <summary>
    /// Binds a whole segment at once: <paramref name="segment"/> (free, outside XN's reserved blocks) joins
    /// partition <paramref name="partition"/> of <paramref name="parent"/> as one extent of
    /// <paramref name="segmentType"/> (a type registered with <see cref="TypeSpec.Segment"/>): owns after =
    /// before ∪ {segment}, checked once for the whole extent. The first block (the head) is zero-filled and
    /// has the segment type, and the parent is tainted until the head is written; every other block is
    /// untyped body that the holder writes with <see cref="WriteRaw(BlockNo, int, ReadOnlySpan{byte})"/>
    /// (any byte, no per-block ownership check) and types with <see cref="Claim"/>. A body block costs no
    /// write unless written, reads as zeros until written, and is forgotten (zeros again) at a reload unless
    /// claimed. The parent must lie outside every segment. Needs Alloc. The same as <see cref="Alloc(BlockNo,
    /// int, IReadOnlyList{Edit}, TypeId, Extent)"/> with a segment type; this call refuses other types.
    /// </summary>
    public XnResult AllocSegment(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId segmentType, Extent segment)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try
            {
                if (_vol.TypeTable.Get(segmentType) is not { } t) return XnResult.Fail(XnError.UnknownType, $"no type {segmentType}");
                if (!t.Spec.Segment) return XnResult.Fail(XnError.WrongType, $"type '{t.Name}' is not a segment type (TypeSpec.Segment)");
                return _vol.AllocLocked(this, parent, partition, edits, segmentType, segment);
            }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// Types body blocks of a segment: <paramref name="children"/> join partition <paramref name="partition"/>
    /// of <paramref name="parent"/>, a block inside the same segment (its head, or a block the head's line
    /// owns): owns after = before ∪ children as <paramref name="childType"/>. Each child block must be
    /// untyped, live body of the parent's segment (else <see cref="XnError.OutsideSegment"/>,
    /// <see cref="XnError.NotFree"/> if typed, <see cref="XnError.FreeDeferred"/> if dead), and, for a
    /// metadata type, its current bytes must own nothing (<see cref="XnError.NotEmpty"/>). The blocks keep
    /// the bytes written into them (a block never written becomes zeros); the parent is tainted until every
    /// child not yet on disk is written, so the segment's filled body goes to the disk before the summary
    /// that names it. No segment type may be claimed (no segment inside a segment). Needs Alloc.
    /// </summary>
    public XnResult Claim(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.ClaimLocked(this, parent, partition, edits, childType, children); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// <see cref="Claim(BlockNo, int, IReadOnlyList{Edit}, TypeId, IReadOnlyList{Extent})"/> of extents of
    /// several types in one step (a partial segment's inode, data and inode-map blocks under its summary):
    /// owns after = before ∪ every (type, extent) pair; one owns run checks them all.
    /// </summary>
    public XnResult Claim(BlockNo parent, int partition, IReadOnlyList<Edit> edits, IReadOnlyList<(TypeId Type, Extent Extent)> children)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.ClaimLocked(this, parent, partition, edits, children); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// Changes a pointer of <paramref name="parent"/> from <paramref name="from"/> (an extent partition
    /// <paramref name="partition"/> owns, not a segment) to <paramref name="to"/> (same length) in one checked
    /// step — copy-on-write, or a cleaner moving a block: owns after = (before − {from}) ∪ {to, with from's
    /// type}. <paramref name="to"/> must be free when the parent is outside every segment, or untyped live
    /// body of the parent's own segment when it is inside one. With <paramref name="copy"/> the new blocks
    /// get the old blocks' current bytes, and a metadata block's children become the copy's; without it they
    /// keep their own bytes (zeros for a free block, what the holder wrote for a body block) and both must
    /// own nothing. <paramref name="from"/> is freed as by <see cref="Free"/>: reusable (or, inside a segment,
    /// writable body again) only once the parent's redirected bytes are durable (rule 2).
    /// Crash semantics: the parent's single write carries the change. It is tainted until <paramref name="to"/>
    /// is on disk (XN writes to first, a barrier, then the parent), and <paramref name="from"/> is not reused
    /// before the parent's write is durable, so every crash state has exactly one of them reachable, with its
    /// contents; the other is at worst a leak (allocated, unreachable) that a scan recovers. Needs Alloc and Free.
    /// </summary>
    public XnResult Redirect(BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent from, Extent to, bool copy = true)
    {
        return Call(() => _vol.RedirectLocked(this, parent, partition, edits, from, to, copy));
    }

    /// <summary>
    /// Writes the segment holding <paramref name="block"/> now: every dirty block in it, children before
    /// parents (its filled body as one device request, a barrier, then the summaries that name it, the head
    /// last), after whatever those blocks must follow; then a barrier, so what the caller writes next (the
    /// segment's parent, a checkpoint) is ordered after the segment. Not a flush: durability comes with a
    /// later <see cref="Sync"/>. Needs no rights (anyone may ask for write-back); refused with
    /// <see cref="XnError.OutsideSegment"/> for a block in no segment.
    /// </summary>
    public XnResult WriteBackSegment(BlockNo block) => Call(() => _vol.WriteBackSegmentLocked(block.Value));

    /// <summary>
    /// Writes whole blocks <paramref name="start"/>, start+1, ... from <paramref name="blocks"/> (a multiple of
    /// 4096 bytes) in one call: each block must be writable whole (xn.data, or untyped segment body), with
    /// the checks of <see cref="WriteRaw(BlockNo, int, ReadOnlySpan{byte})"/>. All are checked before any is
    /// written, so a refusal writes none. The way to fill a partial segment; its write-back is one request.
    /// Needs Write.
    /// </summary>
    public XnResult WriteBlocks(BlockNo start, ReadOnlySpan<byte> blocks)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.WriteBlocksLocked(this, start, blocks); }
            finally { Leave(); }
        }
    }

    /// <summary>
    /// Writes whole untyped body blocks <paramref name="start"/>, start+1, ... from <paramref name="blocks"/> (a
    /// multiple of 4096 bytes) straight to the device as one request, with no cache page per block: a log's
    /// filled part of a segment, written once. The run may go on into the following segments at their heads
    /// (consecutive segments, one request): a head in the run must own nothing yet (a segment just bound,
    /// else <see cref="XnError.NotEmpty"/>), and XN writes its own bytes there, copying them into
    /// <paramref name="blocks"/> at its place. Each body block needs Write and must be live untyped body (else
    /// <see cref="XnError.OutsideSegment"/>, <see cref="XnError.NotFree"/> if typed,
    /// <see cref="XnError.FreeDeferred"/> if dead); all are checked before any is written. Legal at once:
    /// nothing names an untyped body block, and once written it is on disk, so a later <see cref="Claim"/> of
    /// it waits for nothing (the head that claims it is ordered after it by XN's barrier). Blocks in
    /// <paramref name="keepPages"/> also keep a cache page with their bytes (blocks the caller will claim into
    /// a metadata type: the claim's owns check reads the page instead of the device). In flight like any
    /// write-back: durable at the next <see cref="Sync"/>, and forgotten at a reload unless claimed.
    /// Xn/Updates/Segments.cs.
    /// </summary>
    public XnResult WriteBodyThrough(BlockNo start, Span<byte> blocks, IReadOnlyList<Extent>? keepPages = null)
    {
        lock (_vol.Gate)
        {
            var refused = Enter();
            if (!refused.Ok) return refused;
            try { return _vol.WriteBodyThroughLocked(this, start, blocks, keepPages); }
            finally { Leave(); }
        }
    }

    /// <summary>The segment holding <paramref name="block"/> (head first), if it is in one. Needs Read.</summary>
    public XnResult<Extent> SegmentOf(BlockNo block) => Call(() => _vol.SegmentOfLocked(this, block));
}

/// <summary>What <see cref="XnSession.CountFree"/> reports for a range: blocks free now, and blocks freed whose reuse waits for a sync.</summary>
public readonly record struct XnFreeCount(ulong Free, ulong Deferred)
{
    /// <summary>Blocks no live pointer owns: free now, or freed and waiting for a sync.</summary>
    public ulong FreeOrDeferred => Free + Deferred;
}

