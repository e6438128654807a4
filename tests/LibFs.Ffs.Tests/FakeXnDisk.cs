using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Udf;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// An in-memory stand-in for XN that enforces XN's update rules with the real FFS UDFs: an Alloc/Free is
/// accepted only if the parent's owns-set (run by the kernel's UDF interpreter) changes by exactly the
/// child, and raw writes to metadata blocks must stay inside the type's raw-write ranges. It lets the FFS
/// logic be tested without the rest of the stack, and catches any pointer written behind XN's back.
/// </summary>
internal sealed class FakeXnDisk : IFfsDisk
{
    private readonly Dictionary<ulong, byte[]> _blocks = new();
    private readonly Dictionary<ulong, BlockKind?> _kind = new(); // null = the superblock
    private readonly HashSet<ulong> _used = new();
    private static readonly VerifiedUdf Super = Verify(FfsUdfs.SuperOwns), Inodes = Verify(FfsUdfs.InodesOwns),
        Ind1 = Verify(FfsUdfs.Ind1Owns), Ind2 = Verify(FfsUdfs.Ind2Owns), Ind3 = Verify(FfsUdfs.Ind3Owns),
        InodeBitmap = Verify(FfsUdfs.InodeBitmapOwns),
        DInd1 = Verify(FfsUdfs.DInd1Owns), DInd2 = Verify(FfsUdfs.DInd2Owns), DInd3 = Verify(FfsUdfs.DInd3Owns);
    private static readonly (int, int)[] SuperRaw = FfsUdfs.SuperRawWrite().ToArray();
    private static readonly (int, int)[] InodesRaw = FfsUdfs.InodesRawWrite().ToArray();
    private static readonly (int, int)[] LeafRaw = [(0, FfsLayout.TailPayloadBytes)];
    private static readonly (int, int)[] InodeBitmapRaw = [(0, CsumBlock.InodeBitmapBytes)];

    public int Allocs, Frees, RawWrites;

    public FakeXnDisk(ulong blocks)
    {
        DeviceBlocks = blocks;
        _used.Add(0); // XN's own superblock
    }

    public ulong DeviceBlocks { get; }

    /// <summary>Unlike XN, frees here are reusable at once.</summary>
    public ulong FreeBlocks => DeviceBlocks - (ulong)_used.Count;

    public static VerifiedUdf Verify(string text)
    {
        var r = UdfVerifier.Verify(text);
        return r.Udf ?? throw new InvalidOperationException(r.Reason);
    }

    /// <summary>Makes a root block the way XN's InstallRoot does.</summary>
    public BlockNo InstallRoot()
    {
        ulong b = 1;
        while (_used.Contains(b)) b++;
        _used.Add(b);
        _kind[b] = null;
        _blocks[b] = new byte[FfsLayout.BlockSize];
        return new BlockNo(b);
    }

    private byte[] Block(ulong b) => _blocks.TryGetValue(b, out var x) ? x : _blocks[b] = new byte[FfsLayout.BlockSize];

    public bool IsUsed(ulong b) => _used.Contains(b);

    /// <summary>Another libFS's block, as far as FFS can tell: allocated, and nothing of FFS's points at it.</summary>
    public void TakeForeign(ulong b) => Assert.True(_used.Add(b), $"block {b} is in use already");

    /// <summary>Marks <paramref name="b"/> free behind FFS's back (a free map that lost a block: XN's damage).</summary>
    public void ForgetBlock(ulong b) => Assert.True(_used.Remove(b), $"block {b} is not in use");
    public int UsedCount => _used.Count;

