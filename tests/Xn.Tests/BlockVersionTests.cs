using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn.Format;
using ExoFS.Xn.Ordering;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// The block-version table: a type with a write sequence field has every write-back stamped from a volume-wide
/// counter; XN remembers the last durable write of each block, so an older copy with a valid CRC (a lost write,
/// a rollback) fails on read and in Check, while no crash state ever makes a current block look stale.
/// </summary>
public class BlockVersionTests
{
    /// <summary>"t.ver": 8 data pointers at [0,64), a t.ver child at 64; raw bytes [72,4064); sequence at 4072, CRC at 4092.</summary>
    private const string VerOwns = """
        .udf t.ver.owns
        .partitions 1
        .types xn.data t.ver
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

    private const int Crc = 4092, Seq = 4072;
    private static readonly ByteRange Raw = new(72, 4064 - 72);
    private static TypeSpec Ver(bool sequenced = true) =>
        new("t.ver", VerOwns, [new ByteRange(0, 4096)], [Raw]) { ChecksumOffset = Crc, SequenceOffset = sequenced ? Seq : null };

    private sealed class Vol : IDisposable
    {
        public ExoKernel Kernel { get; } = new();
        public IBlockDevice Dev { get; }
        public XnVolume V { get; }
        public XnSession S { get; }
        public TypeId T { get; }
        public BlockNo Root { get; }

        /// <summary>Formats <paramref name="fresh"/> (or a new 256-block device), or loads <paramref name="existing"/>.</summary>
        public Vol(IBlockDevice? fresh = null, IBlockDevice? existing = null, bool sequenced = true)
        {
            if (existing is null)
            {
                Dev = fresh ?? new MemoryDevice(256);
                V = XnVolume.Format(Dev, Kernel).Value;
                S = V.Attach(Kernel.CreateEnvironment("a"));
                T = S.RegisterType(Ver(sequenced)).Value;
                Root = S.InstallRoot("r", T).Value.Block;
            }
            else
            {
                Dev = existing;
                V = XnVolume.Load(existing, Kernel).Value;
                var env = Kernel.CreateEnvironment("a");
                S = V.Attach(env);
                T = V.Types().Single(t => t.Spec.Name == "t.ver").Id;
                Root = S.MountRoot("r", V.GrantRoot("r", env).Value).Value.Block;
            }
        }

        /// <summary>A new t.ver child under <paramref name="parent"/>'s pointer at 64.</summary>
        public ulong Child(BlockNo parent)
        {
            ulong c = S.FindFree(new BlockNo(0), 1).Value.Value;
            Assert.True(S.Alloc(parent, 0, Set(64, c), T, One(c)).Ok);
            return c;
        }

        public void Dispose() => V.Dispose();
    }

    private static byte[] DeviceBlock(IBlockDevice dev, ulong b)
    {
        var buf = new byte[4096];
        dev.Read(new BlockNo(b), buf);
        return buf;
    }

    private static ulong SequenceOf(byte[] block) => BinaryPrimitives.ReadUInt64LittleEndian(block.AsSpan(Seq));

    [Fact]
    public void A_stale_copy_of_a_typed_block_is_detected_on_read_and_by_check()
    {
        var dev = new MemoryDevice(256);
        ulong c;
        byte[] v1;
        using (var v = new Vol(dev))
        {
            c = v.Child(v.Root);
            Assert.True(v.S.WriteRaw(new BlockNo(c), 100, "version 1"u8).Ok);
            Assert.True(v.S.Sync().Ok);
            v1 = DeviceBlock(dev, c);
            Assert.True(v.S.WriteRaw(new BlockNo(c), 100, "version 2"u8).Ok);
            Assert.True(v.S.Sync().Ok);
            Assert.True(SequenceOf(DeviceBlock(dev, c)) > SequenceOf(v1));
        }
        // The older copy is a perfectly valid block: its CRC holds, so only its sequence can give it away.
        Assert.True(BlockChecksum.IsValid(c, new TypeId(1), v1, Crc));
        dev.Write(new BlockNo(c), v1);
        using var w = new Vol(existing: dev);
        var buf = new byte[4096];
        Assert.True(w.S.Read(w.Root, buf).Ok);
        var r = w.S.Read(new BlockNo(c), buf);
        Assert.Equal(XnError.BadChecksum, r.Error);
        Assert.Contains("stale", r.Detail);
        Assert.Contains($"block {c}", r.Detail);
        Assert.Equal(XnError.BadChecksum, w.S.Read(new BlockNo(c), buf).Error);   // never served
        Assert.Equal([(c, "t.ver")], w.V.ChecksumFailures);
        var report = w.V.Check();
        Assert.Contains(report.Findings, f => f.Kind == XnFindingKind.Corrupt && f.Block == c && f.Detail.Contains("stale"));
    }

    [Fact]
    public void Check_names_a_stale_block_the_libfs_never_read()
    {
        var dev = new MemoryDevice(256);
        ulong a, b;
        byte[] old;
        using (var v = new Vol(dev))
        {
            a = v.Child(v.Root);
            b = v.Child(new BlockNo(a));
            Assert.True(v.S.Sync().Ok);
            old = DeviceBlock(dev, b);
            Assert.True(v.S.WriteRaw(new BlockNo(b), 300, "newer"u8).Ok);
            Assert.True(v.S.Sync().Ok);
        }
        dev.Write(new BlockNo(b), old);
        using var w = new Vol(existing: dev);
        var report = w.V.Check();
        Assert.Contains(report.Findings, f => f.Kind == XnFindingKind.Corrupt && f.Block == b && f.Detail.Contains("stale"));
        Assert.DoesNotContain(report.Findings, f => f.Block == a);
    }

    [Fact]
    public void A_type_without_a_sequence_field_keeps_todays_behaviour()
    {
        var dev = new MemoryDevice(256);
        ulong c;
        byte[] v1;
        using (var v = new Vol(dev, sequenced: false))
        {
            c = v.Child(v.Root);
            Assert.True(v.S.Sync().Ok);
            v1 = DeviceBlock(dev, c);
            Assert.True(v.S.WriteRaw(new BlockNo(c), 100, "version 2"u8).Ok);
            Assert.True(v.S.Sync().Ok);
            Assert.Equal(0UL, SequenceOf(DeviceBlock(dev, c)));   // XN stamps nothing there
        }
        dev.Write(new BlockNo(c), v1);
        using var w = new Vol(existing: dev);
        var buf = new byte[4096];
        Assert.True(w.S.Read(w.Root, buf).Ok);
        Assert.True(w.S.Read(new BlockNo(c), buf).Ok);   // a valid CRC is all it has
    }

    [Fact]
    public void Sequences_grow_across_write_backs_and_reloads()
    {
        var dev = new MemoryDevice(256);
        ulong c, s1, s2;
        using (var v = new Vol(dev))
        {
            c = v.Child(v.Root);
            Assert.True(v.S.Sync().Ok);
            s1 = SequenceOf(DeviceBlock(dev, c));
            Assert.True(v.S.WriteRaw(new BlockNo(c), 100, "x"u8).Ok);
            Assert.True(v.S.WriteBack(new BlockNo(c)).Ok);
            s2 = SequenceOf(DeviceBlock(dev, c));
            Assert.True(s1 > 0 && s2 > s1, $"{s1} then {s2}");
        }
        using var w = new Vol(existing: dev);
        Assert.True(w.S.Read(w.Root, new byte[4096]).Ok);
        Assert.True(w.S.WriteRaw(new BlockNo(c), 100, "y"u8).Ok);
        Assert.True(w.S.Sync().Ok);
        Assert.True(SequenceOf(DeviceBlock(dev, c)) > s2);
    }

    [Fact]
    public void A_freed_and_reused_block_is_not_judged_by_its_former_life()
    {
        var dev = new MemoryDevice(256);
        using (var v = new Vol(dev))
        {
            ulong c = v.Child(v.Root);
            Assert.True(v.S.WriteRaw(new BlockNo(c), 100, "old life"u8).Ok);
            Assert.True(v.S.Sync().Ok);
            Assert.True(v.S.Free(v.Root, 0, Clear(64), One(c)).Ok);
            Assert.True(v.S.Sync().Ok);
            // Reused as data: written raw, no stamp. Then the data block is freed and c comes back as t.ver.
            Assert.True(v.S.Alloc(v.Root, 0, Set(0, c), XnTypes.Data, One(c)).Ok);
            Assert.True(v.S.WriteRaw(new BlockNo(c), 0, new byte[4096]).Ok);
            Assert.True(v.S.Sync().Ok);
            Assert.True(v.S.Free(v.Root, 0, Clear(0), One(c)).Ok);
            Assert.True(v.S.Sync().Ok);
            Assert.True(v.S.Alloc(v.Root, 0, Set(64, c), v.T, One(c)).Ok);
            Assert.True(v.S.Sync().Ok);
        }
        using var w = new Vol(existing: dev);
        Assert.True(w.V.Check().Clean, string.Join("\n", w.V.Check().Findings));
    }

    [Theory]
    [InlineData(4090, Crc, XnError.NotRawRange)]             // past the block (8 bytes from 4090)
    [InlineData(4088, Crc, XnError.OverlappingReadSets)]     // over the CRC field at 4092
    [InlineData(4060, Crc, XnError.OverlappingReadSets)]     // over the raw-write range's end at 4064
    [InlineData(64, Crc, XnError.OverlappingReadSets)]       // over owns' read set [0,72)
    [InlineData(Seq, null, XnError.NotRawRange)]             // no checksum field to cover it
    public void Registration_refuses_a_sequence_field_that_is_not_xns_own(int offset, int? crc, XnError expected)
    {
        using var v = new Vol();
        var spec = new TypeSpec("t.bad", VerOwns.Replace("t.ver", "t.bad"), [new ByteRange(0, 4096)], [Raw])
        { ChecksumOffset = crc, SequenceOffset = offset };
        var r = v.S.RegisterType(spec);
        Assert.Equal(expected, r.Error);
    }

    [Fact]
    public void A_libfs_cannot_write_the_sequence_bytes_and_the_spec_survives_a_reload()
    {
        var dev = new MemoryDevice(256);
        using (var v = new Vol(dev))
        {
            Assert.Equal(XnError.NotRawRange, v.S.WriteRaw(v.Root, Seq, new byte[8]).Error);
            Assert.True(v.S.Sync().Ok);
        }
        using var w = new Vol(existing: dev);
        var spec = w.V.Types().Single(t => t.Spec.Name == "t.ver").Spec;
        Assert.Equal(Seq, spec.SequenceOffset);
        Assert.True(spec.SameAs(Ver()));
        Assert.False(spec.SameAs(Ver(sequenced: false)));
        Assert.Equal(XnError.TypeExists, w.S.RegisterType(Ver(sequenced: false)).Error);
    }

    [Fact]
    public void No_crash_state_makes_a_current_block_look_stale()
    {
        // A chain root -> a -> b of t.ver blocks rewritten through write-back, syncs, frees and a reuse; at every
        // persistence point a sample of crash states is loaded and checked: the durable table is never newer
        // than the durable blocks, so nothing is reported stale (and the image is otherwise consistent).
        var crash = new CrashModelDevice(new MemoryDevice(256));
        using var v = new Vol(crash);
        ulong a = v.Child(v.Root), b = v.Child(new BlockNo(a));
        Assert.True(v.S.Sync().Ok);
        int states = 0, stale = 0;
        var problems = new List<string>();
        crash.PersistencePoint += (dev, _) =>
        {
            foreach (var st in dev.EnumerateCrashStates(24, states))
            {
                states++;
                var image = dev.Materialize(st);
                var loaded = XnVolume.Load(image, new ExoKernel());
                if (!loaded.Ok) { problems.Add($"{st}: load: {loaded.Detail}"); continue; }
                using var vol = loaded.Value;
                foreach (var f in vol.Check().Findings.Where(f => f.Kind == XnFindingKind.Corrupt))
                {
                    if (f.Detail.Contains("stale")) stale++;
                    problems.Add($"{st}: {f.Detail}");
                }
            }
        };
        for (int round = 0; round < 4; round++)
        {
            Assert.True(v.S.WriteRaw(new BlockNo(a), 100 + round, "a"u8).Ok);
            Assert.True(v.S.WriteRaw(new BlockNo(b), 100 + round, "b"u8).Ok);
            Assert.True(v.S.WriteBack(new BlockNo(b)).Ok);
            Assert.True(v.S.WriteRaw(new BlockNo(b), 200 + round, "b again"u8).Ok);
            Assert.True(v.S.Sync().Ok);
        }
        Assert.True(v.S.Free(new BlockNo(a), 0, Clear(64), One(b)).Ok);
        Assert.True(v.S.Sync().Ok);
        ulong c = v.Child(new BlockNo(a));
        Assert.True(v.S.WriteRaw(new BlockNo(c), 300, "c"u8).Ok);
        Assert.True(v.S.Sync().Ok);
        Assert.True(states > 50, $"only {states} crash states");
        Assert.True(problems.Count == 0, $"{stale} stale of {problems.Count} problems in {states} states:\n" + string.Join("\n", problems.Take(10)));
    }

    [Fact]
    public void A_sequence_stamped_before_a_crash_is_never_stamped_again_after_it()
    {
        // b's write with sequence s is durable, but no Sync recorded it in the table; after the crash the
        // counter starts at the persisted lease, above every sequence stamped before, so the next write of b
        // is newer than the copy on disk and a later rollback to that copy is still caught.
        var crash = new CrashModelDevice(new MemoryDevice(256));
        ulong b, s;
        var v = new Vol(crash);
        b = v.Child(v.Root);
        Assert.True(v.S.Sync().Ok);
        Assert.True(v.S.WriteRaw(new BlockNo(b), 100, "before the crash"u8).Ok);
        Assert.True(v.S.WriteBack(new BlockNo(b)).Ok);
        crash.Flush();
        var image = crash.MaterializeDurable();
        s = SequenceOf(DeviceBlock(image, b));
        var crashed = DeviceBlock(image, b);
        using (var w = new Vol(existing: image))
        {
            Assert.True(w.S.Read(w.Root, new byte[4096]).Ok);
            Assert.True(w.S.Read(new BlockNo(b), new byte[4096]).Ok);
            Assert.True(w.S.WriteRaw(new BlockNo(b), 100, "after the crash!"u8).Ok);
            Assert.True(w.S.Sync().Ok);
            Assert.True(SequenceOf(DeviceBlock(image, b)) > s, $"{SequenceOf(DeviceBlock(image, b))} after {s}");
        }
        image.Write(new BlockNo(b), crashed);
        using var x = new Vol(existing: image);
        Assert.True(x.S.Read(x.Root, new byte[4096]).Ok);
        Assert.Equal(XnError.BadChecksum, x.S.Read(new BlockNo(b), new byte[4096]).Error);
    }

    /// <summary>
    /// A Sync writes the catalogue for the table only once <see cref="BlockVersions.PersistEvery"/> changes wait (not
    /// at every fsync: one write epoch more each); a clean unmount writes what is left, so a rolled-back copy of the
    /// last write before it is still refused after a reload.
    /// </summary>
    [Fact]
    public void A_sync_writes_the_table_once_enough_changes_wait_and_a_clean_unmount_writes_the_rest()
    {
        var dev = new MemoryDevice(256);
        ulong c;
        byte[] previous;
        using (var v = new Vol(dev))
        {
            c = v.Child(v.Root);
            Assert.True(v.S.WriteRaw(new BlockNo(c), 100, "first"u8).Ok);
            Assert.True(v.S.Sync().Ok);
            ulong gen = v.V.Geometry.CatalogueGeneration;
            int syncs = 0;
            while (v.V.Geometry.CatalogueGeneration == gen)
            {
                Assert.True(v.S.WriteRaw(new BlockNo(c), 100, BitConverter.GetBytes(syncs)).Ok);
                Assert.True(v.S.Sync().Ok);
                Assert.True(++syncs <= BlockVersions.PersistEvery, $"no catalogue write after {syncs} syncs of one block each");
            }
            Assert.InRange(syncs, BlockVersions.PersistEvery - 3, BlockVersions.PersistEvery);
            previous = DeviceBlock(dev, c);
            gen = v.V.Geometry.CatalogueGeneration;
            Assert.True(v.S.WriteRaw(new BlockNo(c), 100, "last"u8).Ok);
            Assert.True(v.S.Sync().Ok);
            Assert.Equal(gen, v.V.Geometry.CatalogueGeneration);   // one change waits
        }
        dev.Write(new BlockNo(c), previous);
        using var w = new Vol(existing: dev);
        Assert.True(w.S.Read(w.Root, new byte[4096]).Ok);
        var r = w.S.Read(new BlockNo(c), new byte[4096]);
        Assert.Equal(XnError.BadChecksum, r.Error);
        Assert.Contains("stale", r.Detail);
    }
}
