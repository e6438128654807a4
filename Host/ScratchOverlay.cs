using ExoFS.Kernel.Disk;

namespace ExoFS.Host;

/// <summary>
/// A device that reads through to a base device and keeps every write in memory: recovery can run on it, in
/// full, without changing the image (what <c>exofs fsck</c> does to say what a mount's recovery would do).
/// Thread-safe; the base is never written.
/// </summary>
internal sealed class ScratchOverlay(IBlockDevice baseDevice) : IBlockDevice
{
    private readonly Dictionary<ulong, byte[]> _written = new();

    public ulong BlockCount => baseDevice.BlockCount;

    /// <summary>How many distinct blocks recovery wrote.</summary>
    public int BlocksWritten { get { lock (_written) return _written.Count; } }

    public void Read(BlockNo start, Span<byte> buffer)
    {
        const int bs = IBlockDevice.BlockSize;
        lock (_written)
        {
            baseDevice.Read(start, buffer);
            for (int i = 0; i < buffer.Length / bs; i++)
                if (_written.TryGetValue(start.Value + (ulong)i, out var b)) b.CopyTo(buffer.Slice(i * bs, bs));
        }
    }

    public void Write(BlockNo start, ReadOnlySpan<byte> data)
    {
        const int bs = IBlockDevice.BlockSize;
        if (data.Length % bs != 0 || start.Value + (ulong)(data.Length / bs) > BlockCount)
            throw new ArgumentOutOfRangeException(nameof(data), "write outside the device or not a whole number of blocks");
        lock (_written)
            for (int i = 0; i < data.Length / bs; i++)
                _written[start.Value + (ulong)i] = data.Slice(i * bs, bs).ToArray();
    }

    public void Flush() { }

    public void Barrier() { }

    /// <summary>Drops the writes; the base device is the caller's.</summary>
    public void Dispose()
    {
        lock (_written) _written.Clear();
    }
}
