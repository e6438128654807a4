using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;

namespace ExoFS.Xn.Ordering;

/// <summary>
/// The blocks in flight: every extent whose allocation the persisted free map cannot settle, because a
/// pointer to it was added, removed or moved in a parent whose new bytes may not be durable yet. Each item
/// says "this extent is allocated iff the parent's durable bytes own it" (rule 1 makes a durable pointer
/// name initialized bytes, so the parent's owns-UDF can decide). Items come from Alloc (the new child),
/// Free (the freed extent; a deferred free), Move (both parents) and Redirect (both extents). An item
/// goes when its parent's write is durable (written, then a flush) and the parent itself is settled, or
/// when its extent is released (a deferred free whose parent was freed too rides on the parent's release).
/// The volume persists these items as the <see cref="InFlightRecord"/> before any free-map block that
/// marks one allocated, and after the free-map blocks that release one (Xn/README.md, "Recovery").
/// Not thread-safe: the volume lock guards it.
/// </summary>
internal sealed class InFlight
{
    private sealed class Item(Extent extent, ulong parent, TypeId parentType)
    {
        public Extent Extent { get; set; } = extent;
        public ulong Parent { get; } = parent;
        public TypeId ParentType { get; } = parentType;
        public bool ParentWritten { get; set; }
    }

    private readonly Dictionary<ulong, List<Item>> _byParent = new();
    private int _count;

    /// <summary>Items now.</summary>
    public int Count => _count;
    /// <summary>Whether the items differ from the record last persisted.</summary>
    public bool Changed { get; private set; }
    /// <summary>The record must be rewritten (after a load, or a write that failed).</summary>
    public void MarkChanged() => Changed = true;

    /// <summary>
    /// Records that <paramref name="extent"/>'s allocation now depends on <paramref name="parent"/>'s bytes.
    /// An extent right after the parent's newest unwritten item joins it (a file's blocks, one at a time).
    /// </summary>
    public void Add(Extent extent, ulong parent, TypeId parentType)
    {
        if (!_byParent.TryGetValue(parent, out var list)) _byParent[parent] = list = new List<Item>();
        if (list.Count > 0 && list[^1] is { ParentWritten: false } last && last.ParentType == parentType
            && last.Extent.End.Value == extent.Start.Value)
            last.Extent = new Extent(last.Extent.Start, last.Extent.Count + extent.Count);
        else
        {
            list.Add(new Item(extent, parent, parentType));
            _count++;
        }
        Changed = true;
    }

    /// <summary><paramref name="block"/>'s current bytes were written: its items settle at the next flush.</summary>
    public void Written(ulong block)
    {
        if (_byParent.TryGetValue(block, out var list))
            foreach (var i in list) i.ParentWritten = true;
    }

    /// <summary>
    /// Called right after a flush: drops every item whose parent's write is now durable, once the parent is
    /// not itself in flight (a settled pointer in an unsettled parent settles nothing), until none changes.
    /// </summary>
    public void Durable()
    {
        bool removed;
        do
        {
            removed = false;
            var covered = Covered();
            foreach (var (parent, list) in _byParent.ToList())
            {
                if (InAny(covered, parent)) continue;
                int n = list.RemoveAll(i => i.ParentWritten);
                if (n == 0) continue;
                _count -= n;
                removed = Changed = true;
                if (list.Count == 0) _byParent.Remove(parent);
            }
        } while (removed);
    }

    /// <summary>
    /// Drops the items of extents now released (free in the map: their blocks are settled free), and every
    /// item whose parent was released (nothing durable reaches that parent, so its bytes decide nothing; and
    /// the block may be reused as another type).
    /// </summary>
    public void Released(IReadOnlyList<Extent> released)
    {
        if (released.Count == 0 || _count == 0) return;
        var sorted = new Extents(released);
        foreach (var (parent, list) in _byParent.ToList())
        {
            bool parentGone = InAny(sorted, parent);
            int n = parentGone ? list.Count : list.RemoveAll(i => InAny(sorted, i.Extent.Start.Value) && InAny(sorted, i.Extent.End.Value - 1));
            if (n == 0) continue;
            _count -= n;
            Changed = true;
            if (parentGone || list.Count == 0) _byParent.Remove(parent);
        }
    }

    /// <summary>Forgets every item (recovery by scan settles every block).</summary>
    public void Clear()
    {
        if (_count > 0) Changed = true;
        _byParent.Clear();
        _count = 0;
    }

    /// <summary>The items as the record stores them; marks them persisted.</summary>
    public List<InFlightRecord.Entry> Snapshot()
    {
        Changed = false;
        var entries = new List<InFlightRecord.Entry>(_count);
        foreach (var i in _byParent.Values.SelectMany(l => l))
            // An entry counts at most 2^32 - 1 blocks; a longer extent takes several.
            for (ulong at = i.Extent.Start.Value, left = i.Extent.Count; left > 0;)
            {
                uint n = (uint)Math.Min(left, uint.MaxValue);
                entries.Add(new InFlightRecord.Entry(at, n, i.ParentType.Value, i.Parent));
                at += n;
                left -= n;
            }
        entries.Sort((a, b) => a.Start.CompareTo(b.Start));
        return entries;
    }

    private Extents Covered() => new(_byParent.Values.SelectMany(l => l).Select(i => i.Extent));

    private static bool InAny(Extents set, ulong block) => set.Contains(block);

    /// <summary>A set of extents (they may overlap) answering "is this block in one" in O(log n) mostly.</summary>
    private sealed class Extents
    {
        private readonly ulong[] _start, _end, _maxEnd;

        public Extents(IEnumerable<Extent> extents)
        {
            var sorted = extents.Select(e => (e.Start.Value, e.End.Value)).OrderBy(e => e.Item1).ToArray();
            _start = sorted.Select(e => e.Item1).ToArray();
            _end = sorted.Select(e => e.Item2).ToArray();
            _maxEnd = new ulong[sorted.Length];
            for (int i = 0; i < sorted.Length; i++) _maxEnd[i] = Math.Max(_end[i], i > 0 ? _maxEnd[i - 1] : 0);
        }

        public bool Contains(ulong block)
        {
            int at = Array.BinarySearch(_start, block);
            if (at < 0) at = ~at - 1;
            else while (at + 1 < _start.Length && _start[at + 1] == block) at++;
            // Walk back while an earlier extent may still reach the block (the running maximum of ends says).
            for (int i = at; i >= 0 && _maxEnd[i] > block; i--)
                if (_end[i] > block) return true;
            return false;
        }
    }
}
