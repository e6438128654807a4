using ExoFS.Kernel.Disk;

namespace ExoFS.Xn.Ordering;

/// <summary>
/// Rule 2: an extent freed from a parent stays unusable until the parent's nullifying write is durable,
/// i.e. the parent was written after the free and a flush followed. If the parent itself is freed (and
/// so will never be written), its children's frees ride on the parent's own release: once no durable
/// pointer to the parent exists, its on-disk pointers no longer matter. Indexed by parent block, so a
/// write-back costs one lookup. Not thread-safe.
/// </summary>
internal sealed class DeferredFrees
{
    private sealed class Item(Extent extent, ulong parent)
    {
        public Extent Extent { get; } = extent;
        public ulong Parent { get; } = parent;
        public bool ParentWritten { get; set; }
    }

    private readonly Dictionary<ulong, List<Item>> _byParent = new();
    private int _count;

    public int Count => _count;

    public void Add(Extent extent, ulong parent)
    {
        if (!_byParent.TryGetValue(parent, out var list)) _byParent[parent] = list = new List<Item>();
        list.Add(new Item(extent, parent));
        _count++;
    }

    /// <summary>Records that <paramref name="block"/> was written (its current, nullified contents).</summary>
    public void Written(ulong block)
    {
        if (_byParent.TryGetValue(block, out var list))
            foreach (var i in list) i.ParentWritten = true;
    }

    /// <summary>
    /// Called right after a flush: removes and returns every extent whose parent write is now durable,
    /// plus (transitively) every extent freed from a block inside a released extent.
    /// </summary>
    public List<Extent> TakeReleasable()
    {
        var released = new List<Extent>();
        var queue = new Queue<Item>();
        foreach (var (parent, list) in _byParent.ToList())
        {
            foreach (var i in list.Where(i => i.ParentWritten)) queue.Enqueue(i);
            list.RemoveAll(i => i.ParentWritten);
            if (list.Count == 0) _byParent.Remove(parent);
        }
        while (queue.Count > 0)
        {
            var i = queue.Dequeue();
            _count--;
            released.Add(i.Extent);
            for (ulong b = i.Extent.Start.Value; b < i.Extent.End.Value; b++)
                if (_byParent.Remove(b, out var riders))
                    foreach (var r in riders) queue.Enqueue(r);
        }
        return released;
    }

    public IEnumerable<Extent> Pending => _byParent.Values.SelectMany(l => l).Select(i => i.Extent).OrderBy(e => e.Start);

    /// <summary>
    /// Forgets every deferred free freed from, or of, a block inside <paramref name="within"/> (a segment
    /// that went away whole: nothing inside it is reachable any more, so neither are its pointers).
    /// </summary>
    public void RemoveWithin(Extent within)
    {
        bool Inside(ulong b) => b >= within.Start.Value && b < within.End.Value;
        foreach (var (parent, list) in _byParent.ToList())
        {
            int removed = Inside(parent) ? list.Count : list.RemoveAll(i => Inside(i.Extent.Start.Value));
            _count -= removed;
            if (Inside(parent) || list.Count == 0) _byParent.Remove(parent);
        }
    }

    /// <summary>Forgets every deferred free (recovery by scan recomputes the free map from scratch).</summary>
    public void TakeAll()
    {
        _byParent.Clear();
        _count = 0;
    }
}
