using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Recovery;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;
using ExoFS.Xn.Updates;

namespace ExoFS.Xn;

/// <summary>
/// XN over one device: the free map, the root and type catalogues, the buffer cache registry and the
/// write ordering. The volume object is the administrator's handle (format, load, grant roots, check,
/// sync); a libFS works through the <see cref="XnSession"/> it gets from <see cref="Attach"/>, whose every
/// call is checked against the capabilities that environment presented. All members are thread-safe:
/// one lock serializes XN, as in the original.
/// </summary>
public sealed class XnVolume : IDisposable
{
    private readonly object _gate = new();
    private readonly IBlockDevice _dev;
    private readonly ExoKernel _kernel;
    private readonly XnOptions _options;
    private Superblock _super;
    // The parts (Xn/README.md, "Code map"); each runs under _gate and shares _state.
    private readonly VolumeState _state;
    private readonly ChecksumRecord _checksums = new();
    private readonly MapWriter _map;
    private readonly WriteOrder _order;
    private readonly PageCache _cache;
    private readonly UpdateChecks _checks;
    private readonly Segments _segs;
    private readonly BlockUpdates _updates;
    private readonly Transfers _transfers;
    private readonly VolumeCheck _check;
    private ulong _catalogueGeneration;
    private int _catalogueSlot;          // slot holding the newest valid catalogue
    private bool _spareSlotInvalid;      // the other slot did not decode at load (a torn write, or damage)
    private readonly List<string> _loadRepairs = new();
    private readonly List<string> _recoveryActions = new();

    /// <summary>
    /// Benchmark-only switch: with false, Alloc/Free/Move apply the edits without running owns/acl or
    /// comparing outputs, and Alloc/Free without building a proposal to check (the edits go straight into
    /// the page; the free-map and registry bookkeeping still happen), so the difference is the whole cost
    /// of protection. Never off in production.
    /// </summary>
    internal bool ChecksEnabled { get => _state.ChecksEnabled; set => _state.ChecksEnabled = value; }

    /// <summary>
    /// Crash-test-only switch (a deliberately broken XN the crash suite must catch): with false, rule 1 is
    /// off — write-back ignores taint and Sync writes every dirty block in one unordered batch, parents
    /// first and with no barriers, so a durable pointer may name a block whose contents never arrived.
    /// </summary>
    internal bool OrderingEnabled { get => _state.OrderingEnabled; set => _state.OrderingEnabled = value; }

    /// <summary>
    /// Crash-test-only switch: with false, rule 2 is off — a freed extent is reusable at once, before the
    /// parent's nullifying write is durable, so a crash can leave an old pointer naming a reused block.
    /// </summary>
    internal bool DeferFreesEnabled { get => _state.DeferFreesEnabled; set => _state.DeferFreesEnabled = value; }

    private XnVolume(IBlockDevice dev, ExoKernel kernel, XnOptions options, Superblock super)
    {
        _dev = dev;
        _kernel = kernel;
        _options = options;
        _super = super;
        _state = new VolumeState(dev, kernel, options, super.Layout);
        _map = new MapWriter(_state);
        _order = new WriteOrder(_state, _map);
        _cache = new PageCache(_state, _gate, _checksums, _order);
        _checks = new UpdateChecks(_state, _cache);
        _segs = new Segments(_state, _cache, _checks, _order, _map);
        _cache.Segments = _segs;
        _updates = new BlockUpdates(_state, _cache, _checks, _segs, _order);
        _transfers = new Transfers(_state, _checks, _segs, _updates, _order);
        _check = new VolumeCheck(_state, _checksums);
        // The block-version table and its lease are stored in the catalogue (Xn/README.md, "Block versions").
        _state.Versions.Persist = () => WriteCatalogue(_state.Roots, _state.Types.UserSpecs) is { Ok: false } w
            ? XnResult.Fail(w.Error, w.Detail) : XnResult.Success;
    }

    internal Layout Layout => _super.Layout;
    internal ExoKernel Kernel => _kernel;
    internal IBlockDevice Device => _dev;
    internal object Gate => _gate;

    /// <summary>True when loaded read-only: every change is refused with <see cref="XnError.ReadOnly"/>.</summary>
    public bool IsReadOnly => _options.ReadOnly;
    /// <summary>Blocks on the device.</summary>
    public ulong BlockCount => Layout.BlockCount;
    /// <summary>First block XN may hand out (everything before is superblock, free map, catalogues).</summary>
    public BlockNo FirstDataBlock => new(Layout.ReservedEnd);
    /// <summary>Blocks free for allocation now (deferred frees not counted).</summary>
    public ulong FreeBlocks { get { lock (_gate) return _state.Free.FreeCount; } }
    /// <summary>Whether the superblock said the last shutdown was clean when this volume was loaded.</summary>
    public bool WasClean { get; private set; } = true;

    // ------------------------------------------------------------------ format / load

