using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// The acl-UDF with its principal (environment, the caller a libFS names) on every change of a typed block, raw
/// writes included, and the size-UDF's bound on every update (Xn/README.md, "acl and size"). Every refusal is
/// checked to change nothing: device bytes, XN's state fingerprint, and a clean Check.
/// </summary>
public class AclAndSizeTests
{
    // t.file: 32 inodes of 128 bytes like t.inode; bytes 0..8 of each inode (raw) hold the file's size, bytes
    // 8..12 its owner uid; the size-UDF gives the size, the acl lets the libFS itself, uid 0 or the stored owner
    // change an inode, and refuses everyone in an environment other than the one stored in bytes 120..128 of
    // inode 0 (0 = any).
    private static readonly string FileOwns = InodeOwns.Replace("t.inode.owns", "t.file.owns");

    private const string FileSize = """
        .udf t.file.size
        .partitions 32
        .types xn.data
        .read 0 8 128
          li   r2, 128
          mul  r2, r1, r2
          ld64 r3, [r2+0]
          ret  r3
        """;

    private const string FileAcl = """
        .udf t.file.acl
        .partitions 32
        .inputs 4
        .read 0 12 128
        .read 120 8
          ld64 r6, [r0+120]
          beq  r6, 0, anyenv
          bne  r6, r2, deny
        anyenv:
          beq  r5, 0, allow
          beq  r3, 0, allow
          li   r6, 128
          mul  r6, r1, r6
          ld32 r7, [r6+8]
          beq  r7, r3, allow
        deny:
          ret  0
        allow:
          ret  1
        """;

    private static TypeSpec File => Inode with { Name = "t.file", OwnsUdf = FileOwns, AclUdf = FileAcl, SizeUdf = FileSize };

    private sealed class World
    {
        public XnFixture F { get; } = new();
        public TypeId FileType;
        public BlockNo Root;

        public World()
        {
            FileType = F.A.RegisterType(File).Value;
            Root = F.A.InstallRoot("files", FileType).Value.Block;
            Ok(F.A.Sync());
        }

        public void Refused(XnError expected, Func<XnResult> attack, string? detail = null)
        {
            var dev = ((MemoryDevice)F.Dev).Snapshot();
            var state = F.Vol.StateFingerprint();
            var r = attack();
            Assert.Equal(expected, r.Error);
            Assert.False(string.IsNullOrEmpty(r.Detail));
            if (detail is not null) Assert.Contains(detail, r.Detail);
            Assert.Equal(state, F.Vol.StateFingerprint());
            Assert.True(dev.AsSpan().SequenceEqual(((MemoryDevice)F.Dev).Snapshot()), "device bytes changed");
            var check = F.Vol.Check();
            Assert.True(check.Clean, string.Join("\n", check.Findings));
        }

        public XnResult SetSize(int inode, ulong size) => F.A.WriteRaw(Root, 128 * inode, BitConverter.GetBytes(size));
        public XnResult SetOwner(int inode, uint uid) => F.A.WriteRaw(Root, 128 * inode + 8, BitConverter.GetBytes(uid));
        public XnResult AllocData(int inode, int slot, ulong block) =>
            F.A.Alloc(Root, inode, Set(Slot(inode, slot), block), XnTypes.Data, One(block));
    }

    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    // ------------------------------------------------------------------ size

    [Fact]
    public void Alloc_of_a_data_block_past_the_size_is_refused_and_within_it_accepted()
    {
        var w = new World();
        ulong a = w.F.FreeBlock();
        w.Refused(XnError.SizeMismatch, () => w.AllocData(0, 0, a), "covers 0");
        Ok(w.SetSize(0, 1));   // one byte: one block
        Ok(w.AllocData(0, 0, a));
        ulong b = w.F.FreeBlock();
        w.Refused(XnError.SizeMismatch, () => w.AllocData(0, 1, b), "would own 2 block(s)");
        Ok(w.SetSize(0, 8192));
        Ok(w.AllocData(0, 1, b));
        Assert.True(w.F.Vol.Check().Clean);
    }

