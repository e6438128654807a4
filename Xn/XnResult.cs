namespace ExoFS.Xn;

/// <summary>Why XN refused a call. Every refusal leaves disk and cache exactly as they were.</summary>
public enum XnError
{
    None,
    /// <summary>Missing, forged or foreign capability, or a block not reachable from a root the caller holds.</summary>
    BadCapability,
    UnknownType,
    /// <summary>A type of that name exists with a different specification.</summary>
    TypeExists,
    UnknownRoot,
    RootExists,
    /// <summary>A UDF failed verification or a type's registration rules.</summary>
    UdfRejected,
    /// <summary>Two partitions' read sets overlap each other or a raw-write range.</summary>
    OverlappingReadSets,
    /// <summary>The owns-UDF claims extents on an all-zero block.</summary>
    ZeroBlockOwns,
    /// <summary>No such partition, or an edit touches bytes of another partition.</summary>
    BadPartition,
    /// <summary>A raw read/write or an edit outside the bytes the type allows.</summary>
    NotRawRange,
    /// <summary>owns() after the edits is not owns() before plus/minus exactly the claimed extent.</summary>
    DiffMismatch,
    /// <summary>The type's acl-UDF refused the change (or faulted on the proposed bytes): Xn/README.md, "acl and size".</summary>
    AclDenied,
    /// <summary>The extent (or part of it) is allocated or reserved.</summary>
    NotFree,
    /// <summary>The named parent partition does not own that extent.</summary>
    NotOwned,
    /// <summary>An extent beyond the end of the disk (or empty).</summary>
    OutOfDisk,
    /// <summary>The extent was freed but the parent's nullifying write is not durable yet (rule 2).</summary>
    FreeDeferred,
    /// <summary>Write-back refused: the block points at a child not yet on disk (rule 1).</summary>
    Tainted,
    Uninitialized,
    /// <summary>The owns output names a different type than the caller declared.</summary>
    WrongType,
    NoSpace,
    ReadOnly,
    Corrupt,
    Io,
    /// <summary>Freeing a metadata block that still owns extents (its children would be lost).</summary>
    NotEmpty,
    /// <summary>
    /// A change that would cross a segment's boundary: a block inside a segment owning a block outside its
    /// segment (or a free block), a block outside owning one inside, or a segment inside a segment.
    /// </summary>
    OutsideSegment,
    /// <summary>
    /// A block of a checksummed type (<see cref="TypeSpec.ChecksumOffset"/>) failed its checksum when read from
    /// the device: damaged, misdirected or torn. It is not served; XN lists it in <c>XnVolume.ChecksumFailures</c>.
    /// </summary>
    BadChecksum,
    /// <summary>
    /// After the change, an owns partition would hold more blocks of its size-UDF's types than its size covers
    /// (or the size-UDF faults): Xn/README.md, "acl and size".
    /// </summary>
    SizeMismatch,
}

/// <summary>The outcome of an XN call without a value.</summary>
public readonly struct XnResult
{
    public XnResult(XnError error, string detail) { Error = error; Detail = detail; }

    public XnError Error { get; }
    public bool Ok => Error == XnError.None;
    /// <summary>Human-readable reason for a refusal (empty on success).</summary>
    public string Detail { get; }

    public static XnResult Success => default;
    public static XnResult Fail(XnError error, string detail) => new(error, detail);

    public override string ToString() => Ok ? "Ok" : $"{Error}: {Detail}";
}

/// <summary>The outcome of an XN call that yields a value.</summary>
public readonly struct XnResult<T>
{
    private readonly T? _value;

    private XnResult(T? value, XnError error, string detail) { _value = value; Error = error; Detail = detail; }

    public XnError Error { get; }
    public bool Ok => Error == XnError.None;
    public string Detail { get; }

    /// <summary>The value; throws if this is a refusal (a caller bug).</summary>
    public T Value => Ok ? _value! : throw new InvalidOperationException($"XN result is {Error} ({Detail}), not a value");

    public static XnResult<T> Success(T value) => new(value, XnError.None, "");
    public static XnResult<T> Fail(XnError error, string detail) => new(default, error, detail);

    public static implicit operator XnResult<T>(XnResult r) =>
        r.Ok ? throw new InvalidOperationException("a success needs a value") : Fail(r.Error, r.Detail);

    /// <summary>This result without its value.</summary>
    public XnResult Status => Ok ? XnResult.Success : XnResult.Fail(Error, Detail);

    public override string ToString() => Ok ? $"Ok({_value})" : $"{Error}: {Detail}";
}
