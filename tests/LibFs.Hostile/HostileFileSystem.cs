using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Memory;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;
using static ExoFS.LibFs.Hostile.HostileTypes;

namespace ExoFS.LibFs.Hostile;

/// <summary>
/// A mounted hostile root. It serves no files (every <see cref="IFileSystem"/> call is ENOSYS); what it
/// offers are attacks, each a method that uses only what the host handed it — <see cref="GuestContext.Session"/>,
/// <see cref="GuestContext.Wallet"/>, <see cref="GuestContext.Environment"/> — and public types it can build
/// itself. Each returns XN's (or the kernel's) answer; the tests say what it must be.
/// Own tree after <see cref="Prepare"/>: record 0 holds data block <see cref="OwnData"/> (slot 0), indirect block
/// <see cref="OwnInd"/> (slot 12, owning <see cref="OwnIndData"/> at pointer 0) and wide block <see cref="OwnWide"/> (slot 13).
/// </summary>
public sealed class HostileFileSystem : IFileSystem
{
    private readonly GuestContext _guest;
    private readonly List<PageFrame> _hoardedFrames = new();

    internal HostileFileSystem(GuestContext guest, RootInfo root, HostileTypeIds types)
    {
        _guest = guest;
        Root = root;
        Types = types;
    }

    public XnSession Session => _guest.Session;
    public ExoEnvironment Environment => _guest.Environment;
    public RootInfo Root { get; }
    public HostileTypeIds Types { get; }
    public ulong OwnData { get; private set; }
    public ulong OwnInd { get; private set; }
    public ulong OwnIndData { get; private set; }
    public ulong OwnWide { get; private set; }
    /// <summary>The capability the host granted this guest for its own root.</summary>
    public Capability OwnCapability => _guest.Wallet.Get(_guest.RootName)!;
    /// <summary>What the last revocation upcall got when it called back into XN.</summary>
    public XnResult? UpcallReentry { get; private set; }
    /// <summary>Revocation upcalls received.</summary>
    public int Upcalls { get; private set; }

    // ------------------------------------------------------------------ an honest start

    /// <summary>Builds the own tree described on the class, honestly, and syncs it.</summary>
    public XnResult Prepare()
    {
        var s = Session;
        OwnData = Free(0);
        var r = s.Alloc(Root.Block, 0, [Ptr(Slot(0, 0), OwnData)], XnTypes.Data, One(OwnData));
        if (r.Ok) r = s.WriteRaw(new BlockNo(OwnData), 0, "hostile data"u8);
        if (r.Ok) { OwnInd = Free(OwnData); r = s.Alloc(Root.Block, 0, [Ptr(Slot(0, 12), OwnInd)], Types.Ind, One(OwnInd)); }
        if (r.Ok) { OwnIndData = Free(OwnInd); r = s.Alloc(new BlockNo(OwnInd), 0, [Ptr(0, OwnIndData)], XnTypes.Data, One(OwnIndData)); }
        if (r.Ok) { OwnWide = Free(OwnIndData); r = s.Alloc(Root.Block, 0, [Ptr(Slot(0, 13), OwnWide)], Types.Wide, One(OwnWide)); }
        return r.Ok ? s.Sync() : r;
    }

    /// <summary>A free block after <paramref name="after"/> (disk information; nothing is reserved).</summary>
    public ulong Free(ulong after, ulong count = 1) => Session.FindFree(new BlockNo(after + 1), count).Value.Value;

    // ------------------------------------------------------------------ ownership: alloc, free, move

    /// <summary>Points an empty slot of the root at <paramref name="block"/> and claims it as data.</summary>
    public XnResult ClaimBlock(ulong block) =>
        Session.Alloc(Root.Block, 1, [Ptr(Slot(1, 0), block)], XnTypes.Data, One(block));

    /// <summary>Claims <paramref name="block"/> as an indirect block of its own (metadata it could then fill).</summary>
    public XnResult ClaimBlockAsMetadata(ulong block) =>
        Session.Alloc(Root.Block, 1, [Ptr(Slot(1, 12), block)], Types.Ind, One(block));

    /// <summary>Claims <paramref name="block"/> under its own indirect block.</summary>
    public XnResult ClaimBlockUnderIndirect(ulong block) =>
        Session.Alloc(new BlockNo(OwnInd), 0, [Ptr(8, block)], XnTypes.Data, One(block));

