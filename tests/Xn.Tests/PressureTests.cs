using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// The cache over its page limit (<see cref="XnOptions.CachePages"/>) with dirty pages: XN writes a
/// bounded batch back in a legal order and evicts it, so a long write stream keeps the cache bounded,
/// never writes a tainted block, and leaves every crash state recoverable.
/// </summary>
public class PressureTests
{
    /// <summary>Calls <see cref="OnWrite"/> before every block write it passes on.</summary>
    private sealed class WatchedDevice(IBlockDevice inner) : BlockDeviceBase
    {
        public Action<ulong>? OnWrite { get; set; }
        /// <summary>Blocks written (a multi-block write counts each block).</summary>
        public int Writes { get; private set; }
        /// <summary>Write requests.</summary>
        public int Calls { get; private set; }
        public override ulong BlockCount => inner.BlockCount;
        protected override void ReadCore(BlockNo start, Span<byte> buffer) => inner.Read(start, buffer);
        protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
        {
            for (ulong i = 0; i < (ulong)data.Length / IBlockDevice.BlockSize; i++) OnWrite?.Invoke(start.Value + i);
            Writes += data.Length / IBlockDevice.BlockSize;
            Calls++;
            inner.Write(start, data);
        }
        protected override void FlushCore() => inner.Flush();
        protected override void BarrierCore() => inner.Barrier();
    }

    /// <summary>A formatted volume reloaded with a small page limit, types "t.indirect"/"t.inode" and root "a".</summary>
    private static (XnVolume Vol, XnSession S, TypeId Indirect, BlockNo Root, ExoKernel Kernel) SmallCache(IBlockDevice dev, int cachePages)
    {
        var format = XnVolume.Format(dev, new ExoKernel()).Value;
        var s0 = format.Attach(format.Kernel.CreateEnvironment("a"));
        s0.RegisterType(TestTypes.Indirect);
        var inode = s0.RegisterType(TestTypes.Inode).Value;
        Assert.True(s0.InstallRoot("a", inode).Ok);
        format.Dispose();
        var kernel = new ExoKernel(new KernelOptions { PageFrames = 4 * cachePages + 64 });
        var vol = XnVolume.Load(dev, kernel, new XnOptions { CachePages = cachePages }).Value;
        var env = kernel.CreateEnvironment("a");
        var s = vol.Attach(env);
        var root = s.MountRoot("a", vol.GrantRoot("a", env).Value).Value.Block;
        return (vol, s, s.FindType("t.indirect").Value, root, kernel);
    }

    /// <summary>
    /// Writes <paramref name="blocks"/> data blocks through indirect blocks hung off inodes 0, 1, ...: each
    /// data block holds its own number. <paramref name="after"/> runs after every call.
    /// </summary>
    private static List<ulong> Stream(XnSession s, TypeId indirect, BlockNo root, int blocks, Action? after = null)
    {
        var written = new List<ulong>();
        BlockNo ind = default;
        for (int k = 0; k < blocks; k++)
        {
            if (k % 512 == 0)
            {
                ind = s.FindFree(root, 1).Value;
                Assert.True(s.Alloc(root, k / 512, Set(Slot(k / 512, 12), ind.Value), indirect, new Extent(ind, 1)).Ok);
                after?.Invoke();
            }
            var d = s.FindFree(ind, 1).Value;
            Assert.True(s.Alloc(ind, k % 512 / 64, Set(8 * (k % 512), d.Value), XnTypes.Data, new Extent(d, 1)).Ok);
            after?.Invoke();
            Assert.True(s.WriteRaw(d, 0, BitConverter.GetBytes(d.Value)).Ok);
            after?.Invoke();
            written.Add(d.Value);
        }
        return written;
    }

    [Fact]
    public void A_long_write_stream_keeps_the_cache_bounded_by_writing_dirty_pages_back()
    {
        var dev = new WatchedDevice(new MemoryDevice(4096));
        var (vol, s, indirect, root, _) = SmallCache(dev, cachePages: 64);
        int before = dev.Writes, most = 0;
        // 3,000 dirty data blocks (47 times the limit) and no Sync: only pressure write-back can bound it.
        var written = Stream(s, indirect, root, 3000, () => most = Math.Max(most, vol.CachedPages));
        Assert.True(most <= 64, $"the cache held {most} pages, over its limit of 64");
        Assert.True(dev.Writes - before >= 3000 - 64, "dirty pages over the limit were written back");
        Assert.True(vol.Check().Clean);
        var buf = new byte[4096];
        foreach (var d in written)
        {
            Assert.True(s.Read(new BlockNo(d), buf).Ok);
            Assert.Equal(d, BitConverter.ToUInt64(buf));
            Assert.True(vol.CachedPages <= 64);
        }
        vol.Dispose();
        var again = XnVolume.Load(dev, new ExoKernel()).Value;
        Assert.True(again.WasClean);
        Assert.True(again.Check().Clean);
        Assert.Equal((ulong)written.Count + 6 + 1, again.Check().ReachableBlocks);   // data, 6 indirect, root
    }

