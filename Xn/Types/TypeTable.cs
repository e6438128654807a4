using System.Collections.Concurrent;
using System.Text;
using ExoFS.Kernel.Udf;

namespace ExoFS.Xn.Types;

/// <summary>
/// The registered types, indexed by <see cref="TypeId"/> (0 = xn.data). Registration is where XN refuses
/// unsafe types: a UDF that fails verification, child types it does not know, partitions whose read sets
/// overlap each other or a raw-write range, and an owns-UDF that claims anything on an all-zero block
/// (a freshly allocated, zero-filled block must own nothing). Not thread-safe: the volume lock guards it.
/// </summary>
internal sealed class TypeTable
{
    private readonly List<XnType> _types = new();
    private readonly Dictionary<string, XnType> _byName = new(StringComparer.Ordinal);
    private static readonly byte[] ZeroBlock = new byte[UdfLimits.BlockSize];

    public TypeTable()
    {
        var data = new XnType(XnTypes.Data, new TypeSpec(XnTypes.DataName, "", [new ByteRange(0, UdfLimits.BlockSize)],
                                                          [new ByteRange(0, UdfLimits.BlockSize)]), null, [], null, null);
        _types.Add(data);
        _byName[data.Name] = data;
    }

    public int Count => _types.Count;
    public IReadOnlyList<XnType> All => _types;
    /// <summary>The specs of user types in id order (1, 2, ...), as the catalogue stores them.</summary>
    public IReadOnlyList<TypeSpec> UserSpecs => _types.Skip(1).Select(t => t.Spec).ToList();

    public XnType? Get(TypeId id) => id.Value < _types.Count ? _types[id.Value] : null;
    public XnType? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// Validates <paramref name="spec"/> as the next type; does not add it. A spec accepted before, at the same id
    /// and with its child and sized type names naming the same ids here, gets the same <see cref="XnType"/> back
    /// without the checks: every check is a pure function of the spec's text and ranges and of those ids, and an
    /// XnType is immutable. Every volume load re-validates its catalogue's types, and the crash explorer loads
    /// thousands of images; rejections are not cached. The cache is bounded like <see cref="VerifyCached"/>'s.
    /// </summary>
    public XnResult<XnType> Validate(TypeSpec spec)
    {
        if (spec?.RawRead is null || spec.RawWrite is null || spec.OwnsUdf is null || spec.Name is null) return ValidateUncached(spec!);
        // The ranges are copied first: what is checked, cached and kept is XN's own copy, which no caller can change.
        spec = spec with { RawRead = [.. spec.RawRead], RawWrite = [.. spec.RawWrite] };
        if (Accepted.TryGetValue(spec, out var known) && known.Id.Value == _types.Count
            && Resolves(known.Owns?.TypeNames, known.ChildTypes, spec.Name)
            && (known.Size is null || Resolves(known.Size.TypeNames.Count > 0 ? known.Size.TypeNames : null, known.SizedTypes, spec.Name)))
            return XnResult<XnType>.Success(known);
        var r = ValidateUncached(spec);
        if (r.Ok)
        {
            if (Accepted.Count >= VerifiedCacheLimit) Accepted.Clear();
            Accepted[spec] = r.Value;
        }
        return r;
    }

    /// <summary>Whether <paramref name="names"/> name exactly <paramref name="ids"/> in this table (null: no names to check).</summary>
    private bool Resolves(IReadOnlyList<string>? names, IReadOnlyList<TypeId> ids, string self)
    {
        if (names is null) return true;
        if (names.Count != ids.Count) return false;
        for (int i = 0; i < names.Count; i++)
        {
            ushort want = names[i] == self ? (ushort)_types.Count : _byName.TryGetValue(names[i], out var t) ? t.Id.Value : ushort.MaxValue;
            if (want != ids[i].Value) return false;
        }
        return true;
    }

    private static readonly ConcurrentDictionary<TypeSpec, XnType> Accepted = new(SpecComparer.Instance);

