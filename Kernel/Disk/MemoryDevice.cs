namespace ExoFS.Kernel.Disk;

/// <summary>
/// A device held in memory, for tests and simulation. Unwritten blocks read as zeros and take no memory.
/// <para>
/// Invariant: a stored block array is never mutated after it is installed; a write installs a fresh array.
/// That makes reads and writes lock-free (a reference swap is atomic) and lets <see cref="Clone"/> share
/// every block with the original in O(block count) pointer copies. A write is durable the moment it
/// returns, so <see cref="IBlockDevice.Flush"/> and <see cref="IBlockDevice.Barrier"/> only count.
/// </para>
/// </summary>
public sealed class MemoryDevice : BlockDeviceBase
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly byte[]?[] _blocks;

    // Read-only fallback for blocks never written here (crash-state images over a frozen base device).
    // The owner guarantees the backing device no longer changes.
    private readonly IBlockDevice? _backing;

    /// <summary>An all-zero device of <paramref name="blockCount"/> blocks (at most <see cref="int.MaxValue"/>).</summary>
    public MemoryDevice(ulong blockCount) : this(blockCount, null) { }

    internal MemoryDevice(ulong blockCount, IBlockDevice? backing)
    {
        if (blockCount > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(blockCount), $"A memory device holds at most {int.MaxValue} blocks.");
        if (backing is not null && backing.BlockCount != blockCount)
            throw new ArgumentException("Backing device size differs.", nameof(backing));
        _blocks = new byte[]?[blockCount];
        _backing = backing;
    }

    private MemoryDevice(byte[]?[] blocks, IBlockDevice? backing)
    {
        _blocks = blocks;
        _backing = backing;
    }

    /// <summary>A device whose contents are a copy of <paramref name="image"/> (length a multiple of 4096).</summary>
    public static MemoryDevice FromBytes(ReadOnlySpan<byte> image)
    {
        if (image.Length % BlockSize != 0)
            throw new ArgumentException($"Image length {image.Length} is not a multiple of {BlockSize}.", nameof(image));
        var dev = new MemoryDevice((ulong)(image.Length / BlockSize));
        for (int b = 0; b < dev._blocks.Length; b++)
        {
            var src = image.Slice(b * BlockSize, BlockSize);
            if (!src.ContainsAnyExcept((byte)0)) continue; // keep zero blocks sparse
            dev._blocks[b] = src.ToArray();
        }
        return dev;
    }

    /// <inheritdoc />
    public override ulong BlockCount => (ulong)_blocks.Length;

    /// <summary>
    /// An independent copy: later writes to either device do not show in the other. Cheap: blocks are shared
    /// until one side overwrites them.
    /// </summary>
    public MemoryDevice Clone()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return new MemoryDevice((byte[]?[])_blocks.Clone(), _backing);
    }

    /// <summary>The whole image as one array (the device must be smaller than 2 GiB).</summary>
    public byte[] Snapshot()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        long length = (long)_blocks.Length * BlockSize;
        if (length > Array.MaxLength)
            throw new InvalidOperationException($"Device of {length} bytes is too large to snapshot into one array.");
        var image = new byte[length];
        for (int b = 0; b < _blocks.Length; b++)
            ReadBlock(b, image.AsSpan(b * BlockSize, BlockSize));
        return image;
    }

    /// <summary>Installs <paramref name="immutable"/> as block <paramref name="block"/> without copying; the caller never mutates it again.</summary>
    internal void InstallBlock(ulong block, byte[] immutable) => _blocks[block] = immutable;

    /// <inheritdoc />
    protected override void ReadCore(BlockNo start, Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length / BlockSize; i++)
            ReadBlock((int)start.Value + i, buffer.Slice(i * BlockSize, BlockSize));
    }

    private void ReadBlock(int block, Span<byte> dest)
    {
        var data = Volatile.Read(ref _blocks[block]);
        if (data is not null) data.CopyTo(dest);
        else if (_backing is not null) _backing.Read(new BlockNo((ulong)block), dest);
        else dest.Clear();
    }

    /// <inheritdoc />
    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length / BlockSize; i++)
            Volatile.Write(ref _blocks[(int)start.Value + i], data.Slice(i * BlockSize, BlockSize).ToArray());
    }

    /// <inheritdoc />
    protected override void FlushCore() { }

    /// <inheritdoc />
    protected override void BarrierCore() { }
}
