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

    /// <summary>True when the volume was loaded read-only: every change is refused with <see cref="XnError.ReadOnly"/>.</summary>
    public bool IsReadOnly => _vol.IsReadOnly;

    internal bool Holds(int root, Rights needed) => _held.TryGetValue(root, out var r) && (r & needed) == needed;
    internal bool Bind(ulong block) => _bound.Add(block);
    internal bool Unbind(ulong block) => _bound.Remove(block);

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

    /// <summary>A free extent of <paramref name="count"/> blocks at or after <paramref name="hint"/> (wrapping). Nothing is reserved.</summary>
    public XnResult<BlockNo> FindFree(BlockNo hint, ulong count) => Call(() => _vol.FindFreeLocked(hint, count));

    /// <summary>How many blocks of the disk XN could give out now, to any session (disk information, not a reservation).</summary>
    public ulong FreeBlocks => _vol.FreeBlocks;

    /// <summary>
    /// Takes <paramref name="child"/> away from partition <paramref name="partition"/> of
    /// <paramref name="parent"/>: owns after = before − {child}. A metadata child must own nothing. The
    /// extent becomes reusable only once the parent's nullifying write is durable (a later Sync). Needs Free.
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
}
