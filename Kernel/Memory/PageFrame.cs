namespace ExoFS.Kernel.Memory;

/// <summary>
/// A handle on one allocation of a 4 KiB page frame: its physical number, its owner, and its bytes (a slice
/// of the kernel's one big memory array). The handle dies when the owner frees the frame or the kernel
/// repossesses it; after that <see cref="Bytes"/> faults (throws), as a page access would after its TLB
/// entry was removed. A libOS told of a repossession (abort protocol) must stop using the handle; using a
/// dead handle is a libOS bug, hence an exception rather than a result.
/// </summary>
/// <remarks>
/// The simulation cannot unmap a <see cref="Memory{T}"/> a caller already copied out of the handle, so the
/// secure binding is at <see cref="Bytes"/> time: fetch it per use, do not cache it across upcalls.
/// </remarks>
public sealed class PageFrame
{
    /// <summary>Bytes per frame.</summary>
    public const int Size = 4096;

    private readonly Memory<byte> _bytes;
    private volatile bool _valid = true;

    internal PageFrame(PhysicalMemory pool, PageFrameNo number, EnvId owner, ulong generation, Memory<byte> bytes)
    {
        Pool = pool;
        Number = number;
        Owner = owner;
        Generation = generation;
        _bytes = bytes;
    }

    internal PhysicalMemory Pool { get; }

    /// <summary>The physical frame number (the name the repossession vector uses).</summary>
    public PageFrameNo Number { get; }

    /// <summary>The environment this allocation belongs to.</summary>
    public EnvId Owner { get; }

    /// <summary>Which allocation of this frame the handle is for (a frame reused later gets a higher one).</summary>
    public ulong Generation { get; }

    /// <summary>False once freed or repossessed.</summary>
    public bool IsValid => _valid;

    /// <summary>The frame's bytes, writable by the owner. Throws if the handle is dead.</summary>
    public Memory<byte> Bytes => _valid ? _bytes : throw new InvalidOperationException($"page frame {Number} (generation {Generation}) is no longer owned by {Owner}");

    /// <summary>A read-only view of the bytes, e.g. what XN hands out for a shared buffer-cache page.</summary>
    public ReadOnlyMemory<byte> ReadOnlyBytes => Bytes;

    /// <summary>The bytes, or false if the handle is dead (for code racing a revocation).</summary>
    public bool TryGetBytes(out Memory<byte> bytes)
    {
        bytes = _valid ? _bytes : Memory<byte>.Empty;
        return _valid;
    }

    internal Memory<byte> RawBytes => _bytes;

    internal void Invalidate() => _valid = false;

    public override string ToString() => $"{Number}@{Generation}({Owner}{(_valid ? "" : ", dead")})";
}
