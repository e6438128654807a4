using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;

namespace ExoFS.LibFs.Tests;

/// <summary>
/// The libOS runtime (registrations, the guest's context) and the host's policy: what a guest is handed, and
/// what it cannot do with it.
/// </summary>
public class RuntimeAndHostTests
{
    private static readonly Caller Me = new(1000, 1000);

    [Fact]
    public void The_catalog_finds_ffs_through_its_registration()
    {
        _ = typeof(FfsLibFs);   // the assembly is loaded, as in any program that ships it
        var ffs = LibFsCatalog.Find("ffs");
        Assert.NotNull(ffs);
        Assert.Equal("ffs.super", ffs.RootType);
        Assert.Same(ffs, LibFsCatalog.ForRootType("ffs.super"));
        Assert.Null(LibFsCatalog.Find("no-such-libfs"));
        Assert.Contains("ffs", LibFsCatalog.Names);
    }

    [Fact]
    public void Two_roots_of_one_image_are_two_guests_with_their_own_environments_and_files()
    {
        var dev = new MemoryDevice(16384);
        using var host = ExoHost.Format(dev, [new RootRequest("ffs", "ffs"), new RootRequest("ffs", "home")], out string? error).Value;
        Assert.Null(error);
        Assert.Equal(["ffs", "home"], host.Roots().Select(r => r.Name));
        Assert.All(host.Roots(), r => Assert.Equal("ffs", r.LibFs));
        var a = host.Attach("ffs", out error);
        var b = host.Attach("home", out error);
        Assert.True(a.Ok && b.Ok, error);
        Assert.NotEqual(a.Value.EnvironmentName, b.Value.EnvironmentName);
        var fa = a.Value.FileSystem.MkNod(InodeNo.Root, "only-in-ffs", FileMode.Regular | 0x1A4, 0, Me);
        Assert.True(fa.Ok);
        Assert.Equal(Errno.ENOENT, b.Value.FileSystem.Lookup(InodeNo.Root, "only-in-ffs").Error);
        Assert.True(host.Check().Clean, string.Join("\n", host.Check().Findings));
        b.Value.Dispose();
        Assert.Single(host.Guests);
        Assert.True(a.Value.FileSystem.Lookup(InodeNo.Root, "only-in-ffs").Ok);   // the other keeps serving
    }

    [Fact]
    public void A_root_cannot_be_attached_twice_read_write_and_an_unknown_root_is_named()
    {
        using var host = ExoHost.Format(new MemoryDevice(8192), [new RootRequest("ffs", "ffs")], out _).Value;
        using var first = host.Attach("ffs", out _).Value;
        var again = host.Attach("ffs", out string? error);
        Assert.Equal(Errno.EBUSY, again.Error);
        Assert.Contains("already attached", error);
        var missing = host.Attach("nope", out error);
        Assert.Equal(Errno.ENOENT, missing.Error);
        Assert.Contains("roots: ffs (ffs)", error);
    }

    [Fact]
    public void A_guest_session_may_not_install_roots()
    {
        using var host = ExoHost.Format(new MemoryDevice(8192), [new RootRequest("ffs", "ffs")], out _).Value;
        var spy = new SpyLibFs();
        // The spy attaches as an FFS would (same root type) and keeps the context it is handed.
        var guest = host.Attach("ffs", out string? error, libFs: spy);
        Assert.True(guest.Ok, error);
        using var attached = guest.Value;
        var session = spy.Context!.Session;
        var type = session.FindType("ffs.super").Value;
        var r = session.InstallRoot("mine", type);
        Assert.Equal(XnError.BadCapability, r.Error);
        Assert.Contains("host operation", r.Detail);
        Assert.DoesNotContain("mine", host.Roots().Select(x => x.Name));
    }

    [Fact]
    public void A_guest_gets_a_frame_quota_it_cannot_exceed()
    {
        using var host = ExoHost.Format(new MemoryDevice(8192), [new RootRequest("ffs", "ffs")], out _,
            new HostOptions { GuestFrameQuota = 3 }).Value;
        var spy = new SpyLibFs();
        using var guest = host.Attach("ffs", out _, libFs: spy).Value;
        var env = spy.Context!.Environment;
        Assert.Equal(3, env.Kernel.Memory.Quota(env));
        Assert.Equal(ExoFS.Kernel.Memory.MemoryStatus.QuotaExceeded, env.Kernel.Memory.Allocate(env, 4).Status);
    }

    [Fact]
    public void A_guest_may_claim_no_more_time_slices_than_its_quota()
    {
        using var host = ExoHost.Format(new MemoryDevice(8192), [new RootRequest("ffs", "ffs")], out _,
            new HostOptions { GuestSliceQuota = 2 }).Value;
        var spy = new SpyLibFs();
        using var guest = host.Attach("ffs", out _, libFs: spy).Value;
        var env = spy.Context!.Environment;
        Assert.Equal(ExoFS.Kernel.Scheduling.ScheduleStatus.Ok, env.Kernel.Scheduler.ClaimAny(env, 2).Status);
        Assert.Equal(ExoFS.Kernel.Scheduling.ScheduleStatus.QuotaExceeded, env.Kernel.Scheduler.ClaimAny(env, 1).Status);
    }

    [Fact]
    public void A_read_only_guest_changes_nothing()
    {
        var dev = new MemoryDevice(8192);
        ExoHost.Format(dev, [new RootRequest("ffs", "ffs")], out _).Value.Dispose();
        using var host = ExoHost.Load(dev, out _).Value;
        using var guest = host.Attach("ffs", out string? error, readOnly: true).Value;
        Assert.True(guest.ReadOnly);
        Assert.Equal(Errno.EROFS, guest.FileSystem.MkNod(InodeNo.Root, "x", FileMode.Regular | 0x1A4, 0, Caller.Root).Error);
    }

    [Fact]
    public void Mkfs_of_an_unknown_libfs_is_refused_with_the_names_it_knows()
    {
        var r = ExoHost.Format(new MemoryDevice(8192), [new RootRequest("zfs", "zfs")], out string? error);
        Assert.Equal(Errno.EINVAL, r.Error);
        Assert.Contains("no libFS named 'zfs'", error);
        Assert.Contains("ffs", error);
        Assert.Equal(new RootRequest("ffs", "home"), RootRequest.Parse("ffs:home"));
        Assert.Equal(new RootRequest("ffs", "ffs"), RootRequest.Parse("ffs"));
    }

    /// <summary>An FFS that keeps the context the host hands it, so a test can try what a guest could do with it.</summary>
    private sealed class SpyLibFs : ILibFs
    {
        private readonly FfsLibFs _ffs = new();
        public GuestContext? Context { get; private set; }
        public string Name => "spy";
        public string RootType => _ffs.RootType;
        public IXnRootChecker Checker => _ffs.Checker;
        public Result<IFileSystem> Format(GuestContext guest, out string? error) => _ffs.Format(guest, out error);
        public Result<IFileSystem> Mount(GuestContext guest, out string? error)
        {
            Context = guest;
            return _ffs.Mount(guest, out error);
        }
    }
}