    /// <summary>Claims a free block and <paramref name="foreign"/> in one multi-extent alloc.</summary>
    public XnResult ClaimAlongsideAFreeBlock(ulong foreign)
    {
        ulong f = Free(OwnWide);
        return Session.Alloc(Root.Block, 1, [Ptr(Slot(1, 0), f), Ptr(Slot(1, 1), foreign)], XnTypes.Data, [One(f), One(foreign)]);
    }

    /// <summary>Frees <paramref name="child"/> from someone else's <paramref name="parent"/>, zeroing the pointer at <paramref name="offset"/>.</summary>
    public XnResult FreeFrom(BlockNo parent, int partition, int offset, ulong child) =>
        Session.Free(parent, partition, [Ptr(offset, 0)], One(child));

    /// <summary>Frees <paramref name="foreign"/> from its own root, as if the root owned it.</summary>
    public XnResult FreeAsIfOwned(ulong foreign) =>
        Session.Free(Root.Block, 0, [Ptr(Slot(0, 0), 0)], One(foreign));

    /// <summary>Moves <paramref name="child"/> out of someone else's <paramref name="parent"/> into its own root.</summary>
    public XnResult MoveOut(BlockNo parent, int partition, int offset, ulong child) =>
        Session.Move(parent, partition, [Ptr(offset, 0)], Root.Block, 2, [Ptr(Slot(2, 0), child)], One(child));

    /// <summary>Moves its own data block into someone else's <paramref name="parent"/> (planting a pointer there).</summary>
    public XnResult MoveIn(BlockNo parent, int partition, int offset) =>
        Session.Move(Root.Block, 0, [Ptr(Slot(0, 0), 0)], parent, partition, [Ptr(offset, OwnData)], One(OwnData));

    // ------------------------------------------------------------------ raw bytes and pages

    public XnResult RawWrite(BlockNo block, int offset = 0) => Session.WriteRaw(block, offset, Enumerable.Repeat((byte)0xEE, 16).ToArray());

    /// <summary>Writes its own data block "after" <paramref name="foreign"/>: a soft edge onto a block it cannot read.</summary>
    public XnResult RawWriteOrderedAfter(BlockNo foreign) => Session.WriteRaw(new BlockNo(OwnData), 0, "after"u8, foreign);

    public XnResult ReadBlock(BlockNo block) => Session.Read(block, new byte[4096]);

    public XnResult ReadRawBytes(BlockNo block) => Session.ReadRaw(block, 0, new byte[16]);

    public XnResult ViewPage(BlockNo block) => Session.View(block).Status;

    public XnResult WriteBack(BlockNo block) => Session.WriteBack(block);

    /// <summary>Gives its own root a new indirect child, not yet written: the root is tainted until it is.</summary>
    public XnResult TaintOwnRoot()
    {
        ulong x = Free(OwnWide);
        return Session.Alloc(Root.Block, 3, [Ptr(Slot(3, 12), x)], Types.Ind, One(x));
    }

    // ------------------------------------------------------------------ capabilities and roots

    public XnResult MountWith(string root, Capability? cap) => Session.MountRoot(root, cap!).Status;

    /// <summary>Every capability it can forge for <paramref name="root"/> from public constructors and its own capability.</summary>
    public IReadOnlyList<(string How, Capability Cap)> Forgeries(string root)
    {
        var own = OwnCapability;
        var kernel = Environment.Kernel;
        return
        [
            ("sealed with zeros", new Capability(new RootResource(root), Rights.All, Environment.Id, kernel.BootId, default)),
            ("own seal, other root", own with { Resource = new RootResource(root) }),
            ("own seal, other root and holder guessed", own with { Resource = new RootResource(root), Holder = new EnvId(own.Holder.Value - 1) }),
            ("seal of random words", own with { Resource = new RootResource(root), Seal = new CapabilitySeal(1, 2, 3, 4) }),
            ("own capability, wider resource", own with { Resource = new NamedResource("root", root) }),
        ];
    }

    /// <summary>
    /// Runs <paramref name="libFs"/> (found in the public catalogue, say FFS) on root <paramref name="root"/>, through a
    /// context it builds around its own session and a wallet holding its own capability under that root's name.
    /// </summary>
    public (Errno Error, string? Detail) MountWithLibFs(ILibFs libFs, string root)
    {
        var wallet = new CapabilityWallet();
        wallet.Put(root, OwnCapability);
        var context = GuestContext.Create(Session, wallet, root, _guest.DeviceBlocks, readOnly: false);
        var fs = libFs.Mount(context, out var error);
        if (fs.Ok) fs.Value.Dispose();
        return (fs.Error, error);
    }

