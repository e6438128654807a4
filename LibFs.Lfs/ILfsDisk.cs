using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// The one narrow door between the LFS and the disk: read a block, write a run of blocks inside a segment,
/// bind and release whole segments, write a checkpoint region, sync. The production implementation is
/// <see cref="XnLfsDisk"/> (XN calls carrying the environment's capability). Calls are made with the file
/// system's lock held.
/// </summary>
internal interface ILfsDisk
{
    /// <summary>The superblock's header (what mkfs wrote).</summary>
    LfsSuper Super { get; }
    /// <summary>Start block of the segment in <paramref name="slot"/>, 0 if the slot holds none.</summary>
    ulong SegmentStart(int slot);
    /// <summary>Reads one whole block.</summary>
    Errno Read(ulong block, Span<byte> into);
    /// <summary>Reads <c>into.Length / 4096</c> whole blocks from <paramref name="start"/> (consecutive log blocks of one file, in one request where the disk can).</summary>
    Errno ReadRun(ulong start, Span<byte> into)
    {
        for (int k = 0; k < into.Length / LfsLayout.BlockSize; k++)
        {
            var err = Read(start + (ulong)k, into.Slice(k * LfsLayout.BlockSize, LfsLayout.BlockSize));
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }
    /// <summary>
    /// Reads one whole block without checking it against its summary (<c>CheckedLfsDisk</c>): for a
    /// summary, which checks itself, and for roll-forward, which checks a unit against its summaries' checksums.
    /// </summary>
    Errno ReadUnchecked(ulong block, Span<byte> into) => Read(block, into);
    /// <summary>
    /// Writes <c>blocks.Length / 4096</c> whole blocks from <paramref name="start"/>: a run of partial segments
    /// in one segment or in consecutive ones. Where the run crosses into a segment whose first block is not
    /// the log's (<see cref="FirstOffset"/> 1: an XN segment head), that block's place in
    /// <paramref name="blocks"/> is the disk's, which writes the head's own bytes there.
    /// </summary>
    Errno Write(ulong start, Span<byte> blocks);
    /// <summary>Binds a new segment into a free slot (ENOSPC if XN has no free run that long); returns the slot.</summary>
    Result<int> AllocSegment(ulong hint);
    /// <summary>Releases the segment in <paramref name="slot"/> to XN (reusable once the release is durable).</summary>
    Errno FreeSegment(int slot);
    /// <summary>Reads checkpoint region 0 or 1 whole.</summary>
    Errno ReadCheckpoint(int region, Span<byte> into);
    /// <summary>Writes checkpoint region 0 or 1 whole (raw blocks; durable at the next <see cref="Sync"/>).</summary>
    Errno WriteCheckpoint(int region, ReadOnlySpan<byte> bytes);
    /// <summary>Makes everything written so far durable (and lets released segments be reused).</summary>
    Errno Sync();
    /// <summary>Blocks XN could give out now (to anyone).</summary>
    ulong FreeBlocks { get; }
    /// <summary>Where the first partial segment of a segment starts (1 when block 0 is an XN segment head).</summary>
    uint FirstOffset => 0;
    /// <summary>True if log blocks are known at or past <paramref name="offset"/> of <paramref name="slot"/> (a torn unit XN kept).</summary>
    bool WrittenBeyond(int slot, uint offset) => false;
    /// <summary>
    /// The claim entries of <paramref name="slot"/>'s XN segment head, as XN holds them: which blocks of each partial
    /// XN types as nodes, inodes and inode map (null when segments are not XN segments).
    /// </summary>
    IReadOnlyList<ClaimEntry>? Claims(int slot) => null;
}
