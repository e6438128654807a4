using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;
using static ExoFS.Xn.XnResult;

namespace ExoFS.Xn.Updates;

// Bulk data transfer: a run of consecutive file-data blocks moves between the caller's buffer and the device
// in one device request, without a cache page per block (XnSession.WriteThrough, XnSession.ReadBlocks).
// Nothing here changes ownership, so no UDF runs; the checks are the ones a raw write or read of each block
// makes (the caller's root and rights, the block's type). Why writing through is legal at any time:
// - xn.data owns nothing, so rule 1 has nothing to wait for; the write makes the block initialized on disk
//   (Written), which is what the parent's taint waits for, and the barrier XN puts before the next
//   metadata write orders the data before any pointer to it;
// - a block with a soft ordering edge (WriteAfter) or in I/O takes the cached path, which honours the edge;
// - segment bodies are refused: their write-back belongs to the segment (WriteBackSegment, Claim's taint).
// The bytes are in flight like any written-back block: durable at the next Sync, not before.
// WriteBlocks (a run of whole blocks into a segment body, through the cache) is here too.
internal sealed class Transfers
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly VolumeState _s;
    private readonly IBlockDevice _dev;
    private readonly TypeTable _types;
    private readonly BlockRegistry _registry;
    private readonly UpdateChecks _checks;
    private readonly Segments _segs;
    private readonly BlockUpdates _updates;
    private readonly WriteOrder _order;

    public Transfers(VolumeState state, UpdateChecks checks, Segments segs, BlockUpdates updates, WriteOrder order)
    {
        _s = state;
        _dev = state.Device;
        _types = state.Types;
        _registry = state.Registry;
        _checks = checks;
        _segs = segs;
        _updates = updates;
        _order = order;
    }

    /// <summary>See <see cref="XnSession.WriteThrough"/>.</summary>
    internal XnResult WriteThroughLocked(XnSession s, BlockNo start, ReadOnlySpan<byte> blocks)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        if (blocks.Length == 0 || blocks.Length % BlockSize != 0)
            return Fail(XnError.NotRawRange, $"WriteThrough takes whole blocks, not {blocks.Length} bytes");
        int n = blocks.Length / BlockSize;
        var r = _checks.CheckExtent(new Extent(start, (ulong)n));
        if (!r.Ok) return r;
        var entries = new RegistryEntry[n];
        for (int i = 0; i < n; i++)
        {
            var b = start.Offset((ulong)i);
            var a = _checks.Authorize(s, b, Rights.Write, out var e);
            if (!a.Ok) return a;
            if (e.InSegment || e.Body)
                return Fail(XnError.OutsideSegment, $"block {b} is in a segment: its body is written with WriteRaw/WriteBlocks and written back with the segment");
            if (!_types.Get(e.Type)!.IsData)
                return Fail(XnError.WrongType, $"block {b} ('{_types.Get(e.Type)!.Name}') is not xn.data: only file data is written through");
            entries[i] = e;
        }
        // All checked: from here every block is written (a device error leaves the cached ones dirty).
        try
        {
            for (int i = 0; i < n;)
            {
                if (!Direct(entries[i]))
                {
                    r = _updates.WriteRawLocked(s, entries[i].BlockNo, 0, blocks.Slice(i * BlockSize, BlockSize));
                    if (!r.Ok) return r;
                    i++;
                    continue;
                }
                int j = i + 1;
                while (j < n && Direct(entries[j])) j++;
                for (int k = i; k < j; k++)
                {
                    var e = entries[k];
                    // A cached page (another session may view it) gets the same bytes, so cache and disk agree.
                    if (e.Cached)
                    {
                        blocks.Slice(k * BlockSize, BlockSize).CopyTo(e.Bytes);
                        e.Dirty = true;
                    }
                    e.InIo = true;
                }
                try { _dev.Write(entries[i].BlockNo, blocks.Slice(i * BlockSize, (j - i) * BlockSize)); }
                finally { for (int k = i; k < j; k++) entries[k].InIo = false; }
                for (int k = i; k < j; k++) _order.Written(entries[k]);
                i = j;
            }
        }
        catch (IOException x)
        {
            return Fail(XnError.Io, $"write through blocks {start}+{n}: {x.Message}");
        }
        return XnResult.Success;

        static bool Direct(RegistryEntry e) => !e.InIo && e.WriteAfter is not { Count: > 0 };
    }

    /// <summary>See <see cref="XnSession.ReadBlocks"/>.</summary>
    internal XnResult ReadBlocksLocked(XnSession s, BlockNo start, Span<byte> into)
    {
        if (into.Length == 0 || into.Length % BlockSize != 0)
            return Fail(XnError.NotRawRange, $"ReadBlocks takes whole blocks, not {into.Length} bytes");
        int n = into.Length / BlockSize;
        var r = _checks.CheckExtent(new Extent(start, (ulong)n));
        if (!r.Ok) return r;
        var entries = new RegistryEntry[n];
        for (int i = 0; i < n; i++)
        {
            var a = _checks.Authorize(s, start.Offset((ulong)i), Rights.Read, out var e);
            if (!a.Ok) return a;
            r = _segs.PrepareSegmentAccess(e);
            if (!r.Ok) return r;
            entries[i] = e;
        }
        // Straight from the device: a data block with no page that is not the zero block (its disk bytes are
        // its bytes: a changed block is cached until written). Everything else as a block read does it.
        bool FromDevice(RegistryEntry e) => !e.Cached && !e.ZeroFill && _types.Get(e.Type)!.IsData;
        for (int i = 0; i < n;)
        {
            var e = entries[i];
            if (!FromDevice(e))
            {
                r = _updates.ReadLocked(s, e.BlockNo, into.Slice(i * BlockSize, BlockSize));
                if (!r.Ok) return r;
                i++;
                continue;
            }
            int j = i + 1;
            while (j < n && FromDevice(entries[j])) j++;
            try { _dev.Read(e.BlockNo, into.Slice(i * BlockSize, (j - i) * BlockSize)); }
            catch (IOException x) { return Fail(XnError.Io, $"read blocks {e.Block}+{j - i}: {x.Message}"); }
            i = j;
        }
        return XnResult.Success;
    }

    /// <summary>See <see cref="XnSession.WriteBlocks"/>: every block is checked first, then all are written.</summary>
    internal XnResult WriteBlocksLocked(XnSession s, BlockNo start, ReadOnlySpan<byte> blocks)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        if (blocks.Length == 0 || blocks.Length % BlockSize != 0)
            return Fail(XnError.NotRawRange, $"WriteBlocks takes whole blocks, not {blocks.Length} bytes");
        ulong n = (ulong)(blocks.Length / BlockSize);
        var r = _checks.CheckExtent(new Extent(start, n));
        if (!r.Ok) return r;
        for (ulong i = 0; i < n; i++)
        {
            var b = start.Offset(i);
            var a = _checks.Authorize(s, b, Rights.Write, out var e);
            if (!a.Ok) return a;
            r = _segs.PrepareSegmentAccess(e);
            if (!r.Ok) return r;
            if (e.Dead)
                return Fail(XnError.FreeDeferred, $"block {b} was freed inside its segment and its former parent's nullifying write is not durable yet");
            var t = _types.Get(e.Type)!;
            if (!t.IsRawWritable(0, BlockSize))
                return Fail(XnError.NotRawRange, $"block {b} ('{t.Name}') is not writable whole");
        }
        for (ulong i = 0; i < n; i++)
        {
            r = _updates.WriteRawLocked(s, start.Offset(i), 0, blocks.Slice((int)i * BlockSize, BlockSize));
            if (!r.Ok) return r;   // only a page-frame shortage or a read error gets here
        }
        return XnResult.Success;
    }
}
