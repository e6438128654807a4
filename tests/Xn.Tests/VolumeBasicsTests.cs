using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

public class VolumeBasicsTests
{
    [Fact]
    public void Format_then_load_keeps_types_and_roots()
    {
        var f = new XnFixture();
        f.Vol.Dispose();
        var k2 = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k2).Value;
        Assert.True(vol.WasClean);
        Assert.Equal(["a", "b"], vol.RootNames());
        var s = vol.Attach(k2.CreateEnvironment("a"));
        Assert.Equal(f.Inode, s.FindType("t.inode").Value);
        Assert.Equal(f.Indirect, s.FindType("t.indirect").Value);
        Assert.True(vol.Check().Clean);
        vol.Dispose();
    }

    [Fact]
    public void Registering_the_same_spec_twice_returns_the_same_id_and_a_different_spec_is_refused()
    {
        using var f = new XnFixture();
        Assert.Equal(f.Inode, f.B.RegisterType(TestTypes.Inode).Value);
        var other = TestTypes.Inode with { RawWrite = [new ByteRange(0, 8)] };
        Assert.Equal(XnError.TypeExists, f.B.RegisterType(other).Error);
    }

    [Fact]
    public void Alloc_write_sync_reload_reads_the_data_back()
    {
        var f = new XnFixture();
        ulong d = f.FreeBlock();
        var root = f.RootA.Block;
        var r = f.A.Alloc(root, 0, Set(Slot(0, 0), d), XnTypes.Data, One(d));
        Assert.True(r.Ok, r.ToString());
        Assert.True(f.A.WriteRaw(new BlockNo(d), 100, "hello"u8).Ok);
        Assert.True(f.A.WriteRaw(root, 0, "inode0.."u8).Ok);
        Assert.True(f.A.Sync().Ok);
        Assert.True(f.Vol.Check().Clean, string.Join("\n", f.Vol.Check().Findings));
        f.Vol.Dispose();

        var k2 = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k2).Value;
        var env = k2.CreateEnvironment("a");
        var cap = vol.GrantRoot("a", env).Value;
        var s = vol.Attach(env);
        var info = s.MountRoot("a", cap).Value;
        var buf = new byte[4096];
        Assert.True(s.Read(info.Block, buf).Ok);
        Assert.Equal("inode0.."u8.ToArray(), buf[..8]);
        Assert.True(s.Read(new BlockNo(d), buf).Ok);
        Assert.Equal("hello"u8.ToArray(), buf[100..105]);
        var raw = new byte[5];
        Assert.True(s.ReadRaw(new BlockNo(d), 100, raw).Ok);
        Assert.True(vol.Check().Clean);
        vol.Dispose();
    }

    [Fact]
    public void Free_is_deferred_until_the_parent_write_is_durable()
    {
        using var f = new XnFixture();
        ulong d = f.FreeBlock();
        var root = f.RootA.Block;
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 0), d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.A.Sync().Ok);
        Assert.True(f.A.Free(root, 0, Clear(Slot(0, 0)), One(d)).Ok);
        var again = f.A.Alloc(root, 1, Set(Slot(1, 0), d), XnTypes.Data, One(d));
        Assert.Equal(XnError.FreeDeferred, again.Error);
        Assert.True(f.A.Sync().Ok);
        Assert.True(f.A.Alloc(root, 1, Set(Slot(1, 0), d), XnTypes.Data, One(d)).Ok);
        Assert.True(f.Vol.Check().Clean);
    }

    [Fact]
    public void Parent_is_tainted_until_its_new_child_is_written()
    {
        using var f = new XnFixture();
        ulong ind = f.FreeBlock();
        var root = f.RootA.Block;
        Assert.True(f.A.Alloc(root, 3, Set(Slot(3, 12), ind), f.Indirect, One(ind)).Ok);
        Assert.Equal(XnError.Tainted, f.A.WriteBack(root).Error);
        Assert.True(f.A.WriteBack(new BlockNo(ind)).Ok);
        Assert.True(f.A.WriteBack(root).Ok);
    }

    [Fact]
    public void Move_between_two_blocks_and_within_one_block()
    {
        using var f = new XnFixture();
        var root = f.RootA.Block;
        ulong ind = f.FreeBlock(), d = f.FreeBlock(ind + 1);
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)).Ok);
        Assert.True(f.A.Alloc(root, 0, Set(Slot(0, 0), d), XnTypes.Data, One(d)).Ok);
        // Within one partition: slot 0 → slot 5.
        var r = f.A.Move(root, 0, Clear(Slot(0, 0)), root, 0, Set(Slot(0, 5), d), One(d));
        Assert.True(r.Ok, r.ToString());
        // Across partitions of one block: inode 0 → inode 7.
        r = f.A.Move(root, 0, Clear(Slot(0, 5)), root, 7, Set(Slot(7, 2), d), One(d));
        Assert.True(r.Ok, r.ToString());
        // Across blocks: inode 7 → indirect pointer 70 (partition 1).
        r = f.A.Move(root, 7, Clear(Slot(7, 2)), new BlockNo(ind), 1, Set(70 * 8, d), One(d));
        Assert.True(r.Ok, r.ToString());
        Assert.True(f.A.Sync().Ok);
        Assert.True(f.Vol.Check().Clean, string.Join("\n", f.Vol.Check().Findings));
    }

    [Fact]
    public void Works_over_an_image_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"xn-{Guid.NewGuid():N}.img");
        try
        {
            using (var dev = ImageFileDevice.Create(path, 512))
            {
                var f = new XnFixture(dev: dev);
                ulong d = f.FreeBlock();
                Assert.True(f.A.Alloc(f.RootA.Block, 2, Set(Slot(2, 0), d), XnTypes.Data, One(d)).Ok);
                Assert.True(f.A.WriteRaw(new BlockNo(d), 0, "on disk"u8).Ok);
                f.Vol.Dispose();
            }
            using (var dev = ImageFileDevice.Open(path))
            {
                var k = new ExoKernel();
                var vol = XnVolume.Load(dev, k).Value;
                var check = vol.Check();
                Assert.True(check.Clean, string.Join("\n", check.Findings));
                var env = k.CreateEnvironment("a");
                var s = vol.Attach(env);
                var info = s.MountRoot("a", vol.GrantRoot("a", env).Value).Value;
                var buf = new byte[4096];
                Assert.True(s.Read(info.Block, buf).Ok);
                ulong d = BitConverter.ToUInt64(buf, Slot(2, 0));
                var rd = s.Read(new BlockNo(d), buf);
                Assert.True(rd.Ok, rd.ToString());
                Assert.Equal("on disk"u8.ToArray(), buf[..7]);
                vol.Dispose();
            }
        }
        finally { File.Delete(path); }
    }
}

