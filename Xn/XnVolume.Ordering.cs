using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Registry;

namespace ExoFS.Xn;

// Ordered write-back. Rule 1: a block whose PendingChildren is non-empty (it points at a block not yet
// initialized on disk) is never written; writing the child removes the edge. Every metadata write is
// preceded by the free-map blocks that mark its children allocated, with a barrier in between, so the
// persisted free map is always a superset of what durable pointers reach. Rule 2 lives in DeferredFrees:
// frees are released only after a flush that follows the nullified parent's write. The in-flight record
// (Ordering/InFlight.cs) goes before the map blocks that mark its blocks allocated, and after the ones that
// release them, so that recovery can settle the map exactly without a scan.
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
            // Blocks this one must follow (soft edges, and what they in turn must follow) go first, in
            // their own dependency levels.
            if (e.WriteAfter is { Count: > 0 })
            {
                var ahead = DependencyClosure(e, withChildren: false);
                if (ahead.Count > 0)
                {
                    var r = WriteInLevels(ahead);
                    if (!r.Ok) return r;
                }
            }
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

    /// <summary>
    /// The dirty blocks <paramref name="e"/> must follow, directly or through others: the targets of its soft
    /// edges (<see cref="RegistryEntry.WriteAfter"/>), with its own unwritten children too when
    /// <paramref name="withChildren"/>, and from those on both kinds of edge. Not <paramref name="e"/> itself.
    /// </summary>
    private List<RegistryEntry> DependencyClosure(RegistryEntry e, bool withChildren)
    {
        var seen = new HashSet<ulong> { e.Block };
        var result = new List<RegistryEntry>();
        var stack = new Stack<ulong>();
        if (e.WriteAfter is { } own) foreach (var c in own) stack.Push(c);
        if (withChildren && e.PendingChildren is { } kids0) foreach (var c in kids0) stack.Push(c);
        while (stack.Count > 0)
        {
            ulong b = stack.Pop();
            if (!seen.Add(b) || !_registry.TryGetValue(b, out var d) || !d.Dirty) continue;
            result.Add(d);
            if (d.PendingChildren is { } kids) foreach (var c in kids) stack.Push(c);
            if (d.WriteAfter is { } soft) foreach (var c in soft) stack.Push(c);
        }
        return result;
    }

    /// <summary>
    /// A raw write whose bytes must reach the disk only after <paramref name="after"/>'s current contents:
    /// the libFS's own ordering that XN cannot see in pointers (FFS: a directory entry names an inode by
    /// number, so the entry's block goes after the inode's table block). XN records a soft edge that Sync,
    /// WriteBack and write-back under pressure all honour; the edge holds until <paramref name="block"/> is
    /// next written. The caller needs Write on <paramref name="block"/> and Read on <paramref name="after"/>
    /// (an edge can delay only the caller's own block). An edge that would close a cycle is not recorded
    /// (see below); Sync also drops a soft edge that closes a cycle with Move's edges.
    /// </summary>
    internal XnResult WriteRawAfterLocked(XnSession s, BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after)
    {
        if (IsReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        var a = Authorize(s, after, Rights.Read, out var first);
        if (!a.Ok) return a;
        var r = WriteRawLocked(s, block, offset, bytes);
        // A block already clean is on the medium (or queued before the next barrier, which every later
        // write of this block waits for): nothing to wait for. And if `after` itself must follow this
        // block (it points at it, directly or through others), the edge would close a cycle; it is not
        // needed either: until `after` is written, nothing on disk reaches these bytes through it.
        if (!r.Ok || first.Block == block.Value || !first.Dirty || MustFollow(first, block.Value)) return r;
        _registry.TryGetValue(block.Value, out var e);
        (e!.WriteAfter ??= new HashSet<ulong>()).Add(first.Block);
        return r;
    }

    /// <summary>Whether dirty <paramref name="e"/> must be written after dirty <paramref name="block"/> (through any chain of edges).</summary>
    private bool MustFollow(RegistryEntry e, ulong block) =>
        (e.PendingChildren is { Count: > 0 } || e.WriteAfter is { Count: > 0 })
        && DependencyClosure(e, withChildren: true).Exists(d => d.Block == block);

    /// <summary>Whether <paramref name="block"/> is cached with changes not yet written (tests).</summary>
    internal bool IsDirty(ulong block) { lock (Gate) return _registry.TryGetValue(block, out var e) && e.Dirty; }
    /// <summary>Blocks with changes not yet written (tests).</summary>
    internal int DirtyBlocks { get { lock (Gate) return _registry.DirtyCount; } }

    /// <summary>Most blocks <see cref="WriteBatch"/> joins into one device write (256 KiB).</summary>
    private const int MaxRunBlocks = 64;
    private byte[]? _runBuffer;

    /// <summary>Writes one untainted dirty block and records what the write makes true.</summary>
    private void WriteBlock(RegistryEntry e)
    {
        e.InIo = true;
        // A zero-filled block never materialized is written as zeros: rule 1 is about the disk, and the
        // disk may hold a previous owner's bytes there.
        _dev.Write(e.BlockNo, Stamped(e));
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
            // A segment's blocks join into one request however many they are (its filled part is one write).
            while (j < batch.Count && batch[j].Block == batch[j - 1].Block + 1
                   && (j - i < MaxRunBlocks || SameSegment(batch[i], batch[j]))) j++;
            if (j - i == 1) WriteBlock(batch[i]);
            else
            {
                if (_runBuffer is null || _runBuffer.Length < (j - i) * BlockSize)
                    _runBuffer = new byte[Math.Max(MaxRunBlocks, j - i) * BlockSize];
                var buffer = _runBuffer;
                for (int k = i; k < j; k++)
                {
                    var e = batch[k];
                    e.InIo = true;
                    Stamped(e).CopyTo(buffer.AsSpan((k - i) * BlockSize, BlockSize));
                }
                _dev.Write(batch[i].BlockNo, buffer.AsSpan(0, (j - i) * BlockSize));
                for (int k = i; k < j; k++) Written(batch[k]);
            }
            i = j;
        }
    }

    private readonly byte[] _stampedZero = new byte[BlockSize];

    /// <summary>
    /// The bytes write-back puts on the device for <paramref name="e"/>: its page (zeros if it never had
    /// one), with the checksum of a checksummed type stamped into its field — in the page itself, so the
    /// cache holds what the disk holds. The one place XN writes typed blocks (WriteBlock and WriteBatch,
    /// which segment write-back also uses) goes through here.
    /// </summary>
    private ReadOnlySpan<byte> Stamped(RegistryEntry e)
    {
        var t = _types.Get(e.Type);
        if (t is not { HasChecksum: true }) return e.Cached ? e.Bytes : ZeroBlock;
        Span<byte> bytes = e.Cached ? e.Bytes : _stampedZero;
        if (!e.Cached) bytes.Clear();
        Xn.Format.BlockChecksum.Stamp(e.Block, t.Id, bytes, t.ChecksumOffset);
        return bytes;
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
        _inflight.Written(e.Block);
        _segmentDeferred.Written(e.Block);
    }

    /// <summary>
    /// Writes <paramref name="dirty"/> (dirty blocks) children-first: a block's level is one more than the
    /// highest level of the dirty blocks it must follow (its unwritten children; softly, the blocks named
    /// by its <see cref="RegistryEntry.WriteAfter"/>). The free map goes first, then the levels in order
    /// with a barrier before each; the caller flushes or barriers after the last. Throws IOException.
    /// </summary>
    private XnResult WriteInLevels(List<RegistryEntry> dirty)
    {
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
                    // A cycle of soft edges cannot be ordered; the edge that closes it is dropped.
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
            // A barrier between dependency levels; the caller orders the last one.
            if (g > 0) _dev.Barrier();
            var batch = (OrderingEnabled ? groups[g].OrderBy(e => e.Block) : groups[g].OrderByDescending(e => e.PendingChildren?.Count ?? 0)).ToList();
            if (OrderingEnabled && batch.Find(e => e.Tainted) is { } stuck)
                return Fail(XnError.Tainted, $"block {stuck.Block} is still tainted during sync (a child is not cached)");
            WriteBatch(batch);
        }
        return XnResult.Success;
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
            var r = WriteInLevels(_registry.Dirty.ToList());
            if (!r.Ok) return r;
            _dev.Flush();
            _unorderedWrites = 0;

            // Everything written above is durable: release the frees it made safe, then persist the map
            // so the next load sees them free.
            var released = _deferred.TakeReleasable();
            foreach (var x in released) _free.Release(x);
            ReleaseSegmentDeferred();
            // The blocks whose parents' writes are now durable are settled, and so are the released ones.
            _inflight.Released(released);
            _inflight.Durable();
            _settledCount = 0;
            if (_free.AnyDirty)
            {
                WriteMapBlocks(all: false);
                _dev.Flush();
                _unorderedWrites = 0;
            }
            // The map that frees the released blocks is durable before the record stops naming them. The new
            // record need not be durable now: until it is, the older one is in force, and every block it names
            // is settled correctly from its parents' durable bytes (they are all durable now). The next record
            // write before a map write that allocates, or the next flush, makes it durable.
            if (_inflight.Changed) WriteRecord();
        }
        catch (IOException x)
        {
            return Fail(XnError.Io, $"sync: {x.Message}");
        }
        return XnResult.Success;
    }
}
