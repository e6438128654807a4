using ExoFS.Kernel.Udf;
using ExoFS.Xn.Types;

namespace ExoFS.Xn.Recovery;

/// <summary>
/// Walks the ownership graph from the root catalogue through the owns-UDFs of every metadata block,
/// marking each block with its owner and type, and reporting what a walk can see is wrong: blocks owned
/// twice (or with conflicting types), extents off the disk or over XN's reserved area, owns-UDFs that
/// fault. It reads blocks through a caller-supplied function (the live cache view or the raw disk), so
/// the same walk serves Check, recovery by scan and fsck. Bounded: each block is expanded at most once.
/// </summary>
internal sealed class Reachability
{
    private readonly ulong _blockCount;
    private readonly ulong _reservedEnd;
    private readonly TypeTable _types;
    private readonly Func<ulong, byte[]?> _readBlock;

    public Reachability(ulong blockCount, ulong reservedEnd, TypeTable types, Func<ulong, byte[]?> readBlock)
    {
        _blockCount = blockCount;
        _reservedEnd = reservedEnd;
        _types = types;
        _readBlock = readBlock;
    }

    /// <summary>Block → type of every reachable block (roots included; a segment's untyped body as xn.data).</summary>
    public Dictionary<ulong, TypeId> Reached { get; } = new();

    // Segments (Xn/Updates/Segments.cs): head → end of every segment reached, the segment of every typed
    // block inside one, and the body blocks no emission inside their segment has typed yet.
    private readonly Dictionary<ulong, ulong> _segmentEnd = new();
    private readonly Dictionary<ulong, ulong> _segmentOf = new();
    private readonly HashSet<ulong> _untypedBody = new();
    public List<XnFinding> Findings { get; } = new();

    public void Walk(IEnumerable<(string Name, ulong Block, TypeId Type)> roots)
    {
        var stack = new Stack<(ulong Block, TypeId Type)>();
        foreach (var (name, block, type) in roots)
        {
            if (block < _reservedEnd || block >= _blockCount)
            {
                Findings.Add(new XnFinding(XnFindingKind.OutOfDisk, block, $"root '{name}' block is outside the data area"));
                continue;
            }
            if (Claim(block, type, $"root '{name}'")) stack.Push((block, type));
        }
        var output = new List<UdfExtent>();
        while (stack.Count > 0)
        {
            var (block, typeId) = stack.Pop();
            var t = _types.Get(typeId)!;
            if (t.IsData) continue;
            var bytes = _readBlock(block);
            if (bytes is null)
            {
                Findings.Add(new XnFinding(XnFindingKind.Corrupt, block, "block could not be read"));
                continue;
            }
            for (int p = 0; p < t.Partitions; p++)
            {
                output.Clear();
                var r = t.Owns!.Run(bytes, p, output);
                if (!r.Ok)
                {
                    Findings.Add(new XnFinding(XnFindingKind.OwnsFault, block, $"owns of type '{t.Name}' partition {p} faults ({r.Fault})"));
                    continue;
                }
                if (t.Size is { } size) CheckSize(t, size, bytes, p, output, block);
                bool inSegment = _segmentOf.TryGetValue(block, out ulong seg);
                foreach (var x in output)
                {
                    var childType = t.ChildTypes[x.TypeIndex];
                    string owner = $"block {block} ('{t.Name}') partition {p}";
                    var ct = _types.Get(childType)!;
                    if (x.Start >= _blockCount || x.Count > _blockCount - x.Start)
                    {
                        Findings.Add(new XnFinding(XnFindingKind.OutOfDisk, x.Start, $"{owner} owns [{x.Start}+{x.Count}] past the end of the disk"));
                        continue;
                    }
                    if (x.Start < _reservedEnd)
                    {
                        Findings.Add(new XnFinding(XnFindingKind.Reserved, x.Start, $"{owner} owns [{x.Start}+{x.Count}] over XN's reserved blocks"));
                        continue;
                    }
                    if (inSegment)
                    {
                        // Confinement: a block inside a segment owns only untyped body blocks of its segment.
                        ulong end = _segmentEnd[seg];
                        if (ct.Spec.Segment || x.Start <= seg || x.Start >= end || x.Count > end - x.Start)
                        {
                            Findings.Add(new XnFinding(XnFindingKind.OutsideSegment, x.Start,
                                $"{owner}, inside segment [{seg}+{end - seg}], owns {(ct.Spec.Segment ? "a segment " : "")}[{x.Start}+{x.Count}] outside its body"));
                            continue;
                        }
                        for (ulong b = x.Start; b < x.Start + x.Count; b++)
                        {
                            if (_untypedBody.Remove(b)) Reached[b] = childType;
                            else if (!Claim(b, childType, owner)) continue;
                            _segmentOf[b] = seg;
                            if (!ct.IsData) stack.Push((b, childType));
                        }
                        continue;
                    }
                    if (ct.Spec.Segment)
                    {
                        // One segment: the head has the segment type; the rest is body, typed from inside.
                        if (!Claim(x.Start, childType, owner)) continue;
                        _segmentEnd[x.Start] = x.Start + x.Count;
                        _segmentOf[x.Start] = x.Start;
                        for (ulong b = x.Start + 1; b < x.Start + x.Count; b++)
                            if (Claim(b, XnTypes.Data, $"segment [{x.Start}+{x.Count}] of {owner}")) _untypedBody.Add(b);
                        stack.Push((x.Start, childType));
                        continue;
                    }
                    for (ulong b = x.Start; b < x.Start + x.Count; b++)
                        if (Claim(b, childType, owner) && !ct.IsData) stack.Push((b, childType));
                }
            }
        }
    }

    /// <summary>Marks <paramref name="block"/> reached; false (with a finding) if someone already owns it.</summary>
    private readonly List<UdfExtent> _sizeScratch = new();

    /// <summary>The invariant every update keeps (Xn/README.md, "acl and size"): partition p owns at most ceil(S/4096) sized blocks.</summary>
    private void CheckSize(XnType t, VerifiedUdf size, byte[] bytes, int p, List<UdfExtent> owned, ulong block)
    {
        _sizeScratch.Clear();
        var sr = size.Run(bytes, p, _sizeScratch);
        ulong blocks = Updates.UpdateChecks.SizedBlocks(t, owned);
        if (!sr.Ok || sr.Value < 0)
        {
            Findings.Add(new XnFinding(XnFindingKind.SizeMismatch, block,
                $"size UDF of type '{t.Name}' partition {p} gives {(sr.Ok ? sr.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : sr.Fault.ToString())}, not a size"));
            return;
        }
        ulong covered = ((ulong)sr.Value + 4095) / 4096;
        if (blocks > covered)
            Findings.Add(new XnFinding(XnFindingKind.SizeMismatch, block,
                $"type '{t.Name}' partition {p} owns {blocks} sized block(s) but its size of {sr.Value} bytes covers {covered}"));
    }

    private bool Claim(ulong block, TypeId type, string owner)
    {
        if (Reached.TryGetValue(block, out var had))
        {
            Findings.Add(had == type
                ? new XnFinding(XnFindingKind.DoublyOwned, block, $"also owned by {owner}")
                : new XnFinding(XnFindingKind.WrongType, block, $"owned as '{_types.Get(had)!.Name}' and by {owner} as '{_types.Get(type)!.Name}'"));
            return false;
        }
        Reached[block] = type;
        return true;
    }
}
