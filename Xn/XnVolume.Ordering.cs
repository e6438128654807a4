using ExoFS.Kernel.Disk;
using ExoFS.Xn.Registry;

namespace ExoFS.Xn;

// Ordered write-back. Rule 1: a block whose PendingChildren is non-empty (it points at a block not yet
// initialized on disk) is never written; writing the child removes the edge. Every metadata write is
// preceded by the free-map blocks that mark its children allocated, with a barrier in between, so the
// persisted free map is always a superset of what durable pointers reach. Rule 2 lives in DeferredFrees:
// frees are released only after a flush that follows the nullified parent's write.
public sealed partial class XnVolume
{
    private int _unorderedWrites;      // writes issued since the last barrier
    private static readonly byte[] ZeroBlock = new byte[IBlockDevice.BlockSize];

    internal XnResult WriteBackLocked(ulong block)
    {
        if (IsReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        if (!_registry.TryGetValue(block, out var e) || !e.Dirty) return XnResult.Success;
        if (e.Tainted && OrderingEnabled)
            return Fail(XnError.Tainted, $"block {block} points at {e.PendingChildren!.Count} child block(s) not yet written (e.g. {e.PendingChildren.First()})");
        try
        {
            WriteFreeMap(all: false);
            // The children written before must reach the medium before this block points at them.
            if (_unorderedWrites > 0) { _dev.Barrier(); _unorderedWrites = 0; }
            WriteBlock(e);
        }
        catch (IOException x)
        {
            return Fail(XnError.Io, $"write block {block}: {x.Message}");
        }
        return XnResult.Success;
    }

    /// <summary>Most blocks <see cref="WriteBatch"/> joins into one device write (256 KiB).</summary>
    private const int MaxRunBlocks = 64;
    private byte[]? _runBuffer;

    /// <summary>Writes one untainted dirty block and records what the write makes true.</summary>
    private void WriteBlock(RegistryEntry e)
    {
        e.InIo = true;
        // A zero-filled block never materialized is written as zeros: rule 1 is about the disk, and the
        // disk may hold a previous owner's bytes there.
        _dev.Write(e.BlockNo, e.Cached ? e.Bytes : ZeroBlock);
        Written(e);
    }

    /// <summary>
    /// Writes a batch of untainted dirty blocks that may reach the disk in any order among themselves (one
    /// dependency level), joining runs of consecutive block numbers into one device write: a sequential
    /// file costs one system call per 256 KiB instead of per block. A device does not write a request
    /// atomically (the crash model treats it as one write per block), so this changes no ordering promise.
    /// </summary>
    private void WriteBatch(IReadOnlyList<RegistryEntry> batch)
    {
        for (int i = 0; i < batch.Count;)
        {
            int j = i + 1;
            while (j < batch.Count && j - i < MaxRunBlocks && batch[j].Block == batch[j - 1].Block + 1) j++;
            if (j - i == 1) WriteBlock(batch[i]);
            else
            {
                var buffer = _runBuffer ??= new byte[MaxRunBlocks * BlockSize];
                for (int k = i; k < j; k++)
                {
                    var e = batch[k];
                    e.InIo = true;
                    (e.Cached ? e.Bytes : ZeroBlock).CopyTo(buffer.AsSpan((k - i) * BlockSize, BlockSize));
                }
                _dev.Write(batch[i].BlockNo, buffer.AsSpan(0, (j - i) * BlockSize));
                for (int k = i; k < j; k++) Written(batch[k]);
            }
            i = j;
        }
    }

    /// <summary>Records what writing <paramref name="e"/>'s current bytes made true.</summary>
    private void Written(RegistryEntry e)
    {
        e.ZeroFill = false;
        _unorderedWrites++;
        e.InIo = false;
        e.Dirty = false;
        e.WriteAfter = null;
        if (!e.OnDisk)
        {
            e.OnDisk = true;
            if (e.Parent != RegistryEntry.CatalogueParent && _registry.TryGetValue(e.Parent, out var parent))
                parent.ChildWritten(e.Block);
        }
        _deferred.Written(e.Block);
    }

    /// <summary>
    /// Writes every dirty block children-first: a block's level is one more than the highest level of
    /// the blocks it must follow (its unwritten children; softly, the target of a Move it gave up a
    /// pointer to). Levels are written in order with a barrier between them, then the device is flushed;
    /// then deferred frees whose parents are durable are released and the free map is persisted again.
    /// </summary>
    internal XnResult SyncLocked()
    {
        if (IsReadOnly || _disposed) return XnResult.Success;
        try
        {
            var dirty = _registry.Dirty.ToList();
            var level = new Dictionary<ulong, int>();
            var onStack = new HashSet<ulong>();
            int Level(RegistryEntry e)
            {
                if (level.TryGetValue(e.Block, out int known)) return known;
                onStack.Add(e.Block);
                int l = 0;
                if (e.PendingChildren is { } kids)
                    foreach (var c in kids)
                        if (_registry.TryGetValue(c, out var ce) && ce.Dirty) l = Math.Max(l, Level(ce) + 1);
                if (e.WriteAfter is { } soft)
                    foreach (var c in soft)
                        // A cycle of moves cannot be ordered; the soft edge that closes it is dropped.
                        if (!onStack.Contains(c) && _registry.TryGetValue(c, out var ce) && ce.Dirty) l = Math.Max(l, Level(ce) + 1);
                onStack.Remove(e.Block);
                level[e.Block] = l;
                return l;
            }
            foreach (var e in dirty) Level(e);
            if (!OrderingEnabled)
                // The broken variant: one batch, parents (higher levels) first, no barriers between them.
                foreach (var e in dirty) level[e.Block] = 0;

            WriteFreeMap(all: false);
            if (_unorderedWrites > 0) { _dev.Barrier(); _unorderedWrites = 0; }
            var groups = dirty.GroupBy(e => level[e.Block]).OrderBy(g => g.Key).ToList();
            for (int g = 0; g < groups.Count; g++)
            {
                // A barrier between dependency levels; the flush below orders the last one.
                if (g > 0) _dev.Barrier();
                var batch = (OrderingEnabled ? groups[g].OrderBy(e => e.Block) : groups[g].OrderByDescending(e => e.PendingChildren?.Count ?? 0)).ToList();
                if (OrderingEnabled && batch.Find(e => e.Tainted) is { } stuck)
                    return Fail(XnError.Tainted, $"block {stuck.Block} is still tainted during sync (a child is not cached)");
                WriteBatch(batch);
            }
            _dev.Flush();
            _unorderedWrites = 0;

            // Everything written above is durable: release the frees it made safe, then persist the map
            // so the next load sees them free.
            var released = _deferred.TakeReleasable();
            foreach (var x in released) _free.Release(x);
            if (_free.AnyDirty)
            {
                WriteFreeMap(all: false);
                _dev.Flush();
                _unorderedWrites = 0;
            }
        }
        catch (IOException x)
        {
            return Fail(XnError.Io, $"sync: {x.Message}");
        }
        return XnResult.Success;
    }
}
