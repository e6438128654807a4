using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using ExoFS.Kernel.Memory;
using ExoFS.LibFs;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Hostile;
using ExoFS.Xn;
using static ExoFS.Host.Tests.HostileWorld;

namespace ExoFS.Host.Tests;

/// <summary>
/// A hostile libFS attached beside a real FFS on one image, under one host. Each test is one attack, made
/// only through the hostile guest's own context (its session, wallet and environment) and public types;
/// each is refused with XN's exact error while the device bytes and XN's state fingerprint stay as they
/// were, the victim's files read back byte-identical through FFS, and the host's checks stay clean.
/// </summary>
public class HostileLibFsTests
{
    /// <summary>The victim's blocks of every kind an attack aims at.</summary>
    private static IEnumerable<(string What, ulong Block)> Targets(HostileWorld w) =>
    [
        ("superblock", w.VictimSuper.Value),
        ("inode table", w.VictimBlockOfType(FfsUdfs.InodesType)),
        ("directory block", w.VictimDirectoryBlockNaming("hello.txt")),
        ("data block", w.VictimDataBlockStartingWith(HelloBytes)),
        ("indirect block", w.VictimBlockOfType(FfsUdfs.Ind1Type)),
    ];

    [Fact]
    public void Allocating_the_victims_blocks_is_refused()
    {
        using var w = new HostileWorld();
        foreach (var (_, b) in Targets(w))
        {
            w.Refused(XnError.NotFree, () => w.Hostile.ClaimBlock(b));
            w.Refused(XnError.NotFree, () => w.Hostile.ClaimBlockAsMetadata(b));
            w.Refused(XnError.NotFree, () => w.Hostile.ClaimBlockUnderIndirect(b));
            w.Refused(XnError.NotFree, () => w.Hostile.ClaimAlongsideAFreeBlock(b));
        }
    }

    [Fact]
    public void Freeing_the_victims_blocks_from_the_victims_parents_is_refused()
    {
        using var w = new HostileWorld();
        foreach (var (what, b) in Targets(w).Where(t => t.What != "superblock"))
        {
            var (parent, partition, offset) = w.PointerTo(b);
            w.Refused(XnError.BadCapability, () => w.Hostile.FreeFrom(parent, partition, offset, b));
        }
    }

    [Fact]
    public void Freeing_the_victims_blocks_as_if_the_hostile_root_owned_them_is_refused()
    {
        using var w = new HostileWorld();
        foreach (var (_, b) in Targets(w))
            w.Refused(XnError.NotOwned, () => w.Hostile.FreeAsIfOwned(b));
    }

    [Fact]
    public void Moving_the_victims_blocks_out_or_planting_a_pointer_in_them_is_refused()
    {
        using var w = new HostileWorld();
        foreach (var (_, b) in Targets(w).Where(t => t.What != "superblock"))
        {
            var (parent, partition, offset) = w.PointerTo(b);
            w.Refused(XnError.BadCapability, () => w.Hostile.MoveOut(parent, partition, offset, b));
            w.Refused(XnError.BadCapability, () => w.Hostile.MoveIn(parent, partition, offset));
        }
    }

    [Fact]
    public void Raw_writes_on_the_victims_blocks_and_xns_own_are_refused()
    {
        using var w = new HostileWorld();
        foreach (var (_, b) in Targets(w))
        {
            w.Refused(XnError.BadCapability, () => w.Hostile.RawWrite(new BlockNo(b)));
            w.Refused(XnError.BadCapability, () => w.Hostile.RawWriteOrderedAfter(new BlockNo(b)));
        }
        // XN's superblock and free map belong to no root.
        w.Refused(XnError.BadCapability, () => w.Hostile.RawWrite(BlockNo.Zero));
        w.Refused(XnError.BadCapability, () => w.Hostile.RawWrite(new BlockNo(1)));
    }

    [Fact]
    public void Reading_or_viewing_the_victims_pages_is_refused()
    {
        using var w = new HostileWorld();
        foreach (var (_, b) in Targets(w))
        {
            w.Refused(XnError.BadCapability, () => w.Hostile.ReadBlock(new BlockNo(b)));
            w.Refused(XnError.BadCapability, () => w.Hostile.ReadRawBytes(new BlockNo(b)));
            w.Refused(XnError.BadCapability, () => w.Hostile.ViewPage(new BlockNo(b)));
        }
    }

