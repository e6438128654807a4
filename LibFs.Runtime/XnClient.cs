using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.LibFs.Runtime;

/// <summary>
/// The thin client a libFS uses to talk to XN: one <see cref="XnSession"/> plus the environment's
/// <see cref="CapabilityWallet"/>, with XN's refusals turned into POSIX errnos (ENOSPC for a full disk,
/// EROFS for a read-only volume, EIO for anything that means a bug or damage) and the last refusal kept
/// for diagnostics. It adds no caching and no policy: every call is one XN call. Thread-safe (XN's
/// session is).
/// </summary>
public sealed class XnClient
{
    private string? _lastRefusal;

    public XnClient(XnSession session, CapabilityWallet? wallet = null)
    {
        Session = session ?? throw new ArgumentNullException(nameof(session));
        Wallet = wallet ?? new CapabilityWallet();
    }

    public XnSession Session { get; }
    public CapabilityWallet Wallet { get; }

    /// <summary>XN's description of the most recent refused call ("DiffMismatch: ..."), for error reports.</summary>
    public string? LastRefusal => Volatile.Read(ref _lastRefusal);

    private int _lastError;
    /// <summary>XN's error of the most recent refused call (e.g. <see cref="XnError.BadChecksum"/>, which EIO does not tell apart).</summary>
    public XnError LastError => (XnError)Volatile.Read(ref _lastError);

    /// <summary>The errno a libFS reports for an XN refusal.</summary>
    public static Errno ToErrno(XnError error) => error switch
    {
        XnError.None => Errno.OK,
        XnError.NoSpace or XnError.OutOfDisk => Errno.ENOSPC,
        XnError.ReadOnly => Errno.EROFS,
        XnError.BadCapability => Errno.EACCES,
        XnError.NotFree or XnError.FreeDeferred => Errno.EBUSY,
        XnError.Tainted => Errno.EAGAIN, // a write-back that must wait for the block's children
        _ => Errno.EIO,
    };

    private Errno Map(XnResult r)
    {
        if (r.Ok) return Errno.OK;
        Volatile.Write(ref _lastRefusal, r.ToString());
        Volatile.Write(ref _lastError, (int)r.Error);
        return ToErrno(r.Error);
    }

    /// <summary>Installs a new root of <paramref name="type"/> and keeps its capability in the wallet.</summary>
    public Result<RootInfo> InstallRoot(string name, TypeId type)
    {
        var r = Session.InstallRoot(name, type);
        if (!r.Ok) return Map(r.Status);
        Wallet.Put(name, r.Value.Capability);
        return r.Value;
    }

    /// <summary>Binds root <paramref name="name"/> with the capability the wallet holds for it (EACCES if none).</summary>
    public Result<RootInfo> MountRoot(string name)
    {
        var cap = Wallet.Get(name);
        if (cap is null)
        {
            Volatile.Write(ref _lastRefusal, $"no capability for root '{name}'");
            return Errno.EACCES;
        }
        var r = Session.MountRoot(name, cap);
        return r.Ok ? r.Value : Map(r.Status);
    }

    /// <summary>Registers a type (idempotent for an identical spec).</summary>
    public Result<TypeId> RegisterType(TypeSpec spec)
    {
        var r = Session.RegisterType(spec);
        return r.Ok ? r.Value : Map(r.Status);
    }

    /// <summary>The id of a registered type (ENOENT if there is none).</summary>
    public Result<TypeId> FindType(string name)
    {
        var r = Session.FindType(name);
        if (r.Ok) return r.Value;
        Map(r.Status);
        return Errno.ENOENT;
    }

    /// <summary>Reads a whole block, or <c>into.Length</c> bytes from <paramref name="offset"/> (a raw read).</summary>
    public Errno Read(BlockNo block, int offset, Span<byte> into) =>
        Map(offset == 0 && into.Length == IBlockDevice.BlockSize ? Session.Read(block, into) : Session.ReadRaw(block, offset, into));

    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes) => Map(Session.WriteRaw(block, offset, bytes));

    /// <summary>A raw write that reaches the disk only after <paramref name="after"/>'s current contents (see <see cref="XnSession.WriteRaw(BlockNo, int, ReadOnlySpan{byte}, BlockNo)"/>).</summary>
    public Errno WriteRaw(BlockNo block, int offset, ReadOnlySpan<byte> bytes, BlockNo after) => Map(Session.WriteRaw(block, offset, bytes, after));

    /// <summary>Whole data blocks from <paramref name="start"/> to the device in one request (<see cref="XnSession.WriteThrough"/>).</summary>
    public Errno WriteThrough(BlockNo start, ReadOnlySpan<byte> blocks) => Map(Session.WriteThrough(start, blocks));

    /// <summary>Whole blocks from <paramref name="start"/>; uncached data in one device request (<see cref="XnSession.ReadBlocks"/>).</summary>
    public Errno ReadBlocks(BlockNo start, Span<byte> into) => Map(Session.ReadBlocks(start, into));

    /// <summary>Several extents under one partition of <paramref name="parent"/> in one checked step.</summary>
    public Errno Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children) =>
        Map(Session.Alloc(parent, partition, edits, childType, children));

    public Errno Alloc(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, Extent child) =>
        Map(Session.Alloc(parent, partition, edits, childType, child));

    public Errno Free(BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent child) =>
        Map(Session.Free(parent, partition, edits, child));

    public Errno Move(BlockNo from, int fromPartition, IReadOnlyList<Edit> fromEdits, BlockNo to, int toPartition,
        IReadOnlyList<Edit> toEdits, Extent child) =>
        Map(Session.Move(from, fromPartition, fromEdits, to, toPartition, toEdits, child));

    /// <summary>How many blocks XN could give out now, to any libFS.</summary>
    public ulong FreeBlocks => Session.FreeBlocks;

    /// <summary>XN's free map over a range, read-only: blocks free now and blocks whose free waits for a sync.</summary>
    public Result<XnFreeCount> CountFree(BlockNo start, ulong count)
    {
        var r = Session.CountFree(start, count);
        return r.Ok ? r.Value : Map(r.Status);
    }

    public Result<BlockNo> FindFree(BlockNo hint, ulong count)
    {
        var r = Session.FindFree(hint, count);
        return r.Ok ? r.Value : Map(r.Status);
    }

    public Errno WriteBack(BlockNo block) => Map(Session.WriteBack(block));

    public Errno Sync() => Map(Session.Sync());

    // Log-structured calls (XnSession, Xn/README.md "Segments").

    public Errno AllocSegment(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId segmentType, Extent segment) =>
        Map(Session.AllocSegment(parent, partition, edits, segmentType, segment));

    public Errno Claim(BlockNo parent, int partition, IReadOnlyList<Edit> edits, TypeId childType, IReadOnlyList<Extent> children) =>
        Map(Session.Claim(parent, partition, edits, childType, children));

    public Errno Claim(BlockNo parent, int partition, IReadOnlyList<Edit> edits, IReadOnlyList<(TypeId Type, Extent Extent)> children) =>
        Map(Session.Claim(parent, partition, edits, children));

    public Errno Redirect(BlockNo parent, int partition, IReadOnlyList<Edit> edits, Extent from, Extent to, bool copy = true) =>
        Map(Session.Redirect(parent, partition, edits, from, to, copy));

    /// <summary>Whole blocks from <paramref name="start"/> in one call (data or untyped segment body).</summary>
    public Errno WriteBlocks(BlockNo start, ReadOnlySpan<byte> blocks) => Map(Session.WriteBlocks(start, blocks));

    public Errno WriteBackSegment(BlockNo block) => Map(Session.WriteBackSegment(block));
}
