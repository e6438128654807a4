using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;

namespace ExoFS.Xn.Ordering;

/// <summary>
/// XN's own ordered metadata: the free map blocks and the in-flight record (two alternating slots), and the
/// count of writes issued since the last barrier, which every writer of the volume shares. The record goes
/// before the map blocks that mark its blocks allocated (record, barrier, map) and after the ones that
/// release them (flush, release, map, flush, record): Xn/README.md, "Ordering and recovery".
/// </summary>
internal sealed class MapWriter
{
    private readonly VolumeState _s;
    private readonly IBlockDevice _dev;
    private readonly Layout _layout;
    private readonly FreeMap _free;
    private readonly DeferredFrees _deferred;
    private readonly InFlight _inflight;
    private ulong _recordSequence;       // sequence of the newest record written (or loaded)
    private int _recordSlot;             // slot holding it
    private byte[]? _recordBuffer;

    public MapWriter(VolumeState state)
    {
        _s = state;
        _dev = state.Device;
        _layout = state.Layout;
        _free = state.Free;
        _deferred = state.Deferred;
        _inflight = state.InFlight;
    }

    /// <summary>Writes issued since the last barrier (a barrier or flush that orders them sets it back to 0).</summary>
    internal int Unordered { get; set; }

    /// <summary>A barrier if anything was written since the last one: what came before reaches the medium first.</summary>
    internal void BarrierIfUnordered()
    {
        if (Unordered > 0) { _dev.Barrier(); Unordered = 0; }
    }

    /// <summary>The record slot and sequence in force (load: the newer valid slot; format: slot 1, so slot 0 is written first).</summary>
    internal void SetRecordInForce(int slot, ulong sequence)
    {
        _recordSlot = slot;
        _recordSequence = sequence;
    }

    /// <summary>
    /// Writes changed free-map blocks (or all of them), preceded, when the blocks in flight changed, by the
    /// in-flight record and a barrier: a block the map marks allocated must be named by the durable record
    /// until a pointer to it is durable (Xn/README.md, "Recovery"). The caller orders what follows.
    /// </summary>
    internal void WriteFreeMap(bool all)
    {
        if (_inflight.Changed && !_s.ReadOnly)
        {
            WriteRecord();
            _dev.Barrier();
            Unordered = 0;
            // Settle again only once the items have grown by an eighth of the record since the last time, so
            // items whose parents stay dirty in the cache do not cost two flushes per write-back.
            int capacity = RecordCapacity(_layout);
            if (_inflight.Count > capacity / 2 && _inflight.Count > SettledCount + capacity / 8) Settle(all);
        }
        WriteMapBlocks(all);
    }

    /// <summary>
    /// Keeps a long run of write-backs without a sync from overflowing the in-flight record (an overflowed
    /// record makes the next recovery scan every root). Called with a record naming every block in flight just
    /// written and barriered: writes the map, flushes, and then settles what a sync's tail settles — the frees
    /// whose nullified parents are now durable are released, and the items whose parents' writes are now
    /// durable drop — and writes the map again with the releases, flushed, so the map that frees the released
    /// blocks is durable before a record stops naming them (the caller's next record write does that). Only
    /// blocks already written are settled: dirty and tainted blocks stay as they are.
    /// </summary>
    internal void Settle(bool all)
    {
        WriteMapBlocks(all);
        _dev.Flush();
        Unordered = 0;
        var released = _deferred.TakeReleasable();
        foreach (var x in released) _free.Release(x);
        _s.Segments.ReleaseDeferred(_s.Registry);
        _inflight.Released(released);
        _inflight.Durable();
        if (_free.AnyDirty)
        {
            WriteMapBlocks(all: false);
            _dev.Flush();
        }
        if (_inflight.Changed)
        {
            WriteRecord();
            _dev.Barrier();
        }
        Unordered = 0;
        SettledCount = _inflight.Count;
    }

    /// <summary>Items left in flight by the last Settle (a Sync resets it).</summary>
    internal int SettledCount { get; set; }

    internal static int RecordCapacity(Format.Layout layout) => InFlightRecord.Capacity(RecordSlotBytes(layout));

    /// <summary>The sequence of the newest record written (or loaded).</summary>
    internal ulong RecordSequence => _recordSequence;

    /// <summary>Writes the blocks in flight now to the record slot not holding the newest record (no barrier).</summary>
    internal void WriteRecord()
    {
        int bytes = RecordSlotBytes(_layout);
        if (_recordBuffer is null || _recordBuffer.Length != bytes) _recordBuffer = new byte[bytes];
        int slot = 1 - _recordSlot;
        int used = InFlightRecord.Encode(_recordSequence + 1, _inflight.Snapshot(), _recordBuffer);
        try { _dev.Write(new BlockNo(_layout.RecordSlotStart(slot)), _recordBuffer.AsSpan(0, used)); }
        catch (IOException) { _inflight.MarkChanged(); throw; }
        Unordered++;
        _recordSlot = slot;
        _recordSequence++;
    }

    internal static int RecordSlotBytes(Format.Layout layout) => checked((int)layout.RecordSlotBlocks * Layout.BlockSize);

    /// <summary>Writes changed free-map blocks (or all of them), and nothing else.</summary>
    internal void WriteMapBlocks(bool all)
    {
        if (all) _free.MarkAllDirty();
        var block = new byte[Layout.BlockSize];
        foreach (int i in _free.DirtyBlocks().ToList())
        {
            _free.Encode(i, block);
            _dev.Write(new BlockNo(_layout.FreeMapStart + (ulong)i), block);
            Unordered++;
        }
    }
}
