using ExoFS.Kernel.Udf;
using ExoFS.Xn.Format;
using ExoFS.Xn.Types;

namespace ExoFS.Xn.Recovery;

/// <summary>
/// Recovery without a scan: settles each block of the in-flight record (Xn/Ordering/InFlight.cs) by running
/// its recorded parent's owns-UDF over the parent's durable bytes, O(blocks in flight) and never a walk of
/// the disk. A block is allocated iff one of its recorded parents is allocated, has the recorded type, and
/// owns it. A parent is allocated if it is in flight itself and settled allocated (as the type recorded),
/// or else if the persisted map says so: the record's invariant (Xn/README.md, "Recovery") is that every
/// block the map marks allocated and no record entry names is reachable. A parent whose owns-UDF faults
/// decides nothing: its blocks stay as the map says (a leak at worst, never a lost block).
/// </summary>
internal sealed class InFlightRecovery
{
    private readonly ulong _blockCount;
    private readonly ulong _reservedEnd;
    private readonly TypeTable _types;
    private readonly Func<ulong, bool> _mapAllocated;
    private readonly Func<ulong, byte[]?> _readBlock;
    private readonly Dictionary<ulong, List<(ulong Parent, TypeId Type)>> _parentsOf = new();
    private readonly Dictionary<ulong, (bool Allocated, TypeId Type)?> _decided = new();   // null while deciding
    private readonly Dictionary<(ulong, TypeId), List<(ulong Start, ulong Count, TypeId Type, bool Segment)>?> _owns = new();

    public InFlightRecovery(ulong blockCount, ulong reservedEnd, TypeTable types, Func<ulong, bool> mapAllocated, Func<ulong, byte[]?> readBlock)
    {
        _blockCount = blockCount;
        _reservedEnd = reservedEnd;
        _types = types;
        _mapAllocated = mapAllocated;
        _readBlock = readBlock;
    }

    /// <summary>Owns-UDF faults or unreadable parents met (their blocks were left as the map says).</summary>
    public List<string> Undecided { get; } = new();

    /// <summary>
    /// Block → allocated, for every block the entries name. Entries naming blocks off the disk or over XN's
    /// reserved area, or an unknown type, are ignored (a damaged record decides nothing it cannot).
    /// </summary>
    public Dictionary<ulong, bool> Settle(IEnumerable<InFlightRecord.Entry> entries)
    {
        foreach (var e in entries)
        {
            if (e.Start < _reservedEnd || e.Start >= _blockCount || e.Count == 0 || e.Count > _blockCount - e.Start) continue;
            if (e.Parent >= _blockCount || e.ParentType > ushort.MaxValue || _types.Get(new TypeId((ushort)e.ParentType)) is null) continue;
            for (ulong b = e.Start; b < e.Start + e.Count; b++)
            {
                if (!_parentsOf.TryGetValue(b, out var list)) _parentsOf[b] = list = new();
                list.Add((e.Parent, new TypeId((ushort)e.ParentType)));
            }
        }
        var result = new Dictionary<ulong, bool>(_parentsOf.Count);
        foreach (ulong b in _parentsOf.Keys) result[b] = Decide(b)?.Allocated ?? _mapAllocated(b);
        return result;
    }

    /// <summary>Whether <paramref name="block"/> is allocated and as what; null when it cannot be told.</summary>
    private (bool Allocated, TypeId Type)? Decide(ulong block)
    {
        if (_decided.TryGetValue(block, out var known))
            // A cycle of parents (only a damaged record has one) supports nothing.
            return known ?? (false, default);
        _decided[block] = null;
        (bool, TypeId)? verdict = (false, default);
        bool unknown = false;
        foreach (var (parent, type) in _parentsOf[block])
        {
            if (!Live(parent, type)) continue;
            var owned = Owns(parent, type);
            if (owned is null) { unknown = true; continue; }
            foreach (var x in owned)
                if (block >= x.Start && block - x.Start < x.Count)
                {
                    // A segment's head has the segment type; its body is untyped (data) until claimed from inside.
                    verdict = (true, x.Segment && block != x.Start ? XnTypes.Data : x.Type);
                    goto done;
                }
        }
        if (unknown) verdict = null;
    done:
        _decided[block] = verdict;
        return verdict;
    }

    /// <summary>Whether <paramref name="parent"/> is allocated as <paramref name="type"/> after the crash.</summary>
    private bool Live(ulong parent, TypeId type)
    {
        if (_parentsOf.ContainsKey(parent))
            return Decide(parent) is { Allocated: true } d && d.Type == type;
        return parent >= _reservedEnd && _mapAllocated(parent);
    }

    /// <summary>What the parent's durable bytes own, every partition; null if it cannot be read or its owns faults.</summary>
    private List<(ulong Start, ulong Count, TypeId Type, bool Segment)>? Owns(ulong parent, TypeId type)
    {
        if (_owns.TryGetValue((parent, type), out var cached)) return cached;
        var t = _types.Get(type)!;
        List<(ulong, ulong, TypeId, bool)>? result = new();
        if (!t.IsData)
        {
            var bytes = _readBlock(parent);
            if (bytes is null)
            {
                Undecided.Add($"block {parent} could not be read");
                result = null;
            }
            else
            {
                var output = new List<UdfExtent>();
                for (int p = 0; p < t.Partitions && result is not null; p++)
                {
                    output.Clear();
                    var r = t.Owns!.Run(bytes, p, output);
                    if (!r.Ok)
                    {
                        Undecided.Add($"owns of block {parent} ('{t.Name}') partition {p} faults ({r.Fault})");
                        result = null;
                        break;
                    }
                    foreach (var x in output)
                    {
                        var ct = t.ChildTypes[x.TypeIndex];
                        result.Add((x.Start, x.Count, ct, _types.Get(ct)!.Spec.Segment));
                    }
                }
            }
        }
        _owns[(parent, type)] = result;
        return result;
    }
}
