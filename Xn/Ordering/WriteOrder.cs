using ExoFS.Kernel.Disk;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;
using static ExoFS.Xn.XnResult;

namespace ExoFS.Xn.Ordering;

/// <summary>
/// Ordered write-back. Rule 1: a block whose PendingChildren is non-empty (it points at a block not yet
/// initialized on disk) is never written; writing the child removes the edge. Every metadata write is
/// preceded by the free-map blocks that mark its children allocated, with a barrier in between (through
/// <see cref="MapWriter"/>), so the persisted free map is always a superset of what durable pointers reach.
/// Rule 2 lives in DeferredFrees: frees are released only after a flush that follows the nullified
/// parent's write. Soft edges (<see cref="RegistryEntry.WriteAfter"/>: a libFS's own ordering, a Move's
/// new parent first) are honoured by every path here: WriteBack, Sync, write-back under pressure. The one
/// place XN writes typed blocks is here (<see cref="Stamped"/>), so checksums are stamped here.
/// </summary>
internal sealed class WriteOrder
{
    private const int BlockSize = IBlockDevice.BlockSize;
    private static readonly byte[] ZeroBlock = new byte[IBlockDevice.BlockSize];
    private readonly VolumeState _s;
    private readonly IBlockDevice _dev;
    private readonly TypeTable _types;
    private readonly BlockRegistry _registry;
    private readonly FreeMap _free;
    private readonly DeferredFrees _deferred;
    private readonly InFlight _inflight;
    private readonly MapWriter _map;

    public WriteOrder(VolumeState state, MapWriter map)
    {
        _s = state;
        _dev = state.Device;
        _types = state.Types;
        _registry = state.Registry;
        _free = state.Free;
        _deferred = state.Deferred;
        _inflight = state.InFlight;
        _map = map;
    }

