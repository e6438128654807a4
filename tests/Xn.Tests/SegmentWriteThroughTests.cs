using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.LogTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// <see cref="XnSession.WriteBodyThrough"/>: a segment's filled part (and consecutive segments', across a
/// head that owns nothing yet) goes to the device as one request from the caller's buffer; a claim of it
/// waits for nothing; every refusal writes nothing and changes no state.
/// </summary>
public class SegmentWriteThroughTests
{
    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    private static void Clean(XnVolume vol)
    {
        var c = vol.Check();
        Assert.True(c.Clean, string.Join("\n", c.Findings));
    }

    private static byte[] Blocks(int n, byte seed)
    {
        var b = new byte[n * 4096];
        for (int i = 0; i < n; i++) b.AsSpan(i * 4096, 4096).Fill((byte)(seed + i));
        return b;
    }

    [Fact]
    public void A_run_is_one_request_its_claim_waits_for_nothing_and_it_survives_a_reload()
    {
        var f = new LogFixture();
        ulong h = f.Segment(f.A, f.TableA, 0, 64);
        Ok(f.A.Sync());
        f.Dev.Writes.Clear();
        var run = Blocks(20, 7);
        Ok(f.A.WriteBodyThrough(new BlockNo(h + 1), run));
        Assert.Equal([(h + 1, 20UL)], f.Dev.Writes);
        Assert.False(f.Vol.IsDirty(h + 5));
        Ok(f.A.Claim(new BlockNo(h), 0, [SummaryEntry(0, h + 1, 20, 0)], XnTypes.Data, [Ext(h + 1, 20)]));
        f.Dev.Writes.Clear();
        Ok(f.A.Sync());
        // Only metadata is written by the sync: the head (its claim), never the body again.
        Assert.DoesNotContain(f.Dev.Writes, w => w.Start > h && w.Start <= h + 20);
        Assert.Contains(f.Dev.Writes, w => w.Start == h);
        Clean(f.Vol);
        f.Vol.Dispose();

        var k = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k).Value;
        var env = k.CreateEnvironment("a");
        var s = vol.Attach(env);
        var root = s.MountRoot("la", vol.GrantRoot("la", env).Value).Value;
        var buf = new byte[4096];
        Ok(s.Read(root.Block, buf));
        Ok(s.Read(new BlockNo(h + 11), buf));
        Assert.Equal(run.AsSpan(10 * 4096, 4096).ToArray(), buf);
        Clean(vol);
        vol.Dispose();
    }

    [Fact]
    public void A_run_goes_on_into_the_next_segment_across_its_unclaimed_head()
    {
        using var f = new LogFixture();
        ulong h1 = f.Segment(f.A, f.TableA, 0, 16);
        ulong h2 = f.Segment(f.A, f.TableA, 1, 16);
        Assert.Equal(h1 + 16, h2);
        f.Dev.Writes.Clear();
        var run = Blocks(25, 1);   // h1+1 .. h2+9, h2's place included
        Ok(f.A.WriteBodyThrough(new BlockNo(h1 + 1), run));
        Assert.Equal([(h1 + 1, 25UL)], f.Dev.Writes);
        // XN wrote the head's own bytes in its place (and into the caller's run).
        Assert.False(f.Vol.IsDirty(h2));
        var head = new byte[4096];
        f.Dev.Inner.Read(new BlockNo(h2), head);
        Assert.Equal(run.AsSpan((int)(h2 - h1 - 1) * 4096, 4096).ToArray(), head);
        Ok(f.A.Claim(new BlockNo(h1), 0, [SummaryEntry(0, h1 + 1, 15, 0)], XnTypes.Data, [Ext(h1 + 1, 15)]));
        Ok(f.A.Claim(new BlockNo(h2), 0, [SummaryEntry(0, h2 + 1, 9, 0)], XnTypes.Data, [Ext(h2 + 1, 9)]));
        Ok(f.A.Sync());
        var buf = new byte[4096];
        Ok(f.A.Read(new BlockNo(h2 + 3), buf));
        Assert.Equal(run.AsSpan((int)(h2 + 3 - h1 - 1) * 4096, 4096).ToArray(), buf);
        Clean(f.Vol);
    }

    [Fact]
    public void Refusals_write_nothing_and_change_nothing()
    {
        using var f = new LogFixture();
        ulong h1 = f.Segment(f.A, f.TableA, 0, 16);
        ulong h2 = f.Segment(f.A, f.TableA, 1, 16);
        ulong hb = f.Segment(f.B, f.TableB, 0, 16);
        Assert.Equal(h2 + 16, hb);
        Ok(f.A.WriteBodyThrough(new BlockNo(h2 + 1), Blocks(2, 9)));
        Ok(f.A.Claim(new BlockNo(h2), 0, [SummaryEntry(0, h2 + 1, 2, 0)], XnTypes.Data, [Ext(h2 + 1, 2)]));
        Ok(f.A.Sync());

        void Refused(XnError expected, Func<XnResult> attack)
        {
            string state = f.Vol.StateFingerprint();
            int writes = f.Dev.Writes.Count;
            var r = attack();
            Assert.Equal(expected, r.Error);
            Assert.Equal(writes, f.Dev.Writes.Count);
            Assert.Equal(state, f.Vol.StateFingerprint());
        }
        // Into a segment whose head owns something already (h2 claimed a partial).
        Refused(XnError.NotEmpty, () => f.A.WriteBodyThrough(new BlockNo(h1 + 10), Blocks(10, 0)));
        // A claimed (typed) block.
        Refused(XnError.NotFree, () => f.A.WriteBodyThrough(new BlockNo(h2 + 2), Blocks(2, 0)));
        // Past A's last segment into B's: not A's to write.
        Refused(XnError.BadCapability, () => f.A.WriteBodyThrough(new BlockNo(hb - 1), Blocks(3, 0)));
        // B cannot write A's body.
        Refused(XnError.BadCapability, () => f.B.WriteBodyThrough(new BlockNo(h1 + 1), Blocks(1, 0)));
        // A block outside every segment (A's segment table).
        Refused(XnError.OutsideSegment, () => f.A.WriteBodyThrough(f.TableA, Blocks(1, 0)));
        // Not whole blocks.
        Refused(XnError.NotRawRange, () => f.A.WriteBodyThrough(new BlockNo(h1 + 1), new byte[100]));
        Clean(f.Vol);
    }
}