public class SizeAndAclRegistrationTests
{
    private const string SizeOfFirstWord = """
        .udf t.sized.size
        .read 0 8
          ld64 r2, [r0+0]
          ret  r2
        """;

    [Fact]
    public void Check_reports_a_block_that_owns_more_data_blocks_than_its_size_covers()
    {
        using var f = new XnFixture();
        const string owns = ".udf t.sized.owns\n.types xn.data\n.read 8 8\n  ld64 r2, [r0+8]\n  beq r2, 0, done\n  emit 0, r2, 1\ndone:\n  ret 0\n";
        var spec = new TypeSpec("t.sized", owns, [new ByteRange(0, 8)], [new ByteRange(0, 8)], SizeUdf: SizeOfFirstWord);
        var id = f.A.RegisterType(spec);
        Assert.True(id.Ok, id.ToString());
        var root = f.A.InstallRoot("sized", id.Value).Value.Block;
        Assert.True(f.A.WriteRaw(root, 0, BitConverter.GetBytes(100UL)).Ok);
        ulong d = f.FreeBlock();
        Assert.True(f.A.Alloc(root, 0, [new Edit(8, BitConverter.GetBytes(d))], XnTypes.Data, new Extent(new BlockNo(d), 1)).Ok);
        Assert.True(f.Vol.Check().Clean);
        // The update path refuses the disagreement; with checks off (what a buggy or damaged volume shows) Check finds it.
        Assert.Equal(XnError.SizeMismatch, f.A.WriteRaw(root, 0, BitConverter.GetBytes(0UL)).Error);
        f.Vol.ChecksEnabled = false;
        Assert.True(f.A.WriteRaw(root, 0, BitConverter.GetBytes(0UL)).Ok);
        Assert.Contains(f.Vol.Check().Findings, x => x.Kind == XnFindingKind.SizeMismatch && x.Block == root.Value);
    }

    [Fact]
    public void An_acl_with_a_partition_count_other_than_one_or_the_owns_count_is_refused()
    {
        using var f = new XnFixture();
        var spec = TestTypes.Inode with { Name = "t.badacl", AclUdf = ".udf acl\n.partitions 3\n.read 0 8\n  ret 1\n" };
        Assert.Equal(XnError.UdfRejected, f.A.RegisterType(spec).Error);
    }
}
