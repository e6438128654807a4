using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>Per-type checksums: XN stamps them at write-back, verifies them on every read from the device, owns their bytes.</summary>
public class ChecksumTests
{
    [Fact]
    public void Block_crc_in_four_lanes_is_the_plain_crc32c()
    {
        // The whole-block lanes against one chain: the same CRC fed in pieces shorter than a block.
        static uint OneChain(ReadOnlySpan<byte> data)
        {
            uint crc = 0;
            for (int i = 0; i < data.Length; i += 1000) crc = XnCrc32C.Compute(data[i..Math.Min(data.Length, i + 1000)], crc);
            return crc;
        }
        var rng = new Random(3);
        var bytes = new byte[3 * Layout.BlockSize + 8];
        for (int k = 0; k < 200; k++)
        {
            if (k == 0) Array.Clear(bytes);
            else if (k == 1) Array.Fill(bytes, (byte)0xFF);
            else rng.NextBytes(bytes);
            int at = k % 8; // unaligned spans too
            var block = bytes.AsSpan(at, Layout.BlockSize);
            Assert.Equal(OneChain(block), XnCrc32C.Compute(block));
            var run = bytes.AsSpan(at, 3 * Layout.BlockSize - 5); // whole blocks, then a tail
            Assert.Equal(OneChain(run), XnCrc32C.Compute(run));
            uint first = XnCrc32C.Compute(bytes.AsSpan(at, Layout.BlockSize)), second = XnCrc32C.Compute(bytes.AsSpan(at + Layout.BlockSize, Layout.BlockSize));
            Assert.Equal(OneChain(bytes.AsSpan(at, 2 * Layout.BlockSize)), XnCrc32C.AppendBlock(first, second));
        }
        Assert.Equal(0xE3069283u, XnCrc32C.Compute("123456789"u8)); // the standard check value
    }

    /// <summary>"t.sum": 8 u64 pointers to data at [0,64) (one partition), raw bytes [64,4088), CRC at 4092.</summary>
    private const string SumOwns = """
        .udf t.sum.owns
        .partitions 1
        .types xn.data t.sum
        .read 0 72
        .fuel 64
          li   r2, 0
          li   r3, 8
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ld64 r4, [r2+0]
          beq  r4, 0, done
          emit 1, r4, 1
        done:
          ret  0
        """;

    private const int Crc = 4092;
    private static readonly ByteRange Raw = new(72, 4088 - 72);
    private static TypeSpec Sum => new("t.sum", SumOwns, [new ByteRange(0, 4096)], [Raw]) { ChecksumOffset = Crc };

    private sealed class Vol : IDisposable
    {
        public ExoKernel Kernel { get; } = new();
        public MemoryDevice Dev { get; }
        public XnVolume V { get; }
        public XnSession S { get; }
        public TypeId T { get; }
        public BlockNo Root { get; }

        public Vol(MemoryDevice? dev = null)
        {
            if (dev is null)
            {
                Dev = new MemoryDevice(256);
                V = XnVolume.Format(Dev, Kernel).Value;
                S = V.Attach(Kernel.CreateEnvironment("a"));
                T = S.RegisterType(Sum).Value;
                Root = S.InstallRoot("r", T).Value.Block;
            }
            else
            {
                Dev = dev;
                V = XnVolume.Load(dev, Kernel).Value;
                var env = Kernel.CreateEnvironment("a");
                S = V.Attach(env);
                T = V.Types().Single(t => t.Spec.Name == "t.sum").Id;
                var info = S.MountRoot("r", V.GrantRoot("r", env).Value);
                Root = info.Ok ? info.Value.Block : new BlockNo(V.Roots().Single().Block.Value);
            }
        }

        public void Dispose() => V.Dispose();
    }

    /// <summary>A root with a data child at pointer 0 and a t.sum child at pointer 8, raw bytes in both metadata blocks; cleanly closed.</summary>
    private static (MemoryDevice Dev, ulong Root, ulong Data, ulong Child) Image()
    {
        using var v = new Vol();
        ulong d = v.S.FindFree(new BlockNo(0), 1).Value.Value;
        Assert.True(v.S.Alloc(v.Root, 0, Set(0, d), XnTypes.Data, One(d)).Ok);
        ulong c = v.S.FindFree(new BlockNo(d + 1), 1).Value.Value;
        Assert.True(v.S.Alloc(v.Root, 0, Set(64, c), v.T, One(c)).Ok);
        Assert.True(v.S.WriteRaw(v.Root, 100, "root bytes"u8).Ok);
        Assert.True(v.S.WriteRaw(new BlockNo(c), 200, "child bytes"u8).Ok);
        Assert.True(v.S.WriteRaw(new BlockNo(d), 0, "data"u8).Ok);
        return (v.Dev, v.Root.Value, d, c);
    }