    [Fact]
    public void Presenting_the_victim_environments_stolen_capability_is_refused()
    {
        using var w = new HostileWorld();
        // What the victim's wallet holds: the same fields under the same key give the same seal.
        var stolen = w.Vol.GrantRoot("victim", w.VictimGuest.Environment, Rights.All).Value;
        w.Refused(XnError.BadCapability, () => w.Hostile.MountWith("victim", stolen));
        w.Refused(XnError.BadCapability, () => w.Hostile.ReadBlock(w.VictimSuper));
    }

    [Fact]
    public void Replaying_capabilities_from_an_earlier_boot_is_refused()
    {
        using var w = new HostileWorld();
        var stolen = w.Vol.GrantRoot("victim", w.VictimGuest.Environment, Rights.All).Value;
        var ownOld = w.Hostile.OwnCapability;
        w.Reboot();
        Assert.NotEqual(ownOld.Boot, w.Hostile.OwnCapability.Boot);
        w.Refused(XnError.BadCapability, () => w.Hostile.MountWith("victim", stolen));
        // Even its own root's capability of the last boot, and one re-addressed to its new environment id.
        w.Refused(XnError.BadCapability, () => w.Hostile.MountWith("hostile", ownOld));
        w.Refused(XnError.BadCapability, () => w.Hostile.MountWith("victim", stolen with { Holder = w.Hostile.Environment.Id }));
    }

    [Fact]
    public void Forged_capabilities_are_refused()
    {
        using var w = new HostileWorld();
        foreach (var (how, cap) in w.Hostile.Forgeries("victim"))
            w.Refused(XnError.BadCapability, () =>
            {
                var r = w.Hostile.MountWith("victim", cap);
                Assert.True(r.Error == XnError.BadCapability, $"{how}: {r}");
                return r;
            });
    }

    [Fact]
    public void Delegating_its_own_capability_onto_the_victims_root_is_refused_by_the_kernel()
    {
        using var w = new HostileWorld();
        CapabilityResult delegated = default;
        w.Unchanged(() => delegated = w.Hostile.DelegateOwnCapabilityTo("victim"));
        Assert.Equal(CapabilityCheck.WrongResource, delegated.Status);
        Assert.Null(delegated.Capability);
    }

    [Fact]
    public void Binding_the_victims_root_by_name_without_its_capability_is_refused()
    {
        using var w = new HostileWorld();
        w.Refused(XnError.BadCapability, () => w.Hostile.MountWith("victim", null));
        w.Refused(XnError.BadCapability, () => w.Hostile.MountWith("victim", w.Hostile.OwnCapability));
        w.Refused(XnError.UnknownRoot, () => w.Hostile.MountWith("nosuch", w.Hostile.OwnCapability));
    }

    [Fact]
    public void A_guest_session_may_not_install_a_root()
    {
        using var w = new HostileWorld();
        w.Refused(XnError.BadCapability, () => w.Hostile.InstallRoot("hostile2"));
        w.Refused(XnError.BadCapability, () => w.Hostile.InstallRoot("victim"));
    }

    [Fact]
    public void A_type_whose_owns_udf_claims_more_than_its_pointer_cannot_take_the_victims_blocks()
    {
        using var w = new HostileWorld();
        // hostile.wide claims 64 blocks from one pointer: pointed just before the victim's blocks it covers them.
        Ok(w.Hostile.ReadBlock(new BlockNo(w.Hostile.OwnWide)));
        foreach (var (_, b) in Targets(w))
        {
            ulong start = b - 1;
            w.Refused(XnError.NotFree, () => w.Hostile.ClaimWide(start, new Extent(new BlockNo(start), HostileTypes.WideClaim)));
        }
        // Declaring only the one free block its pointer names: owns after (64 blocks) is not owns before plus it.
        ulong f = w.Hostile.Free(w.Hostile.OwnWide);
        w.Refused(XnError.DiffMismatch, () => w.Hostile.ClaimWide(f, new Extent(new BlockNo(f), 1)));
    }

    [Fact]
    public void A_type_claiming_the_victims_superblock_is_refused_or_useless()
    {
        using var w = new HostileWorld();
        ulong super = w.VictimSuper.Value;
        // Claiming it on every block, the zero block included: refused at registration.
        w.Refused(XnError.ZeroBlockOwns, () => w.Hostile.RegisterType(Liar("hostile.liar0", super, always: true)).Status);
        // Claiming it only once a byte is set: accepted as a type, but no parent XN knows has it as a child.
        var liar = w.Hostile.RegisterType(Liar("hostile.liar", super, always: false));
        Ok(liar.Status);
        w.Refused(XnError.WrongType, () => w.Hostile.AllocAs(liar.Value));
        w.AssertVictimIntact();
    }