    [Fact]
    public void Alloc_that_grows_the_size_in_its_own_edits_is_accepted()
    {
        var w = new World();
        ulong a = w.F.FreeBlock();
        // The size is raw, so the alloc's edit list may carry it: one update, checked as a whole.
        Ok(w.F.A.Alloc(w.Root, 3, [Ptr(Slot(3, 0), a), new Edit(128 * 3, BitConverter.GetBytes(4096UL))], XnTypes.Data, One(a)));
    }

    [Fact]
    public void A_raw_write_that_shrinks_the_size_below_the_blocks_owned_is_refused()
    {
        var w = new World();
        Ok(w.SetSize(0, 3 * 4096));
        for (int k = 0; k < 3; k++) Ok(w.AllocData(0, k, w.F.FreeBlock()));
        Ok(w.F.A.Sync());
        w.Refused(XnError.SizeMismatch, () => w.SetSize(0, 4096), "would own 3 block(s)");
        w.Refused(XnError.SizeMismatch, () => w.SetSize(0, 2 * 4096));
        Ok(w.SetSize(0, 2 * 4096 + 1));
        // Freeing first, then shrinking: the order a truncate must keep.
        Ok(w.F.A.Free(w.Root, 0, Clear(Slot(0, 2)), One(ReadPtr(w, 0, 2))));
        Ok(w.SetSize(0, 2 * 4096));
    }

    [Fact]
    public void Blocks_of_types_the_size_udf_does_not_name_are_not_counted()
    {
        var w = new World();
        ulong ind = w.F.FreeBlock();
        // An indirect block is t.indirect, not xn.data: an empty file may own it.
        Ok(w.F.A.Alloc(w.Root, 5, Set(Slot(5, 12), ind), w.F.Indirect, One(ind)));
        // Its children are the indirect block's, whose type has no size-UDF.
        ulong d = w.F.FreeBlock();
        Ok(w.F.A.Alloc(new BlockNo(ind), 0, Set(0, d), XnTypes.Data, One(d)));
        Assert.True(w.F.Vol.Check().Clean);
    }

    [Fact]
    public void Size_partitions_other_than_the_owns_partitions_or_inputs_in_owns_or_size_are_refused_at_registration()
    {
        using var f = new XnFixture();
        Assert.Equal(XnError.UdfRejected, f.A.RegisterType(File with { Name = "t.f1", OwnsUdf = FileOwns.Replace("t.file", "t.f1"), SizeUdf = ".udf s\n.read 0 8\n ld64 r2, [r0+0]\n ret r2\n" }).Error);
        Assert.Equal(XnError.UdfRejected, f.A.RegisterType(File with { Name = "t.f2", OwnsUdf = FileOwns.Replace("t.file", "t.f2"), SizeUdf = FileSize.Replace(".types xn.data", ".types xn.data\n.inputs 1") }).Error);
        Assert.Equal(XnError.UdfRejected, f.A.RegisterType(File with { Name = "t.f3", OwnsUdf = FileOwns.Replace("t.file", "t.f3").Replace(".fuel 512", ".fuel 512\n.inputs 1") }).Error);
        Assert.Equal(XnError.UnknownType, f.A.RegisterType(File with { Name = "t.f4", OwnsUdf = FileOwns.Replace("t.file", "t.f4"), SizeUdf = FileSize.Replace(".types xn.data", ".types no.such") }).Error);
        Assert.True(f.A.RegisterType(File).Ok);
    }