    /// <summary>Asks the kernel (Delegate is public) to re-mint its own root capability as one for <paramref name="root"/>.</summary>
    public CapabilityResult DelegateOwnCapabilityTo(string root) =>
        Environment.Kernel.Delegate(Environment, OwnCapability, Environment, Rights.All, new RootResource(root));

    public XnResult InstallRoot(string name) => Session.InstallRoot(name, Types.Root).Status;

    /// <summary>Registers <see cref="SnoopingChecker"/> for FFS's root type, in the process-wide registry.</summary>
    public void PlantSnoopingChecker() => XnRootCheckers.Register(new SnoopingChecker());

    // ------------------------------------------------------------------ types and UDFs

    public XnResult<TypeId> RegisterType(TypeSpec spec) => Session.RegisterType(spec);

    /// <summary>Through its wide block, claims 64 blocks starting at <paramref name="start"/> while declaring <paramref name="declared"/>.</summary>
    public XnResult ClaimWide(ulong start, Extent declared) =>
        Session.Alloc(new BlockNo(OwnWide), 0, [Ptr(0, start)], XnTypes.Data, declared);

    /// <summary>An alloc under the wide block whose proposed bytes make its owns-UDF load from <paramref name="address"/>.</summary>
    public XnResult AllocMakingOwnsLoadFrom(ulong address)
    {
        ulong f = Free(OwnWide, WideClaim);
        return Session.Alloc(new BlockNo(OwnWide), 0, [Ptr(0, f), Ptr(8, address)], XnTypes.Data, new Extent(new BlockNo(f), WideClaim));
    }

    /// <summary>An alloc under the wide block whose proposed bytes make its owns-UDF loop <paramref name="rounds"/> times.</summary>
    public XnResult AllocMakingOwnsSpin(ulong rounds)
    {
        ulong f = Free(OwnWide, WideClaim);
        return Session.Alloc(new BlockNo(OwnWide), 0, [Ptr(0, f), Ptr(16, rounds)], XnTypes.Data, new Extent(new BlockNo(f), WideClaim));
    }

    /// <summary>Allocates a free block under its root, declaring it of type <paramref name="type"/>.</summary>
    public XnResult AllocAs(TypeId type)
    {
        ulong f = Free(OwnWide);
        return Session.Alloc(Root.Block, 4, [Ptr(Slot(4, 0), f)], type, One(f));
    }

    // ------------------------------------------------------------------ memory

    /// <summary>
    /// Fills its records' indirect blocks with data blocks and binds a read-only view of each, never
    /// unbinding: every view pins a page of XN's cache. Returns how many it pinned and the first refusal.
    /// </summary>
    public (int Pinned, XnResult Stopped) HoardViews(int pages)
    {
        int pinned = 0;
        ulong hint = OwnWide;
        for (int rec = 5; rec < Records && pinned < pages; rec++)
        {
            ulong ind = Free(hint);
            var r = Session.Alloc(Root.Block, rec, [Ptr(Slot(rec, 12), ind)], Types.Ind, One(ind));
            if (!r.Ok) return (pinned, r);
            hint = ind;
            for (int p = 0; p < 8 && pinned < pages; p++)
            {
                var edits = new List<Edit>();
                var children = new List<Extent>();
                for (int i = 0; i < 64; i++)
                {
                    ulong b = Free(hint);
                    hint = b;
                    edits.Add(Ptr(512 * p + 8 * i, b));
                    children.Add(One(b));
                }
                r = Session.Alloc(new BlockNo(ind), p, edits, XnTypes.Data, children);
                if (!r.Ok) return (pinned, r);
                foreach (var c in children)
                {
                    if (pinned == pages) break;
                    var v = Session.View(c.Start);
                    if (!v.Ok) return (pinned, v.Status);
                    pinned++;
                }
            }
        }
        return (pinned, XnResult.Success);
    }

