using ExoFS.Kernel.Disk;

namespace ExoFS.Xn.Ordering;

/// <summary>
/// Rule 2: an extent freed from a parent stays unusable until the parent's nullifying write is durable,
/// i.e. the parent was written after the free and a flush followed. If the parent itself is freed (and
/// so will never be written), its children's frees ride on the parent's own release: once no durable
/// pointer to the parent exists, its on-disk pointers no longer matter. Not thread-safe.
/// </summary>
internal sealed class DeferredFrees
{
    private sealed class Item(Extent extent, ulong parent)
    {
        public Extent Extent { get; } = extent;
        public ulong Parent { get; } = parent;
        public bool ParentWritten { get; set; }
    }

    private readonly List<Item> _items = new();

    public int Count => _items.Count;

    public void Add(Extent extent, ulong parent) => _items.Add(new Item(extent, parent));

    /// <summary>Records that <paramref name="block"/> was written (its current, nullified contents).</summary>
    public void Written(ulong block)
    {
        foreach (var i in _items) if (i.Parent == block) i.ParentWritten = true;
    }

    /// <summary>Whether some deferred free waits for <paramref name="block"/>'s write.</summary>
    public bool WaitsOn(ulong block) => _items.Any(i => i.Parent == block && !i.ParentWritten);

    /// <summary>
    /// Called right after a flush: removes and returns every extent whose parent write is now durable,
    /// plus (transitively) every extent freed from a block inside a released extent.
    /// </summary>
    public List<Extent> TakeReleasable()
    {
        var released = new List<Extent>();
        var queue = new Queue<Item>(_items.Where(i => i.ParentWritten));
        foreach (var i in queue) _items.Remove(i);
        while (queue.Count > 0)
        {
            var i = queue.Dequeue();
            released.Add(i.Extent);
            var riders = _items.Where(d => i.Extent.Contains(new BlockNo(d.Parent))).ToList();
            foreach (var d in riders) { _items.Remove(d); queue.Enqueue(d); }
        }
        return released;
    }

    public IEnumerable<Extent> Pending => _items.Select(i => i.Extent);

    /// <summary>Forgets every deferred free (recovery by scan recomputes the free map from scratch).</summary>
    public void TakeAll() => _items.Clear();
}