    /// <summary>Specs compared as <see cref="TypeSpec.SameAs"/> does (records compare their range lists by reference).</summary>
    private sealed class SpecComparer : IEqualityComparer<TypeSpec>
    {
        public static readonly SpecComparer Instance = new();
        public bool Equals(TypeSpec? a, TypeSpec? b) => ReferenceEquals(a, b) || (a is not null && b is not null && a.SameAs(b));
        public int GetHashCode(TypeSpec s) => HashCode.Combine(s.Name, s.OwnsUdf.Length, s.AclUdf?.Length, s.SizeUdf?.Length, s.ChecksumOffset, s.SequenceOffset, s.Segment);
    }

    private XnResult<XnType> ValidateUncached(TypeSpec spec)
    {
        if (spec is null) return Fail(XnError.UdfRejected, "type spec is null");
        if (string.IsNullOrEmpty(spec.Name) || Encoding.UTF8.GetByteCount(spec.Name) > Format.Catalogue.MaxNameBytes)
            return Fail(XnError.UdfRejected, "type name must be 1..255 bytes");
        if (_types.Count > ushort.MaxValue) return Fail(XnError.NoSpace, "type table full");
        if (spec.OwnsUdf is null || spec.RawRead is null || spec.RawWrite is null)
            return Fail(XnError.UdfRejected, "owns UDF and raw ranges are required");
        foreach (var r in spec.RawRead.Concat(spec.RawWrite))
            if (r.Offset < 0 || r.Length <= 0 || r.Offset > UdfLimits.BlockSize - r.Length)
                return Fail(XnError.NotRawRange, $"raw range {r} is not inside the 4096-byte block");

        var id = new TypeId((ushort)_types.Count);
        var owns = VerifyCached(spec.OwnsUdf);
        if (!owns.Accepted) return Fail(XnError.UdfRejected, $"owns UDF rejected: {owns.Reason}");
        var udf = owns.Udf!;

        var children = new TypeId[udf.TypeNames.Count];
        for (int i = 0; i < children.Length; i++)
        {
            string n = udf.TypeNames[i];
            if (n == spec.Name) children[i] = id;
            else if (_byName.TryGetValue(n, out var t)) children[i] = t.Id;
            else return Fail(XnError.UnknownType, $"owns UDF names unknown child type '{n}'");
        }

        var overlap = FindOverlap(udf, spec.RawWrite);
        if (overlap is not null) return Fail(XnError.OverlappingReadSets, overlap);

        VerifiedUdf? acl = null, size = null;
        if (spec.AclUdf is not null)
        {
            var v = VerifyCached(spec.AclUdf);
            if (!v.Accepted) return Fail(XnError.UdfRejected, $"acl UDF rejected: {v.Reason}");
            acl = v.Udf;
            // The acl learns which partition changed through r1, so it has one partition (ignores it)
            // or exactly the owns-UDF's partitions.
            if (acl!.Partitions != 1 && acl.Partitions != udf.Partitions)
                return Fail(XnError.UdfRejected, $"acl UDF has {acl.Partitions} partitions; it needs 1 or {udf.Partitions} (the owns-UDF's)");
        }
        if (acl is not null && acl.Inputs > AclInputs)
            return Fail(XnError.UdfRejected, $"acl UDF declares {acl.Inputs} inputs; XN passes {AclInputs} (environment, uid, gid, caller named)");
        TypeId[]? sized = null;
        if (spec.SizeUdf is not null)
        {
            var v = VerifyCached(spec.SizeUdf);
            if (!v.Accepted) return Fail(XnError.UdfRejected, $"size UDF rejected: {v.Reason}");
            size = v.Udf;
            // The size of partition p's object is checked against the blocks owns partition p emits, so the
            // size-UDF has exactly the owns-UDF's partitions. It decides from the block alone: no inputs.
            if (size!.Partitions != udf.Partitions)
                return Fail(XnError.UdfRejected, $"size UDF has {size.Partitions} partitions; it needs {udf.Partitions} (the owns-UDF's)");
            if (size.Inputs != 0) return Fail(XnError.UdfRejected, "size UDF may not declare .inputs: a size depends on the block alone");
            // Its .types name the types whose blocks the size bounds (xn.data when it names none).
            if (size.TypeNames.Count > 0)
            {
                sized = new TypeId[size.TypeNames.Count];
                for (int i = 0; i < sized.Length; i++)
                {
                    string n = size.TypeNames[i];
                    if (n == spec.Name) sized[i] = id;
                    else if (_byName.TryGetValue(n, out var st)) sized[i] = st.Id;
                    else return Fail(XnError.UnknownType, $"size UDF names unknown type '{n}'");
                }
            }
        }
        // What owns emits is a fact about the block, the same for every reader: no inputs.
        if (udf.Inputs != 0) return Fail(XnError.UdfRejected, "owns UDF may not declare .inputs: what a block owns depends on its bytes alone");

        if (spec.ChecksumOffset is { } co)
        {
            var bad = CheckChecksumField(co, udf, acl, size, spec.RawWrite);
            if (bad is not null) return Fail(bad.Value.Error, bad.Value.Why);
        }
        if (spec.SequenceOffset is { } so)
        {
            if (spec.ChecksumOffset is not { } cso) return Fail(XnError.NotRawRange, "a sequence field needs a checksum field (the CRC covers it)");
            var bad = CheckChecksumField(so, udf, acl, size, spec.RawWrite, SequenceBytes, "sequence");
            if (bad is not null) return Fail(bad.Value.Error, bad.Value.Why);
            if (new ByteRange(so, SequenceBytes).Overlaps(new ByteRange(cso, Format.BlockChecksum.Bytes)))
                return Fail(XnError.OverlappingReadSets, $"sequence field {new ByteRange(so, SequenceBytes)} overlaps the checksum field at {cso}");
        }

        // Alloc hands out zero-filled blocks that are immediately "initialized": they must own nothing.
        var output = new List<UdfExtent>();
        for (int p = 0; p < udf.Partitions; p++)
        {
            output.Clear();
            var r = udf.Run(ZeroBlock, p, output);
            if (!r.Ok) return Fail(XnError.ZeroBlockOwns, $"owns UDF faults on an all-zero block (partition {p}: {r.Fault})");
            if (output.Count > 0)
                return Fail(XnError.ZeroBlockOwns, $"owns UDF claims {output.Count} extent(s) on an all-zero block (partition {p})");
        }
        return XnResult<XnType>.Success(new XnType(id, spec, udf, children, acl, size, sized));
    }

