namespace ExoFS.Kernel.Disk;

/// <summary>
/// A block device of fixed-size 4 KiB blocks. A write is "in flight" until a later <see cref="Flush"/>
/// returns; only then is it durable. <see cref="Barrier"/> orders writes (everything before it reaches the
/// medium before anything after it) without promising durability. Implementations are thread-safe for
/// concurrent calls on different blocks; callers order writes to the same block themselves.
/// </summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Bytes per block: 4096 for every ExoFS device.</summary>
    const int BlockSize = 4096;

    /// <summary>Number of blocks on the device.</summary>
    ulong BlockCount { get; }

    /// <summary>Reads <c>buffer.Length / BlockSize</c> consecutive blocks starting at <paramref name="start"/>.</summary>
    void Read(BlockNo start, Span<byte> buffer);

    /// <summary>
    /// Writes <c>data.Length / BlockSize</c> consecutive blocks starting at <paramref name="start"/> as one
    /// request (one positioning in the disk time models; how XN issues a log segment). Not atomic: after a
    /// crash any subset of its blocks may have reached the medium (the crash model records each block).
    /// </summary>
    void Write(BlockNo start, ReadOnlySpan<byte> data);

    /// <summary>Makes every write issued before this call durable (fdatasync for an image file).</summary>
    void Flush();

    /// <summary>Orders writes: those issued before reach the medium before those issued after.</summary>
    void Barrier();
}
