using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// A malicious libFS: each test is one attack, refused with the precise error while the device bytes and
/// XN's whole in-memory state (registry, pages, free map, deferred frees) stay exactly as they were.
/// </summary>
public class AdversarialTests
{
    /// <summary>
    /// Root "a": inode 0 owns data D0 (slot 0) and indirect IND (slot 12), which owns D1 (pointer 0).
    /// Root "b": inode 0 owns data E0. Everything synced.
    /// </summary>
    private sealed class World
    {
        public XnFixture F { get; } = new();
        public BlockNo RootA => F.RootA.Block;
        public BlockNo RootB => F.RootB.Block;
        public ulong D0, Ind, D1, E0;

        public World()
        {
            D0 = F.FreeBlock();
            Ok(F.A.Alloc(RootA, 0, Set(Slot(0, 0), D0), XnTypes.Data, One(D0)));
            Ind = F.FreeBlock();
            Ok(F.A.Alloc(RootA, 0, Set(Slot(0, 12), Ind), F.Indirect, One(Ind)));
            D1 = F.FreeBlock();
            Ok(F.A.Alloc(new BlockNo(Ind), 0, Set(0, D1), XnTypes.Data, One(D1)));
            E0 = F.FreeBlock();
            Ok(F.B.Alloc(RootB, 0, Set(Slot(0, 0), E0), XnTypes.Data, One(E0)));
            Ok(F.A.Sync());
            var buf = new byte[4096];
            Ok(F.A.Read(new BlockNo(Ind), buf));
        }

        /// <summary>Runs the attack; asserts the error and that nothing changed.</summary>
        public void Refused(XnError expected, Func<XnResult> attack)
        {
            var dev = ((MemoryDevice)F.Dev).Snapshot();
            var state = F.Vol.StateFingerprint();
            var r = attack();
            Assert.Equal(expected, r.Error);
            Assert.False(string.IsNullOrEmpty(r.Detail));
            Assert.Equal(state, F.Vol.StateFingerprint());
            Assert.True(dev.AsSpan().SequenceEqual(((MemoryDevice)F.Dev).Snapshot()), "device bytes changed");
            var check = F.Vol.Check();
            Assert.True(check.Clean, string.Join("\n", check.Findings));
        }

