using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.LogTypes;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>Segments, Claim, Redirect, partial free and segment write-back: what they promise when they succeed.</summary>
public class SegmentTests
{
    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    private static void Clean(XnVolume vol)
    {
        var c = vol.Check();
        Assert.True(c.Clean, string.Join("\n", c.Findings));
    }

    private static byte[] Fill(byte value) => Enumerable.Repeat(value, 4096).ToArray();

    [Fact]
    public void A_segment_is_bound_whole_and_its_body_written_without_a_claim_per_block()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 64);
        Assert.Equal(Ext(h, 64), f.A.SegmentOf(new BlockNo(h + 10)).Value);
        for (ulong b = h + 1; b < h + 64; b++) Ok(f.A.WriteRaw(new BlockNo(b), 0, Fill((byte)b)));
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(h + 5), buf));
        Assert.Equal(Fill((byte)(h + 5)), buf);
        Assert.Equal((ulong)64, f.Vol.Check().ReachableBlocks - 3);   // three roots
        Clean(f.Vol);
    }

    [Fact]
    public void Claimed_blocks_survive_a_reload_and_unclaimed_body_reads_as_zeros()
    {
        var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 32);
        for (ulong b = h + 1; b <= h + 4; b++) Ok(f.A.WriteRaw(new BlockNo(b), 0, Fill(0xA5)));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 3, 0)], XnTypes.Data, [Ext(h + 1, 3)]));
        Ok(f.A.Sync());
        Clean(f.Vol);
        f.Vol.Dispose();

        var k = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k).Value;
        var env = k.CreateEnvironment("a");
        var s = vol.Attach(env);
        var root = s.MountRoot("la", vol.GrantRoot("la", env).Value).Value;
        var buf = new byte[4096];
        Ok(s.Read(root.Block, buf));
        Ok(s.Read(new BlockNo(h + 2), buf));
        Assert.Equal(Fill(0xA5), buf);
        // h+4 was written but never claimed: XN forgets it (no stale bytes become readable).
        Ok(s.Read(new BlockNo(h + 4), buf));
        Assert.Equal(new byte[4096], buf);
        Assert.Equal(XnError.NotFree, s.Claim(new BlockNo(h), 0, [SummaryEntry(1, h + 2, 1, 0)], XnTypes.Data, [Ext(h + 2, 1)]).Error);
        Ok(s.Claim(new BlockNo(h), 0, [SummaryEntry(1, h + 4, 1, 0)], XnTypes.Data, [Ext(h + 4, 1)]));
        Clean(vol);
        vol.Dispose();
    }

    [Fact]
    public void A_segment_body_never_written_costs_no_write_and_its_filled_part_is_one_request()
    {
        using var f = new LogFixture();
        Ok(f.A.Sync());
        ulong h = f.Segment(f.A, f.TableA, 0, 256);
        for (ulong b = h + 1; b <= h + 100; b++) Ok(f.A.WriteRaw(new BlockNo(b), 0, Fill(1)));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 100, 0)], XnTypes.Data, [Ext(h + 1, 100)]));
        f.Dev.Writes.Clear();
        Ok(f.A.WriteBackSegment(new BlockNo(h)));
        Assert.Contains((h + 1, 100UL), f.Dev.Writes);
        Assert.Equal(1, f.Dev.TimesWritten(h));
        Assert.False(f.Vol.IsDirty(h));
        Ok(f.A.Sync());
        for (ulong b = h + 101; b < h + 256; b++) Assert.Equal(0, f.Dev.TimesWritten(b));
        Clean(f.Vol);
    }

    [Fact]
    public void The_summary_is_written_after_the_body_it_names()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.WriteRaw(new BlockNo(h + 1), 0, Fill(7)));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 1, 0)], XnTypes.Data, [Ext(h + 1, 1)]));
        Assert.Equal(XnError.Tainted, f.A.WriteBack(new BlockNo(h)).Error);
        Assert.Equal(XnError.Tainted, f.A.WriteBack(f.TableA).Error);
        Ok(f.A.Sync());
        int body = f.Dev.Writes.FindIndex(w => w.Start == h + 1);
        int head = f.Dev.Writes.FindIndex(w => w.Start == h);
        Assert.True(body >= 0 && head > body, $"body write #{body}, summary write #{head}");
    }

    [Fact]
    public void A_claimed_never_written_body_block_is_written_as_zeros()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 3, 1, 0)], XnTypes.Data, [Ext(h + 3, 1)]));
        Ok(f.A.Sync());
        Assert.Equal(1, f.Dev.TimesWritten(h + 3));
        Assert.Equal(new byte[4096], f.Dev.Snapshot().AsSpan((int)(h + 3) * 4096, 4096).ToArray());
    }

    [Fact]
    public void Metadata_inside_a_segment_owns_only_blocks_of_the_segment()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 1, 2)], f.Indirect, [Ext(h + 1, 1)]));
        Ok(f.A.WriteRaw(new BlockNo(h + 2), 0, Fill(3)));
        Ok(f.A.Claim(new BlockNo(h + 1), 0, Set(0, h + 2), XnTypes.Data, [Ext(h + 2, 1)]));
        Ok(f.A.Sync());
        Clean(f.Vol);
        // Freed inside the segment: dead until the indirect block's nullified pointer is durable.
        Ok(f.A.Free(new BlockNo(h + 1), 0, Clear(0), One(h + 2)));
        Assert.Equal(XnError.FreeDeferred, f.A.WriteRaw(new BlockNo(h + 2), 0, Fill(4)).Error);
        Assert.Equal(XnError.FreeDeferred, f.A.Claim(new BlockNo(h + 1), 1, Set(512, h + 2), XnTypes.Data, [Ext(h + 2, 1)]).Error);
        Ok(f.A.Sync());
        Ok(f.A.WriteRaw(new BlockNo(h + 2), 0, Fill(4)));
        Ok(f.A.Claim(new BlockNo(h + 1), 1, Set(512, h + 2), XnTypes.Data, [Ext(h + 2, 1)]));
        Ok(f.A.Sync());
        Clean(f.Vol);
    }

    [Fact]
    public void Freeing_a_segment_frees_it_whole_after_the_table_is_durable()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 32);
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 1, 2)], f.Indirect, [Ext(h + 1, 1)]));
        Ok(f.A.Claim(new BlockNo(h + 1), 0, Set(0, h + 2), XnTypes.Data, [Ext(h + 2, 1)]));
        Ok(f.A.Sync());
        ulong free = f.Vol.FreeBlocks;
        Ok(f.A.Free(f.TableA, 0, [RunEntry(0, 0, 0)], Ext(h, 32)));
        Assert.Equal(XnError.FreeDeferred, f.A.AllocSegment(f.TableA, 0, [RunEntry(0, h, 32)], f.Summary, Ext(h, 32)).Error);
        Ok(f.A.Sync());
        Assert.Equal(free + 32, f.Vol.FreeBlocks);
        Clean(f.Vol);
        Ok(f.A.AllocSegment(f.TableA, 0, [RunEntry(0, h, 32)], f.Summary, Ext(h, 32)));
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(h + 1), buf));
        Assert.Equal(new byte[4096], buf);
        Clean(f.Vol);
    }

    [Fact]
    public void Redirect_moves_a_pointer_and_the_old_block_returns_only_after_sync()
    {
        using var f = new XnFixture();
        ulong a = f.FreeBlock();
        Ok(f.A.Alloc(f.RootA.Block, 0, Set(Slot(0, 0), a), XnTypes.Data, One(a)));
        Ok(f.A.WriteRaw(new BlockNo(a), 0, "old"u8));
        Ok(f.A.Sync());
        ulong b = f.FreeBlock();
        Ok(f.A.Redirect(f.RootA.Block, 0, Set(Slot(0, 0), b), One(a), One(b)));
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(b), buf));
        Assert.Equal("old"u8.ToArray(), buf[..3]);
        Assert.Equal(XnError.BadCapability, f.A.Read(new BlockNo(a), buf).Error);
        Assert.Equal(XnError.FreeDeferred, f.A.Alloc(f.RootA.Block, 1, Set(Slot(1, 0), a), XnTypes.Data, One(a)).Error);
        Assert.Equal(XnError.Tainted, f.A.WriteBack(f.RootA.Block).Error);
        Clean(f.Vol);
        Ok(f.A.Sync());
        Ok(f.A.Alloc(f.RootA.Block, 1, Set(Slot(1, 0), a), XnTypes.Data, One(a)));
        Clean(f.Vol);
    }

    [Fact]
    public void Redirect_of_an_indirect_block_carries_its_children()
    {
        using var f = new XnFixture();
        ulong ind = f.FreeBlock();
        Ok(f.A.Alloc(f.RootA.Block, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)));
        ulong d = f.FreeBlock();
        Ok(f.A.Alloc(new BlockNo(ind), 0, Set(0, d), XnTypes.Data, One(d)));
        Ok(f.A.WriteRaw(new BlockNo(d), 0, "data"u8));
        Ok(f.A.Sync());
        ulong copy = f.FreeBlock();
        Ok(f.A.Redirect(f.RootA.Block, 0, Set(Slot(0, 12), copy), One(ind), One(copy)));
        Clean(f.Vol);
        // The child now hangs under the copy: freeing it through the copy works, through the old block not.
        Assert.Equal(XnError.BadCapability, f.A.Free(new BlockNo(ind), 0, Clear(0), One(d)).Error);
        Ok(f.A.Free(new BlockNo(copy), 0, Clear(0), One(d)));
        Ok(f.A.Sync());
        Clean(f.Vol);
    }

    [Fact]
    public void Redirect_without_copy_gives_a_zero_block_or_keeps_what_was_written_in_the_segment()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.WriteRaw(new BlockNo(h + 1), 0, Fill(1)));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 1, 0)], XnTypes.Data, [Ext(h + 1, 1)]));
        Ok(f.A.Sync());
        // Copy-on-write inside the log: the new version is written into the body, then the summary's pointer moves.
        Ok(f.A.WriteRaw(new BlockNo(h + 2), 0, Fill(2)));
        Ok(f.A.Redirect(new BlockNo(h), 0, [SummaryEntry(0, h + 2, 1, 0)], Ext(h + 1, 1), Ext(h + 2, 1), copy: false));
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(h + 2), buf));
        Assert.Equal(Fill(2), buf);
        Assert.Equal(XnError.FreeDeferred, f.A.WriteRaw(new BlockNo(h + 1), 0, Fill(9)).Error);
        Ok(f.A.Sync());
        Ok(f.A.WriteRaw(new BlockNo(h + 1), 0, Fill(9)));
        Clean(f.Vol);
    }

    [Fact]
    public void Partial_free_keeps_the_rest_of_the_extent_and_defers_the_piece()
    {
        using var f = new LogFixture();
        ulong x = f.A.FindFree(new BlockNo(0), 8).Value.Value;
        Ok(f.A.Alloc(f.RunsA, 0, [RunEntry(0, x, 8)], XnTypes.Data, Ext(x, 8)));
        Ok(f.A.Sync());
        // [x, x+8) becomes [x, x+2) and [x+5, x+8).
        Ok(f.A.Free(f.RunsA, 0, [RunEntry(0, x, 2), RunEntry(1, x + 5, 3)], Ext(x + 2, 3)));
        Clean(f.Vol);
        Assert.Equal(XnError.FreeDeferred, f.A.Alloc(f.RunsA, 0, [RunEntry(2, x + 3, 1)], XnTypes.Data, Ext(x + 3, 1)).Error);
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(x + 6), buf));
        Ok(f.A.Sync());
        Ok(f.A.Alloc(f.RunsA, 0, [RunEntry(2, x + 3, 1)], XnTypes.Data, Ext(x + 3, 1)));
        Clean(f.Vol);
    }

    [Fact]
    public void Partial_free_whose_edits_leave_the_wrong_remainder_is_refused()
    {
        using var f = new LogFixture();
        ulong x = f.A.FindFree(new BlockNo(0), 8).Value.Value;
        Ok(f.A.Alloc(f.RunsA, 0, [RunEntry(0, x, 8)], XnTypes.Data, Ext(x, 8)));
        Ok(f.A.Sync());
        // Claims to free 3 blocks but the edits drop 4 (x+5 vanishes too).
        Assert.Equal(XnError.DiffMismatch, f.A.Free(f.RunsA, 0, [RunEntry(0, x, 2), RunEntry(1, x + 6, 2)], Ext(x + 2, 3)).Error);
    }

    [Fact]
    public void An_allocated_block_written_before_sync_is_written_once_with_its_data()
    {
        using var f = new LogFixture();
        ulong x = f.A.FindFree(new BlockNo(0), 4).Value.Value;
        Ok(f.A.Alloc(f.RunsA, 0, [RunEntry(0, x, 4)], XnTypes.Data, Ext(x, 4)));
        Ok(f.A.WriteRaw(new BlockNo(x + 1), 0, Fill(6)));
        Ok(f.A.Sync());
        Assert.Equal(1, f.Dev.TimesWritten(x + 1));
        Assert.Equal(Fill(6), f.Dev.Snapshot().AsSpan((int)(x + 1) * 4096, 4096).ToArray());
        // Never written: still zero-filled on the disk (rule 1 — it may hold a previous owner's bytes).
        Assert.Equal(1, f.Dev.TimesWritten(x + 2));
    }

    [Fact]
    public void The_segment_kind_of_a_type_persists_and_is_part_of_its_identity()
    {
        var f = new LogFixture();
        Assert.Equal(XnError.TypeExists, f.A.RegisterType(LogTypes.Summary with { Segment = false }).Error);
        Assert.Equal(XnError.WrongType, f.A.InstallRoot("seg", f.Summary).Error);
        f.Vol.Dispose();
        var k = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k).Value;
        var types = vol.Types();
        Assert.True(types.Single(t => t.Spec.Name == "t.summary").Spec.Segment);
        Assert.False(types.Single(t => t.Spec.Name == "t.runs").Spec.Segment);
        vol.Dispose();
    }

    [Fact]
    public void A_block_rewritten_after_its_last_write_taints_the_summary_that_claims_it()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.WriteRaw(new BlockNo(h + 1), 0, Fill(1)));
        Ok(f.A.Sync());
        Ok(f.A.WriteRaw(new BlockNo(h + 1), 0, Fill(2)));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 1, 0)], XnTypes.Data, [Ext(h + 1, 1)]));
        Assert.Equal(XnError.Tainted, f.A.WriteBack(new BlockNo(h)).Error);
        Ok(f.A.WriteBack(new BlockNo(h + 1)));
        Ok(f.A.WriteBack(new BlockNo(h)));
    }

    [Fact]
    public void A_redirect_inside_a_segment_to_a_rewritten_block_writes_it_before_the_summary()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.WriteRaw(new BlockNo(h + 1), 0, Fill(1)));
        Ok(f.A.WriteRaw(new BlockNo(h + 2), 0, Fill(1)));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 1, 0)], XnTypes.Data, [Ext(h + 1, 1)]));
        Ok(f.A.Sync());
        Ok(f.A.WriteRaw(new BlockNo(h + 2), 0, Fill(2)));
        Ok(f.A.Redirect(new BlockNo(h), 0, [SummaryEntry(0, h + 2, 1, 0)], Ext(h + 1, 1), Ext(h + 2, 1), copy: false));
        Assert.Equal(XnError.Tainted, f.A.WriteBack(new BlockNo(h)).Error);
        Ok(f.A.Sync());
        Assert.Equal(Fill(2), f.Dev.Snapshot().AsSpan((int)(h + 2) * 4096, 4096).ToArray());
        Clean(f.Vol);
    }

    [Fact]
    public void A_segment_reloaded_before_its_summary_is_read_keeps_its_types_on_a_body_write()
    {
        var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 1, 1)], f.Inode, [Ext(h + 1, 1)]));
        Ok(f.A.Sync());
        f.Vol.Dispose();
        var k = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k).Value;
        var env = k.CreateEnvironment("a");
        var s = vol.Attach(env);
        var table = s.MountRoot("la", vol.GrantRoot("la", env).Value).Value.Block;
        var buf = new byte[4096];
        Ok(s.Read(table, buf));   // registers the segment; its summary is not read yet
        // h+1 is an inode: its pointer bytes stay out of reach of raw writes even though no one read the summary.
        Assert.Equal(XnError.NotRawRange, s.WriteRaw(new BlockNo(h + 1), Slot(0, 0), BitConverter.GetBytes(h + 5)).Error);
        Ok(s.WriteRaw(new BlockNo(h + 5), 0, Fill(5)));
        Assert.Equal(XnError.NotFree, s.Claim(new BlockNo(h), 0, [SummaryEntry(1, h + 1, 1, 0)], XnTypes.Data, [Ext(h + 1, 1)]).Error);
        Ok(s.Claim(new BlockNo(h + 1), 0, Set(Slot(0, 0), h + 5), XnTypes.Data, [Ext(h + 5, 1)]));
        Ok(s.Sync());
        Clean(vol);
        vol.Dispose();
    }

    [Fact]
    public void WriteBlocks_fills_a_run_of_body_blocks_in_one_call_or_none_of_them()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        var data = new byte[3 * 4096];
        data.AsSpan(0, 4096).Fill(1); data.AsSpan(4096, 4096).Fill(2); data.AsSpan(8192).Fill(3);
        Ok(f.A.WriteBlocks(new BlockNo(h + 1), data));
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(h + 3), buf));
        Assert.Equal(Fill(3), buf);
        // The run would reach the head (a summary, not writable whole): nothing is written.
        string state = f.Vol.StateFingerprint();
        Assert.Equal(XnError.NotRawRange, f.A.WriteBlocks(new BlockNo(h - 0), data).Error);
        Assert.Equal(state, f.Vol.StateFingerprint());
        // Past the segment into B's blocks: refused, nothing written.
        ulong hb = f.Segment(f.B, f.TableB, 0, 4);
        Assert.Equal(h + 16, hb);
        state = f.Vol.StateFingerprint();
        Assert.Equal(XnError.BadCapability, f.A.WriteBlocks(new BlockNo(hb - 1), data.AsSpan(0, 8192)).Error);
        Assert.Equal(state, f.Vol.StateFingerprint());
    }

    [Fact]
    public void One_claim_types_a_partial_segment_of_several_kinds()
    {
        using var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 32);
        var data = new byte[4 * 4096];
        data.AsSpan().Fill(8);
        Ok(f.A.WriteBlocks(new BlockNo(h + 2), data));
        Ok(f.A.Claim(new BlockNo(h), 0,
            [SummaryEntry(0, h + 1, 1, 1), SummaryEntry(1, h + 2, 4, 0), SummaryEntry(2, h + 6, 1, 2)],
            [(f.Inode, Ext(h + 1, 1)), (XnTypes.Data, Ext(h + 2, 4)), (f.Indirect, Ext(h + 6, 1))]));
        // The types took: the inode's pointer bytes are no longer raw-writable.
        Assert.Equal(XnError.NotRawRange, f.A.WriteRaw(new BlockNo(h + 1), Slot(0, 0), new byte[8]).Error);
        Ok(f.A.Claim(new BlockNo(h + 1), 0, Set(Slot(0, 12), h + 6 + 1), f.Indirect, [Ext(h + 7, 1)]));
        Assert.Equal(XnError.NotFree, f.A.Claim(new BlockNo(h), 0, [SummaryEntry(3, h + 8, 2, 0), SummaryEntry(4, h + 9, 1, 0)],
            [(XnTypes.Data, Ext(h + 8, 2)), (XnTypes.Data, Ext(h + 9, 1))]).Error);
        Ok(f.A.Sync());
        Clean(f.Vol);
    }

    private sealed class RecordingModel(IDiskTimeModel inner) : IDiskTimeModel
    {
        public List<DiskRequest> Requests { get; } = new();
        public TimeSpan Service(DiskRequest request) { Requests.Add(request); return inner.Service(request); }
        public TimeSpan Elapsed => inner.Elapsed;
        public void Reset() => inner.Reset();
    }

    [Fact]
    public void The_disk_time_model_sees_a_segments_filled_body_as_one_request()
    {
        var model = new RecordingModel(new HddModel());
        var dev = new TimedDevice(new MemoryDevice(4096), model);
        var k = new ExoKernel();
        var vol = XnVolume.Format(dev, k).Value;
        var s = vol.Attach(k.CreateEnvironment("a"));
        s.RegisterType(TestTypes.Indirect);
        s.RegisterType(TestTypes.Inode);
        var summary = s.RegisterType(LogTypes.Summary).Value;
        var table = s.InstallRoot("la", s.RegisterType(LogTypes.SegTable).Value).Value.Block;
        ulong h = s.FindFree(new BlockNo(0), 256).Value.Value;
        Ok(s.AllocSegment(table, 0, [RunEntry(0, h, 256)], summary, Ext(h, 256)));
        Ok(s.WriteBlocks(new BlockNo(h + 1), new byte[255 * 4096]));
        Ok(s.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 255, 0)], XnTypes.Data, [Ext(h + 1, 255)]));
        Ok(s.Sync());
        model.Requests.Clear();
        var before = dev.ModeledTime;
        Ok(s.WriteBlocks(new BlockNo(h + 1), Enumerable.Repeat((byte)1, 255 * 4096).ToArray()));
        Ok(s.WriteBackSegment(new BlockNo(h)));
        var segmentTime = dev.ModeledTime - before;
        Assert.Contains(model.Requests, r => r.Kind == DiskRequestKind.Write && r.Start.Value == h + 1 && r.Blocks == 255);
        // The same blocks one request each, on a fresh disk: the one request is far cheaper.
        var single = new HddModel();
        for (ulong b = h + 1; b < h + 256; b++) single.Service(DiskRequest.Write(new BlockNo(b), 1));
        Assert.True(segmentTime * 3 < single.Elapsed, $"segment {segmentTime.TotalMilliseconds} ms, block by block {single.Elapsed.TotalMilliseconds} ms");
        vol.Dispose();
    }

    [Fact]
    public void Reading_a_typed_block_of_a_reloaded_segment_reads_no_other_block_of_it()
    {
        var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 16);
        Ok(f.A.WriteRaw(new BlockNo(h + 9), 0, Fill(9)));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 8, 1), SummaryEntry(1, h + 9, 1, 0)],
            [(f.Inode, Ext(h + 1, 8)), (XnTypes.Data, Ext(h + 9, 1))]));
        Ok(f.A.Sync());
        f.Vol.Dispose();
        var k = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k).Value;
        var env = k.CreateEnvironment("a");
        var s = vol.Attach(env);
        var table = s.MountRoot("la", vol.GrantRoot("la", env).Value).Value.Block;
        var buf = new byte[4096];
        long before = f.Dev.Stats.Snapshot().Reads;
        Ok(s.Read(table, buf));
        Ok(s.Read(new BlockNo(h), buf));
        Ok(s.Read(new BlockNo(h + 9), buf));
        Assert.Equal(Fill(9), buf);
        Assert.Equal(3, f.Dev.Stats.Snapshot().Reads - before);   // table, summary, the block: no inode block
        // A body access does walk the segment's metadata first (8 inode blocks, read once).
        Ok(s.WriteRaw(new BlockNo(h + 12), 0, Fill(1)));
        Assert.Equal(3 + 8, f.Dev.Stats.Snapshot().Reads - before);
        vol.Dispose();
    }

    [Fact]
    public void A_child_freed_from_a_block_before_it_is_redirected_returns_with_the_old_block()
    {
        using var f = new XnFixture();
        ulong ind = f.FreeBlock();
        Ok(f.A.Alloc(f.RootA.Block, 0, Set(Slot(0, 12), ind), f.Indirect, One(ind)));
        ulong d = f.FreeBlock();
        Ok(f.A.Alloc(new BlockNo(ind), 0, Set(0, d), XnTypes.Data, One(d)));
        Ok(f.A.Sync());
        ulong free = f.Vol.FreeBlocks;
        Ok(f.A.Free(new BlockNo(ind), 0, Clear(0), One(d)));
        ulong copy = f.FreeBlock();
        Ok(f.A.Redirect(f.RootA.Block, 0, Set(Slot(0, 12), copy), One(ind), One(copy)));
        // The old indirect block will never be written again: its freed child waits for it instead.
        Assert.Equal(XnError.FreeDeferred, f.A.Alloc(f.RootA.Block, 1, Set(Slot(1, 0), d), XnTypes.Data, One(d)).Error);
        Ok(f.A.Sync());
        Assert.Equal(free + 1, f.Vol.FreeBlocks);   // d and ind back, copy taken
        Ok(f.A.Alloc(f.RootA.Block, 1, Set(Slot(1, 0), d), XnTypes.Data, One(d)));
        Clean(f.Vol);
    }
}
