using System.Security.Cryptography;
using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Memory;

namespace ExoFS.Kernel.Tests.Capabilities;

public class CapabilityTests
{
    private readonly ExoKernel _kernel = new(new KernelOptions { PageFrames = 16 });
    private readonly ExoEnvironment _a, _b, _c;

    public CapabilityTests()
    {
        _a = _kernel.CreateEnvironment("a");
        _b = _kernel.CreateEnvironment("b");
        _c = _kernel.CreateEnvironment("c");
    }

    private static DiskExtentResource Disk(ulong start, ulong count) => new(new Extent(new BlockNo(start), count));

    private static CapabilitySeal RandomSeal()
    {
        var b = RandomNumberGenerator.GetBytes(32);
        return new CapabilitySeal(BitConverter.ToUInt64(b, 0), BitConverter.ToUInt64(b, 8), BitConverter.ToUInt64(b, 16), BitConverter.ToUInt64(b, 24));
    }

    [Fact]
    public void Minted_capability_binds_for_its_holder()
    {
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.Read | Rights.Write);
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_a, cap, new RootResource("ffs"), Rights.Read | Rights.Write));
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_a, cap, new RootResource("ffs"), Rights.None));
    }

    [Fact]
    public void Environments_get_distinct_ids_and_keep_their_names()
    {
        Assert.NotEqual(_a.Id, _b.Id);
        Assert.Equal("b", _b.Name);
        Assert.Same(_b, _kernel.FindEnvironment(_b.Id));
    }

    [Fact]
    public void Forged_capability_with_random_seal_is_refused()
    {
        var forged = new Capability(new RootResource("ffs"), Rights.All, _a.Id, _kernel.BootId, RandomSeal());
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, forged, new RootResource("ffs"), Rights.Read));
    }

    [Fact]
    public void Tampered_rights_are_refused_as_forged()
    {
        var cap = _kernel.Mint(_a, Disk(10, 5), Rights.Read);
        var tampered = cap with { Rights = Rights.Read | Rights.Write };
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, tampered, Disk(10, 5), Rights.Write));
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, tampered, Disk(10, 5), Rights.Read));
    }

    [Fact]
    public void Tampered_resource_is_refused_as_forged()
    {
        var cap = _kernel.Mint(_a, Disk(10, 5), Rights.Read);
        var widened = cap with { Resource = Disk(0, 1000) };
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, widened, Disk(100, 1), Rights.Read));
        var renamed = _kernel.Mint(_a, new RootResource("ffs"), Rights.Read) with { Resource = new RootResource("lfs") };
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, renamed, new RootResource("lfs"), Rights.Read));
    }

    [Fact]
    public void Tampered_holder_is_refused_as_forged()
    {
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.Read);
        var stolen = cap with { Holder = _b.Id };
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_b, stolen, new RootResource("ffs"), Rights.Read));
    }

    [Fact]
    public void Tampered_boot_id_is_refused()
    {
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.Read);
        Assert.Equal(CapabilityCheck.WrongBoot, _kernel.Check(_a, cap with { Boot = cap.Boot + 1 }, new RootResource("ffs"), Rights.Read));
    }

    [Fact]
    public void Borrowed_capability_presented_by_another_environment_is_refused()
    {
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.Read);
        Assert.Equal(CapabilityCheck.NotHolder, _kernel.Check(_b, cap, new RootResource("ffs"), Rights.Read));
    }

    [Fact]
    public void Insufficient_rights_are_refused()
    {
        var cap = _kernel.Mint(_a, Disk(0, 8), Rights.Read);
        Assert.Equal(CapabilityCheck.InsufficientRights, _kernel.Check(_a, cap, Disk(0, 8), Rights.Write));
        Assert.Equal(CapabilityCheck.InsufficientRights, _kernel.Check(_a, cap, Disk(0, 8), Rights.Read | Rights.Free));
    }

    [Fact]
    public void Disk_extent_capability_covers_sub_extents_but_not_super_or_overlapping_extents()
    {
        var cap = _kernel.Mint(_a, Disk(100, 50), Rights.Read);
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_a, cap, Disk(100, 50), Rights.Read));
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_a, cap, Disk(120, 10), Rights.Read));
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_a, cap, Disk(149, 1), Rights.Read));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, cap, Disk(99, 52), Rights.Read));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, cap, Disk(140, 11), Rights.Read));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, cap, Disk(150, 1), Rights.Read));
    }

    [Fact]
    public void Capability_for_one_kind_does_not_cover_another()
    {
        var root = _kernel.Mint(_a, new RootResource("ffs"), Rights.All);
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, root, new NamedResource("root", "ffs"), Rights.Read));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, root, new RootResource("lfs"), Rights.Read));
        var frame = _kernel.Mint(_a, new PageFrameResource(new PageFrameNo(3), 1), Rights.Read);
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, frame, new PageFrameResource(new PageFrameNo(3), 2), Rights.Read));
    }

    [Fact]
    public void Named_resource_capability_binds_only_its_kind_and_name()
    {
        var cap = _kernel.Mint(_a, new NamedResource("xn.type", "ffs.inode"), Rights.Admin);
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_a, cap, new NamedResource("xn.type", "ffs.inode"), Rights.Admin));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, cap, new NamedResource("xn.type", "ffs.dir"), Rights.Admin));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_a, cap, new NamedResource("xn.root", "ffs.inode"), Rights.Admin));
    }

    [Fact]
    public void Named_resource_encoding_is_unambiguous()
    {
        // ("ab","c") and ("a","bc") must seal differently, or one could be passed off as the other.
        var cap = _kernel.Mint(_a, new NamedResource("ab", "c"), Rights.Read);
        var moved = cap with { Resource = new NamedResource("a", "bc") };
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, moved, new NamedResource("a", "bc"), Rights.Read));
    }

    [Fact]
    public void Delegated_capability_binds_for_delegate_with_reduced_rights_only()
    {
        var cap = _kernel.Mint(_a, Disk(0, 64), Rights.Read | Rights.Write | Rights.Alloc);
        var d = _kernel.Delegate(_a, cap, _b, Rights.Read);
        Assert.True(d.Ok);
        var given = d.Capability!;
        Assert.Equal(_b.Id, given.Holder);
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_b, given, Disk(0, 64), Rights.Read));
        Assert.Equal(CapabilityCheck.InsufficientRights, _kernel.Check(_b, given, Disk(0, 64), Rights.Write));
        Assert.Equal(CapabilityCheck.NotHolder, _kernel.Check(_c, given, Disk(0, 64), Rights.Read));
        // The original still works for its holder, with all its rights.
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_a, cap, Disk(0, 64), Rights.Write | Rights.Alloc));
    }

    [Fact]
    public void Delegation_of_more_rights_than_held_is_refused()
    {
        var cap = _kernel.Mint(_a, Disk(0, 64), Rights.Read);
        var d = _kernel.Delegate(_a, cap, _b, Rights.Read | Rights.Write);
        Assert.Equal(CapabilityCheck.InsufficientRights, d.Status);
        Assert.Null(d.Capability);
    }

    [Fact]
    public void Delegation_can_narrow_to_a_covered_sub_extent_but_not_widen()
    {
        var cap = _kernel.Mint(_a, Disk(0, 64), Rights.Read | Rights.Write);
        var narrow = _kernel.Delegate(_a, cap, _b, Rights.Write, Disk(8, 8));
        Assert.True(narrow.Ok);
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_b, narrow.Capability!, Disk(10, 2), Rights.Write));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Check(_b, narrow.Capability!, Disk(0, 9), Rights.Write));
        Assert.Equal(CapabilityCheck.WrongResource, _kernel.Delegate(_a, cap, _b, Rights.Read, Disk(60, 8)).Status);
    }

    [Fact]
    public void Only_the_holder_can_ask_for_delegation()
    {
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.All);
        Assert.Equal(CapabilityCheck.NotHolder, _kernel.Delegate(_b, cap, _b, Rights.Read).Status);
        Assert.Equal(CapabilityCheck.NotHolder, _kernel.Delegate(_c, cap, _b, Rights.Read).Status);
    }

    [Fact]
    public void Redelegation_by_the_delegate_cannot_regain_rights()
    {
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.Read | Rights.Write);
        var toB = _kernel.Delegate(_a, cap, _b, Rights.Read).Capability!;
        Assert.Equal(CapabilityCheck.InsufficientRights, _kernel.Delegate(_b, toB, _c, Rights.Write).Status);
        var toC = _kernel.Delegate(_b, toB, _c, Rights.Read);
        Assert.True(toC.Ok);
        Assert.Equal(CapabilityCheck.Ok, _kernel.Check(_c, toC.Capability!, new RootResource("ffs"), Rights.Read));
    }

    [Fact]
    public void Capability_from_another_kernel_instance_is_refused()
    {
        var otherBoot = new ExoKernel(new KernelOptions { PageFrames = 1 });
        var otherEnv = otherBoot.CreateEnvironment("a");
        var old = otherBoot.Mint(otherEnv, new RootResource("ffs"), Rights.All);
        Assert.Equal(CapabilityCheck.WrongBoot, _kernel.Check(_a, old, new RootResource("ffs"), Rights.Read));
        // Even with the boot id rewritten and the holder matching, the seal is under the other key.
        var rewritten = old with { Boot = _kernel.BootId, Holder = _a.Id };
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, rewritten, new RootResource("ffs"), Rights.Read));
    }

    [Fact]
    public void Environment_of_another_kernel_cannot_present_or_receive()
    {
        var other = new ExoKernel(new KernelOptions { PageFrames = 1 }).CreateEnvironment("x");
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.All);
        Assert.Equal(CapabilityCheck.ForeignEnvironment, _kernel.Check(other, cap, new RootResource("ffs"), Rights.Read));
        Assert.Equal(CapabilityCheck.ForeignEnvironment, _kernel.Delegate(_a, cap, other, Rights.Read).Status);
    }

    [Fact]
    public void Destroyed_environment_capabilities_stop_binding()
    {
        var cap = _kernel.Mint(_a, new RootResource("ffs"), Rights.All);
        _kernel.DestroyEnvironment(_a);
        Assert.False(_a.IsAlive);
        Assert.Equal(CapabilityCheck.EnvironmentGone, _kernel.Check(_a, cap, new RootResource("ffs"), Rights.Read));
        Assert.Null(_kernel.FindEnvironment(_a.Id));
    }

    [Fact]
    public void Public_constructor_with_copied_seal_of_other_capability_is_refused()
    {
        // Reusing a genuine seal on different fields is the simplest forgery: it must fail.
        var genuine = _kernel.Mint(_a, new RootResource("ffs"), Rights.Read);
        var forged = new Capability(new RootResource("ffs"), Rights.All, _a.Id, _kernel.BootId, genuine.Seal);
        Assert.Equal(CapabilityCheck.Forged, _kernel.Check(_a, forged, new RootResource("ffs"), Rights.Read));
    }
}