    private static byte[] DeviceBlock(MemoryDevice dev, ulong b)
    {
        var buf = new byte[4096];
        dev.Read(new BlockNo(b), buf);
        return buf;
    }

    [Fact]
    public void A_checksummed_type_round_trips_and_the_device_bytes_carry_a_valid_crc()
    {
        var (dev, root, _, child) = Image();
        using var v = new Vol(dev);
        Assert.True(BlockChecksum.IsValid(root, v.T, DeviceBlock(dev, root), Crc));
        Assert.True(BlockChecksum.IsValid(child, v.T, DeviceBlock(dev, child), Crc));
        var buf = new byte[4096];
        Assert.True(v.S.Read(new BlockNo(root), buf).Ok);
        Assert.Equal("root bytes"u8.ToArray(), buf[100..110]);
        Assert.True(v.S.Read(new BlockNo(child), buf).Ok);
        Assert.Equal("child bytes"u8.ToArray(), buf[200..211]);
        Assert.Empty(v.V.ChecksumFailures);
        Assert.True(v.V.Check().Clean, string.Join("\n", v.V.Check().Findings));
    }

    [Fact]
    public void The_stamp_is_set_at_write_back_not_by_the_libfs()
    {
        using var v = new Vol();
        Assert.True(v.S.WriteRaw(v.Root, 500, "first"u8).Ok);
        Assert.True(v.S.Sync().Ok);
        var before = DeviceBlock(v.Dev, v.Root.Value);
        Assert.True(BlockChecksum.IsValid(v.Root.Value, v.T, before, Crc));
        Assert.True(v.S.WriteRaw(v.Root, 500, "again"u8).Ok);
        Assert.Equal(before, DeviceBlock(v.Dev, v.Root.Value));   // nothing written before write-back
        Assert.True(v.S.WriteBack(v.Root).Ok);
        var after = DeviceBlock(v.Dev, v.Root.Value);
        Assert.Equal("again"u8.ToArray(), after[500..505]);
        Assert.True(BlockChecksum.IsValid(v.Root.Value, v.T, after, Crc));
        Assert.NotEqual(BinaryPrimitives.ReadUInt32LittleEndian(before.AsSpan(Crc)), BinaryPrimitives.ReadUInt32LittleEndian(after.AsSpan(Crc)));
    }

    [Fact]
    public void A_new_child_never_touched_is_written_as_a_stamped_zero_block()
    {
        using var v = new Vol();
        ulong c = v.S.FindFree(new BlockNo(0), 1).Value.Value;
        Assert.True(v.S.Alloc(v.Root, 0, Set(64, c), v.T, One(c)).Ok);
        Assert.True(v.S.Sync().Ok);
        Assert.True(BlockChecksum.IsValid(c, v.T, DeviceBlock(v.Dev, c), Crc));
        // The root block as install wrote it is stamped too (a crash before its first write-back leaves it readable).
        using var fresh = new Vol();
        Assert.True(BlockChecksum.IsValid(fresh.Root.Value, fresh.T, DeviceBlock(fresh.Dev, fresh.Root.Value), Crc));
    }

    [Fact]
    public void A_flipped_byte_on_the_device_fails_the_read_names_the_block_and_is_never_served()
    {
        var (dev, _, _, child) = Image();
        var bytes = DeviceBlock(dev, child);
        bytes[201] ^= 0x20;
        dev.Write(new BlockNo(child), bytes);
        using var v = new Vol(dev);
        var buf = new byte[4096];
        Assert.True(v.S.Read(v.Root, buf).Ok);   // the parent first: it registers its children
        var r = v.S.Read(new BlockNo(child), buf);
        Assert.Equal(XnError.BadChecksum, r.Error);
        Assert.Contains($"block {child}", r.Detail);
        Assert.Equal(XnError.BadChecksum, v.S.Read(new BlockNo(child), buf).Error);   // still unreadable
        Assert.Equal(XnError.BadChecksum, v.S.WriteRaw(new BlockNo(child), 300, "x"u8).Error);
        Assert.Equal([(child, "t.sum")], v.V.ChecksumFailures);
        var report = v.V.Check();
        Assert.Contains(report.Findings, f => f.Kind == XnFindingKind.Corrupt && f.Block == child && f.Detail.Contains("checksum"));
    }

    [Fact]
    public void A_block_written_to_the_wrong_place_fails_its_checksum()
    {
        var (dev, root, _, child) = Image();
        dev.Write(new BlockNo(child), DeviceBlock(dev, root));   // a valid t.sum block, misdirected
        using var v = new Vol(dev);
        Assert.True(v.S.Read(v.Root, new byte[4096]).Ok);
        Assert.Equal(XnError.BadChecksum, v.S.Read(new BlockNo(child), new byte[4096]).Error);
    }

