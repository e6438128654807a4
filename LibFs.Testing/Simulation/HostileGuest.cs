using System.Buffers.Binary;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Testing.Simulation;

/// <summary>
/// The simulation's hostile guest: a libFS that uses only public API (its <see cref="GuestContext"/>: one session,
/// its own root's capability) and, one attack per slice it is given, tries to reach the FFS roots beside it. Each
/// attack names the exact XN error that must refuse it. Its own root is honest — one root block whose first 128
/// bytes are 16 data pointers (owns-UDF below) and whose rest is raw — and holds one data block, so an attack
/// that "frees" a foreign block from it has a real pointer to work with.
/// <para>
/// It learns victims' blocks as any guest could: the root names and blocks the host lists, and blocks
/// <see cref="XnSession.FindFree"/> does not return (allocated by someone) that are not its own. It is not
/// registered (<see cref="LibFsRegistrationAttribute"/>): a host attaches it only when handed it, so nothing that
/// runs every registered libFS meets it.
/// </para>
/// </summary>
public sealed class HostileSimLibFs : ILibFs
{
    public const string RootTypeName = "sim-hostile.root";

    public const string RootOwns = """
        .udf sim-hostile.root.owns
        .types xn.data
        .read 0 128
        .fuel 256
          li   r2, 0
          li   r3, 16
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;

    private static readonly IReadOnlyList<ByteRange> Raw = [new ByteRange(128, IBlockDevice.BlockSize - 128)];

    public static TypeSpec RootSpec => new(RootTypeName, RootOwns, Raw, Raw);

    public string Name => "sim-hostile";
    public string RootType => RootTypeName;
    public IXnRootChecker Checker { get; } = new ReadsItsRoot();

    public Result<IFileSystem> Format(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var type = guest.Session.RegisterType(RootSpec);
        if (!type.Ok) { error = $"register type: {type}"; return Errno.EIO; }
        var root = guest.Session.InstallRoot(guest.RootName, type.Value);
        if (!root.Ok) { error = $"install root: {root}"; return Errno.EIO; }
        guest.Wallet.Put(guest.RootName, root.Value.Capability);
        error = null;
        return new HostileSimFileSystem(guest, root.Value);
    }

    public Result<IFileSystem> Mount(GuestContext guest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var type = guest.Session.RegisterType(RootSpec);
        if (!type.Ok) { error = $"register type: {type}"; return Errno.EIO; }
        if (guest.Wallet.Get(guest.RootName) is not { } cap) { error = $"no capability for root '{guest.RootName}'"; return Errno.EACCES; }
        var root = guest.Session.MountRoot(guest.RootName, cap);
        if (!root.Ok) { error = $"mount root: {root}"; return Errno.EACCES; }
        var read = guest.Session.Read(root.Value.Block, new byte[IBlockDevice.BlockSize]);
        if (!read.Ok) { error = $"read root: {read}"; return Errno.EIO; }
        error = null;
        return new HostileSimFileSystem(guest, root.Value);
    }

    private sealed class ReadsItsRoot : IXnRootChecker
    {
        public string RootType => RootTypeName;
        public IEnumerable<XnFinding> Check(XnRootView root)
        {
            var r = root.Session.Read(root.Root.Block, new byte[IBlockDevice.BlockSize]);
            return r.Ok ? [] : [new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, $"sim-hostile root unreadable: {r}")];
        }
    }
}

/// <summary>One attack: its name, the error XN must answer with, what it got.</summary>
public readonly record struct AttackOutcome(string Name, ulong Target, XnError Expected, XnError Got)
{
    public bool Refused => Got == Expected;
    public override string ToString() => $"{Name} on {Target}: {Got}{(Refused ? "" : $" (expected {Expected})")}";
}

/// <summary>The hostile guest's file system: serves nothing; <see cref="Attack"/> is what it does with its slices.</summary>
public sealed class HostileSimFileSystem : IFileSystem
{
    private readonly GuestContext _guest;
    private readonly RootInfo _root;
    private ulong _own;

    internal HostileSimFileSystem(GuestContext guest, RootInfo root)
    {
        _guest = guest;
        _root = root;
    }

    private XnSession Session => _guest.Session;
    private Capability OwnCapability => _guest.Wallet.Get(_guest.RootName)!;

    /// <summary>The attacks, in the order <see cref="Attack"/> draws from.</summary>
    public static readonly IReadOnlyList<string> Attacks =
    [
        "alloc-foreign", "free-foreign-as-own", "free-from-foreign-parent", "raw-write-foreign", "read-foreign", "view-foreign",
        "mount-foreign-with-own-cap", "mount-foreign-forged-seal", "mount-foreign-no-cap", "install-root", "raw-write-xn-superblock",
        "register-looping-udf", "move-own-into-foreign", "alloc-free-and-foreign-at-once",
    ];

    /// <summary>Gives its own root one data block (slot 0), honestly, and syncs: what the free attacks start from.</summary>
    public XnResult Prepare()
    {
        var free = Session.FindFree(new BlockNo(_root.Block.Value + 1), 1);
        if (!free.Ok) return XnResult.Fail(free.Error, free.Detail);
        _own = free.Value.Value;
        var r = Session.Alloc(_root.Block, 0, [Ptr(0, _own)], XnTypes.Data, new Extent(new BlockNo(_own), 1));
        if (r.Ok) r = Session.WriteRaw(new BlockNo(_own), 0, "hostile"u8);
        return r.Ok ? Session.Sync() : r;
    }

    /// <summary>
    /// Runs attack <paramref name="which"/> against <paramref name="victimRoot"/> (name and root block) and
    /// <paramref name="victimBlock"/> (a block someone else owns).
    /// </summary>
    public AttackOutcome Attack(int which, string victimRoot, BlockNo victimSuper, BlockNo victimBlock)
    {
        ulong b = victimBlock.Value;
        var one = new Extent(victimBlock, 1);
        var own = OwnCapability;
        (XnError Expected, XnResult Got, ulong Target) r = Attacks[which] switch
        {
            "alloc-foreign" => (XnError.NotFree, Session.Alloc(_root.Block, 0, [Ptr(8, b)], XnTypes.Data, one), b),
            "free-foreign-as-own" => (XnError.NotOwned, Session.Free(_root.Block, 0, [Ptr(0, 0)], one), b),
            "free-from-foreign-parent" => (XnError.BadCapability, Session.Free(victimSuper, 0, [Ptr(256, 0)], one), b),
            "raw-write-foreign" => (XnError.BadCapability, Session.WriteRaw(victimBlock, 0, new byte[16]), b),
            "read-foreign" => (XnError.BadCapability, Session.Read(victimBlock, new byte[IBlockDevice.BlockSize]), b),
            "view-foreign" => (XnError.BadCapability, Session.View(victimBlock).Status, b),
            "mount-foreign-with-own-cap" => (XnError.BadCapability, Session.MountRoot(victimRoot, own).Status, victimSuper.Value),
            "mount-foreign-forged-seal" => (XnError.BadCapability,
                Session.MountRoot(victimRoot, own with { Resource = new RootResource(victimRoot), Seal = new CapabilitySeal(1, 2, 3, 4) }).Status, victimSuper.Value),
            "mount-foreign-no-cap" => (XnError.BadCapability, Session.MountRoot(victimRoot, null!).Status, victimSuper.Value),
            "install-root" => (XnError.BadCapability, Session.InstallRoot($"planted-{b}", _root.Type).Status, 0UL),
            // Block 0 is XN's superblock, where the host keeps its last-recovery record.
            "raw-write-xn-superblock" => (XnError.BadCapability, Session.WriteRaw(BlockNo.Zero, 1024, new byte[64]), 0UL),
            "register-looping-udf" => (XnError.UdfRejected, Session.RegisterType(new TypeSpec($"sim-hostile.spin{b}", """
                .udf spin
                .read 0 8
                top:
                  ld64 r2, [r0+0]
                  beq  r2, r2, top
                  ret  0
                """, [], [])).Status, 0UL),
            "move-own-into-foreign" => (XnError.BadCapability,
                Session.Move(_root.Block, 0, [Ptr(0, 0)], victimSuper, 0, [Ptr(256, _own)], new Extent(new BlockNo(_own), 1)), victimSuper.Value),
            // One owns run claiming a free block and the foreign one: all or nothing, so nothing.
            "alloc-free-and-foreign-at-once" => (XnError.NotFree, AllocWithAFreeBlock(victimBlock), b),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        return new AttackOutcome(Attacks[which], r.Target, r.Expected, r.Got.Error);
    }

    /// <summary>
    /// A block someone else has allocated: the first at or after <paramref name="victimSuper"/> + <paramref name="skip"/>
    /// (wrapping back to the root block, never below it: below lie XN's reserved blocks) that FindFree does not
    /// return and that is not this guest's. A libFS's metadata lies just after its root block, so this is a victim's.
    /// </summary>
    public BlockNo? ForeignBlock(BlockNo victimSuper, ulong skip)
    {
        ulong lo = victimSuper.Value, span = _guest.DeviceBlocks - lo;
        for (ulong i = 0; i < span; i++)
        {
            ulong b = lo + (skip + i) % span;
            if (b == _own || b == _root.Block.Value) continue;
            var f = Session.FindFree(new BlockNo(b), 1);
            // FindFree answers the first free block at or after b: b itself when it is free.
            if (f.Ok && f.Value.Value == b) continue;
            return new BlockNo(b);
        }
        return null;
    }

    private XnResult AllocWithAFreeBlock(BlockNo foreign)
    {
        var free = Session.FindFree(new BlockNo(_own + 1), 1);
        if (!free.Ok) return XnResult.Fail(free.Error, free.Detail);
        return Session.Alloc(_root.Block, 0, [Ptr(8, free.Value.Value), Ptr(16, foreign.Value)], XnTypes.Data,
            [new Extent(free.Value, 1), new Extent(foreign, 1)]);
    }

    private static Edit Ptr(int offset, ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return new Edit(offset, bytes);
    }

    // ------------------------------------------------------------------ IFileSystem: nothing served

    public string Name => "sim-hostile";
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

    public void Dispose()
    {
        Session.Sync();
        _guest.NotifyClosed();
    }
}