    internal XnResult WriteBackLocked(ulong block)
    {
        if (_s.ReadOnly) return Fail(XnError.ReadOnly, "volume is read-only");
        if (!_registry.TryGetValue(block, out var e) || !e.Dirty) return XnResult.Success;
        if (e.Tainted && _s.OrderingEnabled)
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
            _map.WriteFreeMap(all: false);
            // The children written before must reach the medium before this block points at them.
            _map.BarrierIfUnordered();
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
    internal List<RegistryEntry> DependencyClosure(RegistryEntry e, bool withChildren)
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

    /// <summary>Whether dirty <paramref name="e"/> must be written after dirty <paramref name="block"/> (through any chain of edges).</summary>
    internal bool MustFollow(RegistryEntry e, ulong block) =>
        (e.PendingChildren is { Count: > 0 } || e.WriteAfter is { Count: > 0 })
        && DependencyClosure(e, withChildren: true).Exists(d => d.Block == block);

    /// <summary>Most blocks <see cref="WriteBatch"/> joins into one device write (256 KiB).</summary>
    private const int MaxRunBlocks = 64;
    private byte[]? _runBuffer;

    /// <summary>Writes one untainted dirty block and records what the write makes true.</summary>
    internal void WriteBlock(RegistryEntry e)
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
    internal void WriteBatch(IReadOnlyList<RegistryEntry> batch)
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
    internal ReadOnlySpan<byte> Stamped(RegistryEntry e)
    {
        var t = _types.Get(e.Type);
        if (t is not { HasChecksum: true }) return e.Cached ? e.Bytes : ZeroBlock;
        Span<byte> bytes = e.Cached ? e.Bytes : _stampedZero;
        if (!e.Cached) bytes.Clear();
        // The write sequence first: the CRC covers it.
        if (t.HasSequence) _s.Versions.Stamp(e.Block, bytes, t.SequenceOffset);
        Xn.Format.BlockChecksum.Stamp(e.Block, t.Id, bytes, t.ChecksumOffset);
        return bytes;
    }

    /// <summary>Records what writing <paramref name="e"/>'s current bytes made true.</summary>
    internal void Written(RegistryEntry e)
    {
        e.ZeroFill = false;
        _map.Unordered++;
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
        _s.Segments.Deferred.Written(e.Block);
        _s.Versions.Written(e.Block);
    }

    /// <summary>
    /// Writes <paramref name="dirty"/> (dirty blocks) children-first: a block's level is one more than the
    /// highest level of the dirty blocks it must follow (its unwritten children; softly, the blocks named
    /// by its <see cref="RegistryEntry.WriteAfter"/>). The free map goes first, then the levels in order
    /// with a barrier before each; the caller flushes or barriers after the last. Throws IOException.
    /// </summary>
    internal XnResult WriteInLevels(List<RegistryEntry> dirty)
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
        if (!_s.OrderingEnabled)
            // The broken variant: one batch, parents (higher levels) first, no barriers between them.
            foreach (var e in dirty) level[e.Block] = 0;

        _map.WriteFreeMap(all: false);
        _map.BarrierIfUnordered();
        var groups = dirty.GroupBy(e => level[e.Block]).OrderBy(g => g.Key).ToList();
        for (int g = 0; g < groups.Count; g++)
        {
            // A barrier between dependency levels; the caller orders the last one.
            if (g > 0) _dev.Barrier();
            var batch = (_s.OrderingEnabled ? groups[g].OrderBy(e => e.Block) : groups[g].OrderByDescending(e => e.PendingChildren?.Count ?? 0)).ToList();
            if (_s.OrderingEnabled && batch.Find(e => e.Tainted) is { } stuck)
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
        if (_s.ReadOnly || _s.Closed) return XnResult.Success;
        try
        {
            var r = WriteInLevels(_registry.Dirty.ToList());
            if (!r.Ok) return r;
            _dev.Flush();
            _map.Unordered = 0;
            // The writes just flushed are durable: the block-version table may name them now.
            _s.Versions.Durable();

            // Everything written above is durable: release the frees it made safe, then persist the map
            // so the next load sees them free.
            var released = _deferred.TakeReleasable();
            foreach (var x in released) _free.Release(x);
            _s.Segments.ReleaseDeferred(_registry);
            // The blocks whose parents' writes are now durable are settled, and so are the released ones.
            _inflight.Released(released);
            _inflight.Durable();
            _map.SettledCount = 0;
            if (_free.AnyDirty)
            {
                _map.WriteMapBlocks(all: false);
                _dev.Flush();
                _map.Unordered = 0;
            }
            // The map that frees the released blocks is durable before the record stops naming them. The new
            // record need not be durable now: until it is, the older one is in force, and every block it names
            // is settled correctly from its parents' durable bytes (they are all durable now). The next record
            // write before a map write that allocates, or the next flush, makes it durable.
            if (_inflight.Changed) _map.WriteRecord();
            // The table names only writes made durable above (written after their flush: never newer than
            // the blocks); a crash before it is durable leaves the older table, which checks less.
            if (_s.Versions.Changed && _s.Versions.Persist is { } persist)
            {
                var p = persist();
                if (!p.Ok) return p;
            }
        }
        catch (IOException x)
        {
            return Fail(XnError.Io, $"sync: {x.Message}");
        }
        return XnResult.Success;
    }

    /// <summary>
    /// Writes back dirty blocks, the longest dirty first, until <paramref name="wantClean"/> cached pages
    /// have become clean or nothing more may legally be written. Each pass writes only blocks whose write
    /// is legal now: untainted (rule 1: every child they point at is on disk) and not waiting for the
    /// target of a Move (rule 3's order); the free map goes first with a barrier, as for any write-back,
    /// and a barrier separates passes, so a parent untainted by a pass is written only after its children
    /// are ordered before it. Nothing is released here (rule 2 waits for a Sync's flush). An I/O error
    /// leaves the rest dirty; the next Sync reports it.
    /// </summary>
    internal void WriteBackUnderPressure(int wantClean)
    {
        if (_s.ReadOnly || _s.Closed) return;
        var batch = new List<RegistryEntry>();
        int cleaned = 0;
        try
        {
            while (cleaned < wantClean)
            {
                batch.Clear();
                int cachedInBatch = 0;
                foreach (var e in _registry.Dirty)
                {
                    if (e.Tainted || !MoveTargetsWritten(e)) continue;
                    batch.Add(e);
                    if (e.Cached && ++cachedInBatch + cleaned >= wantClean) break;
                }
                if (batch.Count == 0) break;
                _map.WriteFreeMap(all: false);
                _map.BarrierIfUnordered();
                batch.Sort(static (a, b) => a.Block.CompareTo(b.Block));
                WriteBatch(batch);
                cleaned += cachedInBatch;
            }
        }
        catch (IOException)
        {
            // Whatever was not written stays dirty; Sync retries it and reports the error to the caller.
        }
    }

    /// <summary>False while a block this one gave a pointer to (a cross-block Move) is still dirty.</summary>
    private bool MoveTargetsWritten(RegistryEntry e)
    {
        if (e.WriteAfter is not { } targets) return true;
        foreach (var t in targets)
            if (_registry.TryGetValue(t, out var te) && te.Dirty) return false;
        return true;
    }

    /// <summary>Whether two consecutive blocks of a write batch may share one device request beyond <see cref="MaxRunBlocks"/>: both in one segment.</summary>
    private static bool SameSegment(RegistryEntry a, RegistryEntry b) => a.InSegment && a.Segment == b.Segment;
}