        public void Refused<T>(XnError expected, Func<XnResult<T>> attack) => Refused(expected, () => attack().Status);
    }

    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    [Fact]
    public void Claiming_a_block_owned_by_another_root_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotFree, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), w.E0), XnTypes.Data, One(w.E0)));
    }

    [Fact]
    public void Claiming_a_free_block_by_raw_writing_a_pointer_field_is_refused()
    {
        var w = new World();
        ulong free = w.F.FreeBlock();
        w.Refused(XnError.NotRawRange, () => w.F.A.WriteRaw(w.RootA, Slot(1, 0), BitConverter.GetBytes(free)));
    }

    [Fact]
    public void Raw_write_straddling_a_raw_range_into_a_pointer_field_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotRawRange, () => w.F.A.WriteRaw(w.RootA, 8, new byte[16]));
    }

    [Fact]
    public void Alloc_diff_adding_two_pointers_but_declaring_one_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock(), y = w.F.FreeBlock(x + 1);
        w.Refused(XnError.DiffMismatch, () => w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x), Ptr(Slot(1, 1), y)], XnTypes.Data, One(x)));
    }

    [Fact]
    public void Alloc_whose_edits_do_not_add_the_pointer_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock();
        w.Refused(XnError.DiffMismatch, () => w.F.A.Alloc(w.RootA, 1, [], XnTypes.Data, One(x)));
    }

    [Fact]
    public void Alloc_declaring_a_bigger_extent_than_the_pointer_owns_is_refused()
    {
        var w = new World();
        ulong x = w.F.A.FindFree(new BlockNo(0), 2).Value.Value;
        w.Refused(XnError.DiffMismatch, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), x), XnTypes.Data, new Extent(new BlockNo(x), 2)));
    }

    [Fact]
    public void Alloc_that_also_redirects_an_existing_pointer_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock(), y = w.F.FreeBlock(x + 1);
        // Adds x in slot 1 and silently swaps D0 for y in slot 0: one new pointer claimed, two changed.
        w.Refused(XnError.DiffMismatch, () => w.F.A.Alloc(w.RootA, 0, [Ptr(Slot(0, 1), x), Ptr(Slot(0, 0), y)], XnTypes.Data, One(x)));
    }

    [Fact]
    public void Freeing_a_block_the_parent_does_not_own_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotOwned, () => w.F.A.Free(w.RootA, 0, Clear(Slot(0, 0)), One(w.D1)));
    }

    [Fact]
    public void Freeing_a_block_still_referenced_after_the_edits_is_refused()
    {
        var w = new World();
        w.Refused(XnError.DiffMismatch, () => w.F.A.Free(w.RootA, 0, [], One(w.D0)));
    }

    [Fact]
    public void Freeing_an_indirect_block_that_still_owns_data_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotEmpty, () => w.F.A.Free(w.RootA, 0, Clear(Slot(0, 12)), One(w.Ind)));
    }

    [Fact]
    public void Freeing_another_roots_block_is_refused()
    {
        var w = new World();
        w.Refused(XnError.BadCapability, () => w.F.A.Free(w.RootB, 0, Clear(Slot(0, 0)), One(w.E0)));
    }

    [Fact]
    public void Reading_another_roots_block_is_refused()
    {
        var w = new World();
        w.Refused(XnError.BadCapability, () => w.F.A.Read(new BlockNo(w.E0), new byte[4096]));
    }

    [Fact]
    public void Mounting_with_another_environments_capability_is_refused()
    {
        var w = new World();
        var c = w.F.Kernel.CreateEnvironment("c");
        var sc = w.F.Vol.Attach(c);
        w.Refused(XnError.BadCapability, () => sc.MountRoot("a", w.F.RootA.Capability));
        w.Refused(XnError.BadCapability, () => sc.Read(w.RootA, new byte[4096]));
    }

    [Fact]
    public void Mounting_with_a_forged_capability_is_refused()
    {
        var w = new World();
        var c = w.F.Kernel.CreateEnvironment("c");
        var sc = w.F.Vol.Attach(c);
        var forged = w.F.RootA.Capability with { Holder = c.Id };
        w.Refused(XnError.BadCapability, () => sc.MountRoot("a", forged));
        var renamed = w.F.RootB.Capability with { Resource = new RootResource("a") };
        w.Refused(XnError.BadCapability, () => w.F.B.MountRoot("a", renamed));
    }

    [Fact]
    public void A_capability_from_an_earlier_boot_is_refused()
    {
        var w = new World();
        var otherBoot = new ExoKernel();
        var env = otherBoot.CreateEnvironment("a");
        var stale = otherBoot.Mint(env, new RootResource("a"), Rights.All);
        w.Refused(XnError.BadCapability, () => w.F.B.MountRoot("a", stale with { Holder = w.F.EnvB.Id }));
    }

    [Fact]
    public void A_delegated_read_only_capability_cannot_write_or_allocate()
    {
        var w = new World();
        var c = w.F.Kernel.CreateEnvironment("reader");
        var ro = w.F.Kernel.Delegate(w.F.EnvA, w.F.RootA.Capability, c, Rights.Read).Capability!;
        var sc = w.F.Vol.Attach(c);
        Assert.True(sc.MountRoot("a", ro).Ok);
        Assert.True(sc.Read(w.RootA, new byte[4096]).Ok);
        w.Refused(XnError.BadCapability, () => sc.WriteRaw(w.RootA, 0, "x"u8));
        ulong x = w.F.FreeBlock();
        w.Refused(XnError.BadCapability, () => sc.Alloc(w.RootA, 1, Set(Slot(1, 0), x), XnTypes.Data, One(x)));
    }

    [Fact]
    public void Reusing_a_deferred_free_block_before_the_parent_write_is_durable_is_refused()
    {
        var w = new World();
        Ok(w.F.A.Free(w.RootA, 0, Clear(Slot(0, 0)), One(w.D0)));
        w.Refused(XnError.FreeDeferred, () => w.F.A.Alloc(w.RootA, 2, Set(Slot(2, 0), w.D0), XnTypes.Data, One(w.D0)));
        // Another environment cannot grab it either.
        w.Refused(XnError.FreeDeferred, () => w.F.B.Alloc(w.RootB, 2, Set(Slot(2, 0), w.D0), XnTypes.Data, One(w.D0)));
        // Writing the parent without a flush is not enough.
        Ok(w.F.A.WriteBack(w.RootA));
        w.Refused(XnError.FreeDeferred, () => w.F.B.Alloc(w.RootB, 2, Set(Slot(2, 0), w.D0), XnTypes.Data, One(w.D0)));
    }

    [Fact]
    public void Writing_back_a_tainted_block_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock();
        Ok(w.F.A.Alloc(w.RootA, 3, Set(Slot(3, 12), x), w.F.Indirect, One(x)));
        w.Refused(XnError.Tainted, () => w.F.A.WriteBack(w.RootA));
    }

    [Fact]
    public void A_nondeterministic_owns_udf_is_refused_at_registration()
    {
        var w = new World();
        var spec = new TypeSpec("evil.clock", """
            .udf evil
            .types xn.data
            .read 0 8
              time r2
              emit 0, r2, 1
              ret 0
            """, [], []);
        w.Refused(XnError.UdfRejected, () => w.F.A.RegisterType(spec));
        w.Refused(XnError.UdfRejected, () => w.F.A.RegisterType(spec with { Name = "evil.rand", OwnsUdf = spec.OwnsUdf.Replace("time r2", "rand r2") }));
    }

    [Fact]
    public void An_unbounded_owns_udf_is_refused_at_registration()
    {
        var w = new World();
        var spec = new TypeSpec("evil.loop", """
            .udf evil
            .types xn.data
            .read 0 8
            top:
              ld64 r2, [r0+0]
              jmp top
            """, [], []);
        w.Refused(XnError.UdfRejected, () => w.F.A.RegisterType(spec));
        w.Refused(XnError.UdfRejected, () => w.F.A.RegisterType(spec with { OwnsUdf = ".udf x\n.fuel 100000\n.read 0 8\n ret 0\n" }));
    }

    [Fact]
    public void Overlapping_partition_read_sets_are_refused()
    {
        var w = new World();
        var spec = new TypeSpec("evil.overlap", """
            .udf evil
            .partitions 2
            .types xn.data
            .read 0 100 50
              ret 0
            """, [], []);
        w.Refused(XnError.OverlappingReadSets, () => w.F.A.RegisterType(spec));
    }

    [Fact]
    public void A_read_set_overlapping_a_raw_write_range_is_refused()
    {
        var w = new World();
        var spec = TestTypes.Inode with { Name = "evil.rawptr", RawWrite = [new ByteRange(0, 4096)] };
        w.Refused(XnError.OverlappingReadSets, () => w.F.A.RegisterType(spec));
    }

    [Fact]
    public void An_owns_udf_claiming_blocks_on_an_all_zero_block_is_refused()
    {
        var w = new World();
        var spec = new TypeSpec("evil.zero", """
            .udf evil
            .types xn.data
            .read 0 8
              li r2, 100
              emit 0, r2, 1
              ret 0
            """, [], []);
        w.Refused(XnError.ZeroBlockOwns, () => w.F.A.RegisterType(spec));
    }

    [Fact]
    public void A_type_naming_an_unknown_child_type_is_refused()
    {
        var w = new World();
        w.Refused(XnError.UnknownType, () => w.F.A.RegisterType(TestTypes.Indirect with { Name = "t.x", OwnsUdf = TestTypes.IndirectOwns.Replace(".types xn.data", ".types nosuch") }));
    }

    [Fact]
    public void Alloc_outside_the_disk_is_refused()
    {
        var w = new World();
        ulong end = w.F.Vol.BlockCount;
        w.Refused(XnError.OutOfDisk, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), end), XnTypes.Data, One(end)));
        w.Refused(XnError.OutOfDisk, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), end - 1), XnTypes.Data, new Extent(new BlockNo(end - 1), 2)));
        w.Refused(XnError.OutOfDisk, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), 5), XnTypes.Data, new Extent(new BlockNo(5), ulong.MaxValue)));
        w.Refused(XnError.OutOfDisk, () => w.F.A.Alloc(w.RootA, 1, [], XnTypes.Data, new Extent(new BlockNo(end - 1), 0)));
    }

    [Fact]
    public void Alloc_over_xns_reserved_blocks_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotFree, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), 1), XnTypes.Data, One(1)));
        w.Refused(XnError.NotFree, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), w.RootB.Value), XnTypes.Data, One(w.RootB.Value)));
    }

    [Fact]
    public void Edits_touching_another_partition_are_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock();
        // Declares partition 1 but also rewrites inode 0's pointer (partition 0).
        w.Refused(XnError.BadPartition, () => w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x), Ptr(Slot(0, 0), 0)], XnTypes.Data, One(x)));
        // Edit bytes outside every read set and raw range (none here), or outside the block.
        w.Refused(XnError.NotRawRange, () => w.F.A.Alloc(w.RootA, 1, [Ptr(4092, x)], XnTypes.Data, One(x)));
        w.Refused(XnError.NotRawRange, () => w.F.A.Alloc(w.RootA, 1, [Ptr(-4, x)], XnTypes.Data, One(x)));
    }

    [Fact]
    public void A_partition_index_out_of_range_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock();
        w.Refused(XnError.BadPartition, () => w.F.A.Alloc(w.RootA, 32, Set(Slot(1, 0), x), XnTypes.Data, One(x)));
        w.Refused(XnError.BadPartition, () => w.F.A.Alloc(new BlockNo(w.D0), 0, [], XnTypes.Data, One(x)));
    }

    [Fact]
    public void A_move_that_drops_a_second_pointer_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock();
        Ok(w.F.A.Alloc(w.RootA, 0, Set(Slot(0, 1), x), XnTypes.Data, One(x)));
        Ok(w.F.A.Sync());
        // Moves D0 to inode 5 but also clears x from inode 0.
        w.Refused(XnError.DiffMismatch, () => w.F.A.Move(w.RootA, 0, [Ptr(Slot(0, 0), 0), Ptr(Slot(0, 1), 0)], w.RootA, 5, Set(Slot(5, 0), w.D0), One(w.D0)));
        // Moves D0 within inode 0 but duplicates it.
        w.Refused(XnError.DiffMismatch, () => w.F.A.Move(w.RootA, 0, [], w.RootA, 0, Set(Slot(0, 3), w.D0), One(w.D0)));
    }

    [Fact]
    public void A_move_of_an_extent_the_source_does_not_own_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotOwned, () => w.F.A.Move(w.RootA, 1, [], w.RootA, 2, Set(Slot(2, 0), w.D0), One(w.D0)));
    }

    [Fact]
    public void A_move_into_another_roots_block_is_refused()
    {
        var w = new World();
        w.Refused(XnError.BadCapability, () => w.F.A.Move(w.RootA, 0, Clear(Slot(0, 0)), w.RootB, 1, Set(Slot(1, 0), w.D0), One(w.D0)));
    }

    [Fact]
    public void An_acl_denial_is_refused()
    {
        var w = new World();
        // t.locked: like t.inode, but the acl refuses a named caller other than uid 0 any change to an inode
        // whose first raw byte is 0xFF (the libFS acting for itself, or root, may).
        var locked = TestTypes.Inode with
        {
            Name = "t.locked",
            OwnsUdf = TestTypes.InodeOwns.Replace("t.inode.owns", "t.locked.owns"),
            AclUdf = """
                .udf t.locked.acl
                .partitions 32
                .inputs 4
                .read 0 128 128
                  beq  r5, 0, allow
                  beq  r3, 0, allow
                  li   r6, 128
                  mul  r6, r1, r6
                  ld8  r7, [r6+0]
                  beq  r7, 255, deny
                allow:
                  ret  1
                deny:
                  ret  0
                """,
        };
        var id = w.F.A.RegisterType(locked).Value;
        ulong blk = w.F.FreeBlock();
        Ok(w.F.A.Alloc(w.RootA, 4, Set(Slot(4, 12), blk), w.F.Indirect, One(blk)));
        // A second root of the locked type, to allocate under.
        var root = w.F.A.InstallRoot("locked", id).Value.Block;
        Ok(w.F.A.WriteRaw(root, 128 * 2, [0xFF]));
        Ok(w.F.A.Sync());
        ulong x = w.F.FreeBlock();
        using (w.F.A.ActAs(1000, 1000))
        {
            w.Refused(XnError.AclDenied, () => w.F.A.Alloc(root, 2, Set(Slot(2, 0), x), XnTypes.Data, One(x)));
            w.Refused(XnError.AclDenied, () => w.F.A.WriteRaw(root, 128 * 2 + 1, [7]));
            Ok(w.F.A.Alloc(root, 3, Set(Slot(3, 0), x), XnTypes.Data, One(x)));
        }
        using (w.F.A.ActAs(0, 0)) Ok(w.F.A.WriteRaw(root, 128 * 2 + 1, [7]));
    }

    [Fact]
    public void Alloc_declaring_the_wrong_child_type_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock();
        // Slot 0 is a data pointer, but the caller says it is an indirect block (or vice versa).
        w.Refused(XnError.WrongType, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 0), x), w.F.Indirect, One(x)));
        w.Refused(XnError.WrongType, () => w.F.A.Alloc(w.RootA, 1, Set(Slot(1, 12), x), XnTypes.Data, One(x)));
    }

    [Fact]
    public void Raw_access_outside_the_types_ranges_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotRawRange, () => w.F.A.WriteRaw(new BlockNo(w.Ind), 0, new byte[8]));
        w.Refused(XnError.NotRawRange, () => w.F.A.ReadRaw(new BlockNo(w.Ind), 0, new byte[8]));
        w.Refused(XnError.NotRawRange, () => w.F.A.WriteRaw(new BlockNo(w.D0), 4090, new byte[8]));
    }

    [Fact]
    public void Reading_a_block_no_root_reaches_is_refused()
    {
        var w = new World();
        ulong x = w.F.FreeBlock();
        w.Refused(XnError.BadCapability, () => w.F.A.Read(new BlockNo(x), new byte[4096]));
        w.Refused(XnError.BadCapability, () => w.F.A.WriteRaw(new BlockNo(0), 0, new byte[8]));
    }

    [Fact]
    public void Root_catalogue_misuse_is_refused()
    {
        var w = new World();
        w.Refused(XnError.RootExists, () => w.F.B.InstallRoot("a", w.F.Inode));
        w.Refused(XnError.UnknownRoot, () => w.F.B.MountRoot("nosuch", w.F.RootB.Capability));
        w.Refused(XnError.UnknownType, () => w.F.B.InstallRoot("c", new TypeId(999)));
    }

    [Fact]
    public void A_multi_extent_alloc_must_claim_exactly_what_its_edits_add()
    {
        var w = new World();
        ulong x = w.F.FreeBlock(), y = w.F.FreeBlock(x + 1), z = w.F.FreeBlock(y + 1);
        Extent[] three = [One(x), One(y), One(z)];
        // Three pointers written, two claimed; two written, three claimed.
        w.Refused(XnError.DiffMismatch, () => w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x), Ptr(Slot(1, 1), y), Ptr(Slot(1, 2), z)], XnTypes.Data, [One(x), One(y)]));
        w.Refused(XnError.DiffMismatch, () => w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x), Ptr(Slot(1, 1), y)], XnTypes.Data, three));
        // The same block twice, overlapping extents, a block another root owns, an empty claim.
        w.Refused(XnError.NotFree, () => w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x), Ptr(Slot(1, 1), x)], XnTypes.Data, [One(x), One(x)]));
        w.Refused(XnError.NotFree, () => w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x)], XnTypes.Data, [new Extent(new BlockNo(x), 2), One(y)]));
        w.Refused(XnError.NotFree, () => w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x), Ptr(Slot(1, 1), w.E0)], XnTypes.Data, [One(x), One(w.E0)]));
        w.Refused(XnError.OutOfDisk, () => w.F.A.Alloc(w.RootA, 1, [], XnTypes.Data, Array.Empty<Extent>()));
        // The honest claim goes through, and the three blocks are owned after a sync.
        Assert.True(w.F.A.Alloc(w.RootA, 1, [Ptr(Slot(1, 0), x), Ptr(Slot(1, 1), y), Ptr(Slot(1, 2), z)], XnTypes.Data, three).Ok);
        Assert.Equal(XnError.NotFree, w.F.A.Alloc(w.RootA, 2, Set(Slot(2, 0), y), XnTypes.Data, One(y)).Error);
        Assert.True(w.F.A.Sync().Ok);
        Assert.Empty(w.F.Vol.Check().Errors);
    }

    [Fact]
    public void A_multi_extent_alloc_out_of_slot_order_is_checked_as_a_whole()
    {
        // The run fast path (the extents in slot order, past each other) must not be the only way through, nor
        // let an overlap that comes after an ascending prefix pass.
        var w = new World();
        ulong x = w.F.FreeBlock(), y = w.F.FreeBlock(x + 1), z = w.F.FreeBlock(y + 1);
        Edit[] three = [Ptr(Slot(1, 0), x), Ptr(Slot(1, 1), y), Ptr(Slot(1, 2), z)];
        w.Refused(XnError.NotFree, () => w.F.A.Alloc(w.RootA, 1, three, XnTypes.Data, [One(x), One(y), new Extent(new BlockNo(x), 3)]));
        Assert.True(w.F.A.Alloc(w.RootA, 1, three, XnTypes.Data, [One(z), One(x), One(y)]).Ok);
        Assert.True(w.F.A.Sync().Ok);
        Assert.Empty(w.F.Vol.Check().Errors);
    }
}
