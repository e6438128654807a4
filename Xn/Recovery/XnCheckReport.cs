namespace ExoFS.Xn;

/// <summary>What kind of global invariant a finding breaks.</summary>
public enum XnFindingKind
{
    /// <summary>A block is claimed by two owners (or twice by one).</summary>
    DoublyOwned,
    /// <summary>An owned extent runs past the end of the disk.</summary>
    OutOfDisk,
    /// <summary>An owned extent overlaps XN's reserved blocks (superblock, free map, catalogues).</summary>
    Reserved,
    /// <summary>A reachable block is marked free in the free map (a pointer to an uninitialized block).</summary>
    PointerToFree,
    /// <summary>Two owners claim one block with different types.</summary>
    WrongType,
    /// <summary>An owns-UDF faults on a reachable metadata block (its contents are garbage).</summary>
    OwnsFault,
    /// <summary>Allocated in the free map but reachable from no root (a leak; a scan recovers it).</summary>
    Leaked,
    /// <summary>A structure XN could not read or that failed its checksum.</summary>
    Corrupt,
    /// <summary>Reported by a libFS checker registered for a root type.</summary>
    LibFs,
    /// <summary>A block inside a segment owns a block outside that segment (or a segment is owned inside one).</summary>
    OutsideSegment,
    /// <summary>An owns partition holds more blocks of its size-UDF's types than the size it gives covers.</summary>
    SizeMismatch,
}

/// <summary>One broken invariant: which, where, and a line of explanation.</summary>
public sealed record XnFinding(XnFindingKind Kind, ulong Block, string Detail)
{
    public override string ToString() => $"{Kind} at block {Block}: {Detail}";
}

/// <summary>
/// The result of <see cref="XnVolume.Check"/>: every finding plus the counts a user wants to see.
/// <see cref="Clean"/> means every global invariant holds.
/// </summary>
public sealed record XnCheckReport(IReadOnlyList<XnFinding> Findings, ulong ReachableBlocks, ulong AllocatedBlocks,
                                   ulong FreeBlocks, ulong ReservedBlocks, ulong DeferredBlocks)
{
    public bool Clean => Findings.Count == 0;
    /// <summary>Findings other than leaks (leaks lose space, never data).</summary>
    public IEnumerable<XnFinding> Errors => Findings.Where(f => f.Kind != XnFindingKind.Leaked);
    public IEnumerable<XnFinding> Leaks => Findings.Where(f => f.Kind == XnFindingKind.Leaked);
}
