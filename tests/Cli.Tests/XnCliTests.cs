using System.Buffers.Binary;
using System.Text.Json;
using ExoFS.Cli;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.Cli.Tests;

/// <summary><c>exofs fsck</c> and <c>exofs info</c> on XN images built through the XN API.</summary>
public sealed class XnCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xncli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string DirOwns = """
        .udf t.dir.owns
        .partitions 4
        .types xn.data
        .read 0 64 64
          li   r2, 64
          mul  r2, r1, r2
          li   r3, 8
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;

    /// <summary>
    /// An image with root "demo" of type t.dir (4 partitions of 8 pointers at [64p, 64p+64)) owning two
    /// data blocks. With <paramref name="leak"/>, a third block is allocated and written but the image is
    /// abandoned before the root is written: a leaked block and an unclean superblock, as after a crash.
    /// </summary>
    private string MakeImage(bool leak = false)
    {
        string path = Path.Combine(_dir, $"img{Guid.NewGuid():N}.img");
        using var dev = ImageFileDevice.Create(path, 256);
        var kernel = new ExoKernel();
        var vol = XnVolume.Format(dev, kernel).Value;
        var s = vol.Attach(kernel.CreateEnvironment("demo"));
        var type = s.RegisterType(new TypeSpec("t.dir", DirOwns, [new ByteRange(256, 3840)], [new ByteRange(256, 3840)])).Value;
        var root = s.InstallRoot("demo", type).Value.Block;
        for (int i = 0; i < (leak ? 3 : 2); i++)
        {
            var b = s.FindFree(root, 1).Value;
            var ptr = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(ptr, b.Value);
            Assert.True(s.Alloc(root, 0, [new Edit(8 * i, ptr)], XnTypes.Data, new Extent(b, 1)).Ok);
            Assert.True(s.WriteRaw(b, 0, "data"u8).Ok);
            if (i == 1) Assert.True(s.Sync().Ok);
            if (i == 2) Assert.True(s.WriteBack(b).Ok);   // block and its free-map bit on disk, root not
        }
        if (!leak) vol.Dispose();
        return path;
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Dispatch(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Fsck_of_a_clean_image_exits_0()
    {
        var (code, output, err) = Run("fsck", MakeImage());
        Assert.Equal(0, code);
        Assert.Contains("clean", output);
        Assert.Equal("", err);
    }

    [Fact]
    public void Fsck_of_a_missing_image_is_one_line_and_exit_8()
    {
        var (code, output, err) = Run("fsck", Path.Combine(_dir, "nope.img"));
        Assert.Equal(8, code);
        Assert.Equal("", output);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.StartsWith("exofs fsck: ", err);
        Assert.Contains("no such image", err);
    }

    [Fact]
    public void Fsck_without_an_image_is_a_usage_error()
    {
        var (code, _, err) = Run("fsck");
        Assert.Equal(16, code);
        Assert.StartsWith("exofs fsck: missing IMAGE", err);
    }

    [Fact]
    public void Fsck_of_a_corrupt_superblock_reports_it_in_one_line_with_exit_4()
    {
        string path = MakeImage();
        using (var fs = File.OpenWrite(path)) { fs.Position = 100; fs.Write(new byte[] { 1, 2, 3, 4, 5 }); }
        var (code, _, err) = Run("fsck", path);
        Assert.Equal(4, code);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.Contains("corrupt XN volume: superblock", err);
        // And it is refused for read-write use as well.
        using var dev = ImageFileDevice.Open(path);
        Assert.Equal(XnError.Corrupt, XnVolume.Load(dev, new ExoKernel()).Error);
    }

    [Fact]
    public void Fsck_reports_a_corrupt_free_map_and_repair_rebuilds_it()
    {
        string path = MakeImage();
        using (var fs = File.OpenWrite(path)) { fs.Position = 4096 + 10; fs.Write(new byte[] { 0xAA, 0x55 }); }
        var (code, output, _) = Run("fsck", path);
        Assert.Equal(4, code);
        Assert.Contains("free map", output);
        (code, output, _) = Run("fsck", path, "--repair");
        Assert.Equal(1, code);
        Assert.Equal(0, Run("fsck", path).Code);
    }

    [Fact]
    public void Fsck_after_a_crash_says_what_recovery_will_do_and_repair_does_it()
    {
        string path = MakeImage(leak: true);
        byte[] before = File.ReadAllBytes(path);
        var (code, output, _) = Run("fsck", path);
        // Consistent once the recovery a mount does has run: exit 0, and it says what that recovery will do.
        Assert.Equal(0, code);
        Assert.Contains("not cleanly unmounted", output);
        Assert.Contains("a mount's recovery will do: xn: free map settled from the in-flight record (1 entry, 1 block(s) in flight): 1 freed", output);
        Assert.Equal(before, File.ReadAllBytes(path));   // checked in memory: the image is untouched
        (code, output, _) = Run("fsck", path, "--repair");
        Assert.Equal(1, code);
        Assert.Contains("recovered: xn: free map settled from the in-flight record (1 entry, 1 block(s) in flight): 1 freed", output);
        (code, output, _) = Run("fsck", path);
        Assert.Equal(0, code);
    }

    [Fact]
    public void Info_prints_geometry_roots_types_and_usage()
    {
        string path = MakeImage();
        var (code, output, err) = Run("info", path);
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Contains("256 blocks of 4096 bytes", output);
        Assert.Contains("demo", output);
        Assert.Contains("t.dir", output);
        Assert.Contains("xn.data", output);
        Assert.Contains("usage:", output);
    }

    [Fact]
    public void Info_json_is_parseable_and_complete()
    {
        string path = MakeImage();
        var (code, output, _) = Run("info", path, "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(256, root.GetProperty("geometry").GetProperty("blocks").GetInt32());
        Assert.Equal("demo", root.GetProperty("roots")[0].GetProperty("name").GetString());
        Assert.Equal("t.dir", root.GetProperty("roots")[0].GetProperty("type").GetString());
        Assert.Equal(2, root.GetProperty("types").GetArrayLength());
        Assert.True(root.GetProperty("clean").GetBoolean());
        var usage = root.GetProperty("usage");
        Assert.Equal(256, usage.GetProperty("used").GetInt32() + usage.GetProperty("free").GetInt32());
    }

    [Fact]
    public void Info_of_a_file_that_is_not_an_image_is_one_line()
    {
        string path = Path.Combine(_dir, "junk.img");
        File.WriteAllBytes(path, new byte[8192]);
        var (code, output, err) = Run("info", path);
        Assert.NotEqual(0, code);
        Assert.Equal("", output);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.Contains("not an ExoFS XN image", err);
    }

    /// <summary>A libFS checker for t.dir roots that complains about roots named "hooked" only.</summary>
    private sealed class HookChecker : IXnRootChecker
    {
        public string RootType => "t.dir";

        public IEnumerable<XnFinding> Check(XnRootView root)
        {
            var buf = new byte[4096];
            Assert.True(root.Session.Read(root.Root.Block, buf).Ok);
            // Read-only: a checker cannot change anything.
            Assert.False(root.Session.WriteRaw(root.Root.Block, 256, "x"u8).Ok);
            if (root.Root.Name == "hooked")
                yield return new XnFinding(XnFindingKind.LibFs, root.Root.Block.Value, "libFS says: directory is bad");
        }
    }

    [Fact]
    public void Fsck_runs_registered_libfs_root_checkers()
    {
        XnRootCheckers.Register(new HookChecker());
        string path = Path.Combine(_dir, "hooked.img");
        using (var dev = ImageFileDevice.Create(path, 128))
        {
            var kernel = new ExoKernel();
            var vol = XnVolume.Format(dev, kernel).Value;
            var s = vol.Attach(kernel.CreateEnvironment("x"));
            var type = s.RegisterType(new TypeSpec("t.dir", DirOwns, [], [new ByteRange(256, 3840)])).Value;
            Assert.True(s.InstallRoot("hooked", type).Ok);
            vol.Dispose();
        }
        var (code, output, _) = Run("fsck", path);
        Assert.Equal(4, code);
        Assert.Contains("libFS says: directory is bad", output);
    }
}
