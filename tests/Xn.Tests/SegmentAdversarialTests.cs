using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.LogTypes;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// A malicious log-structured libFS: each test uses a segment binding to reach a block outside its own
/// segments, and is refused with the precise error while the device bytes and XN's whole state fingerprint
/// stay exactly as they were (the style of <see cref="AdversarialTests"/>).
/// </summary>
public class SegmentAdversarialTests
{
    /// <summary>
    /// Root "la" (env A): segment SA at HA (16 blocks) whose summary owns an indirect block HA+1 (owning data
    /// HA+2) and data HA+3; segment SA2 at HA2 (16 blocks). Root "lb" (env B): segment SB at HB (16 blocks),
    /// summary owning data HB+1. Root "ra" (env A) owns run [R, R+4). Everything synced.
    /// </summary>
    private sealed class World
    {
        public LogFixture F { get; } = new();
        public ulong HA, HA2, HB, R;

        public World()
        {
            HA = F.Segment(F.A, F.TableA, 0, 16);
            HA2 = F.Segment(F.A, F.TableA, 1, 16);
            HB = F.Segment(F.B, F.TableB, 0, 16);
            Ok(F.A.Claim(new BlockNo(HA), 0, [SummaryEntry(0, HA + 1, 1, 2), SummaryEntry(1, HA + 3, 1, 0)], F.Indirect, [Ext(HA + 1, 1)]).Error == XnError.DiffMismatch
                ? XnResult.Success : XnResult.Fail(XnError.Io, "two entries for one claim must be refused"));
            Ok(F.A.Claim(new BlockNo(HA), 0, [SummaryEntry(0, HA + 1, 1, 2)], F.Indirect, [Ext(HA + 1, 1)]));
            Ok(F.A.Claim(new BlockNo(HA + 1), 0, Set(0, HA + 2), XnTypes.Data, [Ext(HA + 2, 1)]));
            Ok(F.A.Claim(new BlockNo(HA), 0, [SummaryEntry(1, HA + 3, 1, 0)], XnTypes.Data, [Ext(HA + 3, 1)]));
            Ok(F.B.Claim(new BlockNo(HB), 0, [SummaryEntry(0, HB + 1, 1, 0)], XnTypes.Data, [Ext(HB + 1, 1)]));
            R = F.A.FindFree(new BlockNo(0), 4).Value.Value;
            Ok(F.A.Alloc(F.RunsA, 0, [RunEntry(0, R, 4)], XnTypes.Data, Ext(R, 4)));
            Ok(F.A.Sync());
            Ok(F.B.Sync());
        }

        public ulong Free() => F.A.FindFree(new BlockNo(0), 1).Value.Value;

