using System.Buffers.Binary;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs;

/// <summary>The kind of block a pointer names, which XN type it is registered as.</summary>
/// <remarks>A directory's blocks and indirect blocks are <see cref="Dir"/> and <see cref="DInd1"/>..<see cref="DInd3"/> (format 3).</remarks>
internal enum BlockKind { Data, Inodes, Ind1, Ind2, Ind3, Xattr, InodeBitmap, Csum, Dir, DInd1, DInd2, DInd3 }

/// <summary>XN edits (byte-range replacements in a parent block) of FFS's little-endian pointer and count fields.</summary>
internal static class FieldEdit
{
    public static Edit U64(int offset, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return new Edit(offset, b);
    }

    /// <summary><paramref name="count"/> consecutive u64 fields from <paramref name="offset"/>, holding first, first + 1, ...</summary>
    public static Edit U64Run(int offset, ulong first, int count)
    {
        var b = new byte[count * 8];
        for (int k = 0; k < count; k++) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(k * 8), first + (ulong)k);
        return new Edit(offset, b);
    }

    public static Edit U32(int offset, uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return new Edit(offset, b);
    }
}

/// <summary>
/// The one narrow door between FFS logic and the disk: every block read, raw write and pointer change
/// goes through here. The production implementation is <see cref="XnFfsDisk"/> (XN calls carrying the
/// environment's capability); tests may substitute another. Calls are made with the file system's lock
/// held, so implementations need not order concurrent calls themselves.
/// </summary>
internal interface IFfsDisk
{
    /// <summary>Reads <c>into.Length</c> bytes of <paramref name="block"/> from byte <paramref name="offset"/>.</summary>
    Errno Read(BlockNo block, int offset, Span<byte> into);
    /// <summary>Writes raw bytes (attributes, names, file data, bitmaps): never pointer fields.</summary>
    Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes);
    /// <summary>
    /// A raw write that must reach the disk after <paramref name="after"/>'s current contents (a directory
    /// entry after the table block of the inode it names): ordered at write-back, no write now.
    /// </summary>
    Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after);
    /// <summary>Points <paramref name="parent"/> at a new zero-filled child by applying <paramref name="edits"/>.</summary>
    Errno Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockKind kind, BlockNo child);
    /// <summary>
    /// Points <paramref name="parent"/> at <paramref name="count"/> new zero-filled data blocks from
    /// <paramref name="first"/> on (one pointer each, set by <paramref name="edits"/>, all in one partition) in
    /// one checked step.
    /// </summary>
    Errno AllocDataRun(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo first, int count);
    /// <summary>
    /// Writes whole data blocks from <paramref name="first"/> on, one device request for the run, no cache page
    /// per block; durable at the next sync like any write.
    /// </summary>
    Errno WriteDataBlocks(BlockNo first, ReadOnlySpan<byte> blocks);
    /// <summary>Reads whole data blocks from <paramref name="first"/> on (uncached ones in one device request).</summary>
    Errno ReadDataBlocks(BlockNo first, Span<byte> into);
    /// <summary>Drops <paramref name="child"/> from <paramref name="parent"/> by applying <paramref name="edits"/>.</summary>
    Errno Free(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo child);

    /// <summary>
    /// In one step, <paramref name="child"/> leaves <paramref name="from"/> (by <paramref name="fromEdits"/>) and
    /// joins <paramref name="to"/> (by <paramref name="toEdits"/>), keeping its contents; the two parents may be
    /// one block. Used to shift a file's blocks (fallocate's collapse and insert).
    /// </summary>
    Errno Move(BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits, BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, BlockNo child);

    /// <summary>
    /// Names the caller a request is for, to XN, until the scope is disposed: XN passes its uid and gid to the
    /// acl-UDFs (the libFS's claim, for its own invariants). Null where there is no XN to tell.
    /// </summary>
    IDisposable? ActAs(uint uid, uint gid);

    /// <summary>Blocks XN can give out now, to whoever asks (FFS's own free blocks among them).</summary>
    ulong FreeBlocks { get; }
    /// <summary>
    /// XN's free map over [<paramref name="start"/>, start + <paramref name="count"/>), read-only: blocks free now
    /// and blocks freed whose reuse waits for a sync. The allocation groups' free space (FFS keeps no block bitmap).
    /// </summary>
    Result<XnFreeCount> CountFree(BlockNo start, ulong count);
    /// <summary>A free run of <paramref name="count"/> blocks near <paramref name="hint"/> (ENOSPC if none).</summary>
    Result<BlockNo> FindFree(BlockNo hint, ulong count);
    /// <summary>
    /// Writes one dirty block to the device now (after the blocks it was ordered after), ahead of the rest:
    /// everything written later is ordered after it (XN puts a barrier before its next writes). EAGAIN when a
    /// block it points at must be written first. Used where FFS itself must order two updates at once.
    /// </summary>
    Errno WriteBack(BlockNo block);
    /// <summary>Makes everything written so far durable (and lets deferred frees complete).</summary>
    Errno Sync();
    /// <summary>Blocks on the device.</summary>
    ulong DeviceBlocks { get; }
}
