using System.Numerics;

namespace ExoFS.Kernel.Disk;

/// <summary>
/// A device that remembers which writes are not yet durable and can build the disk image a crash could
/// leave at this moment. The tool behind every crash test.
/// <para>
/// Model. The image as of the last <see cref="IBlockDevice.Flush"/> is durable. Writes since then are
/// <em>in flight</em>, grouped into barrier epochs 0..k−1 (<see cref="IBlockDevice.Barrier"/> closes the
/// current epoch if it has writes, so no epoch is empty). A multi-block write is recorded as one write per
/// block, each with its own sequence number, since the medium does not write a request atomically (the
/// blocks of one request share a <see cref="InFlightWrite.Request"/> number, so a test can see what was
/// issued as one request, e.g. a log segment). A
/// <em>legal crash state</em> picks an epoch j and a subset S of epoch j's writes: every write of epochs
/// &lt; j reached the medium, the writes in S did, nothing later did. Writes to one block apply in sequence
/// order. Taking S = all of epoch j is the same state as epoch j+1 with S empty, so that choice is only
/// offered for the last epoch; states are therefore distinct as write sets and number
/// Σ_j (2^|e_j| − 1) + 1. (Two write sets can still give the same image when one block is written twice.)
/// </para>
/// <para>
/// Storage. The inner device is the image at construction and is never written: the durable image is the
/// inner device overlaid with a per-block dictionary that Flush updates. A <see cref="MemoryDevice"/> inner
/// is cloned (sharing blocks) at construction, so later changes to it do not leak in; any other inner
/// device must not change while this wrapper is in use. Materialized states share block arrays with this
/// device and read untouched blocks from the frozen base, so building one costs O(block count) pointers
/// plus the chosen writes (<see cref="MaterializeOverlay"/>: only the blocks written since construction),
/// and materialized devices stay valid after this device moves on.
/// </para>
/// <para>
/// Reads return the newest write of each block, like a page cache. Thread-safe: one lock guards the
/// bookkeeping; <see cref="PersistencePoint"/> handlers run outside it and may call any member. Does not
/// own (or dispose) the inner device.
/// </para>
/// </summary>
public sealed class CrashModelDevice : BlockDeviceBase
{
    private const int BlockSize = IBlockDevice.BlockSize;

    private readonly object _lock = new();
    private readonly IBlockDevice _base;
    private readonly MemoryDevice? _memoryBase;
    private readonly Dictionary<ulong, byte[]> _durable = new();
    private readonly Dictionary<ulong, byte[]> _latest = new();
    private readonly List<InFlightWrite> _inFlight = new();
    private readonly List<int> _epochStarts = new(); // index into _inFlight where each epoch begins
    private long _generation;
    private long _nextSequence;
    private long _nextRequest;

    /// <summary>Wraps <paramref name="inner"/>, whose current contents become the durable image.</summary>
    public CrashModelDevice(IBlockDevice inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (inner.BlockCount > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(inner), "Crash states are materialized as memory devices of at most int.MaxValue blocks.");
        _memoryBase = (inner as MemoryDevice)?.Clone();
        _base = _memoryBase ?? inner;
    }

    /// <summary>
    /// Raised at each <see cref="IBlockDevice.Barrier"/> and <see cref="IBlockDevice.Flush"/>, <em>before</em>
    /// it takes effect: the crash states enumerable inside the handler are those a crash during this
    /// persistence operation could leave (including "everything in flight reached the medium").
    /// </summary>
    public event Action<CrashModelDevice, PersistencePoint>? PersistencePoint;

    /// <inheritdoc />
    public override ulong BlockCount => _base.BlockCount;

    /// <summary>Counts flushes; crash states from an earlier generation can no longer be materialized.</summary>
    public long Generation { get { lock (_lock) return _generation; } }

    /// <summary>The writes in flight now, oldest first.</summary>
    public IReadOnlyList<InFlightWrite> InFlightWrites { get { lock (_lock) return _inFlight.ToArray(); } }