    [Fact]
    public void An_alloc_whose_edits_reach_another_partitions_guarded_bytes_has_that_partition_checked_too()
    {
        var w = new World();
        Ok(w.SetSize(0, 4096));
        Ok(w.SetSize(1, 4096));
        Ok(w.AllocData(1, 0, w.F.FreeBlock()));
        ulong a = w.F.FreeBlock();
        // Inode 1's size is raw (editable in any update's edit list) but guarded by inode 1's size check.
        w.Refused(XnError.SizeMismatch, () => w.F.A.Alloc(w.Root, 0, [Ptr(Slot(0, 0), a), new Edit(128, BitConverter.GetBytes(0UL))], XnTypes.Data, One(a)), "partition 1");
        Ok(w.SetOwner(1, 1000));
        Ok(w.SetOwner(0, 2000));
        using (w.F.A.ActAs(2000, 2000))
            w.Refused(XnError.AclDenied, () => w.F.A.Alloc(w.Root, 0, [Ptr(Slot(0, 0), a), new Edit(128, BitConverter.GetBytes(8192UL))], XnTypes.Data, One(a)), "partition 1");
        Ok(w.F.A.Alloc(w.Root, 0, [Ptr(Slot(0, 0), a), new Edit(128, BitConverter.GetBytes(8192UL))], XnTypes.Data, One(a)));
    }

    private static ulong ReadPtr(World w, int inode, int slot)
    {
        var buf = new byte[4096];
        Ok(w.F.A.Read(w.Root, buf));
        return BitConverter.ToUInt64(buf, Slot(inode, slot));
    }

    // ------------------------------------------------------------------ acl with the principal

    [Fact]
    public void Only_uid_0_or_the_stored_owner_may_change_an_inode_when_a_caller_is_named()
    {
        var w = new World();
        Ok(w.SetOwner(4, 1000));
        Ok(w.SetSize(4, 4096));
        Ok(w.F.A.Sync());
        using (w.F.A.ActAs(2000, 2000))
        {
            w.Refused(XnError.AclDenied, () => w.SetSize(4, 8192), "uid 2000 gid 2000");
            w.Refused(XnError.AclDenied, () => w.AllocData(4, 0, w.F.FreeBlock()));
        }
        using (w.F.A.ActAs(1000, 1000))
        {
            Ok(w.SetSize(4, 8192));
            Ok(w.AllocData(4, 0, w.F.FreeBlock()));
            // Nested scopes restore the caller before them.
            using (w.F.A.ActAs(2000, 2000)) w.Refused(XnError.AclDenied, () => w.SetSize(4, 8192 + 1));
            Assert.Equal(new XnCaller(1000, 1000), w.F.A.Caller);
        }
        Assert.Null(w.F.A.Caller);
        using (w.F.A.ActAs(0, 0)) Ok(w.SetSize(4, 8192 + 2));
        // No caller named: the libFS acting for itself.
        Ok(w.SetSize(4, 8192 + 3));
        w.F.A.SetCaller(3000, 3000);
        w.Refused(XnError.AclDenied, () => w.SetSize(4, 5));
        w.F.A.ClearCaller();
        Ok(w.SetSize(4, 8192));
    }

    [Fact]
    public void The_caller_is_per_thread_so_concurrent_requests_of_different_users_do_not_mix()
    {
        var w = new World();
        Ok(w.SetOwner(6, 1000));
        Ok(w.SetSize(6, 4096));
        using var go = new Barrier(2);
        XnResult owner = default, other = default;
        var t1 = new Thread(() => { using (w.F.A.ActAs(1000, 1)) { go.SignalAndWait(); owner = w.SetSize(6, 4096 * 2); } });
        var t2 = new Thread(() => { using (w.F.A.ActAs(2000, 1)) { go.SignalAndWait(); other = w.SetSize(6, 4096 * 3); } });
        t1.Start(); t2.Start(); t1.Join(); t2.Join();
        Assert.True(owner.Ok, owner.ToString());
        Assert.Equal(XnError.AclDenied, other.Error);
    }

