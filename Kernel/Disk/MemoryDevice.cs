using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace ExoFS.Kernel.Disk;

/// <summary>
/// A device held in memory, for tests and simulation. Unwritten blocks read as zeros and take no memory.
/// <para>
/// Storage: a block's bytes live in a slot of a slab, a large array the device fills in order (the first slab
/// holds one block, each next one twice as many, up to <see cref="MaxSlabBlocks"/>), so a long sequential write
/// allocates a few large arrays rather than one small array per block, and a device that writes only a few blocks
/// (a crash state's clone) allocates little. A device <em>owns</em> the slots it filled itself; it overwrites an
/// owned slot in place. <see cref="Clone"/> copies the slot table (O(block count) references) and gives up
/// ownership on both sides, so the two share every slot and each side's next write to a block goes to a fresh slot
/// of its own (copy-on-write per block). A slot installed from outside (<see cref="InstallBlock"/>) is never owned.
/// </para>
/// <para>
/// First touch: the OS gives a slab's memory page by page at its first write (a page fault and a zeroed page per
/// 4 KiB; in a VM often a fault in the host as well), which costs more than the copy itself. Once a device fills
/// slabs of the largest size (a long write stream), it has the next slab allocated and its pages taken from the OS on a pool thread
/// while it fills the current one, so on a machine with a spare core the faults overlap the writer's work instead
/// of adding to it. The cost is the same CPU and at most one slab (1 MiB) taken ahead of need; memory is still taken
/// only as the device fills it, never for the whole device at once.
/// </para>
/// <para>
/// Thread-safety: reads may run concurrently with each other and with <see cref="Clone"/>; a write must not run
/// concurrently with a read or a clone of the same device (it may overwrite bytes in place). XN issues a volume's
/// device calls under its volume lock. A write is durable the moment it returns, so <see cref="IBlockDevice.Flush"/>
/// and <see cref="IBlockDevice.Barrier"/> only count.
/// </para>
/// </summary>
public sealed class MemoryDevice : BlockDeviceBase
{
    private const int BlockSize = IBlockDevice.BlockSize;
    /// <summary>The largest slab: 256 blocks (1 MiB).</summary>
    public const int MaxSlabBlocks = 256;

    private readonly byte[]?[] _slab;   // per block: the array holding its bytes (null: never written here)
    private readonly int[] _at;         // per block: where its bytes start in _slab[block]
    private readonly ulong[] _owned;    // bit per block: this device alone fills that slot, so it may overwrite it

