namespace ExoFS.Xn.Registry;

/// <summary>
/// The buffer cache registry (block → <see cref="RegistryEntry"/>) plus the indexes that keep cache
/// management off full scans: the <em>evictable</em> pages (cached, clean, initialized on disk, untainted),
/// kept least recently used first and split by whether a session has the page bound, and the
/// <em>dirty</em> entries, kept in the order they became dirty. An entry reports every change of the state
/// bits these sets depend on (<see cref="Changed"/>), so membership is always current and every operation
/// here is O(1); eviction costs O(pages evicted) and write-back under pressure O(dirty entries), never
/// O(registry). Not thread-safe: the volume calls it under its lock.
/// </summary>
internal sealed class BlockRegistry
{
    private readonly Dictionary<ulong, RegistryEntry> _map = new();
    private readonly LinkedList<RegistryEntry> _evictable = new();       // unbound; First = least recently used
    private readonly LinkedList<RegistryEntry> _evictableBound = new();  // bound by a reader's view
    private readonly LinkedList<RegistryEntry> _dirty = new();           // First = dirty the longest

    public int Count => _map.Count;
    public IEnumerable<RegistryEntry> Values => _map.Values;
    public int DirtyCount => _dirty.Count;
    /// <summary>Evictable pages nobody has bound, least recently used first.</summary>
    public LinkedList<RegistryEntry> Evictable => _evictable;
    /// <summary>Evictable pages some session has bound with a view (taken only by revocation).</summary>
    public LinkedList<RegistryEntry> EvictableBound => _evictableBound;
    /// <summary>Dirty entries, the longest dirty first.</summary>
    public LinkedList<RegistryEntry> Dirty => _dirty;

    public bool TryGetValue(ulong block, out RegistryEntry entry) => _map.TryGetValue(block, out entry!);
    public bool ContainsKey(ulong block) => _map.ContainsKey(block);

    /// <summary>Adds <paramref name="entry"/> (replacing any entry of that block, which must already be uncached).</summary>
    public void Add(RegistryEntry entry)
    {
        if (_map.Remove(entry.Block, out var old)) Detach(old);
        _map[entry.Block] = entry;
        entry.Owner = this;
        Changed(entry);
    }

    public bool Remove(ulong block, out RegistryEntry entry)
    {
        if (!_map.Remove(block, out entry!)) return false;
        Detach(entry);
        return true;
    }

    private void Detach(RegistryEntry e)
    {
        e.Owner = null;
        Unlink(e);
        if (e.DirtyNode is { } d) { _dirty.Remove(d); e.DirtyNode = null; }
    }

    /// <summary>Re-files <paramref name="e"/> after a change of its frame, dirty, on-disk, bound or taint state.</summary>
    public void Changed(RegistryEntry e)
    {
        if (e.Owner != this) return;
        if (e.Dirty) { if (e.DirtyNode is null) e.DirtyNode = _dirty.AddLast(e); }
        else if (e.DirtyNode is { } d) { _dirty.Remove(d); e.DirtyNode = null; }

        var want = e.Cached && !e.Dirty && e.OnDisk && !e.Tainted
            ? (e.RefCount > 0 ? _evictableBound : _evictable)
            : null;
        if (e.EvictNode?.List == want) return;
        Unlink(e);
        if (want is not null) e.EvictNode = want.AddLast(e);
    }

    /// <summary>Marks <paramref name="e"/> most recently used (if it is evictable).</summary>
    public void Touch(RegistryEntry e)
    {
        if (e.EvictNode is { List: { } list } node && node != list.Last)
        {
            list.Remove(node);
            list.AddLast(node);
        }
    }

    private static void Unlink(RegistryEntry e)
    {
        if (e.EvictNode is { List: { } list } node) list.Remove(node);
        e.EvictNode = null;
    }
}