    private static TypeSpec Liar(string name, ulong block, bool always) => new(name, $"""
        .udf {name}.owns
        .types xn.data
        .read 0 8
          ld64 r2, [r0+0]
          {(always ? "" : "beq  r2, 0, done")}
          li   r3, {block}
          emit 0, r3, 1
        done:
          ret  0
        """, [], []);

    [Fact]
    public void Udfs_that_loop_forever_read_out_of_bounds_or_run_over_fuel_are_refused_at_registration()
    {
        using var w = new HostileWorld();
        w.Refused(XnError.UdfRejected, () => w.Hostile.RegisterType(Udf("hostile.forever", """
            .read 0 8
            top:
              ld64 r2, [r0+0]
              jmp  top
            """)).Status);
        w.Refused(XnError.UdfRejected, () => w.Hostile.RegisterType(Udf("hostile.oob", """
            .read 0 8
              ld64 r2, [r0+4088]
              ret  0
            """)).Status);
        w.Refused(XnError.UdfRejected, () => w.Hostile.RegisterType(Udf("hostile.greedy", """
            .read 0 8
            .fuel 1000000
              ret  0
            """)).Status);
        // A bounded loop the zero block already drives past its fuel (loop decrements 0 to 2^64-1).
        w.Refused(XnError.ZeroBlockOwns, () => w.Hostile.RegisterType(Udf("hostile.spin", """
            .read 0 8
            .fuel 100
              ld64 r2, [r0+0]
            spin:
              loop r2, spin
              ret  0
            """)).Status);
    }

    private static TypeSpec Udf(string name, string body) => new(name, $".udf {name}.owns\n.types xn.data\n{body}", [], []);

    [Fact]
    public void Owns_udfs_driven_out_of_bounds_or_over_fuel_at_run_time_refuse_the_update()
    {
        using var w = new HostileWorld();
        // hostile.wide's load address and loop count are bytes of the block: only a run can fault.
        Ok(w.Hostile.ReadBlock(new BlockNo(w.Hostile.OwnWide)));
        w.Refused(XnError.DiffMismatch, () => w.Hostile.AllocMakingOwnsLoadFrom(5000));
        w.Refused(XnError.DiffMismatch, () => w.Hostile.AllocMakingOwnsLoadFrom(24));
        w.Refused(XnError.DiffMismatch, () => w.Hostile.AllocMakingOwnsSpin(1000));
        w.Refused(XnError.DiffMismatch, () => w.Hostile.AllocMakingOwnsSpin(ulong.MaxValue));
    }

    [Fact]
    public void Reusing_a_block_the_victim_freed_before_the_free_is_durable_is_refused()
    {
        using var w = new HostileWorld();
        ulong inner = w.VictimDataBlockStartingWith(InnerBytes);
        var dir = w.Victim.Lookup(InodeNo.Root, "dir").Value.Ino;
        var file = w.Victim.Lookup(dir, "inner.txt").Value.Ino;
        Assert.Equal(Errno.OK, w.Victim.Unlink(dir, "inner.txt"));
        w.Victim.Forget(file, ulong.MaxValue);   // the kernel forgets it: no lookup keeps the inode alive
        // FFS frees an unlinked file's blocks once its name's removal is durable: at this sync. XN defers
        // the free itself until the inode's nullified pointer is durable too (the next sync).
        Assert.Equal(Errno.OK, w.Victim.Sync());
        w.VictimChanged();
        Assert.True(w.Vol.FreeMap.IsDeferred(inner), "the unlinked file's block should be freed, deferred");
        w.Refused(XnError.FreeDeferred, () => w.Hostile.ClaimBlock(inner), libFsChecks: false);
        w.Refused(XnError.FreeDeferred, () => w.Hostile.ClaimBlockUnderIndirect(inner), libFsChecks: false);
        w.Refused(XnError.FreeDeferred, () => w.Hostile.ClaimBlockAsMetadata(inner), libFsChecks: false);
        // Once the victim's nullifying write is durable the block is free for anyone.
        Assert.Equal(Errno.OK, w.Victim.Sync());
        Assert.False(w.Vol.FreeMap.IsDeferred(inner));
        Ok(w.Hostile.ClaimBlock(inner));
        Ok(w.Hostile.Session.Sync());
        w.AssertVictimIntact();
    }

