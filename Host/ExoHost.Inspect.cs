using ExoFS.Kernel.Udf;
using ExoFS.Xn;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;

namespace ExoFS.Host;

/// <summary>One extent a UDF emitted: the child type's name, first block, block count.</summary>
public sealed record InspectExtent(string Type, ulong Start, ulong Count);

/// <summary>One UDF run on a block: which UDF ("owns", "acl", "size") and partition, its verdict, what it emitted.</summary>
public sealed record InspectUdfRun(string Udf, int Partition, string Verdict, IReadOnlyList<InspectExtent> Extents);

/// <summary>
/// What XN knows about one block: the area it lies in, whether the free map has it allocated, who owns it in the
/// ownership graph (root, type, parent block and partition; null when no root reaches it), its registry entry
/// (null when not in memory) and, for a metadata block, its type's UDFs run on its current bytes.
/// <see cref="UntypedBody"/>: the block is in the body of a segment and nothing in the segment types it (it counts as
/// data of the segment, as XN's reachability counts it; the parent is the segment's head).
/// </summary>
public sealed record InspectBlock(ulong Block, string Area, bool Allocated, bool DeferredFree, string? Root, string? Type,
    ulong? Parent, string? ParentType, int? Partition, string? Registry, IReadOnlyList<InspectUdfRun> Udfs, bool UntypedBody = false);

/// <summary>
/// Read-only views of the volume for <c>exofs inspect</c> (a debugfs for ExoFS): block ownership, the UDFs of a
/// type run on a block, free extents. Each takes the volume's lock for its whole walk, so it sees one consistent
/// state (the live one: cached, not yet written blocks as XN holds them) and changes nothing.
/// </summary>
public sealed partial class ExoHost
{
    /// <summary>Everything XN knows about block <paramref name="block"/>; null when it is past the end of the disk.</summary>
    public InspectBlock? InspectBlock(ulong block)
    {
        lock (_volume.Gate)
        {
            var g = _volume.Geometry;
            if (block >= g.BlockCount) return null;
            string area = block == 0 ? "superblock"
                : block >= g.FreeMapStart && block < g.FreeMapStart + g.FreeMapBlocks ? "free map"
                : block >= g.CatalogueStart && block < g.CatalogueStart + 2 * g.CatalogueSlotBlocks ? "root catalogue"
                : block < g.FirstDataBlock ? "reserved" : "data";
            bool allocated = _volume.FreeMap.IsAllocated(block), deferred = _volume.FreeMap.IsDeferred(block);
            string? registry = _volume.Registry.TryGetValue(block, out var entry) ? entry.ToString() : null;

            // Walk the ownership graph from the roots, remembering each block's parent, until block is found.
            string? root = null, parentType = null;
            TypeId? type = null;
            ulong? parent = null;
            int? partition = null;
            var seen = new HashSet<ulong>();
            var stack = new Stack<(ulong Block, TypeId Type, string Root)>();
            foreach (var r in _volume.Roots())
            {
                var t = _volume.TypeTable.Find(r.Type);
                if (t is null) continue;
                if (r.Block.Value == block) { root = r.Name; type = t.Id; break; }
                if (seen.Add(r.Block.Value)) stack.Push((r.Block.Value, t.Id, r.Name));
            }
            var output = new List<UdfExtent>();
            // A segment's body is typed from inside (its head's claims), as XN's reachability walks it: a body
            // block the walk reaches through no claim is the segment's untyped body.
            (string Root, ulong Head, string HeadType)? body = null;
            while (type is null && stack.Count > 0)
            {
                var (b, typeId, rootName) = stack.Pop();
                var t = _volume.TypeTable.Get(typeId)!;
                if (t.IsData || ReadLive(b) is not { } bytes) continue;
                for (int p = 0; p < t.Partitions && type is null; p++)
                {
                    output.Clear();
                    if (!t.Owns!.Run(bytes, p, output).Ok) continue;
                    foreach (var x in output)
                    {
                        var child = t.ChildTypes[x.TypeIndex];
                        var childType = _volume.TypeTable.Get(child)!;
                        bool segment = childType.Spec.Segment;
                        if (block >= x.Start && block - x.Start < x.Count && !(segment && block != x.Start))
                        {
                            (root, type, parent, parentType, partition) = (rootName, child, b, t.Name, p);
                            break;
                        }
                        if (segment && block > x.Start && block - x.Start < x.Count) body = (rootName, x.Start, childType.Name);
                        if (childType.IsData) continue;
                        if (segment) { if (x.Start < g.BlockCount && seen.Add(x.Start)) stack.Push((x.Start, child, rootName)); continue; }
                        for (ulong c = x.Start; c < x.Start + x.Count && c < g.BlockCount; c++)
                            if (seen.Add(c)) stack.Push((c, child, rootName));
                    }
                }
            }
            if (type is null && body is { } seg)
                return new InspectBlock(block, area, allocated, deferred, seg.Root, XnTypes.DataName, seg.Head, seg.HeadType, null, registry, [],
                    UntypedBody: true);
            var udfs = type is { } found ? RunUdfsLocked(_volume.TypeTable.Get(found)!, block) : [];
            return new InspectBlock(block, area, allocated, deferred, root, type is { } tt ? _volume.TypeTable.Get(tt)!.Name : null,
                parent, parentType, partition, registry, udfs);
        }
    }

