namespace ExoFS.Kernel.Disk;

/// <summary>
/// A device made of a read-only base and a small per-block overlay: a read returns the overlay's copy of a
/// block when it has one and the base's otherwise; a write goes to the overlay only. The base is never
/// written, flushed or disposed by this device, so many overlays can share one base. This is how a crash
/// state is materialized (<see cref="CrashModelDevice.MaterializeOverlay"/>): the frozen durable image as
/// the base, the writes that reached the medium as the overlay, costing O(overlay) rather than a copy of
/// the device.
/// <para>
/// Invariant: an overlay block array is never mutated after it is installed (a write installs a fresh
/// copy), so arrays can be shared with the device they came from and handed out as read-only memory.
/// A write is durable the moment it returns: <see cref="IBlockDevice.Flush"/> and
/// <see cref="IBlockDevice.Barrier"/> only count. Thread-safe (one lock guards the overlay map). The owner
/// guarantees the base does not change while the overlay is in use.
/// </para>
/// </summary>
public sealed class OverlayDevice : BlockDeviceBase
{
    private const int BlockSize = IBlockDevice.BlockSize;

    private readonly object _lock = new();
    private readonly IBlockDevice _base;
    private readonly Dictionary<ulong, byte[]> _overlay;

    /// <summary>An overlay with no blocks yet over <paramref name="baseDevice"/>, which it only reads.</summary>
    public OverlayDevice(IBlockDevice baseDevice) : this(baseDevice, new Dictionary<ulong, byte[]>()) { }

    /// <summary>Takes ownership of <paramref name="overlay"/>, whose arrays nobody mutates again.</summary>
    internal OverlayDevice(IBlockDevice baseDevice, Dictionary<ulong, byte[]> overlay)
    {
        ArgumentNullException.ThrowIfNull(baseDevice);
        _base = baseDevice;
        _overlay = overlay;
    }

    /// <summary>The device under the overlay (read, never written).</summary>
    public IBlockDevice Base => _base;

    /// <inheritdoc />
    public override ulong BlockCount => _base.BlockCount;

    /// <summary>Number of blocks the overlay holds.</summary>
    public int OverlayCount { get { lock (_lock) return _overlay.Count; } }

    /// <summary>
    /// The overlay now, in no particular order: each block it holds and that block's bytes (4096, read-only;
    /// the same memory on every call until the block is written again).
    /// </summary>
    public IReadOnlyList<(ulong Block, ReadOnlyMemory<byte> Data)> OverlayBlocks()
    {
        lock (_lock)
        {
            var list = new (ulong, ReadOnlyMemory<byte>)[_overlay.Count];
            int i = 0;
            foreach (var (block, data) in _overlay) list[i++] = (block, data);
            return list;
        }
    }

    /// <inheritdoc />
    protected override void ReadCore(BlockNo start, Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length / BlockSize; i++)
        {
            ulong block = start.Value + (ulong)i;
            var dest = buffer.Slice(i * BlockSize, BlockSize);
            byte[]? data;
            lock (_lock) _overlay.TryGetValue(block, out data);
            if (data is not null) data.CopyTo(dest); // immutable, so copying outside the lock is safe
            else _base.Read(new BlockNo(block), dest);
        }
    }

    /// <inheritdoc />
    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length / BlockSize; i++)
        {
            var copy = data.Slice(i * BlockSize, BlockSize).ToArray();
            lock (_lock) _overlay[start.Value + (ulong)i] = copy;
        }
    }

    /// <inheritdoc />
    protected override void FlushCore() { }

    /// <inheritdoc />
    protected override void BarrierCore() { }
}