    [Fact]
    public void Forcing_write_back_of_a_tainted_block_is_refused()
    {
        using var w = new HostileWorld();
        // A new victim file big enough for an indirect block: its inode-table block points at unwritten children.
        Write(w.Victim, InodeNo.Root, "fresh.bin", BigBytes);
        w.VictimChanged();
        var tainted = TaintedVictimBlocks(w);
        Assert.NotEmpty(tainted);
        foreach (var b in tainted)
            w.Refused(XnError.Tainted, () => w.Hostile.WriteBack(new BlockNo(b)));
        // Its own root, tainted by a new indirect child it has not written.
        Ok(w.Hostile.TaintOwnRoot());
        w.Refused(XnError.Tainted, () => w.Hostile.WriteBack(w.Hostile.Root.Block));
    }

    private static List<ulong> TaintedVictimBlocks(HostileWorld w)
    {
        lock (w.Vol.Gate)
            return w.Vol.Registry.Values.Where(e => e.Root == w.VictimRoot && e.Tainted).Select(e => e.Block).ToList();
    }

    [Fact]
    public void A_session_whose_environment_the_host_ended_is_refused()
    {
        using var w = new HostileWorld();
        var hostile = w.Hostile;
        ulong free = hostile.Free(hostile.OwnWide);
        w.HostileGuest.Dispose();
        Assert.False(hostile.Environment.IsAlive);
        w.Refused(XnError.BadCapability, () => hostile.ReadBlock(hostile.Root.Block));
        w.Refused(XnError.BadCapability, () => hostile.RawWrite(new BlockNo(hostile.OwnData)));
        w.Refused(XnError.BadCapability, () => hostile.ClaimBlock(free));
        w.Refused(XnError.BadCapability, () => hostile.MountWith("hostile", hostile.OwnCapability));
    }
}

/// <summary>The hostile guest tries to starve the victim of memory: XN's cache pages, then the kernel's frames.</summary>
public class HostileStarvationTests
{
    [Fact]
    public void Pinning_xns_cache_with_views_cannot_starve_the_victim()
    {
        using var w = new HostileWorld();
        int pool = w.Hostile.Environment.Kernel.Memory.TotalFrames;
        var (pinned, stopped) = w.Hostile.HoardViews(pool);
        Assert.Equal(XnError.NoSpace, stopped.Error);
        Assert.True(pinned <= XnOptions.DefaultSessionViews, $"{pinned} pages pinned");
        VictimKeepsWorking(w);
    }

    [Fact]
    public void Hoarding_page_frames_is_held_to_the_guests_quota_and_the_victim_keeps_working()
    {
        using var w = new HostileWorld(new HostOptions { GuestFrameQuota = 256 });
        var memory = w.Hostile.Environment.Kernel.Memory;
        Assert.Equal(256, memory.Quota(w.Hostile.Environment));
        Assert.Equal(MemoryStatus.QuotaExceeded, w.Hostile.HoardFrames(memory.TotalFrames));
        Assert.Equal(0, w.Hostile.FramesHeld);
        Assert.Equal(MemoryStatus.Ok, w.Hostile.HoardFrames(256));
        Assert.Equal(MemoryStatus.QuotaExceeded, w.Hostile.HoardFrames(1));
        Assert.Equal(256, w.Hostile.FramesHeld);
        VictimKeepsWorking(w);
    }

    [Fact]
    public void A_guest_holding_every_free_frame_that_reenters_xn_from_its_upcall_is_refused_and_loses_them()
    {
        // A host generous enough to let one guest take every free frame: the kernel's pressure policy still
        // gets XN the frames it needs.
        using var w = new HostileWorld(new HostOptions { GuestFrameQuota = 1 << 20 });
        var memory = w.Hostile.Environment.Kernel.Memory;
        Assert.Equal(MemoryStatus.Ok, w.Hostile.HoardFrames(memory.FreeFrames));
        Assert.Equal(0, memory.FreeFrames);
        VictimKeepsWorking(w);
        // XN needed frames; the kernel asked the hoarder for them on XN's thread, inside XN's call: the
        // upcall's call back into XN was refused, it gave nothing, and the kernel took frames by force.
        Assert.True(w.Hostile.Upcalls > 0);
        Assert.Equal(XnError.Io, w.Hostile.UpcallReentry!.Value.Error);
        Assert.NotEmpty(memory.RepossessionVector(w.Hostile.Environment));
    }