    /// <summary>Inputs XN passes an acl-UDF (r2 environment id, r3 uid, r4 gid, r5 1 when the libFS named a caller).</summary>
    internal const int AclInputs = 4;

    /// <summary>Most UDF texts <see cref="VerifyCached"/> remembers; past it the cache starts over.</summary>
    internal const int VerifiedCacheLimit = 1024;
    private static readonly ConcurrentDictionary<string, VerifiedUdf> Verified = new(StringComparer.Ordinal);

    /// <summary>
    /// <see cref="UdfVerifier.Verify(string)"/> with a process-wide cache of accepted UDFs keyed by their
    /// exact text. Every volume loaded re-verifies its stored types; without the cache each load would
    /// re-parse, re-verify and (on first run) recompile every UDF to IL, which dominates the cost of a load.
    /// A hit is equivalent to re-verifying: the verifier is a pure function of the text (no clock, no
    /// randomness, no state), so the same text always gets the same verdict and an equal program. Sharing
    /// the result is safe: a <see cref="VerifiedUdf"/> is immutable and its compiled form is built once,
    /// under a lock, and is thread-safe. Rejections are not cached (they are rare and cheap to redo). The
    /// cache is bounded: when full it is cleared, so adversarial streams of distinct texts cost only
    /// re-verification, never unbounded memory.
    /// </summary>
    internal static UdfVerifyResult VerifyCached(string text)
    {
        if (Verified.TryGetValue(text, out var hit)) return new UdfVerifyResult(hit, null);
        var v = UdfVerifier.Verify(text);
        if (v.Accepted)
        {
            if (Verified.Count >= VerifiedCacheLimit) Verified.Clear();
            Verified.TryAdd(text, v.Udf!);
        }
        return v;
    }