    /// <summary>Number of non-empty barrier epochs in flight.</summary>
    public int EpochCount { get { lock (_lock) return _epochStarts.Count; } }

    /// <summary>How many distinct crash states exist now: Σ_j (2^|e_j| − 1) + 1.</summary>
    public BigInteger CountCrashStates()
    {
        lock (_lock) return Count(EpochSizes());
    }

    private static BigInteger Count(int[] sizes)
    {
        BigInteger total = 1;
        foreach (int n in sizes) total += (BigInteger.One << n) - 1;
        return total;
    }

    /// <summary>
    /// Crash states of the writes in flight now. If there are at most <paramref name="maxStates"/>, yields
    /// every one (epoch by epoch, subsets in binary-counting order). Otherwise yields
    /// <paramref name="maxStates"/> distinct states: first the epoch-boundary states (nothing in flight applied,
    /// each whole-epoch prefix, everything applied), then random ones from <paramref name="seed"/>, each
    /// picking an epoch uniformly and every write of it with probability ½.
    /// </summary>
    public IEnumerable<CrashState> EnumerateCrashStates(int maxStates, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxStates);
        if (maxStates == 0) return [];
        int[] sizes;
        int[] starts;
        long generation;
        lock (_lock)
        {
            sizes = EpochSizes();
            starts = _epochStarts.ToArray();
            generation = _generation;
        }
        return Count(sizes) <= maxStates
            ? Exhaustive(sizes, starts, generation)
            : Sampled(sizes, starts, generation, maxStates, new Random(seed));
    }

    private static IEnumerable<CrashState> Exhaustive(int[] sizes, int[] starts, long generation)
    {
        for (int j = 0; j < sizes.Length; j++)
        {
            bool last = j == sizes.Length - 1;
            ulong limit = 1UL << sizes[j]; // count ≤ int.MaxValue, so sizes[j] < 32
            for (ulong mask = 0; mask < limit; mask++)
            {
                if (!last && mask == limit - 1) continue; // equals epoch j+1 with nothing chosen
                yield return new CrashState(generation, j, FromMask(starts[j], sizes[j], mask));
            }
        }
        if (sizes.Length == 0) yield return new CrashState(generation, 0, []);
    }

    private static IEnumerable<CrashState> Sampled(int[] sizes, int[] starts, long generation, int maxStates, Random rng)
    {
        var seen = new HashSet<string>();
        int produced = 0;
        // Boundary states first: they are the ones an ordering bug most often shows in.
        for (int j = 0; j <= sizes.Length && produced < maxStates; j++)
        {
            var s = j < sizes.Length
                ? new CrashState(generation, j, [])
                : new CrashState(generation, j - 1, Enumerable.Range(starts[j - 1], sizes[j - 1]).ToArray());
            if (seen.Add(s.Key)) { produced++; yield return s; }
        }
        // The state space exceeds maxStates, so fresh states exist; the attempt cap only guards against a
        // space made almost entirely of states already seen (many one-write epochs).
        int attempts = 0, attemptCap = Math.Max(1000, maxStates * 50);
        while (produced < maxStates && attempts++ < attemptCap)
        {
            var s = Sample(sizes, starts, generation, rng);
            if (seen.Add(s.Key)) { produced++; yield return s; }
        }
    }

    /// <summary>One random crash state of the writes in flight now (see <see cref="EnumerateCrashStates"/>).</summary>
    public CrashState SampleCrashState(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        lock (_lock) return Sample(EpochSizes(), _epochStarts.ToArray(), _generation, rng);
    }

    private static CrashState Sample(int[] sizes, int[] starts, long generation, Random rng)
    {
        if (sizes.Length == 0) return new CrashState(generation, 0, []);
        int j = rng.Next(sizes.Length);
        var chosen = new List<int>();
        for (int i = 0; i < sizes[j]; i++)
            if (rng.Next(2) == 1) chosen.Add(starts[j] + i);
        // A full subset of a non-final epoch is the next epoch's empty state: name it that way so keys stay unique.
        if (chosen.Count == sizes[j] && j < sizes.Length - 1) return new CrashState(generation, j + 1, []);
        return new CrashState(generation, j, chosen.ToArray());
    }

    private static int[] FromMask(int start, int size, ulong mask)
    {
        var chosen = new int[BitOperations.PopCount(mask)];
        int k = 0;
        for (int i = 0; i < size; i++)
            if ((mask & (1UL << i)) != 0) chosen[k++] = start + i;
        return chosen;
    }

    /// <summary>
    /// The image crash state <paramref name="state"/> leaves, as a new independent memory device. The state
    /// must come from this device's current generation (no Flush since it was taken).
    /// </summary>
    public MemoryDevice Materialize(CrashState state)
    {
        MemoryDevice image = NewBaseImage();
        foreach (var (block, data) in Reached(state)) image.InstallBlock(block, data);
        return image;
    }

    /// <summary>
    /// The same image as <see cref="Materialize"/>, as an <see cref="OverlayDevice"/>: the frozen base this
    /// device was built on, overlaid with the durable blocks and the writes <paramref name="state"/> kept.
    /// Costs O(blocks written since construction), not O(device). Writes to it stay in its overlay.
    /// </summary>
    public OverlayDevice MaterializeOverlay(CrashState state) => new(_base, Reached(state));

    /// <summary>The durable image: what a crash now leaves if no in-flight write reached the medium.</summary>
    public MemoryDevice MaterializeDurable()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        MemoryDevice image = NewBaseImage();
        lock (_lock)
            foreach (var (block, data) in _durable) image.InstallBlock(block, data);
        return image;
    }

    /// <summary>The durable image as an overlay on the frozen base (see <see cref="MaterializeOverlay"/>).</summary>
    public OverlayDevice MaterializeDurableOverlay()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        lock (_lock) return new OverlayDevice(_base, new Dictionary<ulong, byte[]>(_durable));
    }

    // Every block that differs from the base in the image of `state`, newest write winning: the durable
    // map, every write of the earlier epochs, then the chosen writes of the state's epoch in sequence order.
    private Dictionary<ulong, byte[]> Reached(CrashState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        lock (_lock)
        {
            if (state.Generation != _generation)
                throw new InvalidOperationException(
                    $"Crash state is from generation {state.Generation}; the device has flushed since (now {_generation}).");
            if (state.Epoch < 0 || (state.Epoch >= _epochStarts.Count && !(state.Epoch == 0 && state.Chosen.Count == 0)))
                throw new ArgumentException($"Crash state names epoch {state.Epoch}, but {_epochStarts.Count} are in flight.", nameof(state));
            var image = new Dictionary<ulong, byte[]>(_durable);
            int epochStart = state.Epoch < _epochStarts.Count ? _epochStarts[state.Epoch] : 0;
            int epochEnd = state.Epoch + 1 < _epochStarts.Count ? _epochStarts[state.Epoch + 1] : _inFlight.Count;
            for (int i = 0; i < epochStart; i++) image[_inFlight[i].Block.Value] = _inFlight[i].Data;
            int previous = -1;
            foreach (int i in state.Chosen) // ascending index = ascending sequence, so later writes win
            {
                if (i <= previous || i < epochStart || i >= epochEnd)
                    throw new ArgumentException($"Write #{i} is not an ascending member of epoch {state.Epoch}.", nameof(state));
                image[_inFlight[i].Block.Value] = _inFlight[i].Data;
                previous = i;
            }
            return image;
        }
    }

    private MemoryDevice NewBaseImage() => _memoryBase?.Clone() ?? new MemoryDevice(_base.BlockCount, _base);

    private int[] EpochSizes()
    {
        var sizes = new int[_epochStarts.Count];
        for (int e = 0; e < sizes.Length; e++)
            sizes[e] = (e + 1 < sizes.Length ? _epochStarts[e + 1] : _inFlight.Count) - _epochStarts[e];
        return sizes;
    }

    /// <inheritdoc />
    protected override void ReadCore(BlockNo start, Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length / BlockSize; i++)
        {
            ulong block = start.Value + (ulong)i;
            var dest = buffer.Slice(i * BlockSize, BlockSize);
            byte[]? data;
            lock (_lock)
                if (!_latest.TryGetValue(block, out data)) _durable.TryGetValue(block, out data);
            // Arrays in the dictionaries are immutable, so copying outside the lock is safe.
            if (data is not null) data.CopyTo(dest);
            else _base.Read(new BlockNo(block), dest);
        }
    }

    /// <inheritdoc />
    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        long request = Interlocked.Increment(ref _nextRequest);
        for (int i = 0; i < data.Length / BlockSize; i++)
        {
            var copy = data.Slice(i * BlockSize, BlockSize).ToArray();
            var block = start.Offset((ulong)i);
            lock (_lock)
            {
                if (_epochStarts.Count == 0 || _epochClosed) OpenEpoch();
                _inFlight.Add(new InFlightWrite(block, copy, _epochStarts.Count - 1, _nextSequence++) { Request = request });
                _latest[block.Value] = copy;
            }
        }
    }

    // A barrier closes the current epoch lazily: the next write opens a new one, so barriers with no writes
    // between them never create empty epochs.
    private bool _epochClosed;

    private void OpenEpoch()
    {
        _epochStarts.Add(_inFlight.Count);
        _epochClosed = false;
    }

    /// <inheritdoc />
    protected override void BarrierCore()
    {
        RaisePersistencePoint(PersistenceKind.Barrier);
        lock (_lock)
            if (_inFlight.Count > 0) _epochClosed = true;
    }

    /// <inheritdoc />
    protected override void FlushCore()
    {
        RaisePersistencePoint(PersistenceKind.Flush);
        lock (_lock)
        {
            foreach (var (block, data) in _latest) _durable[block] = data;
            _latest.Clear();
            _inFlight.Clear();
            _epochStarts.Clear();
            _epochClosed = false;
            _generation++;
        }
    }

    private void RaisePersistencePoint(PersistenceKind kind)
    {
        var handler = PersistencePoint;
        if (handler is null) return;
        PersistencePoint point;
        lock (_lock) point = new PersistencePoint(kind, _generation, _epochStarts.Count, _inFlight.Count);
        handler(this, point);
    }
}

