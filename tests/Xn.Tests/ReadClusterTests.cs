using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// Metadata read clustering (Xn/Registry/PageCache.cs, ClusterAfter): reading a metadata block from the device also
/// brings in the registered, uncached metadata blocks right after it, in the same device request, each verified
/// as if read alone.
/// </summary>
public class ReadClusterTests
{
    /// <summary>"t.fan": 16 u64 pointers to t.leaf blocks at [0,128) (one partition), raw bytes [128,4092), CRC at 4092.</summary>
    private const string FanOwns = """
        .udf t.fan.owns
        .partitions 1
        .types t.leaf
        .read 0 128
        .fuel 128
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

    /// <summary>"t.leaf": owns nothing; raw bytes [8,4092), CRC at 4092.</summary>
    private const string LeafOwns = """
        .udf t.leaf.owns
        .partitions 1
        .types xn.data
        .read 0 8
        .fuel 8
          ret  0
        """;

    private const int Leaves = 16;
    private static TypeSpec Leaf => new("t.leaf", LeafOwns, [new ByteRange(0, 4096)], [new ByteRange(8, 4084)]) { ChecksumOffset = 4092 };
    private static TypeSpec Fan => new("t.fan", FanOwns, [new ByteRange(0, 4096)], [new ByteRange(128, 3964)]) { ChecksumOffset = 4092 };

    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    /// <summary>A root t.fan block owning <see cref="Leaves"/> t.leaf blocks at consecutive disk blocks, each with its own bytes; cleanly closed.</summary>
    private static (MemoryDevice Dev, ulong Root, ulong First) Image()
    {
        var dev = new MemoryDevice(256);
        var kernel = new ExoKernel();
        using var vol = XnVolume.Format(dev, kernel).Value;
        var s = vol.Attach(kernel.CreateEnvironment("a"));
        var leaf = s.RegisterType(Leaf).Value;
        var fan = s.RegisterType(Fan).Value;
        var root = s.InstallRoot("r", fan).Value.Block;
        ulong first = s.FindFree(new BlockNo(root.Value + 1), Leaves).Value.Value;
        var edits = Enumerable.Range(0, Leaves).Select(k => Ptr(8 * k, first + (ulong)k)).ToArray();
        var extents = Enumerable.Range(0, Leaves).Select(k => One(first + (ulong)k)).ToArray();
        Ok(s.Alloc(root, 0, edits, leaf, extents));
        for (int k = 0; k < Leaves; k++) Ok(s.WriteRaw(new BlockNo(first + (ulong)k), 100, LeafBytes(k)));
        Ok(s.Sync());
        return (dev, root.Value, first);
    }

    private static byte[] LeafBytes(int k) => System.Text.Encoding.ASCII.GetBytes($"leaf {k:D2}");

    private static (XnVolume Vol, XnSession S) Load(MemoryDevice dev)
    {
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(dev, kernel).Value;
        var env = kernel.CreateEnvironment("a");
        var s = vol.Attach(env);
        Ok(s.MountRoot("r", vol.GrantRoot("r", env).Value).Status);
        return (vol, s);
    }

    [Fact]
    public void Reading_one_metadata_block_brings_the_registered_blocks_after_it_in_the_same_device_request()
    {
        var (dev, root, first) = Image();
        var (vol, s) = Load(dev);
        using var _ = vol;
        var buf = new byte[4096];
        Ok(s.Read(new BlockNo(root), buf));   // registers the leaves
        var before = dev.Stats.Snapshot();
        Ok(s.Read(new BlockNo(first), buf));
        var one = dev.Stats.Snapshot() - before;
        Assert.Equal(1, one.Reads);
        Assert.Equal(Leaves, one.BlocksRead);
        for (int k = 0; k < Leaves; k++)
        {
            Ok(s.Read(new BlockNo(first + (ulong)k), buf));
            Assert.Equal(LeafBytes(k), buf[100..(100 + LeafBytes(k).Length)]);
        }
        Assert.Equal(1, (dev.Stats.Snapshot() - before).Reads);   // the others came with the first
        Assert.Empty(vol.ChecksumFailures);
        Assert.True(vol.Check().Clean, string.Join("\n", vol.Check().Findings));
    }

    [Fact]
    public void A_damaged_block_read_along_is_not_served_and_fails_when_it_is_asked_for()
    {
        var (dev, root, first) = Image();
        ulong bad = first + 5;
        var bytes = new byte[4096];
        dev.Read(new BlockNo(bad), bytes);
        bytes[101] ^= 0x40;
        dev.Write(new BlockNo(bad), bytes);
        var (vol, s) = Load(dev);
        using var _ = vol;
        var buf = new byte[4096];
        Ok(s.Read(new BlockNo(root), buf));
        Ok(s.Read(new BlockNo(first), buf));   // brings block 5 along, which fails its checksum
        Assert.Empty(vol.ChecksumFailures);    // not asked for yet: nothing to report
        Ok(s.Read(new BlockNo(bad + 1), buf));
        Assert.Equal(LeafBytes(6), buf[100..(100 + LeafBytes(6).Length)]);
        Assert.Equal(XnError.BadChecksum, s.Read(new BlockNo(bad), buf).Error);
        Assert.Equal(XnError.BadChecksum, s.Read(new BlockNo(bad), buf).Error);   // never served, re-read each time
        Assert.Contains(vol.ChecksumFailures, f => f.Block == bad);
    }

    [Fact]
    public void A_block_read_with_no_registered_neighbour_is_read_alone()
    {
        var (dev, root, first) = Image();
        var (vol, s) = Load(dev);
        using var _ = vol;
        var buf = new byte[4096];
        Ok(s.Read(new BlockNo(root), buf));
        var start = dev.Stats.Snapshot();
        Ok(s.Read(new BlockNo(first + Leaves - 1), buf));   // the last leaf: what follows it is free
        var last = dev.Stats.Snapshot() - start;
        Assert.Equal((1L, 1L), (last.Reads, last.BlocksRead));
        var before = dev.Stats.Snapshot();
        Ok(s.Read(new BlockNo(first + Leaves - 2), buf));    // its neighbour after it is cached: read alone
        var d = dev.Stats.Snapshot() - before;
        Assert.Equal((1L, 1L), (d.Reads, d.BlocksRead));
    }
}