        /// <summary>Runs the attack; asserts the error and that nothing changed.</summary>
        public void Refused(XnError expected, Func<XnResult> attack)
        {
            var dev = F.Dev.Snapshot();
            var state = F.Vol.StateFingerprint();
            var r = attack();
            Assert.Equal(expected, r.Error);
            Assert.False(string.IsNullOrEmpty(r.Detail));
            Assert.Equal(state, F.Vol.StateFingerprint());
            Assert.True(dev.AsSpan().SequenceEqual(F.Dev.Snapshot()), "device bytes changed");
            var check = F.Vol.Check();
            Assert.True(check.Clean, string.Join("\n", check.Findings));
        }
    }

    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    [Fact]
    public void A_summary_cannot_claim_a_free_block()
    {
        var w = new World();
        ulong free = w.Free();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Claim(new BlockNo(w.HA), 0, [SummaryEntry(2, free, 1, 0)], XnTypes.Data, [One(free)]));
    }

    [Fact]
    public void A_summary_cannot_claim_a_block_of_another_roots_segment()
    {
        var w = new World();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Claim(new BlockNo(w.HA), 0, [SummaryEntry(2, w.HB + 2, 1, 0)], XnTypes.Data, [One(w.HB + 2)]));
    }

    [Fact]
    public void A_summary_cannot_claim_a_block_of_its_own_other_segment()
    {
        var w = new World();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Claim(new BlockNo(w.HA), 0, [SummaryEntry(2, w.HA2 + 1, 1, 0)], XnTypes.Data, [One(w.HA2 + 1)]));
    }

    [Fact]
    public void A_block_inside_a_segment_cannot_claim_a_block_owned_outside_it()
    {
        var w = new World();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Claim(new BlockNo(w.HA + 1), 1, Set(512, w.R), XnTypes.Data, [One(w.R)]));
    }

    [Fact]
    public void Writing_into_another_roots_segment_body_is_refused()
    {
        var w = new World();
        w.Refused(XnError.BadCapability, () => w.F.A.WriteRaw(new BlockNo(w.HB + 5), 0, new byte[4096]));
        w.Refused(XnError.BadCapability, () => w.F.A.WriteRaw(new BlockNo(w.HB + 1), 0, new byte[16]));
    }

    [Fact]
    public void Claiming_in_another_roots_segment_through_its_summary_is_refused()
    {
        var w = new World();
        w.Refused(XnError.BadCapability, () => w.F.A.Claim(new BlockNo(w.HB), 0, [SummaryEntry(1, w.HB + 2, 1, 0)], XnTypes.Data, [One(w.HB + 2)]));
    }

    [Fact]
    public void A_block_inside_a_segment_cannot_allocate_free_blocks()
    {
        var w = new World();
        ulong free = w.Free();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Alloc(new BlockNo(w.HA), 0, [SummaryEntry(2, free, 1, 0)], XnTypes.Data, One(free)));
        w.Refused(XnError.OutsideSegment, () => w.F.A.Alloc(new BlockNo(w.HA + 1), 1, Set(512, free), XnTypes.Data, One(free)));
    }

    [Fact]
    public void A_segment_cannot_overlap_another_roots_segment_or_lie_inside_a_segment()
    {
        var w = new World();
        w.Refused(XnError.NotFree, () => w.F.A.AllocSegment(w.F.TableA, 0, [RunEntry(2, w.HB + 8, 16)], w.F.Summary, Ext(w.HB + 8, 16)));
        w.Refused(XnError.OutsideSegment, () => w.F.A.Claim(new BlockNo(w.HA), 0, [SummaryEntry(2, w.HA + 4, 4, 0)], w.F.Summary, [Ext(w.HA + 4, 4)]));
    }

    [Fact]
    public void A_summary_cannot_claim_its_own_head_or_an_already_typed_block()
    {
        var w = new World();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Claim(new BlockNo(w.HA), 0, [SummaryEntry(2, w.HA, 1, 0)], XnTypes.Data, [One(w.HA)]));
        w.Refused(XnError.NotFree, () => w.F.A.Claim(new BlockNo(w.HA), 0, [SummaryEntry(2, w.HA + 2, 1, 0)], XnTypes.Data, [One(w.HA + 2)]));
    }

    [Fact]
    public void A_claim_whose_edits_also_emit_a_block_outside_the_segment_is_refused()
    {
        var w = new World();
        ulong free = w.Free();
        w.Refused(XnError.DiffMismatch, () => w.F.A.Claim(new BlockNo(w.HA), 0,
            [SummaryEntry(2, w.HA + 4, 1, 0), SummaryEntry(3, free, 1, 0)], XnTypes.Data, [One(w.HA + 4)]));
    }

    [Fact]
    public void Raw_writing_a_summary_entry_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotRawRange, () => w.F.A.WriteRaw(new BlockNo(w.HA), 32, BitConverter.GetBytes(w.HB + 1)));
    }

    [Fact]
    public void Metadata_written_raw_into_the_body_cannot_smuggle_pointers_in_through_a_claim()
    {
        var w = new World();
        // Body bytes that, read as an indirect block, would own B's data block.
        var evil = new byte[4096];
        BitConverter.GetBytes(w.HB + 1).CopyTo(evil, 0);
        Ok(w.F.A.WriteRaw(new BlockNo(w.HA + 6), 0, evil));
        Ok(w.F.A.Sync());
        w.Refused(XnError.NotEmpty, () => w.F.A.Claim(new BlockNo(w.HA), 0, [SummaryEntry(2, w.HA + 6, 1, 2)], w.F.Indirect, [One(w.HA + 6)]));
    }

    [Fact]
    public void Redirect_cannot_leave_a_segment_or_take_a_segment_body_block_from_outside()
    {
        var w = new World();
        ulong free = w.Free();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Redirect(new BlockNo(w.HA), 0, [SummaryEntry(1, free, 1, 0)], One(w.HA + 3), One(free)));
        w.Refused(XnError.OutsideSegment, () => w.F.A.Redirect(new BlockNo(w.HA), 0, [SummaryEntry(1, w.HB + 3, 1, 0)], One(w.HA + 3), One(w.HB + 3)));
        w.Refused(XnError.NotFree, () => w.F.A.Redirect(w.F.RunsA, 0, [RunEntry(0, w.HA + 8, 4)], Ext(w.R, 4), Ext(w.HA + 8, 4)));
        w.Refused(XnError.WrongType, () => w.F.A.Redirect(w.F.TableA, 0, [RunEntry(0, free, 16)], Ext(w.HA, 16), Ext(free, 16)));
    }

    [Fact]
    public void Redirect_refuses_a_length_change_and_a_wrong_diff()
    {
        var w = new World();
        ulong x = w.F.A.FindFree(new BlockNo(0), 8).Value.Value;
        w.Refused(XnError.DiffMismatch, () => w.F.A.Redirect(w.F.RunsA, 0, [RunEntry(0, x, 5)], Ext(w.R, 4), Ext(x, 5)));
        // The edits point at x+1, the claim says x.
        w.Refused(XnError.DiffMismatch, () => w.F.A.Redirect(w.F.RunsA, 0, [RunEntry(0, x + 1, 4)], Ext(w.R, 4), Ext(x, 4)));
        w.Refused(XnError.NotOwned, () => w.F.A.Redirect(w.F.RunsA, 0, [RunEntry(0, x, 2)], Ext(w.R, 2), Ext(x, 2)));
    }

    [Fact]
    public void A_pointer_cannot_move_across_a_segment_boundary()
    {
        var w = new World();
        w.Refused(XnError.OutsideSegment, () => w.F.A.Move(new BlockNo(w.HA), 0, [SummaryEntry(1, 0, 0, 0)],
                                                           w.F.RunsA, 0, [RunEntry(1, w.HA + 3, 1)], One(w.HA + 3)));
    }

    [Fact]
    public void A_segment_is_freed_whole_or_not_at_all()
    {
        var w = new World();
        w.Refused(XnError.WrongType, () => w.F.A.Free(w.F.TableA, 0, [RunEntry(0, w.HA, 8)], Ext(w.HA + 8, 8)));
        w.Refused(XnError.WrongType, () => w.F.A.Free(w.F.TableA, 0, [RunEntry(0, 0, 0)], Ext(w.HA + 3, 1)));
        w.Refused(XnError.NotOwned, () => w.F.A.Free(w.F.TableA, 0, [RunEntry(0, 0, 0)], Ext(w.HB, 16)));
    }

    [Fact]
    public void Freeing_a_body_block_that_the_freeing_block_does_not_own_is_refused()
    {
        var w = new World();
        w.Refused(XnError.NotOwned, () => w.F.A.Free(new BlockNo(w.HA + 1), 0, Clear(0), One(w.HA + 3)));
    }

    [Fact]
    public void Check_reports_a_summary_that_emits_outside_its_segment_on_a_damaged_disk()
    {
        var w = new World();
        w.F.Vol.Dispose();
        // Damage: the summary's second entry now names B's data block (outside SA).
        var dev = (MemoryDevice)w.F.Dev.Inner;
        var head = new byte[4096];
        dev.Read(new BlockNo(w.HA), head);
        BitConverter.GetBytes(w.HB + 1).CopyTo(head, 16);
        dev.Write(new BlockNo(w.HA), head);
        var k = new ExoKernel();
        var vol = XnVolume.Load(dev, k).Value;
        var findings = vol.Check().Findings;
        Assert.Contains(findings, f => f.Kind == XnFindingKind.OutsideSegment && f.Block == w.HB + 1);
        // HA+3 is no longer typed: it is body again, so nothing else is reported (no leak, no double claim).
        Assert.Single(findings);
        vol.Dispose();
    }

    [Fact]
    public void Check_reports_a_segment_that_overlaps_another_owner()
    {
        var w = new World();
        w.F.Vol.Dispose();
        var dev = (MemoryDevice)w.F.Dev.Inner;
        var table = new byte[4096];
        dev.Read(w.F.TableA, table);
        // A third segment entry over B's segment.
        BitConverter.GetBytes(w.HB).CopyTo(table, 32);
        BitConverter.GetBytes(4UL).CopyTo(table, 40);
        dev.Write(w.F.TableA, table);
        var vol = XnVolume.Load(dev, new ExoKernel()).Value;
        var findings = vol.Check().Findings;
        Assert.Contains(findings, f => f.Kind == XnFindingKind.DoublyOwned && f.Block == w.HB);
        vol.Dispose();
    }
}