    private byte[]? _fill;              // the slab new slots come from
    private int _fillNext;              // its first unused byte
    private int _nextSlabBlocks = 1;
    private Task<byte[]>? _ahead;       // the next largest slab, being allocated and its pages taken from the OS on a pool thread

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
        _slab = new byte[]?[blockCount];
        _at = new int[blockCount];
        _owned = new ulong[(blockCount + 63) / 64];
        _backing = backing;
    }

    private MemoryDevice(byte[]?[] slab, int[] at, IBlockDevice? backing)
    {
        _slab = slab;
        _at = at;
        _owned = new ulong[(slab.Length + 63) / 64];
        _backing = backing;
    }

    /// <summary>A device whose contents are a copy of <paramref name="image"/> (length a multiple of 4096).</summary>
    public static MemoryDevice FromBytes(ReadOnlySpan<byte> image)
    {
        if (image.Length % BlockSize != 0)
            throw new ArgumentException($"Image length {image.Length} is not a multiple of {BlockSize}.", nameof(image));
        var dev = new MemoryDevice((ulong)(image.Length / BlockSize));
        for (int b = 0; b < dev._slab.Length; b++)
        {
            var src = image.Slice(b * BlockSize, BlockSize);
            if (!src.ContainsAnyExcept((byte)0)) continue; // keep zero blocks sparse
            dev.WriteBlock(b, src);
        }
        return dev;
    }

    /// <inheritdoc />
    public override ulong BlockCount => (ulong)_slab.Length;

    /// <summary>
    /// An independent copy: later writes to either device do not show in the other. Cheap: blocks are shared
    /// until one side overwrites them.
    /// </summary>
    public MemoryDevice Clone()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        // Both sides give up their slots: from now on each writes a block it shares to a fresh slot. The unused
        // rest of this device's slab is still its own (no block names it).
        Array.Clear(_owned);
        return new MemoryDevice((byte[]?[])_slab.Clone(), (int[])_at.Clone(), _backing);
    }

    /// <summary>The whole image as one array (the device must be smaller than 2 GiB).</summary>
    public byte[] Snapshot()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        long length = (long)_slab.Length * BlockSize;
        if (length > Array.MaxLength)
            throw new InvalidOperationException($"Device of {length} bytes is too large to snapshot into one array.");
        var image = new byte[length];
        for (int b = 0; b < _slab.Length; b++)
            ReadBlock(b, image.AsSpan(b * BlockSize, BlockSize));
        return image;
    }

    /// <summary>Installs <paramref name="immutable"/> (4096 bytes) as block <paramref name="block"/> without copying; the caller never mutates it again.</summary>
    internal void InstallBlock(ulong block, byte[] immutable)
    {
        _slab[block] = immutable;
        _at[block] = 0;
        _owned[block >> 6] &= ~(1UL << (int)(block & 63));
    }

    /// <inheritdoc />
    protected override void ReadCore(BlockNo start, Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length / BlockSize; i++)
            ReadBlock((int)start.Value + i, buffer.Slice(i * BlockSize, BlockSize));
    }

    private void ReadBlock(int block, Span<byte> dest)
    {
        var data = _slab[block];
        if (data is not null) data.AsSpan(_at[block], BlockSize).CopyTo(dest);
        else if (_backing is not null) _backing.Read(new BlockNo((ulong)block), dest);
        else dest.Clear();
    }

    /// <inheritdoc />
    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length / BlockSize; i++)
            WriteBlock((int)start.Value + i, data.Slice(i * BlockSize, BlockSize));
    }

    private void WriteBlock(int block, ReadOnlySpan<byte> bytes)
    {
        ref ulong word = ref _owned[block >> 6];
        ulong bit = 1UL << (block & 63);
        if ((word & bit) != 0)
        {
            bytes.CopyTo(_slab[block].AsSpan(_at[block], BlockSize));
            return;
        }
        if (_fill is null || _fillNext == _fill.Length) NextSlab();
        bytes.CopyTo(_fill.AsSpan(_fillNext, BlockSize));
        _slab[block] = _fill;
        _at[block] = _fillNext;
        _fillNext += BlockSize;
        word |= bit;
    }

    /// <summary>
    /// Makes a fresh slab the one new slots come from. From the largest size on, takes the slab touched ahead if it is
    /// ready (never waits for it: a writer on a starved thread pool faults its own pages, as before) and starts the next.
    /// </summary>
    [MemberNotNull(nameof(_fill))]
    private void NextSlab()
    {
        _fillNext = 0;
        if (_ahead is { IsCompletedSuccessfully: true })
        {
            _fill = _ahead.Result; // the pool thread wrote only that array, and the task's completion publishes it
            _ahead = Task.Run(TouchedSlab);
            return;
        }
        // Uninitialized: every slot is filled by the write that takes it.
        _fill = GC.AllocateUninitializedArray<byte>(_nextSlabBlocks * BlockSize);
        _nextSlabBlocks = Math.Min(MaxSlabBlocks, _nextSlabBlocks * 2);
        if (_fill.Length == MaxSlabBlocks * BlockSize) _ahead ??= Task.Run(TouchedSlab);
    }

    /// <summary>
    /// A largest slab whose pages the OS has already given: on Linux by one madvise(MADV_POPULATE_WRITE) over its
    /// whole pages (Linux 5.14; one call instead of a fault per page, about a sixth less CPU on this project's VM),
    /// else, or where the kernel refuses it, by one write per page.
    /// </summary>
    private static unsafe byte[] TouchedSlab()
    {
        var slab = GC.AllocateUninitializedArray<byte>(MaxSlabBlocks * BlockSize);
        int page = Environment.SystemPageSize;
        if (OperatingSystem.IsLinux() && s_populate)
        {
            try
            {
                fixed (byte* p = slab) // pinned for the call only: afterwards the pages stay given wherever the array is
                {
                    nint first = ((nint)p + page - 1) & ~(nint)(page - 1), end = ((nint)p + slab.Length) & ~(nint)(page - 1);
                    if (Madvise(first, (nuint)(end - first), MadvPopulateWrite) == 0) return slab;
                }
            }
            catch (Exception x) when (x is DllNotFoundException or EntryPointNotFoundException) { }
            s_populate = false;
        }
        for (int i = 0; i < slab.Length; i += page) slab[i] = 0;
        return slab;
    }

    private const int MadvPopulateWrite = 23;
    private static volatile bool s_populate = true; // false once the kernel (older than 5.14) or the libc refused it

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int Madvise(nint address, nuint length, int advice);

    /// <inheritdoc />
    protected override void FlushCore() { }

    /// <inheritdoc />
    protected override void BarrierCore() { }
}