    [Fact]
    public void An_acl_refuses_another_environment_even_one_the_host_granted_the_root()
    {
        var w = new World();
        // Inode 0's bytes 120..128 name the only environment that may change this block.
        Ok(w.F.A.WriteRaw(w.Root, 120, BitConverter.GetBytes((ulong)w.F.EnvA.Id.Value)));
        Ok(w.SetSize(2, 4096));
        Ok(w.F.A.Sync());
        var cap = w.F.Vol.GrantRoot("files", w.F.EnvB, Rights.All).Value;
        Assert.True(w.F.B.MountRoot("files", cap).Ok);
        var buf = new byte[4096];
        Ok(w.F.B.Read(w.Root, buf));
        w.Refused(XnError.AclDenied, () => w.F.B.WriteRaw(w.Root, 128 * 2, BitConverter.GetBytes(1UL)), $"environment {w.F.EnvB.Id.Value}");
        w.Refused(XnError.AclDenied, () => w.F.B.Alloc(w.Root, 2, Set(Slot(2, 0), w.F.FreeBlock()), XnTypes.Data, One(w.F.FreeBlock())));
        // The environment is XN's fact: naming a caller cannot change it.
        using (w.F.B.ActAs(0, 0)) w.Refused(XnError.AclDenied, () => w.F.B.WriteRaw(w.Root, 128 * 2, BitConverter.GetBytes(1UL)));
        Ok(w.F.A.WriteRaw(w.Root, 128 * 2, BitConverter.GetBytes(1UL)));
    }

    [Fact]
    public void A_raw_write_runs_only_the_acl_partitions_whose_read_set_it_meets()
    {
        var w = new World();
        // Inode 7 is owned by uid 1000; uid 2000 writing inode 8 (owned by 2000) does not consult inode 7's acl.
        Ok(w.SetOwner(7, 1000));
        Ok(w.SetOwner(8, 2000));
        using (w.F.A.ActAs(2000, 2000))
        {
            Ok(w.SetSize(8, 10));
            // Bytes 12..16 of inode 7 are raw but outside every acl read set: no acl partition rules on them.
            Ok(w.F.A.WriteRaw(w.Root, 128 * 7 + 12, [1, 2, 3, 4]));
            // A write across inodes 7 and 8 that zeroes inode 8's owner meets partition 8's read set: it refuses
            // (the proposed owner is no longer the caller).
            w.Refused(XnError.AclDenied, () => w.F.A.WriteRaw(w.Root, 128 * 7 + 120, new byte[24]), "partition 8");
        }
    }

    [Fact]
    public void An_acl_that_faults_on_the_proposed_bytes_denies()
    {
        using var f = new XnFixture();
        // The acl loads at an address the proposed bytes give: out of its read set, so it faults.
        const string acl = ".udf t.pa.acl\n.read 0 8\n  ld64 r2, [r0+0]\n  ld8 r3, [r2+0]\n  ret 1\n";
        var spec = new TypeSpec("t.pa", ".udf t.pa.owns\n.fuel 1\n  ret 0\n", [new ByteRange(0, 64)], [new ByteRange(0, 64)], AclUdf: acl);
        var id = f.A.RegisterType(spec).Value;
        var root = f.A.InstallRoot("pa", id).Value.Block;
        Assert.True(f.A.WriteRaw(root, 0, BitConverter.GetBytes(4UL)).Ok);
        var r = f.A.WriteRaw(root, 0, BitConverter.GetBytes(9000UL));
        Assert.Equal(XnError.AclDenied, r.Error);
        Assert.Contains("LoadOutOfReadSet", r.Detail);
    }

    [Fact]
    public void Types_without_an_acl_or_size_udf_are_not_checked_on_raw_writes()
    {
        // The fast path: t.inode has neither, and any raw bytes go in.
        using var f = new XnFixture();
        Assert.True(f.A.WriteRaw(f.RootA.Block, 0, Enumerable.Repeat((byte)0xFF, 16).ToArray()).Ok);
        using (f.A.ActAs(12345, 1)) Assert.True(f.A.WriteRaw(f.RootA.Block, 128, Enumerable.Repeat((byte)0xFF, 16).ToArray()).Ok);
    }
}