/// <summary>One write not yet durable: its block, a private copy of its data, its epoch and global sequence number.</summary>
public sealed record InFlightWrite(BlockNo Block, byte[] Data, int Epoch, long Sequence)
{
    /// <summary>The device request this block came in (blocks of one multi-block write share it).</summary>
    public long Request { get; init; }
}

/// <summary>Which persistence operation a <see cref="PersistencePoint"/> reports.</summary>
public enum PersistenceKind { Barrier, Flush }

/// <summary>A persistence operation about to take effect, with the in-flight state at that moment.</summary>
public readonly record struct PersistencePoint(PersistenceKind Kind, long Generation, int Epochs, int InFlightWrites);

/// <summary>
/// One legal crash state: all in-flight writes of epochs before <see cref="Epoch"/> applied, plus the writes
/// at the in-flight indices <see cref="Chosen"/> (ascending, all in <see cref="Epoch"/>). Valid only for the
/// <see cref="Generation"/> it was taken in.
/// </summary>
public sealed record CrashState(long Generation, int Epoch, IReadOnlyList<int> Chosen)
{
    /// <summary>A stable text key, e.g. <c>g3:e1:{4,6}</c>, for de-duplication and failure messages.</summary>
    public string Key => $"g{Generation}:e{Epoch}:{{{string.Join(",", Chosen)}}}";

    public bool Equals(CrashState? other) => other is not null && Key == other.Key;

    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Key;
}