    /// <summary>
    /// Writes an empty XN volume (superblock, free map with XN's own blocks allocated, empty catalogues)
    /// over the whole device and returns it loaded read-write.
    /// </summary>
    internal static XnResult<XnVolume> Format(IBlockDevice dev, ExoKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(dev);
        ArgumentNullException.ThrowIfNull(kernel);
        if (dev.BlockCount < Layout.MinBlocks || dev.BlockCount > Layout.MaxBlocks)
            return XnResult<XnVolume>.Fail(XnError.NoSpace, $"device has {dev.BlockCount} blocks; XN needs {Layout.MinBlocks}..{Layout.MaxBlocks}");
        var layout = Layout.For(dev.BlockCount);
        var vol = new XnVolume(dev, kernel, new XnOptions(), new Superblock(layout, Clean: false, MountCount: 1));
        vol._state.Free.Allocate(new Extent(BlockNo.Zero, layout.ReservedEnd));
        vol.WasClean = true;
        try
        {
            var block = new byte[Layout.BlockSize];
            // Both catalogue slots get a valid empty catalogue; the superblock comes last so an
            // interrupted format is never mistaken for a volume.
            var empty = Catalogue.Empty.Encode(SlotBytes(layout))!;
            for (int slot = 0; slot < 2; slot++) dev.Write(new BlockNo(layout.SlotStart(slot)), empty);
            // Both record slots hold a valid empty record: a slot left from an earlier format would be trusted.
            vol._map.SetRecordInForce(1, 0);
            vol._map.WriteRecord();
            vol._map.WriteRecord();
            vol._map.WriteFreeMap(all: true);
            dev.Flush();
            vol.StampedSuper(vol._super).WriteTo(block);
            dev.Write(BlockNo.Zero, block);
            dev.Flush();
        }
        catch (IOException e)
        {
            return XnResult<XnVolume>.Fail(XnError.Io, $"format: {e.Message}");
        }
        return XnResult<XnVolume>.Success(vol);
    }

    /// <summary>Loads a volume; see <see cref="Load(IBlockDevice, ExoKernel, XnOptions)"/>.</summary>
    internal static XnResult<XnVolume> Load(IBlockDevice dev, ExoKernel kernel, bool readOnly = false) =>
        Load(dev, kernel, new XnOptions { ReadOnly = readOnly });

