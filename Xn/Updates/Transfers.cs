using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Registry;

namespace ExoFS.Xn;

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
public sealed partial class XnVolume
{
    /// <summary>See <see cref="XnSession.WriteThrough"/>.</summary>
    internal XnResult WriteThroughLocked(XnSession s, BlockNo start, ReadOnlySpan<byte> blocks)
    {
        if (IsReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        if (blocks.Length == 0 || blocks.Length % BlockSize != 0)
            return Fail(XnError.NotRawRange, $"WriteThrough takes whole blocks, not {blocks.Length} bytes");
        int n = blocks.Length / BlockSize;
        var r = CheckExtent(new Extent(start, (ulong)n));
        if (!r.Ok) return r;
        var entries = new RegistryEntry[n];
        for (int i = 0; i < n; i++)
        {
            var b = start.Offset((ulong)i);
            var a = Authorize(s, b, Rights.Write, out var e);
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
                    r = WriteRawLocked(s, entries[i].BlockNo, 0, blocks.Slice(i * BlockSize, BlockSize));
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
                for (int k = i; k < j; k++) Written(entries[k]);
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
        var r = CheckExtent(new Extent(start, (ulong)n));
        if (!r.Ok) return r;
        var entries = new RegistryEntry[n];
        for (int i = 0; i < n; i++)
        {
            var a = Authorize(s, start.Offset((ulong)i), Rights.Read, out var e);
            if (!a.Ok) return a;
            r = PrepareSegmentAccess(e);
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
                r = ReadLocked(s, e.BlockNo, into.Slice(i * BlockSize, BlockSize));
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
}