    [Fact]
    public void Write_back_under_pressure_never_writes_a_tainted_block()
    {
        var dev = new WatchedDevice(new MemoryDevice(2048));
        var (vol, s, indirect, root, _) = SmallCache(dev, cachePages: 32);
        int tainted = 0, writes = 0;
        dev.OnWrite = b =>
        {
            // Runs inside XN's write, on the thread holding its lock: the registry is as XN sees it.
            writes++;
            if (vol.Registry.TryGetValue(b, out var e) && e.Tainted) tainted++;
        };
        Stream(s, indirect, root, 700);
        Assert.True(writes > 600, $"only {writes} writes: pressure write-back did not run");
        Assert.Equal(0, tainted);
        // The root and the indirect blocks are still tainted by their newest children only: Sync finishes.
        Assert.True(s.Sync().Ok);
        Assert.Equal(0, tainted);
        Assert.True(vol.Check().Clean);
        vol.Dispose();
    }

    [Fact]
    public void A_page_read_recently_is_evicted_after_pages_read_long_ago()
    {
        var dev = new MemoryDevice(1024);
        var (vol, s, indirect, root, _) = SmallCache(dev, cachePages: 20);
        var written = Stream(s, indirect, root, 40);
        Assert.True(s.Sync().Ok);
        var buf = new byte[4096];
        // Read everything once, then keep re-reading block 0 while streaming reads through the rest.
        var hot = new BlockNo(written[0]);
        foreach (var d in written.Skip(1))
        {
            Assert.True(s.Read(hot, buf).Ok);
            Assert.True(s.Read(new BlockNo(d), buf).Ok);
        }
        Assert.True(vol.Registry.TryGetValue(hot.Value, out var e) && e.Cached, "the hot page was evicted before cold ones");
        Assert.True(vol.CachedPages <= 20);
        vol.Dispose();
    }

    [Fact]
    public void Every_crash_state_during_pressure_write_back_recovers_with_no_pointer_to_stale_contents()
    {
        var stale = new byte[512 * 4096];
        new Random(7).NextBytes(stale);
        var crash = new CrashModelDevice(MemoryDevice.FromBytes(stale));
        var (vol, s, indirect, root, _) = SmallCache(crash, cachePages: 12);
        int states = 0, points = 0, pointing = 0;
        crash.PersistencePoint += (dev, _) =>
        {
            points++;
            foreach (var st in dev.EnumerateCrashStates(48, seed: points))
            {
                states++;
                var image = dev.Materialize(st);
                var k = new ExoKernel();
                var loaded = XnVolume.Load(image, k, new XnOptions { Recovery = XnRecovery.Scan });
                Assert.True(loaded.Ok, loaded.Status.ToString());
                var v = loaded.Value;
                Assert.Empty(v.Check().Errors);
                // Every durable pointer names a block holding what was written to it (or the zero block
                // Alloc gave it), never the stale bytes a crash-unsafe write order would expose.
                var env = k.CreateEnvironment("r");
                var r = v.Attach(env);
                Assert.True(r.MountRoot("a", v.GrantRoot("a", env).Value).Ok);
                var rootBytes = new byte[4096];
                Assert.True(r.Read(root, rootBytes).Ok);
                for (int i = 0; i < 32; i++)
                {
                    ulong ind = BinaryPrimitives.ReadUInt64LittleEndian(rootBytes.AsSpan(Slot(i, 12)));
                    if (ind == 0) continue;
                    var indBytes = new byte[4096];
                    Assert.True(r.Read(new BlockNo(ind), indBytes).Ok);
                    for (int j = 0; j < 512; j++)
                    {
                        ulong d = BinaryPrimitives.ReadUInt64LittleEndian(indBytes.AsSpan(8 * j));
                        if (d == 0) continue;
                        pointing++;
                        var data = new byte[4096];
                        Assert.True(r.Read(new BlockNo(d), data).Ok);
                        ulong got = BitConverter.ToUInt64(data);
                        Assert.True(got == d || got == 0, $"block {d} reachable with stale contents {got:x}");
                    }
                }
                v.Dispose();
            }
        };
        Stream(s, indirect, root, 60);
        Assert.True(points > 3, $"only {points} persistence points: pressure write-back did not run");
        // The parents stay tainted by their newest children until a Sync orders them after them.
        Assert.True(s.Sync().Ok);
        Assert.True(pointing > 0, "no crash state had a durable pointer to check");
        Assert.True(vol.Check().Clean);
    }

    [Fact]
    public void Sync_joins_consecutive_dirty_blocks_into_few_device_writes()
    {
        var dev = new WatchedDevice(new MemoryDevice(1024));
        var (vol, s, indirect, root, _) = SmallCache(dev, cachePages: 1024);
        var written = Stream(s, indirect, root, 200);
        Assert.True(written.Zip(written.Skip(1)).All(p => p.Second == p.First + 1), "the test wants consecutive blocks");
        int calls = dev.Calls, blocks = dev.Writes;
        Assert.True(s.Sync().Ok);
        Assert.True(dev.Writes - blocks >= 202, "every dirty block was written");
        Assert.True(dev.Calls - calls <= 16, $"{dev.Calls - calls} write requests for 202 blocks, most of them consecutive");
        vol.Dispose();
        var again = XnVolume.Load(dev, new ExoKernel()).Value;
        Assert.True(again.Check().Clean);
        var env = again.Kernel.CreateEnvironment("r");
        var r = again.Attach(env);
        Assert.True(r.MountRoot("a", again.GrantRoot("a", env).Value).Ok);
        var buf = new byte[4096];
        Assert.True(r.Read(root, buf).Ok);
        Assert.True(r.Read(new BlockNo(BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(Slot(0, 12)))), buf).Ok);
        foreach (var d in written)
        {
            Assert.True(r.Read(new BlockNo(d), buf).Ok);
            Assert.Equal(d, BitConverter.ToUInt64(buf));
        }
    }
}