    /// <summary>
    /// Loads a volume: verifies the superblock, free-map and catalogue checksums, re-verifies every stored
    /// UDF with the registration rules, and checks every root. A damaged image is refused with
    /// <see cref="XnError.Corrupt"/> and a one-line reason (never an exception). After an unclean
    /// shutdown the free map is restored as <see cref="XnOptions.Recovery"/> says.
    /// </summary>
    internal static XnResult<XnVolume> Load(IBlockDevice dev, ExoKernel kernel, XnOptions options)
    {
        ArgumentNullException.ThrowIfNull(dev);
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            return LoadCore(dev, kernel, options);
        }
        catch (IOException e)
        {
            return XnResult<XnVolume>.Fail(XnError.Io, $"load: {e.Message}");
        }
    }

    private static XnResult<XnVolume> LoadCore(IBlockDevice dev, ExoKernel kernel, XnOptions options)
    {
        static XnResult<XnVolume> Corrupt(string why) => XnResult<XnVolume>.Fail(XnError.Corrupt, why);
        if (dev.BlockCount < 1) return Corrupt("device is empty");
        var block = new byte[Layout.BlockSize];
        dev.Read(BlockNo.Zero, block);
        var super = Superblock.ReadFrom(block, out var why);
        if (super is null) return Corrupt(why);
        if (super.Layout.BlockCount > dev.BlockCount)
            return Corrupt($"superblock: {super.Layout.BlockCount} blocks but the device has {dev.BlockCount}");

        var vol = new XnVolume(dev, kernel, options, super) { WasClean = super.Clean };
        var layout = super.Layout;

        bool mapOk = true;
        for (ulong i = 0; i < layout.FreeMapBlocks; i++)
        {
            dev.Read(new BlockNo(layout.FreeMapStart + i), block);
            if (!vol._state.Free.Decode((int)i, block))
            {
                mapOk = false;
                if (!options.TolerateCorruptFreeMap)
                    return Corrupt($"free map block {layout.FreeMapStart + i}: checksum mismatch");
            }
        }
        vol._state.Free.AfterDecode();
        for (ulong b = 0; b < layout.ReservedEnd; b++)
            if (!vol._state.Free.IsAllocated(b) && mapOk)
                return Corrupt($"free map: reserved block {b} is marked free");

        // The newer valid slot wins; a slot torn by a crash fails its checksum and the other is used.
        Catalogue? best = null;
        var reasons = new List<string>();
        for (int slot = 0; slot < 2; slot++)
        {
            var image = new byte[SlotBytes(layout)];
            dev.Read(new BlockNo(layout.SlotStart(slot)), image);
            var c = Catalogue.Decode(image, out var cwhy);
            if (c is null) { reasons.Add($"slot {slot}: {cwhy}"); continue; }
            if (best is null || c.Generation > best.Generation) { best = c; vol._catalogueSlot = slot; }
        }
        if (best is null && reasons.All(r => r.EndsWith(Catalogue.OldFormatMessage, StringComparison.Ordinal)))
            return Corrupt(Catalogue.OldFormatMessage);
        if (best is null) return Corrupt("catalogue: no valid copy (" + string.Join("; ", reasons) + ")");
        vol._catalogueGeneration = best.Generation;
        vol._state.Versions.Load(best.Versions);
        // Both slots hold a valid catalogue from format on, and only a crash during a catalogue write tears one; a
        // session that loads a torn slot rewrites it before it marks the volume clean (Dispose). So on a cleanly
        // unmounted volume a slot that does not decode is damage: fsck says so, though the load uses the other.
        vol._spareSlotInvalid = reasons.Count > 0;
        if (vol._spareSlotInvalid && super.Clean)
            vol._state.Findings.Add($"catalogue {reasons[0]} on a cleanly unmounted volume (damaged; slot {vol._catalogueSlot} loaded)");
        // The CRC covers the header and payload only; the rest of the payload's last block is written as zeros,
        // so anything else there is damage (harmless to the load, but fsck should say so).
        var loaded = new byte[SlotBytes(layout)];
        dev.Read(new BlockNo(layout.SlotStart(vol._catalogueSlot)), loaded);
        int payloadEnd = Catalogue.HeaderBytes + (int)BinaryPrimitives.ReadUInt32LittleEndian(loaded.AsSpan(16));
        int blockEnd = Math.Min(loaded.Length, (payloadEnd + Layout.BlockSize - 1) / Layout.BlockSize * Layout.BlockSize);
        if (loaded.AsSpan(payloadEnd, blockEnd - payloadEnd).IndexOfAnyExcept((byte)0) is int bad and >= 0)
            vol._state.Findings.Add($"catalogue slot {vol._catalogueSlot}: byte {payloadEnd + bad} past its payload is not zero (damaged)");

        foreach (var spec in best.Types)
        {
            var t = vol._state.Types.Validate(spec);
            if (!t.Ok) return Corrupt($"type catalogue: type '{spec.Name}' fails re-verification: {t.Error}: {t.Detail}");
            if (vol._state.Types.Find(spec.Name) is not null) return Corrupt($"type catalogue: duplicate type '{spec.Name}'");
            vol._state.Types.Add(t.Value);
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in best.Roots)
        {
            if (!names.Add(r.Name)) return Corrupt($"root catalogue: duplicate root '{r.Name}'");
            if (vol._state.Types.Get(new TypeId(r.Type)) is null) return Corrupt($"root catalogue: root '{r.Name}' has unknown type {r.Type}");
            if (r.Block < layout.ReservedEnd || r.Block >= layout.BlockCount)
                return Corrupt($"root catalogue: root '{r.Name}' block {r.Block} outside the data area");
            if (mapOk && !vol._state.Free.IsAllocated(r.Block)) return Corrupt($"root catalogue: root '{r.Name}' block {r.Block} is marked free");
            vol._state.Roots.Add(r);
            vol._state.Registry.Add(new RegistryEntry(r.Block, new TypeId(r.Type), RegistryEntry.CatalogueParent, 0, vol._state.Roots.Count - 1));
        }

        // The newer valid record slot wins, as for the catalogue; a torn slot leaves the older record in force.
        InFlightRecord.Slot? record = null;
        int recordSlot = 0;
        for (int slot = 0; slot < 2; slot++)
        {
            var image = new byte[MapWriter.RecordSlotBytes(layout)];
            dev.Read(new BlockNo(layout.RecordSlotStart(slot)), image);
            if (InFlightRecord.Decode(image, out _) is { } r && (record is null || r.Sequence > record.Sequence))
            {
                record = r;
                recordSlot = slot;
            }
        }
        vol._map.SetRecordInForce(recordSlot, record?.Sequence ?? 0);
        vol.CheckWritten(super, options.ReadOnly);
        var recovery = options.Recovery;
        if (mapOk && !super.Clean && recovery == XnRecovery.InFlightRecord && (record is null || record.Overflow))
        {
            recovery = XnRecovery.Scan;
            vol._recoveryActions.Add(record is null ? "in-flight record: no valid copy; recovering by scan"
                : "in-flight record overflowed (more blocks in flight than it holds); recovering by scan");
        }

        bool mapChanged = !mapOk;
        if (!mapOk)
        {
            vol._check.RebuildFreeMapByScan();
            if (options.ReadOnly) vol._state.Findings.Add("free map checksum mismatch: rebuilt in memory by reachability");
            else vol._loadRepairs.Add("free map checksum mismatch: rebuilt by reachability and rewritten");
        }
        else if (!super.Clean && recovery == XnRecovery.InFlightRecord)
        {
            vol._check.SettleInFlight(record!.Entries, vol._recoveryActions);
            mapChanged = vol._state.Free.AnyDirty;
        }
        else if (!super.Clean && recovery == XnRecovery.Scan)
        {
            mapChanged = true;
            ulong before = vol._state.Free.FreeCount;
            vol._check.RebuildFreeMapByScan();
            ulong after = vol._state.Free.FreeCount;
            vol._recoveryActions.Add(after >= before
                ? $"free map rebuilt by reachability: {after - before} leaked block(s) reclaimed"
                : $"free map rebuilt by reachability: {before - after} reachable block(s) the persisted map had free marked allocated");
        }

        if (!options.ReadOnly)
        {
            // A corrupt free map gets here only when the caller asked to repair it (TolerateCorruptFreeMap).
            if (mapChanged)
            {
                vol._map.WriteMapBlocks(all: !mapOk);
                // The settled map is on the medium before the record that no longer names those blocks.
                dev.Barrier();
            }
            // Whatever the record held is settled now (or by the scan): the record on disk becomes the empty
            // one in memory, made durable by the flush below.
            if (record is null || record.Overflow || record.Entries.Count > 0) vol._map.WriteRecord();
            vol._map.BarrierIfUnordered();   // the record is durable before a superblock naming its sequence
            // Mark the volume in use: a crash from here on is detected at the next load.
            vol._super = vol.StampedSuper(super with { Clean = false, MountCount = super.MountCount + 1 });
            vol._super.WriteTo(block);
            dev.Write(BlockNo.Zero, block);
            dev.Flush();
        }
        return XnResult<XnVolume>.Success(vol);
    }

    /// <summary>The superblock as it is written now: naming the durable catalogue and in-flight record.</summary>
    private Superblock StampedSuper(Superblock super) =>
        super with { Written = (_catalogueGeneration, _map.RecordSequence) };

    /// <summary>
    /// Tells an older copy of block 0, of the catalogue or of the in-flight record from the current one (all carry
    /// valid CRCs), by what the superblock recorded as durable when it was written (<see cref="Superblock.Written"/>).
    /// Read-only, it is a finding (fsck reports it); read-write, the load rewrites the superblock and goes on from
    /// what it loaded, so it is a repair, named. Every clean unmount writes a new record, so a clean superblock left
    /// from an earlier session is always told; a crash state never is (what a superblock names is on the medium
    /// before it, and after a clean one nothing is written).
    /// </summary>
    private void CheckWritten(Superblock super, bool readOnly)
    {
        if (super.Written is not { } written) return;
        ulong record = _map.RecordSequence;
        string? problem = null, repair = "; the superblock is rewritten";
        if (_catalogueGeneration < written.CatalogueGeneration)
        {
            problem = $"catalogue: the newest valid copy is generation {_catalogueGeneration}, older than generation "
                + $"{written.CatalogueGeneration} the superblock recorded (a lost or rolled-back catalogue write)";
            repair = "; the volume goes on from generation " + _catalogueGeneration;
        }
        else if (super.Clean && (_catalogueGeneration > written.CatalogueGeneration || record > written.RecordSequence))
            problem = $"superblock: an older copy (written at catalogue generation {written.CatalogueGeneration} and in-flight "
                + $"record {written.RecordSequence}; the disk holds {_catalogueGeneration} and {record}: a lost or rolled-back superblock write)";
        else if (super.Clean && record < written.RecordSequence)
        {
            problem = $"in-flight record: the newest valid copy is {record}, older than {written.RecordSequence} the clean "
                + "superblock recorded (a lost or rolled-back record write)";
            repair = "; harmless after a clean unmount, the next record replaces it";
        }
        if (problem is null) return;
        if (readOnly) _state.Findings.Add(problem);
        else _loadRepairs.Add(problem + repair);
    }

    private static int SlotBytes(Layout layout) => checked((int)layout.CatalogueSlotBlocks * Layout.BlockSize);

    /// <summary>Problems found while loading that did not prevent a read-only load (e.g. a rebuilt free map).</summary>
    public IReadOnlyList<string> LoadFindings { get { lock (_gate) return _state.Findings.ToList(); } }

    /// <summary>What XN's crash recovery did while loading an image not cleanly shut down (empty after a clean shutdown).</summary>
    public IReadOnlyList<string> RecoveryActions { get { lock (_gate) return _recoveryActions.ToList(); } }

    /// <summary>What loading repaired (only with <see cref="XnOptions.TolerateCorruptFreeMap"/> read-write).</summary>
    public IReadOnlyList<string> LoadRepairs { get { lock (_gate) return _loadRepairs.ToList(); } }

    // ------------------------------------------------------------------ sessions and roots

    /// <summary>
    /// The handle through which <paramref name="env"/> uses this volume. Host-only, like every member that
    /// hands out authority: a guest gets its session from the host. <paramref name="mayInstallRoots"/>: the
    /// session may create roots (a host formatting a libFS); a guest's session may not.
    /// </summary>
    internal XnSession Attach(ExoEnvironment env, bool mayInstallRoots = true)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (env.Kernel != _kernel) throw new ArgumentException("environment belongs to another kernel", nameof(env));
        return new XnSession(this, env, mayInstallRoots);
    }

    /// <summary>
    /// The administrator's call (mount tool, test harness — not a libFS): mints a capability for root
    /// <paramref name="name"/> held by <paramref name="env"/>. Needed after every load, because
    /// capabilities do not survive a reboot.
    /// </summary>
    internal XnResult<Capability> GrantRoot(string name, ExoEnvironment env, Rights rights = Rights.All)
    {
        ArgumentNullException.ThrowIfNull(env);
        lock (_gate)
        {
            if (FindRoot(name) < 0) return XnResult<Capability>.Fail(XnError.UnknownRoot, $"no root named '{name}'");
            return XnResult<Capability>.Success(_kernel.Mint(env, new RootResource(name), rights));
        }
    }

    /// <summary>Names of the installed roots.</summary>
    public IReadOnlyList<string> RootNames() { lock (_gate) return _state.Roots.Select(r => r.Name).ToList(); }

    /// <summary>A summary of every root: name, block, type name, installer.</summary>
    public IReadOnlyList<(string Name, BlockNo Block, string Type, string Owner)> Roots()
    {
        lock (_gate)
            return _state.Roots.Select(r => (r.Name, new BlockNo(r.Block), _state.Types.Get(new TypeId(r.Type))!.Name, r.Owner)).ToList();
    }

    /// <summary>Every registered type's spec, by id (0 is xn.data).</summary>
    public IReadOnlyList<(TypeId Id, TypeSpec Spec, int Partitions)> Types()
    {
        lock (_gate) return _state.Types.All.Select(t => (t.Id, t.Spec, t.Partitions)).ToList();
    }

    internal int FindRoot(string name) => _state.Roots.FindIndex(r => r.Name == name);
    internal RootRecord RootAt(int index) => _state.Roots[index];
    internal TypeTable TypeTable => _state.Types;
    internal FreeMap FreeMap => _state.Free;
    internal BlockRegistry Registry => _state.Registry;

    internal XnResult<TypeId> RegisterTypeLocked(TypeSpec spec)
    {
        if (IsReadOnly) return XnResult<TypeId>.Fail(XnError.ReadOnly, "volume is read-only");
        if (spec?.Name is { } n && _state.Types.Find(n) is { } existing)
            return existing.Spec.SameAs(spec)
                ? XnResult<TypeId>.Success(existing.Id)
                : XnResult<TypeId>.Fail(XnError.TypeExists, $"type '{n}' exists with a different specification");
        var v = _state.Types.Validate(spec!);
        if (!v.Ok) return XnResult<TypeId>.Fail(v.Error, v.Detail);
        var specs = _state.Types.UserSpecs.Append(v.Value.Spec).ToList();   // XN's own copy of the spec, as validated
        var w = WriteCatalogue(_state.Roots, specs);
        if (!w.Ok) return w;
        _state.Types.Add(v.Value);
        return XnResult<TypeId>.Success(v.Value.Id);
    }

    internal XnResult<int> InstallRootLocked(string name, TypeId type, ExoEnvironment owner)
    {
        if (IsReadOnly) return XnResult<int>.Fail(XnError.ReadOnly, "volume is read-only");
        if (string.IsNullOrEmpty(name) || System.Text.Encoding.UTF8.GetByteCount(name) > Catalogue.MaxNameBytes)
            return XnResult<int>.Fail(XnError.UnknownRoot, "root name must be 1..255 bytes");
        if (FindRoot(name) >= 0) return XnResult<int>.Fail(XnError.RootExists, $"root '{name}' exists");
        if (_state.Types.Get(type) is null) return XnResult<int>.Fail(XnError.UnknownType, $"no type {type}");
        if (_segs.IsSegmentType(type)) return XnResult<int>.Fail(XnError.WrongType, $"type {type} is a segment type: a root is one block, not a segment");
        if (_state.Free.FindFree(FirstDataBlock, 1) is not { } at) return XnResult<int>.Fail(XnError.NoSpace, "no free block for the root");
        var record = new RootRecord(name, at.Value, type.Value, owner.Name);
        try
        {
            // Rule 1 for the catalogue: the zero-filled root block and its allocation bit are on disk
            // (write, then barrier) before the catalogue entry that points at it.
            var frames = _cache.GetFrames(1);
            if (frames is null) return XnResult<int>.Fail(XnError.NoSpace, "no page frame for the root block");
            var zero = new byte[Layout.BlockSize];
            if (_state.Types.Get(type) is { HasChecksum: true } t) BlockChecksum.Stamp(at.Value, type, zero, t.ChecksumOffset);
            _dev.Write(at, zero);
            _state.Free.Allocate(new Extent(at, 1));
            _map.WriteFreeMap(all: false);
            _dev.Barrier();
            var w = WriteCatalogue(_state.Roots.Append(record).ToList(), _state.Types.UserSpecs);
            if (!w.Ok)
            {
                _state.Free.Release(new Extent(at, 1));
                _cache.Frames.Release(frames[0]);
                return XnResult<int>.Fail(w.Error, w.Detail);
            }
            _state.Roots.Add(record);
            var entry = new RegistryEntry(at.Value, type, RegistryEntry.CatalogueParent, 0, _state.Roots.Count - 1) { ChildrenRegistered = true };
            _cache.Attach(entry, frames[0]);
            _state.Registry.Add(entry);
            return XnResult<int>.Success(_state.Roots.Count - 1);
        }
        catch (IOException e)
        {
            return XnResult<int>.Fail(XnError.Io, $"install root: {e.Message}");
        }
    }

    /// <summary>Writes the catalogue to the slot not holding the newest copy, then flushes.</summary>
    private XnResult<TypeId> WriteCatalogue(IReadOnlyList<RootRecord> roots, IReadOnlyList<TypeSpec> specs)
    {
        var next = new Catalogue(_catalogueGeneration + 1, roots, specs) { Versions = _state.Versions.Snapshot() };
        var image = next.Encode(SlotBytes(Layout));
        if (image is null) return XnResult<TypeId>.Fail(XnError.NoSpace, "catalogue full: types and roots do not fit");
        int slot = 1 - _catalogueSlot;
        try
        {
            _dev.Write(new BlockNo(Layout.SlotStart(slot)), image);
            _dev.Flush();
        }
        catch (IOException e)
        {
            return XnResult<TypeId>.Fail(XnError.Io, $"catalogue write: {e.Message}");
        }
        _catalogueSlot = slot;
        _catalogueGeneration = next.Generation;
        _spareSlotInvalid = false;   // the slot written was the other one: both are valid now
        _state.Versions.Persisted();
        return XnResult<TypeId>.Success(default);
    }

    // ------------------------------------------------------------------ shutdown

    /// <summary>Writes everything dirty in a legal order and flushes; see <see cref="XnSession.Sync"/>.</summary>
    internal XnResult Sync() { lock (_gate) return _order.SyncLocked(); }

    /// <summary>The host's area of the superblock (<see cref="Superblock.HostArea"/>), as loaded or last written.</summary>
    internal byte[] HostArea
    {
        get { lock (_gate) return _super.HostArea?.ToArray() ?? new byte[Superblock.HostAreaBytes]; }
    }

    /// <summary>
    /// Replaces the host's area of the superblock and makes it durable now (one block write, then a flush). The
    /// rest of the superblock is rewritten as it is (still "in use" while loaded). Refused on a read-only volume.
    /// </summary>
    internal XnResult WriteHostArea(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > Superblock.HostAreaBytes) return XnResult.Fail(XnError.OutOfDisk, $"host area holds {Superblock.HostAreaBytes} bytes, not {bytes.Length}");
        lock (_gate)
        {
            if (_state.Closed) return XnResult.Fail(XnError.Io, "volume closed");
            if (IsReadOnly) return XnResult.Fail(XnError.ReadOnly, "read-only volume");
            var area = new byte[Superblock.HostAreaBytes];
            bytes.CopyTo(area);
            var super = StampedSuper(_super with { HostArea = area });
            var block = new byte[Layout.BlockSize];
            super.WriteTo(block);
            try
            {
                _dev.Write(BlockNo.Zero, block);
                _dev.Flush();
            }
            catch (IOException e) { return XnResult.Fail(XnError.Io, $"superblock: {e.Message}"); }
            _super = super;
            return XnResult.Success;
        }
    }

    /// <summary>Syncs, then marks the volume clean on disk. A read-only volume writes nothing.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_state.Closed) return;
            if (IsReadOnly) { _state.Closed = true; _cache.Shutdown(); return; }
            try
            {
                var synced = _order.SyncLocked();
                // A slot torn by a crash before this session is rewritten (with the current catalogue) before the
                // volume is marked clean, so that a clean volume has two valid slots (see Load).
                // So is the block-version table if a Sync left changes waiting (BlockVersions.PersistEvery): a
                // cleanly unmounted volume's table names every durable write.
                if (synced.Ok && (_spareSlotInvalid || _state.Versions.Unpersisted))
                    synced = WriteCatalogue(_state.Roots, _state.Types.UserSpecs) is { Ok: false } w ? XnResult.Fail(w.Error, w.Detail) : XnResult.Success;
                _state.Closed = true;
                _cache.Shutdown();
                if (!synced.Ok) return;   // leave it unclean: the next load recovers
                // A new record every clean unmount: a clean superblock of an earlier session then names an older
                // record than the disk's, and is told as an older copy (CheckWritten). Ordered before the superblock.
                _map.WriteRecord();
                _dev.Barrier();
                var block = new byte[Layout.BlockSize];
                _super = StampedSuper(_super with { Clean = true });
                _super.WriteTo(block);
                _dev.Write(BlockNo.Zero, block);
                _dev.Flush();
            }
            catch (IOException)
            {
                // The superblock stays "unclean"; the next load recovers. Dispose must not throw.
                _state.Closed = true;
                _cache.Shutdown();
            }
        }
    }

    /// <summary>True after <see cref="Dispose"/>: every session call is refused.</summary>
    internal bool IsClosed => _state.Closed;

    /// <summary>
    /// True while an XN call runs on the thread holding the lock: a call arriving now re-entered XN (for
    /// instance from a revocation upcall of another environment run on this thread) and is refused.
    /// </summary>
    internal bool InCall { get; set; }

    // ------------------------------------------------------------------ the parts' calls (sessions, host, tests)
    // Every call below runs under _gate, taken by XnSession (or by the member itself where it says lock).

    /// <summary>Pages XN's cache holds now (tests check it stays within <see cref="XnOptions.CachePages"/>).</summary>
    internal int CachedPages => _cache.CachedPages;
    /// <summary>Whether <paramref name="block"/> is cached with changes not yet written (tests).</summary>
    internal bool IsDirty(ulong block) { lock (_gate) return _state.Registry.TryGetValue(block, out var e) && e.Dirty; }
    /// <summary>Blocks with changes not yet written (tests).</summary>
    internal int DirtyBlocks { get { lock (_gate) return _state.Registry.DirtyCount; } }

    /// <summary>Ends one XN call: pinned pages become evictable and an over-full cache is trimmed (<see cref="PageCache.EndCall"/>).</summary>
    internal void EndCall() => _cache.EndCall();

    internal XnResult ReadLocked(XnSession s, BlockNo block, Span<byte> into) => _updates.ReadLocked(s, block, into);
    internal XnResult<ReadOnlyMemory<byte>> ViewLocked(XnSession s, BlockNo block) => _updates.ViewLocked(s, block);
    internal void UnbindLocked(XnSession s, BlockNo block) => _updates.UnbindLocked(s, block);
    internal XnResult ReadRawLocked(XnSession s, BlockNo block, int offset, Span<byte> into) => _updates.ReadRawLocked(s, block, offset, into);
    internal XnResult WriteRawLocked(XnSession s, BlockNo block, int offset, ReadOnlySpan<byte> bytes) => _updates.WriteRawLocked(s, block, offset, bytes);
    internal XnResult WriteRawAfterLocked(XnSession s, BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after) =>
        _updates.WriteRawAfterLocked(s, block, offset, bytes, after);
    internal XnResult<BlockNo> FindFreeLocked(BlockNo hint, ulong count) => _updates.FindFreeLocked(hint, count);

    /// <summary>
    /// Read-only view of the free map over [<paramref name="start"/>, start + <paramref name="count"/>), clipped to
    /// the disk, XN's reserved area counted as allocated: blocks free now and blocks whose free waits for a sync.
    /// </summary>
    internal XnFreeCount CountFreeLocked(BlockNo start, ulong count)
    {
        ulong end = Math.Min(Layout.BlockCount, start.Value + Math.Min(count, Layout.BlockCount));
        var (free, deferred) = _state.Free.Count(Math.Max(start.Value, Layout.ReservedEnd), end);
        return new XnFreeCount(free, deferred);
    }
    internal XnResult AllocLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, Extent child) =>
        _updates.AllocLocked(s, parent, partition, edits, childType, child);
    internal XnResult AllocLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children) =>
        _updates.AllocLocked(s, parent, partition, edits, childType, children);
    internal XnResult FreeLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent child) =>
        _updates.FreeLocked(s, parent, partition, edits, child);
    internal XnResult MoveLocked(XnSession s, BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits,
                                 BlockNo to, int toPartition, IReadOnlyList<Edit> toEdits, Extent child) =>
        _updates.MoveLocked(s, from, fromPartition, fromEdits, to, toPartition, toEdits, child);
    internal XnResult ClaimLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children) =>
        _segs.ClaimLocked(s, parent, partition, edits, childType, children);
    internal XnResult ClaimLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, IReadOnlyList<(TypeId Type, Extent Extent)> typed) =>
        _segs.ClaimLocked(s, parent, partition, edits, typed);
    internal XnResult RedirectLocked(XnSession s, BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent from, Extent to, bool copy) =>
        _segs.RedirectLocked(s, parent, partition, edits, from, to, copy);
    internal XnResult WriteBackSegmentLocked(ulong block) => _segs.WriteBackSegmentLocked(block);
    internal XnResult<Extent> SegmentOfLocked(XnSession s, BlockNo block) => _segs.SegmentOfLocked(s, block);
    internal XnResult WriteBodyThroughLocked(XnSession s, BlockNo start, Span<byte> blocks, IReadOnlyList<Extent>? keepPages) =>
        _segs.WriteBodyThroughLocked(s, start, blocks, keepPages);
    internal XnResult WriteBlocksLocked(XnSession s, BlockNo start, ReadOnlySpan<byte> blocks) => _transfers.WriteBlocksLocked(s, start, blocks);
    internal XnResult WriteThroughLocked(XnSession s, BlockNo start, ReadOnlySpan<byte> blocks) => _transfers.WriteThroughLocked(s, start, blocks);
    internal XnResult ReadBlocksLocked(XnSession s, BlockNo start, Span<byte> into) => _transfers.ReadBlocksLocked(s, start, into);
    internal XnResult WriteBackLocked(ulong block) => _order.WriteBackLocked(block);
    internal XnResult SyncLocked() => _order.SyncLocked();

    // ------------------------------------------------------------------ check, repair, checksums

    /// <summary>
    /// Checks XN's global invariants on the current (cached over on-disk) state; see <see cref="VolumeCheck.Check"/>.
    /// Read-only; cheap enough for tests to call after every step.
    /// </summary>
    internal XnCheckReport Check() { lock (_gate) return _check.Check(); }

    /// <summary>
    /// Repairs what XN can repair: syncs, then rebuilds the free map from reachability (reclaiming leaks,
    /// marking reachable blocks allocated) and persists it. Duplicate ownership is left for the libFS,
    /// which alone can edit its pointers; the returned report shows what remains.
    /// </summary>
    internal XnResult<XnCheckReport> Repair()
    {
        lock (_gate)
        {
            if (IsReadOnly) return XnResult<XnCheckReport>.Fail(XnError.ReadOnly, "volume is read-only");
            var s = _order.SyncLocked();
            if (!s.Ok) return XnResult<XnCheckReport>.Fail(s.Error, s.Detail);
            _check.RebuildFreeMapByScan();
            try
            {
                _map.WriteFreeMap(all: false);
                _dev.Flush();
            }
            catch (IOException e)
            {
                return XnResult<XnCheckReport>.Fail(XnError.Io, $"repair: {e.Message}");
            }
            _state.Findings.Clear();
        }
        return XnResult<XnCheckReport>.Success(Check());
    }

    /// <summary>
    /// A canonical text of XN's in-memory state (registry entries with page hashes and state bits, free
    /// map, deferred frees, roots, types). Tests compare it before and after a refused call.
    /// </summary>
    internal string StateFingerprint() { lock (_gate) return _check.StateFingerprint(); }

    /// <summary>
    /// Every block that failed its type's checksum since the volume was loaded (block, type name), in the
    /// order found, each once. The host reports it (fsck, the daemon's log); a libFS sees only the refusal.
    /// </summary>
    public IReadOnlyList<(ulong Block, string Type)> ChecksumFailures { get { lock (_gate) return _checksums.Failures.ToList(); } }

    /// <summary>
    /// Runs every checker in <paramref name="checkers"/> on each root whose type name matches, through a
    /// fresh read-only environment. A checker that throws is reported as a finding, not propagated.
    /// </summary>
    internal IReadOnlyList<XnFinding> CheckRoots(IEnumerable<IXnRootChecker> checkers) =>
        XnRootCheckRun.ForEachRoot(this, _kernel, checkers, Rights.Read, (checker, view) => checker.Check(view));

    /// <summary>
    /// Lets every checker in <paramref name="checkers"/> repair its roots, through a fresh environment with
    /// full rights on each root; returns the fixes (and, as findings, checkers that threw).
    /// </summary>
    internal IReadOnlyList<XnFinding> RepairRoots(IEnumerable<IXnRootChecker> checkers) =>
        XnRootCheckRun.ForEachRoot(this, _kernel, checkers, Rights.All, (checker, view) =>
            checker.Repair(view).Select(fix => new XnFinding(XnFindingKind.LibFs, view.Root.Block.Value, $"root '{view.Root.Name}': repaired: {fix}")));

    /// <summary>The volume's layout and superblock state.</summary>
    public XnGeometry Geometry
    {
        get
        {
            lock (_gate)
                return new XnGeometry(Layout.BlockCount, IBlockDevice.BlockSize, Layout.FreeMapStart, Layout.FreeMapBlocks,
                    Layout.CatalogueStart, Layout.CatalogueSlotBlocks, Layout.ReservedEnd, WasClean,
                    _super.MountCount, _catalogueGeneration);
        }
    }

    internal static XnResult Fail(XnError e, string detail) => XnResult.Fail(e, detail);
}
