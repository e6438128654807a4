using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;
using ExoFS.Xn.Ordering;
using ExoFS.Xn.Registry;
using ExoFS.Xn.Types;
using ExoFS.Xn.Updates;

namespace ExoFS.Xn;

/// <summary>
/// What the parts of one volume share (Xn/README.md, "Code map"): the device and kernel, the layout, and the
/// in-memory tables each part reads and changes — types, roots, the block registry, the free map, deferred
/// frees, the blocks in flight, the segments — plus the volume's switches. Data only: the logic lives in
/// the parts (PageCache, WriteOrder, MapWriter, UpdateChecks, BlockUpdates, Segments, Transfers,
/// VolumeCheck), every one of which runs under the volume's lock.
/// </summary>
internal sealed class VolumeState(IBlockDevice device, ExoKernel kernel, XnOptions options, Layout layout)
{
    public IBlockDevice Device { get; } = device;
    public ExoKernel Kernel { get; } = kernel;
    public XnOptions Options { get; } = options;
    public Layout Layout { get; } = layout;
    public TypeTable Types { get; } = new();
    public List<RootRecord> Roots { get; } = new();
    public BlockRegistry Registry { get; } = new();
    public FreeMap Free { get; } = new(layout);
    public DeferredFrees Deferred { get; } = new();
    public InFlight InFlight { get; } = new();
    public SegmentTable Segments { get; } = new();
    /// <summary>The block-version table and the write sequence counter (types with a sequence field).</summary>
    public BlockVersions Versions { get; } = new();
    /// <summary>Problems found while loading (and pages the kernel repossessed while dirty); Check reports them.</summary>
    public List<string> Findings { get; } = new();

    public bool ReadOnly => Options.ReadOnly;
    /// <summary>Set by Dispose: nothing is written any more.</summary>
    public bool Closed { get; set; }

    /// <summary>See <see cref="XnVolume.ChecksEnabled"/>.</summary>
    public bool ChecksEnabled { get; set; } = true;
    /// <summary>See <see cref="XnVolume.OrderingEnabled"/>.</summary>
    public bool OrderingEnabled { get; set; } = true;
    /// <summary>See <see cref="XnVolume.DeferFreesEnabled"/>.</summary>
    public bool DeferFreesEnabled { get; set; } = true;
}