    /// <summary>
    /// Runs type <paramref name="typeName"/>'s UDFs on block <paramref name="block"/>'s current bytes: owns on every
    /// partition (its extents), acl on every partition (would XN allow these bytes?), size. Null with
    /// <paramref name="error"/> when the type or block does not exist.
    /// </summary>
    public IReadOnlyList<InspectUdfRun>? RunUdfs(string typeName, ulong block, out string? error)
    {
        lock (_volume.Gate)
        {
            error = null;
            var t = _volume.TypeTable.Find(typeName);
            if (t is null) { error = $"no type named '{typeName}' (types: {string.Join(", ", _volume.Types().Select(x => x.Spec.Name))})"; return null; }
            if (block >= _volume.BlockCount) { error = $"block {block} is past the end of the disk ({_volume.BlockCount} blocks)"; return null; }
            return RunUdfsLocked(t, block);
        }
    }

    /// <summary>The free extents of the data area, by the free map (blocks whose free is deferred count as allocated).</summary>
    public IReadOnlyList<(ulong Start, ulong Count)> FreeExtents()
    {
        lock (_volume.Gate)
        {
            var list = new List<(ulong, ulong)>();
            ulong n = _volume.BlockCount, start = 0, run = 0;
            for (ulong b = _volume.Geometry.FirstDataBlock; b < n; b++)
            {
                if (!_volume.FreeMap.IsAllocated(b)) { if (run++ == 0) start = b; continue; }
                if (run > 0) list.Add((start, run));
                run = 0;
            }
            if (run > 0) list.Add((start, run));
            return list;
        }
    }

    private List<InspectUdfRun> RunUdfsLocked(XnType t, ulong block)
    {
        var runs = new List<InspectUdfRun>();
        if (ReadLive(block) is not { } bytes) { runs.Add(new InspectUdfRun("read", 0, "the block cannot be read", [])); return runs; }
        var output = new List<UdfExtent>();
        string Fault(UdfResult r) => $"faults ({r.Fault})";
        for (int p = 0; p < t.Partitions; p++)
        {
            output.Clear();
            var r = t.Owns!.Run(bytes, p, output);
            runs.Add(new InspectUdfRun("owns", p, r.Ok ? $"{output.Count} extent(s)" : Fault(r),
                output.Select(x => new InspectExtent(_volume.TypeTable.Get(t.ChildTypes[x.TypeIndex])!.Name, x.Start, x.Count)).ToList()));
        }
        if (t.Acl is { } acl)
            for (int p = 0; p < Math.Max(1, acl.Partitions); p++)
            {
                output.Clear();
                var r = acl.Run(bytes, p, output);
                runs.Add(new InspectUdfRun("acl", p, !r.Ok ? Fault(r) : r.Value != 0 ? "allows these bytes" : "refuses these bytes", []));
            }
        if (t.Size is { } size)
        {
            output.Clear();
            var r = size.Run(bytes, 0, output);
            runs.Add(new InspectUdfRun("size", 0, r.Ok ? $"{r.Value} meaningful byte(s)" : Fault(r), []));
        }
        return runs;
    }

    /// <summary>The block as XN holds it now: the cached copy if there is one, else the device's. Caller holds the volume's lock.</summary>
    private byte[]? ReadLive(ulong block)
    {
        var buffer = new byte[Kernel.Disk.IBlockDevice.BlockSize];
        if (_volume.Registry.TryGetValue(block, out RegistryEntry? e) && (e.Cached || e.ZeroFill))
        {
            if (e.Cached) e.Bytes.CopyTo(buffer);
            return buffer;
        }
        try { _device.Read(new Kernel.Disk.BlockNo(block), buffer); return buffer; }
        catch (IOException) { return null; }
    }
}