    [Fact]
    public void The_pages_a_detached_guest_had_bound_are_released()
    {
        using var w = new HostileWorld();
        var (pinned, stopped) = w.Hostile.HoardViews(64);
        HostileWorld.Ok(stopped);
        Assert.Equal(64, pinned);
        Assert.Equal(64, BoundPages(w));
        w.HostileGuest.Dispose();
        Assert.Equal(0, BoundPages(w));
        VictimKeepsWorking(w);
    }

    private static int BoundPages(HostileWorld w)
    {
        lock (w.Vol.Gate) return w.Vol.Registry.Values.Count(e => e.RefCount > 0);
    }

    /// <summary>The victim writes a new file big enough to need fresh pages, syncs, and reads everything back.</summary>
    private static void VictimKeepsWorking(HostileWorld w)
    {
        w.AssertVictimIntact();
        var ino = Write(w.Victim, InodeNo.Root, "after.bin", BigBytes);
        Assert.Equal(Errno.OK, w.Victim.Sync());
        Assert.Equal(BigBytes, ReadAll(w.Victim, ino, (ulong)BigBytes.Length));
        w.VictimChanged();
        w.AssertVictimIntact();
    }
}

/// <summary>The host runs libFS checkers with sessions of their own: the hostile tries to make use of that.</summary>
public class HostileCheckerTests
{
    [Fact]
    public void A_checker_registered_for_the_victims_root_type_is_never_run_on_it()
    {
        using var w = new HostileWorld();
        w.Hostile.PlantSnoopingChecker();
        SnoopingChecker.Reached.Clear();
        var check = w.Host.Check();
        Assert.True(check.Clean, string.Join("\n", check.Findings));
        Assert.Empty(SnoopingChecker.Reached);
        // Nor in a repair, where a checker gets full rights (the host repairs only with no guest attached).
        w.HostileGuest.Dispose();
        w.VictimGuest.Dispose();
        var dev = w.Dev.Snapshot();
        var repair = w.Host.Repair(out var error);
        Assert.True(repair.Ok, error);
        Assert.Empty(SnoopingChecker.Reached);
        Assert.True(dev.AsSpan().SequenceEqual(w.Dev.Snapshot()), "a repair of a clean image changed the device");
        w.Reboot();
        w.AssertVictimIntact();
    }

    [Fact]
    public void The_hostile_libfs_checker_may_not_install_roots_write_or_keep_its_session()
    {
        using var w = new HostileWorld();
        var roots = w.Host.Roots();
        var dev = w.Dev.Snapshot();
        var check = w.Host.Check();
        Assert.True(check.Clean, string.Join("\n", check.Findings));
        var seen = HostileRootChecker.Observed;
        Assert.NotNull(seen);
        Assert.Equal(XnError.BadCapability, seen.InstallRoot.Error);
        Assert.Equal(XnError.BadCapability, seen.WriteRaw.Error);
        Assert.Equal(roots, w.Host.Roots());
        Assert.True(dev.AsSpan().SequenceEqual(w.Dev.Snapshot()), "a check changed the device");
        // The check's environment has ended: the session it was given acts for no one.
        w.Refused(XnError.BadCapability, () => seen.Kept.Read(seen.Root.Block, new byte[4096]));
    }
}

/// <summary>What the hostile guest can build from public types alone.</summary>
public class HostilePublicSurfaceTests
{
    [Fact]
    public void Running_the_victims_own_libfs_through_the_hostile_session_cannot_mount_the_victim()
    {
        using var w = new HostileWorld();
        var ffs = ExoFS.LibFs.Runtime.LibFsCatalog.Find("ffs")!;
        w.Unchanged(() =>
        {
            var (error, detail) = w.Hostile.MountWithLibFs(ffs, "victim");
            Assert.Equal(Errno.EACCES, error);
            Assert.Contains("BadCapability", detail);
        });
    }

    [Fact]
    public void A_guest_cannot_make_environments_of_its_own()
    {
        // A guest holds its environment, so the kernel (ExoEnvironment.Kernel): environments it could make
        // would carry none of the limits the host set on it, such as its page-frame quota.
        var create = typeof(ExoFS.Kernel.ExoKernel).GetMethod("CreateEnvironment",
            System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance);
        Assert.Null(create);
    }
}
