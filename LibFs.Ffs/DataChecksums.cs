using System.Buffers.Binary;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// Data checksums (mkfs <c>--data-checksums</c>; layout in <see cref="CsumBlock"/>): a CRC-32C per data block in
/// FFS's own ffs.csum blocks, which XN checksums in turn. Kept by <see cref="XnFfsDisk"/>, the one door to the
/// disk: every raw write to a block that is not one of FFS's fixed metadata blocks (superblock, bitmaps, inode
/// tables, the csum runs themselves) re-records the block's slot, and an Alloc of a data block records the zero
/// block's, so a hole has no checksum and a preallocated block reads as the zeros it holds. Only file reads
/// (<see cref="FfsFileSystem.Read"/>) verify: directory and xattr blocks get slots they never use (they are
/// metadata, with XN's checksums where typed). Not crash-atomic: a data block and its slot live in different
/// blocks, so a crash between their writes leaves a block that fails until rewritten (docs in README.md).
/// </summary>
internal sealed class DataChecksums
{
    private readonly IFfsDisk _disk;
    private readonly ulong[] _runs;             // per group: first csum block
    private readonly HashSet<ulong> _fixed;     // FFS metadata blocks written raw, never data
    private readonly byte[] _block = new byte[FfsLayout.BlockSize];
    private readonly byte[] _slot = new byte[4];
    private readonly ulong _blocksPerGroup;
    private static readonly byte[] Zero = new byte[FfsLayout.BlockSize];

    public DataChecksums(IFfsDisk disk, ulong[] runs, IEnumerable<ulong> fixedMetadata, ulong blocksPerGroup)
    {
        _disk = disk;
        _runs = runs;
        _blocksPerGroup = blocksPerGroup;
        _fixed = new HashSet<ulong>(fixedMetadata);
    }

    /// <summary>Called with each data block that fails its checksum (block, one-line reason).</summary>
    public Action<ulong, string>? Damaged { get; set; }

    private bool IsCsum(ulong b)
    {
        foreach (ulong r in _runs)
            if (b >= r && b < r + CsumBlock.BlocksPerGroup) return true;
        return false;
    }

    /// <summary>Where <paramref name="b"/>'s slot lies; false for a block outside the groups.</summary>
    private bool Locate(ulong b, out BlockNo csum, out int offset)
    {
        ulong g = b / _blocksPerGroup;
        csum = default;
        offset = 0;
        if (g >= (ulong)_runs.Length) return false;
        var (i, off) = CsumBlock.SlotOf(b % _blocksPerGroup);
        csum = new BlockNo(_runs[g] + (ulong)i);
        offset = off;
        return true;
    }

    /// <summary>Whether a raw write to <paramref name="b"/> may have changed a data block's bytes.</summary>
    public bool Covers(ulong b) => !_fixed.Contains(b) && !IsCsum(b);

    /// <summary>Records the slot of <paramref name="b"/> from its current bytes (<paramref name="whole"/> if the caller has all 4096).</summary>
    public Errno Record(ulong b, ReadOnlySpan<byte> whole = default)
    {
        if (!Locate(b, out var csum, out int off)) return Errno.OK;
        if (whole.Length != FfsLayout.BlockSize)
        {
            var err = _disk.Read(new BlockNo(b), 0, _block);
            if (err != Errno.OK) return err;
            whole = _block;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(_slot, CsumBlock.Of(b, whole));
        return _disk.WriteRaw(csum, off, _slot);
    }

    /// <summary>A newly allocated data block: XN zero-filled it.</summary>
    public Errno Allocated(ulong b) => Record(b, Zero);

    /// <summary>
    /// Reads bytes [<paramref name="inBlock"/>, +into.Length) of file <paramref name="ino"/>'s data block
    /// <paramref name="b"/>, verifying the whole block against its slot first: EIO (and the block named) on a mismatch.
    /// </summary>
    public Errno Read(ulong ino, ulong b, int inBlock, Span<byte> into)
    {
        bool whole = inBlock == 0 && into.Length == FfsLayout.BlockSize;
        Span<byte> bytes = whole ? into : _block;
        var err = _disk.Read(new BlockNo(b), 0, bytes);
        if (err != Errno.OK) return err;
        var v = Check(ino, b, bytes);
        if (v != Errno.OK)
        {
            if (whole) into.Clear();   // never hand out bytes that failed
            return v;
        }
        if (!whole) bytes.Slice(inBlock, into.Length).CopyTo(into);
        return Errno.OK;
    }

    /// <summary>
    /// Verifies whole blocks <paramref name="first"/>.. of file <paramref name="ino"/>, already read into
    /// <paramref name="blocks"/> (a run read in one request): on the first mismatch the block is named, every
    /// byte is cleared and EIO returned.
    /// </summary>
    public Errno VerifyRun(ulong ino, ulong first, Span<byte> blocks)
    {
        for (int k = 0; k < blocks.Length / FfsLayout.BlockSize; k++)
        {
            var v = Check(ino, first + (ulong)k, blocks.Slice(k * FfsLayout.BlockSize, FfsLayout.BlockSize));
            if (v == Errno.OK) continue;
            blocks.Clear();   // never hand out bytes that failed
            return v;
        }
        return Errno.OK;
    }

    /// <summary><see cref="Verify"/>, naming a mismatching block of file <paramref name="ino"/>.</summary>
    private Errno Check(ulong ino, ulong b, ReadOnlySpan<byte> bytes)
    {
        var v = Verify(b, bytes);
        if (v == Errno.EIO) Damaged?.Invoke(b, $"data block {b} of inode {ino}: checksum mismatch");
        return v;
    }

    /// <summary>OK when <paramref name="bytes"/> (block <paramref name="b"/>) match the recorded slot or none is recorded; EIO when not.</summary>
    public Errno Verify(ulong b, ReadOnlySpan<byte> bytes)
    {
        if (!Locate(b, out var csum, out int off)) return Errno.OK;
        var err = _disk.Read(csum, off, _slot);
        if (err != Errno.OK) return err;
        uint want = BinaryPrimitives.ReadUInt32LittleEndian(_slot);
        return want == 0 || want == CsumBlock.Of(b, bytes) ? Errno.OK : Errno.EIO;
    }

    /// <summary>Checks block <paramref name="b"/> as fsck does (reads it whole); EIO on a mismatch.</summary>
    public Errno Scrub(ulong b)
    {
        var buf = new byte[FfsLayout.BlockSize];
        var err = _disk.Read(new BlockNo(b), 0, buf);
        return err != Errno.OK ? err : Verify(b, buf);
    }
}
