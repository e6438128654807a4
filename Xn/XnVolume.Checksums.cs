using ExoFS.Xn.Format;
using ExoFS.Xn.Types;

namespace ExoFS.Xn;

// Per-type checksums (TypeSpec.ChecksumOffset; Xn/README.md, "Checksums"): stamped at write-back
// (XnVolume.Ordering.cs, Stamped), verified where a block comes from the device (EnsurePage) and by the
// reachability walk (Check). This part keeps the record of the blocks that failed.
public sealed partial class XnVolume
{
    private readonly List<(ulong Block, string Type)> _checksumFailures = new();
    private readonly HashSet<ulong> _checksumFailed = new();

    /// <summary>
    /// Every block that failed its type's checksum since the volume was loaded (block, type name), in the
    /// order found, each once. The host reports it (fsck, the daemon's log); a libFS sees only the refusal.
    /// </summary>
    public IReadOnlyList<(ulong Block, string Type)> ChecksumFailures { get { lock (_gate) return _checksumFailures.ToList(); } }

    /// <summary>Adds a failure to the record (once per block) and returns the one-line reason a refusal carries.</summary>
    private string RecordChecksumFailure(ulong block, XnType type)
    {
        if (_checksumFailed.Add(block)) _checksumFailures.Add((block, type.Name));
        return $"block {block} ('{type.Name}'): checksum mismatch (damaged, torn or misdirected on the device)";
    }

    /// <summary>Whether device bytes <paramref name="bytes"/> read for <paramref name="block"/> pass its type's checksum (types without one always pass).</summary>
    private static bool ChecksumHolds(ulong block, XnType type, ReadOnlySpan<byte> bytes) =>
        !type.HasChecksum || BlockChecksum.IsValid(block, type.Id, bytes, type.ChecksumOffset);
}