    [Fact]
    public void A_damaged_root_is_reported_by_check_after_a_fresh_load()
    {
        var (dev, root, _, _) = Image();
        var bytes = DeviceBlock(dev, root);
        bytes[2000] ^= 1;
        dev.Write(new BlockNo(root), bytes);
        using var v = new Vol(dev);
        Assert.Equal(XnError.BadChecksum, v.S.Read(new BlockNo(root), new byte[4096]).Error);
        Assert.Contains(v.V.Check().Findings, f => f.Kind == XnFindingKind.Corrupt && f.Block == root);
    }

    [Fact]
    public void A_libfs_cannot_write_the_checksum_bytes()
    {
        using var v = new Vol();
        Assert.True(v.S.Sync().Ok);
        string before = v.V.StateFingerprint();
        var devBefore = v.Dev.Snapshot();
        Assert.Equal(XnError.NotRawRange, v.S.WriteRaw(v.Root, Crc, new byte[4]).Error);
        Assert.Equal(XnError.NotRawRange, v.S.WriteRaw(v.Root, 4080, new byte[16]).Error);
        ulong c = v.S.FindFree(new BlockNo(0), 1).Value.Value;
        Assert.Equal(XnError.NotRawRange, v.S.Alloc(v.Root, 0, [Ptr(0, c), new Edit(Crc, new byte[4])], XnTypes.Data, One(c)).Error);
        Assert.Equal(before, v.V.StateFingerprint());
        Assert.Equal(devBefore, v.Dev.Snapshot());
    }

    [Theory]
    [InlineData(60, "read set")]      // inside owns' read set [0,72)
    [InlineData(4086, "raw-write")]   // overlaps the raw range's end at 4088
    [InlineData(4093, "inside")]      // past the block
    [InlineData(-1, "inside")]
    public void A_checksum_field_over_a_read_set_or_raw_range_is_refused(int offset, string why)
    {
        using var v = new Vol();
        var spec = new TypeSpec("t.bad", SumOwns.Replace("t.sum", "t.bad"), [new ByteRange(0, 4096)], [Raw]) { ChecksumOffset = offset };
        var r = v.S.RegisterType(spec);
        Assert.False(r.Ok);
        Assert.Contains(why, r.Detail);
        Assert.Contains(r.Error, new[] { XnError.OverlappingReadSets, XnError.NotRawRange });
    }

    [Fact]
    public void The_catalogue_persists_the_checksum_offset_and_an_old_catalogue_is_refused_with_one_line()
    {
        var (dev, _, _, _) = Image();
        using (var v = new Vol(dev))
        {
            Assert.Equal(Crc, v.V.Types().Single(t => t.Spec.Name == "t.sum").Spec.ChecksumOffset);
            Assert.Null(v.V.Types().Single(t => t.Spec.Name == XnTypes.DataName).Spec.ChecksumOffset);
            // Same spec again: the same id; a different checksum offset: a different spec.
            Assert.Equal(v.T, v.S.RegisterType(Sum).Value);
            Assert.Equal(XnError.TypeExists, v.S.RegisterType(Sum with { ChecksumOffset = 4088 }).Error);
        }
        var cat = new Catalogue(7, [], [Sum, Sum with { Name = "t.plain", ChecksumOffset = null }]);
        var back = Catalogue.Decode(cat.Encode(8192)!, out var why)!;
        Assert.True(back is not null, why);
        Assert.Equal(Crc, back!.Types[0].ChecksumOffset);
        Assert.Null(back.Types[1].ChecksumOffset);

        var image = dev.Snapshot();
        var layout = Layout.For(256);
        for (int slot = 0; slot < 2; slot++) "XNCATLG1"u8.CopyTo(image.AsSpan(checked((int)layout.SlotStart(slot) * 4096)));
        var old = XnVolume.Load(MemoryDevice.FromBytes(image), new ExoKernel());
        Assert.Equal(XnError.Corrupt, old.Error);
        Assert.Equal(Catalogue.OldFormatMessage, old.Detail);
    }

    [Fact]
    public void The_fast_crc_equals_the_table_crc()
    {
        var rng = new Random(5);
        for (int n = 0; n < 40; n++)
        {
            var data = new byte[rng.Next(0, 100)];
            rng.NextBytes(data);
            Assert.Equal(~BitwiseCrc32C(~0u, data), Crc32C.Compute(data));
        }
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));   // the CRC-32C check value
    }

    /// <summary>The reference: CRC-32C one bit at a time, as the polynomial defines it.</summary>
    private static uint BitwiseCrc32C(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0x82F63B78u ^ (crc >> 1) : crc >> 1;
        }
        return crc;
    }
}
