using ExoFS.Kernel.Disk;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Registry;

namespace ExoFS.Xn.Updates;

/// <summary>A segment XN knows: its extent, and whether every typed block inside it is registered.</summary>
internal sealed class SegmentRecord(ulong head, ulong count, bool registered)
{
    public ulong Head { get; } = head;
    public ulong Count { get; } = count;
    public ulong End => Head + Count;
    /// <summary>
    /// Every metadata block inside has been read, so the body entries that are still untyped really are
    /// untyped. A body access waits for this (else a raw write could land on an inode no one has read yet).
    /// </summary>
    public bool Registered { get; set; } = registered;
    public bool InBody(ulong start, ulong count) => start > Head && count <= End - start && start < End;
    public Extent Extent => new(new BlockNo(Head), Count);
}

/// <summary>
/// The segments XN knows and rule 2 inside them: the state the segment operations (<see cref="Segments"/>)
/// keep and write-back settles (a written block's in-segment frees, releases after a flush).
/// </summary>
internal sealed class SegmentTable
{
    public Dictionary<ulong, SegmentRecord> Records { get; } = new();
    /// <summary>Rule 2 inside segments: blocks freed from an in-segment parent stay dead until its write is durable.</summary>
    public DeferredFrees Deferred { get; } = new();

    /// <summary>After a flush: blocks whose in-segment parent's nullifying write is durable become live body again.</summary>
    public void ReleaseDeferred(BlockRegistry registry)
    {
        foreach (var x in Deferred.TakeReleasable())
            for (ulong b = x.Start.Value; b < x.End.Value; b++)
                if (registry.TryGetValue(b, out var be) && be.Body) be.Dead = false;
    }

    /// <summary>The segment state, for the volume's state fingerprint.</summary>
    public string Fingerprint() =>
        "segments=" + string.Join(",", Records.Values.OrderBy(x => x.Head).Select(x => $"{x.Head}+{x.Count}{(x.Registered ? "r" : "")}"))
        + " segdeferred=" + string.Join(",", Deferred.Pending);
}
