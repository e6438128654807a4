using System.Buffers.Binary;
using ExoFS.Xn.Format;

namespace ExoFS.Xn.Ordering;

/// <summary>
/// The block-version table (Xn/README.md, "Block versions"): for each block of a type with a write sequence
/// (<see cref="TypeSpec.SequenceOffset"/>), the sequence of its last write-back XN knows is durable, and the
/// volume-wide counter write-back stamps from. A write is recorded when it is issued (<see cref="Written"/>)
/// and becomes the table's value only at a Sync, after the flush that makes it durable (<see cref="Durable"/>);
/// the table reaches the disk in the catalogue after that, so in every crash state the durable table is never
/// newer than the block's durable bytes (older is fine: it checks less). The counter never repeats a value,
/// across crashes too: no block is stamped at or above the persisted lease, and the lease is extended (and made
/// durable) before the counter reaches it; a load starts counting at the stored lease.
/// </summary>
internal sealed class BlockVersions
{
    /// <summary>How far one extension of the lease reaches: one catalogue write per 2^32 stamps.</summary>
    private const ulong LeaseStep = 1UL << 32;
    private readonly Dictionary<ulong, ulong> _durable = new();
    private readonly Dictionary<ulong, ulong> _issued = new();    // stamped into a buffer, device write not yet done
    private readonly Dictionary<ulong, ulong> _written = new();   // written since the last Sync's flush
    private ulong _next = 1;
    private ulong _lease;

    /// <summary>Makes the lease (and the rest of the table) durable: the volume writes its catalogue (a flush included).</summary>
    internal Func<XnResult>? Persist { get; set; }

    /// <summary>
    /// Durable changes of the table a Sync lets wait before it writes the catalogue for them. Every Sync that wrote a
    /// sequenced block changes the table; writing the catalogue (a write and a flush) at each would add a write epoch
    /// to every fsync. Waiting only checks less after a crash (the stored table is older, never newer, than the
    /// blocks); a clean unmount writes whatever is waiting (<see cref="Unpersisted"/>), so a cleanly unmounted volume's
    /// table is complete.
    /// </summary>
    internal const int PersistEvery = 256;
    private int _unpersisted;      // durable entries changed (set or removed) since the table was last written
    private bool _leaseChanged;

    /// <summary>What a Sync must write now: the lease grew, or <see cref="PersistEvery"/> changes are waiting.</summary>
    internal bool Changed => _leaseChanged || _unpersisted >= PersistEvery;

    /// <summary>Anything not yet written: what a clean unmount writes.</summary>
    internal bool Unpersisted => _leaseChanged || _unpersisted > 0;

    /// <summary>Whether anything was ever stamped (a volume with no sequenced type never stores a table).</summary>
    private bool InUse => _lease != 0 || _durable.Count > 0;

    /// <summary>Takes the table a load found in the catalogue (null: none).</summary>
    internal void Load(VersionTable? table)
    {
        if (table is null) return;
        _lease = table.Lease;
        _next = Math.Max(1, table.Lease);
        foreach (var (b, s) in table.Entries) _durable[b] = s;
    }

    /// <summary>The table to store with the next catalogue (null while nothing was ever stamped).</summary>
    internal VersionTable? Snapshot() =>
        InUse ? new VersionTable(_lease, _durable.OrderBy(x => x.Key).Select(x => (x.Key, x.Value)).ToList()) : null;

    /// <summary>The catalogue holding <see cref="Snapshot"/> was written and flushed.</summary>
    internal void Persisted() { _leaseChanged = false; _unpersisted = 0; }

    /// <summary>
    /// Stamps the next sequence into the field at <paramref name="offset"/> of <paramref name="bytes"/>, the
    /// bytes write-back is about to put on the device for <paramref name="block"/>. Throws IOException when the
    /// lease must grow and the catalogue cannot be written (write-back's callers report it as Io).
    /// </summary>
    internal void Stamp(ulong block, Span<byte> bytes, int offset)
    {
        if (_next >= _lease)
        {
            ulong old = _lease;
            _lease = _next + LeaseStep;
            _leaseChanged = true;
            var r = Persist?.Invoke() ?? XnResult.Success;
            if (!r.Ok) { _lease = old; _leaseChanged = false; throw new IOException($"block-version lease: {r.Detail}"); }
        }
        // A block whose bytes are all zero (the sequence field aside; its CRC not stamped yet) is a fresh block's
        // first write (Alloc's zero fill: mkfs writes every inode-table block so): it is stamped but not entered,
        // so the table holds the blocks that were ever written with content, not every block a libFS allocated
        // (a 1 GiB FFS would otherwise start with 8,000 entries, half the table's room, in every catalogue write).
        // Leaving it out only checks less: an all-zero older copy of such a block fails its CRC anyway.
        bool fresh = bytes[..offset].IndexOfAnyExcept((byte)0) < 0 && bytes[(offset + SequenceBytes)..].IndexOfAnyExcept((byte)0) < 0;
        ulong seq = _next++;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[offset..], seq);
        if (!fresh) _issued[block] = seq;
    }

    private const int SequenceBytes = 8;

    /// <summary>The device write of <paramref name="block"/>'s stamped bytes was issued (durable at the next flush).</summary>
    internal void Written(ulong block)
    {
        if (_issued.Count > 0 && _issued.Remove(block, out var seq)) _written[block] = seq;
    }

    /// <summary>At a Sync, after its flush: every write issued before it is durable, and becomes the table's value.</summary>
    internal void Durable()
    {
        if (_written.Count == 0) return;
        foreach (var (b, s) in _written) _durable[b] = s;
        _unpersisted += _written.Count;
        _written.Clear();
    }

    /// <summary>The block left its type (freed, redirected away, back to a segment's body): it is no longer checked.</summary>
    internal void Forget(ulong block)
    {
        if (_durable.Count == 0 && _written.Count == 0) return;
        _issued.Remove(block);
        _written.Remove(block);
        if (_durable.Remove(block)) _unpersisted++;
    }

    /// <summary>
    /// Whether device bytes <paramref name="bytes"/> read for <paramref name="block"/> hold an older write than the
    /// last one XN knows durable (a lost write, a rolled-back copy); the reason in <paramref name="why"/>.
    /// </summary>
    internal bool IsStale(ulong block, ReadOnlySpan<byte> bytes, int offset, out string why)
    {
        why = "";
        if (!_durable.TryGetValue(block, out var known)) return false;
        ulong seq = BinaryPrimitives.ReadUInt64LittleEndian(bytes[offset..]);
        if (seq >= known) return false;
        why = $"stale copy: it holds write {seq}, older than write {known}, the last XN knows reached the disk (a lost or rolled-back write)";
        return true;
    }
}
