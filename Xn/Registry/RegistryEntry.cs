using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Memory;
using ExoFS.Kernel.Udf;
using ExoFS.Xn.Types;

namespace ExoFS.Xn.Registry;

/// <summary>
/// What XN knows about one disk block it has seen through a parent's owns output: its type, its parent
/// (block and partition; roots have the catalogue as parent), which root it hangs under (for capability
/// checks), and — when the block is cached — its page and state. An entry can exist without a page:
/// reading a parent registers its children so that reading them later needs no search.
/// </summary>
internal sealed class RegistryEntry(ulong block, TypeId type, ulong parent, int partition, int root)
{
    /// <summary>Parent value of a root block: the root catalogue.</summary>
    public const ulong CatalogueParent = ulong.MaxValue;

    private PageFrame? _frame;
    private bool _dirty;
    private bool _onDisk = true;
    private int _refCount;

    /// <summary>The registry indexing this entry (told of every state change that matters to eviction); null once removed.</summary>
    internal BlockRegistry? Owner { get; set; }
    /// <summary>This entry's node in the registry's evictable list it is on, if any.</summary>
    internal LinkedListNode<RegistryEntry>? EvictNode { get; set; }
    /// <summary>This entry's node in the registry's dirty list, if dirty.</summary>
    internal LinkedListNode<RegistryEntry>? DirtyNode { get; set; }

    public ulong Block { get; } = block;
    public TypeId Type { get; set; } = type;
    public ulong Parent { get; set; } = parent;
    public int Partition { get; set; } = partition;
    /// <summary>Index of the root this block hangs under.</summary>
    public int Root { get; set; } = root;

    /// <summary>The page frame caching the block (4096 bytes), or null when the block is not in memory.</summary>
    public PageFrame? Frame { get => _frame; set { _frame = value; Owner?.Changed(this); } }
    /// <summary>Whether the block is cached.</summary>
    public bool Cached => Frame is not null;
    /// <summary>The cached bytes (the block must be cached).</summary>
    public Span<byte> Bytes => Frame!.Bytes.Span;
    /// <summary>The page differs from the disk.</summary>
    public bool Dirty { get => _dirty; set { if (_dirty != value) { _dirty = value; Owner?.Changed(this); } } }
    /// <summary>The block's contents are initialized on disk (false after Alloc until its first write-back).</summary>
    public bool OnDisk { get => _onDisk; set { if (_onDisk != value) { _onDisk = value; Owner?.Changed(this); } } }
    /// <summary>A write of this block is being issued.</summary>
    public bool InIo { get; set; }
    /// <summary>Number of sessions that have bound (read) the page; a bound page is shared, not copied.</summary>
    public int RefCount { get => _refCount; set { _refCount = value; Owner?.Changed(this); } }
    /// <summary>
    /// Allocated by Alloc and still all zeros: no frame is spent on it until someone touches it, and its
    /// write-back writes a zero block (so no stale bytes of the block's previous life become reachable).
    /// </summary>
    public bool ZeroFill { get; set; }
    /// <summary>Whether the children named by this block's owns output are in the registry.</summary>
    public bool ChildrenRegistered { get; set; }

    /// <summary>No segment: the value of <see cref="Segment"/> for a block outside every segment.</summary>
    public const ulong NoSegment = ulong.MaxValue;
    /// <summary>The head block of the segment this block lies in (the head itself included), or <see cref="NoSegment"/>.</summary>
    public ulong Segment { get; set; } = NoSegment;
    /// <summary>An untyped body block of its segment: held by the segment, raw data to its holder, typed by no emission.</summary>
    public bool Body { get; set; }
    /// <summary>
    /// A body block given back inside its segment (Free or Redirect from a block of the segment) whose
    /// former parent's nullifying write is not durable yet (rule 2): neither written nor claimed until then.
    /// </summary>
    public bool Dead { get; set; }
    public bool InSegment => Segment != NoSegment;

    /// <summary>Rule 1 edges: children (allocated under this block) not yet written. Non-empty = tainted.</summary>
    public HashSet<ulong>? PendingChildren { get; set; }
    /// <summary>Soft ordering (rule 3 for Move; a libFS's WriteRaw-after): blocks that should reach the disk before this one.</summary>
    public HashSet<ulong>? WriteAfter { get; set; }
    /// <summary>
    /// Cached owns output per partition, as the UDF emitted it (type = index into the type's child types;
    /// valid while the page is cached); null = not computed.
    /// </summary>
    public List<UdfExtent>?[]? Outputs { get; set; }

    public bool Tainted => PendingChildren is { Count: > 0 };

    /// <summary>Drops a rule-1 edge (the child is on disk now); the block may become evictable.</summary>
    public void ChildWritten(ulong child)
    {
        if (PendingChildren?.Remove(child) == true && PendingChildren.Count == 0) Owner?.Changed(this);
    }
    public BlockNo BlockNo => new(Block);

    public override string ToString() =>
        $"block {Block} type {Type} parent {(Parent == CatalogueParent ? "catalogue" : Parent.ToString())}/{Partition}"
         + (Frame is null ? " (not cached)" : Dirty ? " dirty" : " clean") + (Tainted ? " tainted" : "") + (OnDisk ? "" : " uninitialized-on-disk");
}
