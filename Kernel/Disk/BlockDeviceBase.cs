namespace ExoFS.Kernel.Disk;

/// <summary>
/// Common shell of every ExoFS device: checks arguments, counts I/O in <see cref="Stats"/>, refuses use
/// after dispose, then calls the <c>*Core</c> method. Subclasses only see requests that are in range and a
/// whole number of blocks. Argument errors are exceptions because they are caller bugs, not disk states.
/// </summary>
public abstract class BlockDeviceBase : IBlockDevice
{
    private int _disposed;

    /// <summary>I/O issued to this device (this layer only; a wrapper and its inner device count separately).</summary>
    public IoStats Stats { get; } = new();

    /// <inheritdoc />
    public abstract ulong BlockCount { get; }

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    protected bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc />
    public void Read(BlockNo start, Span<byte> buffer)
    {
        CheckRange(start, buffer.Length);
        Stats.CountRead(buffer.Length);
        if (buffer.Length > 0) ReadCore(start, buffer);
    }

    /// <inheritdoc />
    public void Write(BlockNo start, ReadOnlySpan<byte> data)
    {
        CheckRange(start, data.Length);
        Stats.CountWrite(data.Length);
        if (data.Length > 0) WriteCore(start, data);
    }

    /// <inheritdoc />
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Stats.CountFlush();
        FlushCore();
    }

    /// <inheritdoc />
    public void Barrier()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Stats.CountBarrier();
        BarrierCore();
    }

    /// <summary>Reads whole blocks; <paramref name="buffer"/> is non-empty and in range.</summary>
    protected abstract void ReadCore(BlockNo start, Span<byte> buffer);

    /// <summary>Writes whole blocks; <paramref name="data"/> is non-empty and in range.</summary>
    protected abstract void WriteCore(BlockNo start, ReadOnlySpan<byte> data);

    /// <summary>Makes earlier writes durable.</summary>
    protected abstract void FlushCore();

    /// <summary>Orders earlier writes before later ones.</summary>
    protected abstract void BarrierCore();

    /// <summary>Releases resources; called once.</summary>
    protected virtual void Dispose(bool disposing) { }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    private void CheckRange(BlockNo start, int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (length % IBlockDevice.BlockSize != 0)
            throw new ArgumentException(
                $"Buffer length {length} is not a multiple of the {IBlockDevice.BlockSize}-byte block size.");
        ulong blocks = (ulong)(length / IBlockDevice.BlockSize);
        if (start.Value > BlockCount || blocks > BlockCount - start.Value)
            throw new ArgumentOutOfRangeException(nameof(start),
                $"Blocks {start}..{start.Value + blocks} are outside the device of {BlockCount} blocks.");
    }
}