    public Errno Read(BlockNo block, int offset, Span<byte> into)
    {
        if (block.Value >= DeviceBlocks || offset < 0 || offset + into.Length > FfsLayout.BlockSize) return Errno.EIO;
        Block(block.Value).AsSpan(offset, into.Length).CopyTo(into);
        return Errno.OK;
    }

    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes)
    {
        if (!_used.Contains(block.Value)) throw new InvalidOperationException($"raw write to unowned block {block}");
        if (offset < 0 || offset + bytes.Length > FfsLayout.BlockSize) throw new InvalidOperationException("raw write out of block");
        var kind = _kind.GetValueOrDefault(block.Value, BlockKind.Data);
        (int, int)[]? ranges = kind switch
        {
            null => SuperRaw, BlockKind.Inodes => InodesRaw, BlockKind.Data => null,
            BlockKind.Xattr or BlockKind.Csum or BlockKind.Dir => LeafRaw, BlockKind.InodeBitmap => InodeBitmapRaw,
            _ => Array.Empty<(int, int)>(),
        };
        int end = offset + bytes.Length;
        if (ranges is not null && !ranges.Any(r => offset >= r.Item1 && end <= r.Item1 + r.Item2))
            throw new InvalidOperationException($"raw write [{offset},{end}) outside the raw ranges of a {kind?.ToString() ?? "super"} block");
        bytes.CopyTo(Block(block.Value).AsSpan(offset));
        RawWrites++;
        return Errno.OK;
    }

    private VerifiedUdf? UdfOf(ulong b) => _kind.GetValueOrDefault(b, BlockKind.Data) switch
    {
        null => Super, BlockKind.Inodes => Inodes, BlockKind.Ind1 => Ind1, BlockKind.Ind2 => Ind2, BlockKind.Ind3 => Ind3,
        BlockKind.InodeBitmap => InodeBitmap, BlockKind.DInd1 => DInd1, BlockKind.DInd2 => DInd2, BlockKind.DInd3 => DInd3, _ => null,
    };

    public static HashSet<(string, ulong)> Owns(VerifiedUdf udf, byte[] block, int partition)
    {
        var output = new List<UdfExtent>();
        var r = udf.Run(block, partition, output);
        if (!r.Ok) throw new InvalidOperationException($"owns-UDF {udf.Name} faulted: {r.Fault}");
        var set = new HashSet<(string, ulong)>();
        foreach (var e in output)
            for (ulong k = 0; k < e.Count; k++)
                if (!set.Add((udf.TypeNames[e.TypeIndex], e.Start + k))) throw new InvalidOperationException("owned twice");
        return set;
    }

    private static string TypeName(BlockKind k) => k switch
    {
        BlockKind.Data => FfsUdfs.DataType, BlockKind.Inodes => FfsUdfs.InodesType, BlockKind.Ind1 => FfsUdfs.Ind1Type,
        BlockKind.Ind2 => FfsUdfs.Ind2Type, BlockKind.Xattr => FfsUdfs.XattrType,
        BlockKind.InodeBitmap => FfsUdfs.InodeBitmapType, BlockKind.Csum => FfsUdfs.CsumType,
        BlockKind.Dir => FfsUdfs.DirType, BlockKind.DInd1 => FfsUdfs.DInd1Type, BlockKind.DInd2 => FfsUdfs.DInd2Type,
        BlockKind.DInd3 => FfsUdfs.DInd3Type,
        _ => FfsUdfs.Ind3Type,
    };

    private (HashSet<(string, ulong)> Before, HashSet<(string, ulong)> After, byte[] NewBlock) Diff(BlockNo parent, int partition, IReadOnlyList<Edit> edits)
    {
        var udf = UdfOf(parent.Value) ?? throw new InvalidOperationException($"block {parent} owns nothing");
        var old = Block(parent.Value);
        var now = (byte[])old.Clone();
        foreach (var e in edits) e.Bytes.Span.CopyTo(now.AsSpan(e.Offset));
        // Edits may touch only the partition's own read set (else another partition changed unseen), or raw bytes
        // (an inode's size and flags ride in the Alloc of its direct blocks).
        var set = udf.ReadSet(partition);
        var raw = _kind.GetValueOrDefault(parent.Value, BlockKind.Data) == BlockKind.Inodes ? InodesRaw : [];
        foreach (var e in edits)
            if (!set.Any(r => e.Offset >= r.Offset && e.Offset + e.Bytes.Length <= r.End)
                && !raw.Any(r => e.Offset >= r.Item1 && e.Offset + e.Bytes.Length <= r.Item1 + r.Item2))
                throw new InvalidOperationException($"edit at {e.Offset} outside partition {partition}'s read set");
        return (Owns(udf, old, partition), Owns(udf, now, partition), now);
    }

    public Errno Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockKind kind, BlockNo child)
    {
        if (_used.Contains(child.Value) || child.Value >= DeviceBlocks) throw new InvalidOperationException($"alloc of non-free block {child}");
        var (before, after, now) = Diff(parent, partition, edits);
        var expect = new HashSet<(string, ulong)>(before) { (TypeName(kind), child.Value) };
        if (!after.SetEquals(expect)) throw new InvalidOperationException($"alloc diff mismatch on {parent} p{partition}");
        _blocks[parent.Value] = now;
        _used.Add(child.Value);
        _kind[child.Value] = kind;
        _blocks[child.Value] = new byte[FfsLayout.BlockSize];
        Allocs++;
        return Errno.OK;
    }

    /// <summary>One checked step for the whole run, as XN's multi-extent Alloc: owns after = before ∪ every block.</summary>
    public Errno AllocDataRun(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo first, int count)
    {
        var expect = new HashSet<(string, ulong)>();
        for (int k = 0; k < count; k++)
        {
            ulong b = first.Value + (ulong)k;
            if (_used.Contains(b) || b >= DeviceBlocks) throw new InvalidOperationException($"alloc of non-free block {b}");
            expect.Add((FfsUdfs.DataType, b));
        }
        var (before, after, now) = Diff(parent, partition, edits);
        expect.UnionWith(before);
        if (!after.SetEquals(expect)) throw new InvalidOperationException($"run alloc diff mismatch on {parent} p{partition}");
        _blocks[parent.Value] = now;
        for (int k = 0; k < count; k++)
        {
            ulong b = first.Value + (ulong)k;
            _used.Add(b);
            _kind[b] = BlockKind.Data;
            _blocks[b] = new byte[FfsLayout.BlockSize];
        }
        Allocs++;
        RunAllocs++;
        return Errno.OK;
    }

    public int RunAllocs;

    public Errno WriteDataBlocks(BlockNo first, ReadOnlySpan<byte> blocks)
    {
        if (blocks.Length == 0 || blocks.Length % FfsLayout.BlockSize != 0) throw new InvalidOperationException("WriteDataBlocks takes whole blocks");
        for (int k = 0; k < blocks.Length / FfsLayout.BlockSize; k++)
        {
            ulong b = first.Value + (ulong)k;
            if (_kind.GetValueOrDefault(b, BlockKind.Data) != BlockKind.Data || !_used.Contains(b))
                throw new InvalidOperationException($"data write to block {b}, which is not an owned data block");
            WriteRaw(new BlockNo(b), 0, blocks.Slice(k * FfsLayout.BlockSize, FfsLayout.BlockSize));
        }
        return Errno.OK;
    }

    /// <summary>ReadDataBlocks calls: one device request each on XN.</summary>
    public int DataReads;

    public Errno ReadDataBlocks(BlockNo first, Span<byte> into)
    {
        DataReads++;
        for (int k = 0; k < into.Length / FfsLayout.BlockSize; k++)
        {
            var err = Read(first.Offset((ulong)k), 0, into.Slice(k * FfsLayout.BlockSize, FfsLayout.BlockSize));
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }

    public IDisposable? ActAs(uint uid, uint gid) => null;

    public Errno Free(BlockNo parent, int partition, IReadOnlyList<Edit> edits, BlockNo child)
    {
        var (before, after, now) = Diff(parent, partition, edits);
        var removed = new HashSet<(string, ulong)>(before);
        removed.ExceptWith(after);
        if (removed.Count != 1 || removed.First().Item2 != child.Value || !after.IsSubsetOf(before))
            throw new InvalidOperationException($"free diff mismatch on {parent} p{partition}");
        var cu = UdfOf(child.Value);
        if (cu is not null)
            for (int p = 0; p < cu.Partitions; p++)
                if (Owns(cu, Block(child.Value), p).Count != 0) throw new InvalidOperationException($"free of {child} which still owns blocks");
        _blocks[parent.Value] = now;
        _used.Remove(child.Value);
        _kind.Remove(child.Value);
        _blocks.Remove(child.Value);
        Frees++;
        return Errno.OK;
    }

    public Errno Move(BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits, BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, BlockNo child)
    {
        if (!_used.Contains(child.Value)) throw new InvalidOperationException($"move of unowned block {child}");
        if (from == to)
        {
            var all = fromEdits.Concat(toEdits).ToList();
            if (fromPartition == toPartition)
            {
                var (b, a, n) = Diff(from, fromPartition, all);
                if (!a.SetEquals(b)) throw new InvalidOperationException($"move diff mismatch inside {from} p{fromPartition}");
                _blocks[from.Value] = n;
            }
            else
            {
                // Each partition's owns reads only its own bytes, so each side's edits are checked on their own.
                var (fb, fa, _) = Diff(from, fromPartition, fromEdits);
                var (tb, ta, _) = Diff(from, toPartition, toEdits);
                var n = (byte[])Block(from.Value).Clone();
                foreach (var e in all) e.Bytes.Span.CopyTo(n.AsSpan(e.Offset));
                var removed = new HashSet<(string, ulong)>(fb);
                removed.ExceptWith(fa);
                var added = new HashSet<(string, ulong)>(ta);
                added.ExceptWith(tb);
                if (removed.Count != 1 || removed.First().Item2 != child.Value || !added.SetEquals(removed))
                    throw new InvalidOperationException($"move diff mismatch in {from} p{fromPartition}->p{toPartition}");
                _blocks[from.Value] = n;
            }
            Moves++;
            return Errno.OK;
        }
        var (fBefore, fAfter, fNow) = Diff(from, fromPartition, fromEdits);
        var (tBefore, tAfter, tNow) = Diff(to, toPartition, toEdits);
        var gone = new HashSet<(string, ulong)>(fBefore);
        gone.ExceptWith(fAfter);
        var came = new HashSet<(string, ulong)>(tAfter);
        came.ExceptWith(tBefore);
        if (gone.Count != 1 || gone.First().Item2 != child.Value || !came.SetEquals(gone) || !fAfter.IsSubsetOf(fBefore) || !tBefore.IsSubsetOf(tAfter))
            throw new InvalidOperationException($"move diff mismatch {from} p{fromPartition} -> {to} p{toPartition}");
        _blocks[from.Value] = fNow;
        _blocks[to.Value] = tNow;
        Moves++;
        return Errno.OK;
    }

    public int Moves;

    public Result<XnFreeCount> CountFree(BlockNo start, ulong count)
    {
        ulong free = 0;
        for (ulong b = start.Value; b < Math.Min(DeviceBlocks, start.Value + count); b++)
            if (!_used.Contains(b)) free++;
        return new XnFreeCount(free, 0);
    }

    public Result<BlockNo> FindFree(BlockNo hint, ulong count)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            ulong from = pass == 0 ? hint.Value : 0, to = pass == 0 ? DeviceBlocks : hint.Value;
            ulong run = 0;
            for (ulong b = from; b < to; b++)
            {
                run = _used.Contains(b) ? 0 : run + 1;
                if (run == count) return new BlockNo(b - count + 1);
            }
        }
        return Errno.ENOSPC;
    }

    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after) => WriteRaw(block, offset, bytes);

    public Errno WriteBack(BlockNo block) => Errno.OK;

    public Errno Sync() => Errno.OK;
}
