using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>WriteThrough and ReadBlocks (Xn/Updates/Transfers.cs): runs of file data in one device request.</summary>
public class TransferTests
{
    private sealed class RecordingModel(IDiskTimeModel inner) : IDiskTimeModel
    {
        public List<DiskRequest> Requests { get; } = new();
        public TimeSpan Service(DiskRequest request) { Requests.Add(request); return inner.Service(request); }
        public TimeSpan Elapsed => inner.Elapsed;
        public void Reset() => inner.Reset();
    }

    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    private static byte[] Pattern(int blocks, byte seed)
    {
        var b = new byte[blocks * 4096];
        for (int i = 0; i < b.Length; i++) b[i] = (byte)(seed + i / 4096 * 7 + i % 251);
        return b;
    }

    /// <summary>Root a's inode 0 gets an indirect block whose partition 0 owns <paramref name="n"/> fresh data blocks.</summary>
    private static (ulong Indirect, ulong First) DataRun(XnFixture f, int n)
    {
        ulong ind = f.FreeBlock(100);
        Ok(f.A.Alloc(f.RootA.Block, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)));
        ulong first = f.A.FindFree(new BlockNo(ind + 1), (ulong)n).Value.Value;
        var edits = Enumerable.Range(0, n).Select(k => Ptr(8 * k, first + (ulong)k)).ToArray();
        var extents = Enumerable.Range(0, n).Select(k => One(first + (ulong)k)).ToArray();
        Ok(f.A.Alloc(new BlockNo(ind), 0, edits, XnTypes.Data, extents));
        return (ind, first);
    }

    [Fact]
    public void WriteThrough_writes_a_run_of_data_blocks_as_one_device_request_and_untaints_the_parent()
    {
        var model = new RecordingModel(new HddModel());
        using var f = new XnFixture(dev: new TimedDevice(new MemoryDevice(1024), model));
        var (ind, first) = DataRun(f, 8);
        Assert.Equal(XnError.Tainted, f.A.WriteBack(new BlockNo(ind)).Error);   // its new children are not on disk
        model.Requests.Clear();
        var data = Pattern(8, 3);
        Ok(f.A.WriteThrough(new BlockNo(first), data));
        var write = Assert.Single(model.Requests);
        Assert.Equal((DiskRequestKind.Write, first, 8UL), (write.Kind, write.Start.Value, write.Blocks));
        Assert.False(f.Vol.IsDirty(first));
        // Rule 1 is satisfied: the children are on disk, so the parent may be written now.
        Ok(f.A.WriteBack(new BlockNo(ind)));
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(first + 5), buf));
        Assert.Equal(data.AsSpan(5 * 4096, 4096).ToArray(), buf);
        Ok(f.A.Sync());
        Assert.Empty(f.Vol.Check().Findings);
    }

    [Fact]
    public void WriteThrough_refuses_metadata_foreign_blocks_and_odd_lengths_and_changes_nothing()
    {
        using var f = new XnFixture();
        var (ind, first) = DataRun(f, 4);
        var data = Pattern(2, 9);
        string state = f.Vol.StateFingerprint();
        var device = new byte[4096 * 1024];
        f.Dev.Read(BlockNo.Zero, device);
        // The run would cover the indirect block (metadata: its pointers are not raw bytes).
        Assert.Equal(XnError.WrongType, f.A.WriteThrough(new BlockNo(ind), Pattern(2, 1)).Error);
        // Another environment has no right to a's blocks.
        Assert.Equal(XnError.BadCapability, f.B.WriteThrough(new BlockNo(first), data).Error);
        // Past the run: a free block belongs to no one.
        Assert.Equal(XnError.BadCapability, f.A.WriteThrough(new BlockNo(first + 3), data).Error);
        Assert.Equal(XnError.NotRawRange, f.A.WriteThrough(new BlockNo(first), data.AsSpan(0, 5000)).Error);
        Assert.Equal(state, f.Vol.StateFingerprint());
        var after = new byte[device.Length];
        f.Dev.Read(BlockNo.Zero, after);
        Assert.Equal(device, after);
    }

    [Fact]
    public void WriteThrough_gives_a_cached_page_the_same_bytes_and_ReadBlocks_reads_around_it()
    {
        var model = new RecordingModel(new HddModel());
        using var f = new XnFixture(dev: new TimedDevice(new MemoryDevice(1024), model));
        var (_, first) = DataRun(f, 8);
        // Block 3 is cached (a partial write), the others are not.
        Ok(f.A.WriteRaw(new BlockNo(first + 3), 10, new byte[] { 1, 2, 3 }));
        var data = Pattern(8, 5);
        Ok(f.A.WriteThrough(new BlockNo(first), data));
        var one = new byte[4096];
        Ok(f.A.Read(new BlockNo(first + 3), one));
        Assert.Equal(data.AsSpan(3 * 4096, 4096).ToArray(), one);
        // A partial change to block 3 stays in its cached page; ReadBlocks takes it from there and the rest from the device.
        Ok(f.A.WriteRaw(new BlockNo(first + 3), 0, new byte[] { 42 }));
        data[3 * 4096] = 42;
        model.Requests.Clear();
        var all = new byte[8 * 4096];
        Ok(f.A.ReadBlocks(new BlockNo(first), all));
        Assert.Equal(data, all);
        var reads = model.Requests.Where(r => r.Kind == DiskRequestKind.Read).Select(r => (r.Start.Value, r.Blocks)).ToList();
        Assert.Equal(new[] { (first, 3UL), (first + 4, 4UL) }, reads);
        Ok(f.A.Sync());
        var disk = new byte[4096];
        f.Dev.Read(new BlockNo(first + 3), disk);
        Assert.Equal(data.AsSpan(3 * 4096, 4096).ToArray(), disk);
    }

    [Fact]
    public void ReadBlocks_of_a_fresh_block_reads_zeros_and_refuses_a_foreign_one()
    {
        using var f = new XnFixture();
        var (_, first) = DataRun(f, 2);
        var buf = Pattern(2, 1);
        Ok(f.A.ReadBlocks(new BlockNo(first), buf));
        Assert.All(buf, b => Assert.Equal(0, b));
        Assert.Equal(XnError.BadCapability, f.B.ReadBlocks(new BlockNo(first), buf).Error);
        Assert.Equal(XnError.NotRawRange, f.A.ReadBlocks(new BlockNo(first), buf.AsSpan(0, 100)).Error);
    }
}
