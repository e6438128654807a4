namespace ExoFS.Kernel.Disk;

/// <summary>
/// Passes every request to an inner device and feeds it to a disk time model, so a run on a fast memory
/// or image device also yields the service time it would have taken on the modeled disk. Modeled time
/// (<see cref="ModeledTime"/>) is kept apart from wall-clock time. Barriers cost nothing in the models
/// (neither caches writes). Thread-safe: model updates are serialized. Does not own (or dispose) the
/// inner device.
/// </summary>
public sealed class TimedDevice : BlockDeviceBase
{
    private readonly IBlockDevice _inner;
    private readonly IDiskTimeModel _model;
    private readonly object _modelLock = new();

    public TimedDevice(IBlockDevice inner, IDiskTimeModel model)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(model);
        _inner = inner;
        _model = model;
    }

    /// <summary>The model; read its state (e.g. <see cref="HddModel.CurrentCylinder"/>) only while no I/O is running.</summary>
    public IDiskTimeModel Model => _model;

    /// <summary>Total modeled service time so far.</summary>
    public TimeSpan ModeledTime { get { lock (_modelLock) return _model.Elapsed; } }

    /// <inheritdoc />
    public override ulong BlockCount => _inner.BlockCount;

    /// <inheritdoc />
    protected override void ReadCore(BlockNo start, Span<byte> buffer)
    {
        _inner.Read(start, buffer);
        Charge(DiskRequest.Read(start, (ulong)(buffer.Length / IBlockDevice.BlockSize)));
    }

    /// <inheritdoc />
    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        _inner.Write(start, data);
        Charge(DiskRequest.Write(start, (ulong)(data.Length / IBlockDevice.BlockSize)));
    }

    /// <inheritdoc />
    protected override void FlushCore()
    {
        _inner.Flush();
        Charge(DiskRequest.Flush());
    }

    /// <inheritdoc />
    protected override void BarrierCore() => _inner.Barrier();

    private void Charge(DiskRequest request)
    {
        lock (_modelLock) _model.Service(request);
    }
}