    /// <summary>
    /// Takes <paramref name="frames"/> page frames from the kernel for itself and installs an upcall that never
    /// gives any back and, when asked, calls back into XN (recorded in <see cref="UpcallReentry"/>).
    /// </summary>
    public MemoryStatus HoardFrames(int frames)
    {
        var kernel = Environment.Kernel;
        var set = kernel.Memory.SetRevocationHandler(Environment, new GreedyHandler(this));
        if (set != MemoryStatus.Ok) return set;
        var got = kernel.Memory.Allocate(Environment, frames);
        if (got.Ok) _hoardedFrames.AddRange(got.Frames);
        return got.Status;
    }

    /// <summary>Frames this environment holds now.</summary>
    public int FramesHeld => Environment.Kernel.Memory.OwnedCount(Environment);

    private sealed class GreedyHandler(HostileFileSystem fs) : IRevocationHandler
    {
        public IReadOnlyList<PageFrame> Revoke(RevocationRequest request)
        {
            fs.Upcalls++;
            // The kernel runs this upcall on the thread that asked for memory: XN's, inside its call.
            fs.UpcallReentry = fs.Session.Read(fs.Root.Block, new byte[4096]);
            return [];
        }
    }

    // ------------------------------------------------------------------ IFileSystem: nothing served

    public string Name => "hostile";
    public Result<FileAttr> Lookup(InodeNo parent, string name) => Errno.ENOSYS;
    public void Forget(InodeNo ino, ulong nlookup) { }
    public Result<FileAttr> GetAttr(InodeNo ino) => Errno.ENOSYS;
    public Result<FileAttr> SetAttr(InodeNo ino, SetAttrRequest request) => Errno.ENOSYS;
    public Result<string> ReadLink(InodeNo ino) => Errno.ENOSYS;
    public Result<FileAttr> MkNod(InodeNo parent, string name, uint mode, ulong rdev, Caller caller) => Errno.ENOSYS;
    public Result<FileAttr> MkDir(InodeNo parent, string name, uint mode, Caller caller) => Errno.ENOSYS;
    public Errno Unlink(InodeNo parent, string name) => Errno.ENOSYS;
    public Errno RmDir(InodeNo parent, string name) => Errno.ENOSYS;
    public Result<FileAttr> Symlink(InodeNo parent, string name, string target, Caller caller) => Errno.ENOSYS;
    public Errno Rename(InodeNo parent, string name, InodeNo newParent, string newName, RenameFlags flags) => Errno.ENOSYS;
    public Result<FileAttr> Link(InodeNo ino, InodeNo newParent, string newName) => Errno.ENOSYS;
    public Result<FileHandle> Open(InodeNo ino, OpenFlags flags) => Errno.ENOSYS;
    public Result<(FileAttr Attr, FileHandle Handle)> Create(InodeNo parent, string name, uint mode, OpenFlags flags, Caller caller) => Errno.ENOSYS;
    public Result<int> Read(InodeNo ino, FileHandle fh, long offset, Span<byte> buffer) => Errno.ENOSYS;
    public Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data) => Errno.ENOSYS;
    public Errno Flush(InodeNo ino, FileHandle fh) => Errno.ENOSYS;
    public Errno Release(InodeNo ino, FileHandle fh) => Errno.ENOSYS;
    public Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => Errno.ENOSYS;
    public Result<FileHandle> OpenDir(InodeNo ino) => Errno.ENOSYS;
    public Errno ReadDir(InodeNo ino, FileHandle fh, long offset, DirEntrySink sink) => Errno.ENOSYS;
    public Errno ReleaseDir(InodeNo ino, FileHandle fh) => Errno.ENOSYS;
    public Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => Errno.ENOSYS;
    public Result<FsStats> StatFs() => Errno.ENOSYS;
    public Errno SetXattr(InodeNo ino, string name, ReadOnlySpan<byte> value, XattrFlags flags) => Errno.ENOSYS;
    public Result<byte[]> GetXattr(InodeNo ino, string name) => Errno.ENOSYS;
    public Result<IReadOnlyList<string>> ListXattr(InodeNo ino) => Errno.ENOSYS;
    public Errno RemoveXattr(InodeNo ino, string name) => Errno.ENOSYS;
    public Errno Sync() => Session.Sync().Ok ? Errno.OK : Errno.EIO;

    /// <summary>Gives back its hoarded frames, syncs, and tells the host it has closed.</summary>
    public void Dispose()
    {
        foreach (var f in _hoardedFrames) Environment.Kernel.Memory.Free(Environment, f);
        _hoardedFrames.Clear();
        Session.Sync();
        _guest.NotifyClosed();
    }
}