    /// <summary>Adds a validated type (its id must be the next one).</summary>
    public void Add(XnType type)
    {
        if (type.Id.Value != _types.Count) throw new InvalidOperationException("type ids must be dense");
        _types.Add(type);
        _byName[type.Name] = type;
    }

    /// <summary>
    /// The checksum field [offset, offset+4) must lie inside the block, outside every raw-write range (a libFS
    /// may not write XN's bytes) and outside every UDF's read sets (what owns, acl and size decide may not
    /// depend on bytes XN changes at write-back). Null when it does.
    /// </summary>
    /// <summary>Bytes of a type's write sequence field (<see cref="TypeSpec.SequenceOffset"/>).</summary>
    internal const int SequenceBytes = 8;

    private static (XnError Error, string Why)? CheckChecksumField(int offset, VerifiedUdf owns, VerifiedUdf? acl, VerifiedUdf? size,
                                                                  IReadOnlyList<ByteRange> rawWrite,
                                                                  int bytes = Format.BlockChecksum.Bytes, string what = "checksum")
    {
        if (offset < 0 || offset > UdfLimits.BlockSize - bytes)
            return (XnError.NotRawRange, $"{what} field at {offset} is not inside the 4096-byte block");
        var field = new ByteRange(offset, bytes);
        foreach (var r in rawWrite)
            if (r.Overlaps(field)) return (XnError.OverlappingReadSets, $"{what} field {field} overlaps raw-write range {r}");
        foreach (var (name, udf) in new[] { ("owns", owns), ("acl", acl), ("size", size) })
        {
            if (udf is null) continue;
            for (int p = 0; p < udf.Partitions; p++)
                foreach (var r in udf.ReadSet(p))
                    if (new ByteRange(r.Offset, r.Length).Overlaps(field))
                        return (XnError.OverlappingReadSets, $"{what} field {field} overlaps the read set of the {name} UDF's partition {p}");
        }
        return null;
    }

    private static string? FindOverlap(VerifiedUdf udf, IReadOnlyList<ByteRange> rawWrite)
    {
        // Each partition's ranges come merged, so after sorting everything by start an overlap between
        // neighbours is always between two different owners.
        var all = new List<(int Start, int End, int Owner)>();
        for (int p = 0; p < udf.Partitions; p++)
            foreach (var r in udf.ReadSet(p)) all.Add((r.Offset, r.End, p));
        foreach (var r in Merge(rawWrite)) all.Add((r.Offset, r.End, -1));
        all.Sort();
        int maxEnd = -1, maxOwner = 0;
        foreach (var (s, e, o) in all)
        {
            if (s < maxEnd)
            {
                string Who(int x) => x < 0 ? "the raw-write ranges" : $"partition {x}";
                return $"read set of {Who(o)} overlaps {Who(maxOwner)} at byte {s}";
            }
            if (e > maxEnd) { maxEnd = e; maxOwner = o; }
        }
        return null;
    }

    private static IEnumerable<ByteRange> Merge(IReadOnlyList<ByteRange> ranges)
    {
        ByteRange? cur = null;
        foreach (var r in ranges.OrderBy(r => r.Offset))
        {
            if (cur is { } c && r.Offset <= c.End) cur = new ByteRange(c.Offset, Math.Max(c.End, r.End) - c.Offset);
            else { if (cur is { } done) yield return done; cur = r; }
        }
        if (cur is { } last) yield return last;
    }

    private static XnResult<XnType> Fail(XnError e, string detail) => XnResult<XnType>.Fail(e, detail);
}
