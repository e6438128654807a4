using ExoFS.Xn.Format;
using ExoFS.Xn.Types;

namespace ExoFS.Xn.Recovery;

/// <summary>
/// Per-type checksums (TypeSpec.ChecksumOffset; Xn/README.md, "Checksums"): stamped at write-back
/// (Ordering/WriteOrder.cs, Stamped), verified where a block comes from the device (Registry/PageCache.cs,
/// EnsurePage) and by the reachability walk (VolumeCheck). This is the record of the blocks that failed,
/// which the host reports through <see cref="XnVolume.ChecksumFailures"/>.
/// </summary>
internal sealed class ChecksumRecord
{
    private readonly List<(ulong Block, string Type)> _failures = new();
    private readonly HashSet<ulong> _failed = new();

    /// <summary>Every block that failed its type's checksum since the volume was loaded, in the order found, each once.</summary>
    public IReadOnlyList<(ulong Block, string Type)> Failures => _failures;

    /// <summary>Adds a failure to the record (once per block) and returns the one-line reason a refusal carries.</summary>
    public string Record(ulong block, XnType type, string? why = null)
    {
        if (_failed.Add(block)) _failures.Add((block, type.Name));
        return $"block {block} ('{type.Name}'): {why ?? "checksum mismatch (damaged, torn or misdirected on the device)"}";
    }

    /// <summary>Whether device bytes <paramref name="bytes"/> read for <paramref name="block"/> pass its type's checksum (types without one always pass).</summary>
    public static bool Holds(ulong block, XnType type, ReadOnlySpan<byte> bytes) =>
        !type.HasChecksum || BlockChecksum.IsValid(block, type.Id, bytes, type.ChecksumOffset);
}
