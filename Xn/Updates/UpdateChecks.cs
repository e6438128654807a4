using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Udf;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;
using static ExoFS.Xn.XnResult;

namespace ExoFS.Xn.Updates;

/// <summary>
/// The checks every update shares (Updates/BlockUpdates.cs, Segments.cs): who may touch a block, whether
/// arguments and edits are legal, the proposal built in scratch, owns before/after compared with the claimed
/// difference, the acl- and size-UDFs on the proposed bytes, and the commit of the checked bytes. The
/// scratch buffers are reused per call (everything runs under the volume's lock).
/// </summary>
internal sealed class UpdateChecks
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly VolumeState _s;
    private readonly TypeTable _types;
    private readonly BlockRegistry _registry;
    private readonly Format.Layout _layout;
    private readonly PageCache _cache;
    private readonly List<UdfExtent> _udfOut = new();
    private readonly List<Edit> _edits = new();
    private readonly List<Owned> _expected = new();
    private readonly List<Owned> _scratchSorted = new();

    public UpdateChecks(VolumeState state, PageCache cache)
    {
        _s = state;
        _types = state.Types;
        _registry = state.Registry;
        _layout = state.Layout;
        _cache = cache;
    }

    /// <summary>Scratch pages for the proposed bytes (B: the second parent of a Move).</summary>
    internal byte[] ProposedA { get; } = new byte[BlockSize];
    internal byte[] ProposedB { get; } = new byte[BlockSize];
    // Owns outputs are kept as the UDF emitted them (type as an index into the type's child types): the
    // list a check's run filled becomes the cached output on commit, with no copy or conversion.
    internal List<UdfExtent> ScratchAfter { get; private set; } = new();
    internal List<UdfExtent> ScratchAfter2 { get; private set; } = new();

    internal XnResult Authorize(XnSession s, BlockNo block, Rights needed, out RegistryEntry entry)
    {
        if (!_registry.TryGetValue(block.Value, out entry!))
            return Fail(XnError.BadCapability, $"block {block} is not reachable from a root you hold (read its parent first)");
        if (!s.Holds(entry.Root, needed))
            return Fail(XnError.BadCapability, $"block {block} belongs to root '{_s.Roots[entry.Root].Name}', which you have not mounted with {needed} rights");
        return XnResult.Success;
    }

    internal static XnResult CheckPartition(XnType t, int partition)
    {
        if (t.IsData) return Fail(XnError.BadPartition, $"type '{t.Name}' owns nothing: it has no partitions");
        if (partition < 0 || partition >= t.Partitions)
            return Fail(XnError.BadPartition, $"type '{t.Name}' has partitions 0..{t.Partitions - 1}, not {partition}");
        return XnResult.Success;
    }

    internal XnResult CheckExtent(Extent e)
    {
        if (e.Count == 0) return Fail(XnError.OutOfDisk, "an extent needs at least one block");
        if (e.Start.Value >= _layout.BlockCount || e.Count > _layout.BlockCount - e.Start.Value)
            return Fail(XnError.OutOfDisk, $"extent {e} does not fit on a disk of {_layout.BlockCount} blocks");
        return XnResult.Success;
    }

    internal static XnResult CheckEdits(XnType t, int partition, IReadOnlyList<Edit>? edits)
    {
        if (edits is null) return Fail(XnError.NotRawRange, "edits list is null");
        for (int i = 0; i < edits.Count; i++)
        {
            var ed = edits[i];
            var err = t.CheckEdit(partition, ed.Offset, ed.Bytes.Length);
            if (err == XnError.BadPartition)
                return Fail(err, $"edit [{ed.Offset},{ed.Offset + ed.Bytes.Length}) touches bytes of another partition than {partition}");
            if (err != XnError.None)
                return Fail(err, $"edit [{ed.Offset},{(long)ed.Offset + ed.Bytes.Length}) is outside partition {partition}'s read set and the raw-write ranges");
        }
        return XnResult.Success;
    }

    /// <summary>Metadata may be freed only once it owns nothing, so no child can be lost with it.</summary>
    internal XnResult CheckEmpty(Owned owned)
    {
        var ct = _types.Get(owned.Type)!;
        if (ct.IsData) return XnResult.Success;
        for (ulong b = owned.Start; b < owned.Start + owned.Count; b++)
        {
            // Still zero-filled: owns nothing (checked at registration), no need to materialize it.
            if (!_registry.TryGetValue(b, out var ce) || (ce.ZeroFill && !ce.Cached)) continue;
            var r = _cache.EnsurePage(ce);
            if (!r.Ok) return r;
            for (int p = 0; p < ct.Partitions; p++)
            {
                var o = _cache.Output(ce, ct, p, out var fault);
                if (o is null) return Fail(XnError.Corrupt, $"owns of block {b} partition {p} faults ({fault})");
                if (o.Count > 0) return Fail(XnError.NotEmpty, $"block {b} ('{ct.Name}') still owns {Resolve(ct, o[0]).Extent} (partition {p}); free its children first");
            }
        }
        return XnResult.Success;
    }

    internal static int IndexOf(List<UdfExtent> list, Extent e)
    {
        var s = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);
        for (int i = 0; i < s.Length; i++)
            if (s[i].Start == e.Start.Value && s[i].Count == e.Count) return i;
        return -1;
    }

    /// <summary>An emitted extent with its child type resolved.</summary>
    internal static Owned Resolve(XnType t, in UdfExtent x) => new(t.ChildTypes[x.TypeIndex], x.Start, x.Count);

    /// <summary>A copy of the caller's edit list (null stays null, for CheckEdits to refuse), reused per call.</summary>
    internal List<Edit>? Snapshot(IReadOnlyList<Edit>? edits)
    {
        if (edits is null) return null;
        _edits.Clear();
        for (int i = 0; i < edits.Count; i++) _edits.Add(edits[i]);
        return _edits;
    }

    /// <summary>The whole proposed block: the page with the edits applied (Move, which checks two partitions).</summary>
    internal static void Propose(ReadOnlySpan<byte> page, IReadOnlyList<Edit> edits, byte[] into)
    {
        page.CopyTo(into);
        ApplyEdits(into, edits);
    }

    /// <summary>
    /// The proposed bytes the checks of an update to <paramref name="partition"/> read: the page's bytes
    /// in <see cref="XnType.CheckedBytes"/> (owns' and the acl's read sets for it), then the edits. The
    /// rest of <paramref name="into"/> keeps whatever earlier calls left there: no check of this partition
    /// can read it (the verifier confines each load to the run's partition's read set), and the commit
    /// copies only the edited ranges, which the edits wrote in full. This spares copying the whole block.
    /// </summary>
    internal static void ProposeFor(XnType t, int partition, ReadOnlySpan<byte> page, List<Edit> edits, byte[] into)
    {
        var r = t.CheckedBytes(partition);
        for (int i = 0; i < r.Length; i += 2) page[r[i]..r[i + 1]].CopyTo(into.AsSpan(r[i]));
        ApplyEdits(into, edits);
    }

    internal static void ApplyEdits(Span<byte> into, IReadOnlyList<Edit> edits)
    {
        for (int i = 0; i < edits.Count; i++) edits[i].Bytes.Span.CopyTo(into[edits[i].Offset..]);
    }

    // Most types have neither an acl nor a size-UDF: that test stays inline in every update.
    /// <summary>
    /// The acl and size checks of an update to <paramref name="partition"/> of <paramref name="e"/> on the
    /// proposed bytes, with owns after = <paramref name="after"/>. An edit may carry raw bytes anywhere, so one
    /// that reaches bytes another partition's acl or size-UDF reads has that partition checked too, on the
    /// whole proposed block (rare: a libFS's edits stay in the partition they update).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal XnResult CheckAclAndSize(XnSession s, RegistryEntry e, XnType t, byte[] proposed, int partition, List<UdfExtent> after,
                                     IReadOnlyList<Edit> edits) =>
        !t.GuardsRawWrites ? XnResult.Success : RunAclAndSize(s, e, t, proposed, partition, after, edits);

    private readonly byte[] _proposedWhole = new byte[BlockSize];

    internal XnResult RunAclAndSize(XnSession s, RegistryEntry e, XnType t, byte[] proposed, int partition, List<UdfExtent> after,
                                   IReadOnlyList<Edit> edits)
    {
        if (t.Acl is not null)
        {
            var r = RunAcl(s, t, proposed, t.AclPartition(partition), e.BlockNo);
            if (!r.Ok) return r;
        }
        if (t.Size is not null)
        {
            var r = RunSize(t, proposed, partition, after, e.BlockNo);
            if (!r.Ok) return r;
        }
        bool whole = false;
        int aclOthers = t.Acl is { Partitions: > 1 } acl ? acl.Partitions : 0;
        int sizeOthers = t.Size?.Partitions ?? 0;
        for (int q = 0; q < Math.Max(aclOthers, sizeOthers); q++)
        {
            if (q == partition) continue;
            bool runAcl = q < aclOthers && TouchedBy(t.AclRanges(q), edits);
            bool runSize = q < sizeOthers && TouchedBy(t.SizeRanges(q), edits);
            if (!runAcl && !runSize) continue;
            if (!whole)
            {
                Propose(e.Bytes, edits, _proposedWhole);
                whole = true;
            }
            if (runAcl)
            {
                var r = RunAcl(s, t, _proposedWhole, q, e.BlockNo);
                if (!r.Ok) return r;
            }
            if (runSize)
            {
                // Edits never reach another partition's owns read set (CheckEdits), so q owns what it owned.
                var owned = _cache.Output(e, t, q, out var fault);
                if (owned is null) return Fail(XnError.Corrupt, $"owns of block {e.Block} partition {q} faults ({fault})");
                var r = RunSize(t, _proposedWhole, q, owned, e.BlockNo);
                if (!r.Ok) return r;
            }
        }
        return XnResult.Success;
    }

    internal static bool TouchedBy(ReadOnlySpan<int> ranges, IReadOnlyList<Edit> edits)
    {
        for (int i = 0; i < edits.Count; i++)
            if (XnType.Touches(ranges, edits[i].Offset, edits[i].Bytes.Length)) return true;
        return false;
    }

    // r2..r5 of an acl run: environment, uid, gid, caller named (Xn/README.md, "acl and size"). Filled per run, under _gate.
    private readonly ulong[] _principal = new ulong[ExoFS.Xn.Types.TypeTable.AclInputs];

    internal XnResult RunAcl(XnSession s, XnType t, byte[] proposed, int aclPartition, BlockNo block)
    {
        _udfOut.Clear();
        var caller = s.Caller;
        _principal[0] = (ulong)s.Environment.Id.Value;
        _principal[1] = caller?.Uid ?? 0;
        _principal[2] = caller?.Gid ?? 0;
        _principal[3] = caller is null ? 0UL : 1UL;
        var r = t.Acl!.Run(proposed, aclPartition, _udfOut, _principal);
        if (!r.Ok) return Fail(XnError.AclDenied, $"acl of type '{t.Name}' faults on the proposed bytes of block {block} partition {aclPartition} ({r.Fault})");
        if (r.Value != 0) return XnResult.Success;
        string who = caller is { } c ? $"uid {c.Uid} gid {c.Gid}" : "no caller named";
        return Fail(XnError.AclDenied, $"acl of type '{t.Name}' refuses the change to block {block} partition {aclPartition} (environment {s.Environment.Id.Value}, {who})");
    }

    /// <summary>
    /// The size check of owns partition <paramref name="partition"/>: S = size-UDF(proposed, partition) bytes, and
    /// the blocks of the size-UDF's types among <paramref name="owned"/> must number at most ceil(S / 4096).
    /// </summary>
    internal XnResult RunSize(XnType t, byte[] proposed, int partition, List<UdfExtent> owned, BlockNo block)
    {
        _udfOut.Clear();
        var r = t.Size!.Run(proposed, partition, _udfOut);
        if (!r.Ok) return Fail(XnError.SizeMismatch, $"size UDF of type '{t.Name}' faults on the proposed bytes of block {block} partition {partition} ({r.Fault})");
        if (r.Value < 0) return Fail(XnError.SizeMismatch, $"size UDF of type '{t.Name}' gives a negative size ({r.Value}) for block {block} partition {partition}");
        ulong blocks = SizedBlocks(t, owned);
        ulong covered = ((ulong)r.Value + (BlockSize - 1)) / BlockSize;
        return blocks <= covered ? XnResult.Success
            : Fail(XnError.SizeMismatch, $"block {block} partition {partition} ('{t.Name}') would own {blocks} block(s) of its sized types, but its size of {r.Value} bytes covers {covered}");
    }

    internal static ulong SizedBlocks(XnType t, List<UdfExtent> owned)
    {
        ulong n = 0;
        foreach (var o in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(owned))
            if (t.IsSized(o.TypeIndex)) n += o.Count;
        return n;
    }

    /// <summary>
    /// The acl and size checks of a raw write of <paramref name="bytes"/> at <paramref name="offset"/> to
    /// <paramref name="e"/>: the acl's one partition always, or each acl partition whose read set the write
    /// meets; each size partition whose read set it meets (owns is unchanged by a raw write, so a size check
    /// elsewhere could not change its verdict). Builds the proposal from the page and the write in scratch:
    /// nothing changes here.
    /// </summary>
    internal XnResult CheckRawWrite(XnSession s, RegistryEntry e, XnType t, int offset, ReadOnlySpan<byte> bytes)
    {
        var page = e.Bytes;
        var proposed = ProposedA;
        var acl = t.Acl;
        var size = t.Size;
        bool oneAcl = acl is { Partitions: 1 };
        // The bytes every check to be run reads, then the write over them.
        if (acl is not null)
            for (int p = 0; p < acl.Partitions; p++)
                if (oneAcl || XnType.Touches(t.AclRanges(p), offset, bytes.Length)) CopyRanges(page, t.AclRanges(p), proposed);
        if (size is not null)
            for (int p = 0; p < size.Partitions; p++)
                if (XnType.Touches(t.SizeRanges(p), offset, bytes.Length)) CopyRanges(page, t.SizeRanges(p), proposed);
        bytes.CopyTo(proposed.AsSpan(offset));
        if (acl is not null)
            for (int p = 0; p < acl.Partitions; p++)
                if (oneAcl || XnType.Touches(t.AclRanges(p), offset, bytes.Length))
                {
                    var r = RunAcl(s, t, proposed, p, e.BlockNo);
                    if (!r.Ok) return r;
                }
        if (size is not null)
            for (int p = 0; p < size.Partitions; p++)
                if (XnType.Touches(t.SizeRanges(p), offset, bytes.Length))
                {
                    var owned = _cache.Output(e, t, p, out var fault);
                    if (owned is null) return Fail(XnError.Corrupt, $"owns of block {e.Block} partition {p} faults ({fault})");
                    var r = RunSize(t, proposed, p, owned, e.BlockNo);
                    if (!r.Ok) return r;
                }
        return XnResult.Success;
    }

    internal static void CopyRanges(ReadOnlySpan<byte> page, ReadOnlySpan<int> ranges, byte[] into)
    {
        for (int i = 0; i < ranges.Length; i += 2) page[ranges[i]..ranges[i + 1]].CopyTo(into.AsSpan(ranges[i]));
    }

    /// <summary>
    /// Compares <paramref name="after"/> with before − removed + added, as multisets, child types resolved
    /// (sorted copies), and names the difference. The update paths first try <see cref="OneInserted"/> /
    /// <see cref="OneRemoved"/> and come here only when those cannot show the two equal.
    /// </summary>
    internal XnResult CompareDiff(XnType t, List<UdfExtent> before, List<UdfExtent> after, Owned? added, Owned? removed) =>
        CompareDiff(t, before, after, added is { } ad ? [ad] : [], removed);

    internal XnResult CompareDiff(XnType t, List<UdfExtent> before, List<UdfExtent> after, IEnumerable<Owned> addedAll, Owned? removed)
    {
        var addedList = addedAll as IReadOnlyList<Owned> ?? addedAll.ToList();
        Owned? added = addedList.Count == 1 ? addedList[0] : null;
        _expected.Clear();
        foreach (var x in before) _expected.Add(Resolve(t, x));
        if (removed is { } rm) _expected.Remove(rm);
        foreach (var ad in addedList) _expected.Add(ad);
        _scratchSorted.Clear();
        foreach (var x in after) _scratchSorted.Add(Resolve(t, x));
        _expected.Sort();
        _scratchSorted.Sort();
        if (_expected.SequenceEqual(_scratchSorted)) return XnResult.Success;
        if (added is { } a && after.Any(x => x.Start == a.Start && x.Count == a.Count && Resolve(t, x).Type != a.Type))
        {
            var got = Resolve(t, after.First(x => x.Start == a.Start && x.Count == a.Count));
            return Fail(XnError.WrongType, $"owns gives {a.Extent} type {got.Type}, not the declared type {a.Type}");
        }
        var extra = _scratchSorted.Except(_expected).Select(o => o.Extent.ToString()).ToList();
        var missing = _expected.Except(_scratchSorted).Select(o => o.Extent.ToString()).ToList();
        return Fail(XnError.DiffMismatch,
            $"owns after the edits differs from the claimed change ({after.Count} extents, expected {_expected.Count}"
            + (extra.Count > 0 ? "; unexpected " + string.Join(",", extra) : "")
            + (missing.Count > 0 ? "; missing " + string.Join(",", missing) : "") + ")");
    }

    // The common case of the diff check in O(n) without sorting or resolving types: owns-UDFs emit in a
    // fixed (slot) order, so an alloc inserts the new extent somewhere in the old sequence and a free
    // deletes one. Anything else (a move inside one partition, a UDF whose order depends on the data)
    // falls back to CompareDiff. These tests only ever say "equal" when the multisets are equal: equal
    // raw extents (type index, start, count) have equal resolved types.

    /// <summary>Whether <paramref name="after"/> is <paramref name="before"/> with <paramref name="added"/> inserted at one place.</summary>
    internal static bool OneInserted(List<UdfExtent> before, List<UdfExtent> after, XnType t, Owned added)
    {
        int type = TypeIndex(t, added.Type);
        if (type < 0 || after.Count != before.Count + 1) return false;
        var extra = new UdfExtent(type, added.Start, added.Count);
        return Inserted(CollectionsMarshal.AsSpan(after), CollectionsMarshal.AsSpan(before), new ReadOnlySpan<UdfExtent>(in extra));
    }

    /// <summary>
    /// Whether <paramref name="after"/> is <paramref name="before"/> with the extents of <paramref name="run"/>, each of
    /// type <paramref name="type"/>, inserted in their order at one place: a multi-extent Alloc of consecutive
    /// pointer slots (an FFS data run), checked in O(n) instead of sorting both lists.
    /// </summary>
    internal static bool RunInserted(List<UdfExtent> before, List<UdfExtent> after, XnType t, TypeId type, IReadOnlyList<Extent> run)
    {
        int index = TypeIndex(t, type);
        if (index < 0 || after.Count != before.Count + run.Count) return false;
        Span<UdfExtent> extras = run.Count <= 256 ? stackalloc UdfExtent[run.Count] : new UdfExtent[run.Count];
        for (int k = 0; k < run.Count; k++) extras[k] = new UdfExtent(index, run[k].Start.Value, run[k].Count);
        return Inserted(CollectionsMarshal.AsSpan(after), CollectionsMarshal.AsSpan(before), extras);
    }

    /// <summary>Whether <paramref name="after"/> is <paramref name="before"/> without its extent at <paramref name="index"/>.</summary>
    internal static bool OneRemoved(List<UdfExtent> before, List<UdfExtent> after, int index)
    {
        if (before.Count != after.Count + 1) return false;
        var b = CollectionsMarshal.AsSpan(before);
        return Inserted(b, CollectionsMarshal.AsSpan(after), b.Slice(index, 1));
    }

    /// <summary>The index of <paramref name="type"/> among <paramref name="t"/>'s child types, or -1.</summary>
    private static int TypeIndex(XnType t, TypeId type)
    {
        var types = t.ChildTypes;
        for (int i = 0; i < types.Length; i++)
            if (types[i].Value == type.Value) return i;
        return -1;
    }

    /// <summary>
    /// Whether <paramref name="longer"/> is <paramref name="shorter"/> with <paramref name="extras"/> inserted, in their
    /// order, at one place (longer is that much longer). Greedy: walk the equal prefix; there the extras must
    /// follow, and the rest must match shifted by their number. If the two differ by the extras at one place,
    /// greedy finds it; a false "no" only sends the caller to the full comparison.
    /// </summary>
    internal static bool Inserted(ReadOnlySpan<UdfExtent> longer, ReadOnlySpan<UdfExtent> shorter, ReadOnlySpan<UdfExtent> extras)
    {
        int i = 0;
        while (i < shorter.Length && Same(shorter[i], longer[i])) i++;
        for (int k = 0; k < extras.Length; k++)
            if (!Same(longer[i + k], extras[k])) return false;
        for (; i < shorter.Length; i++)
            if (!Same(shorter[i], longer[i + extras.Length])) return false;
        return true;
    }

    // Explicit field compares: the generated record equality goes through EqualityComparer<T> per field.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Same(in UdfExtent a, in UdfExtent b) =>
        a.Start == b.Start && a.Count == b.Count && a.TypeIndex == b.TypeIndex;

    /// <summary>
    /// Makes the edits in the page in place (readers' views stay coherent): with checks, the edited ranges
    /// are copied from the checked proposal (where the edits wrote them in full, in order), so what is
    /// committed is what was checked; with checks off there is no proposal and the edits go straight in.
    /// </summary>
    internal void Commit(RegistryEntry e, List<Edit> edits, byte[]? proposed, int partition, List<UdfExtent>? after)
    {
        var page = e.Bytes;
        if (proposed is null) ApplyEdits(page, edits);
        else
            foreach (var ed in edits)
                proposed.AsSpan(ed.Offset, ed.Bytes.Length).CopyTo(page[ed.Offset..]);
        e.Dirty = true;
        SetOutput(e, partition, after, swapInto: 1);
    }

    /// <summary>Caches <paramref name="after"/> as the partition's output; recycles the old list as scratch.</summary>
    internal void SetOutput(RegistryEntry e, int partition, List<UdfExtent>? after, int swapInto)
    {
        if (e.Outputs is null) return;
        var old = e.Outputs[partition];
        e.Outputs[partition] = after;
        if (after is null) return;
        // A fresh scratch list starts at the size just needed, so it does not regrow step by step.
        var recycled = old is null || ReferenceEquals(old, PageCache.KnownEmpty) ? new List<UdfExtent>(after.Capacity) : old;
        if (swapInto == 1) ScratchAfter = recycled; else ScratchAfter2 = recycled;
    }

    /// <summary>
    /// For Free: the owned extent (index into <paramref name="before"/>) that contains <paramref name="child"/>
    /// strictly (a partial free), or -1. What remains owned is <see cref="Remainder"/>.
    /// </summary>
    internal static int IndexContaining(List<UdfExtent> before, Extent child)
    {
        for (int i = 0; i < before.Count; i++)
            if (before[i].Start <= child.Start.Value && child.End.Value <= before[i].Start + before[i].Count) return i;
        return -1;
    }

    /// <summary>The pieces of <paramref name="whole"/> left after taking <paramref name="part"/> out (zero, one or two).</summary>
    internal static List<Owned> Remainder(Owned whole, Extent part)
    {
        var rest = new List<Owned>(2);
        if (part.Start.Value > whole.Start) rest.Add(whole with { Count = part.Start.Value - whole.Start });
        ulong end = whole.Start + whole.Count;
        if (part.End.Value < end) rest.Add(whole with { Start = part.End.Value, Count = end - part.End.Value });
        return rest;
    }
}
