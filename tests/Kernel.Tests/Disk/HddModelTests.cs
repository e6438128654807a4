using ExoFS.Kernel.Disk;
using FsCheck;
using FsCheck.Fluent;

namespace ExoFS.Kernel.Tests.Disk;

public class HddModelTests
{
    private const ulong BlocksPerCylinder = 171; // 19 tracks × 72 sectors / 8

    [Theory]
    [InlineData(0, 3.24)]
    [InlineData(1, 3.64)]
    [InlineData(383, 11.068_154)]  // 3.24 + 0.4·√383
    [InlineData(384, 11.072)]      // 8 + 0.008·384
    [InlineData(1961, 23.688)]     // full stroke
    public void Seek_curve_matches_Ruemmler_Wilkes(int distance, double expectedMs)
    {
        Assert.Equal(expectedMs, HddModel.SeekCurveMs(distance), precision: 5);
    }

    [Fact]
    public void No_arm_movement_charges_no_seek()
    {
        Assert.Equal(0, HddModel.SeekTimeMs(0));
        Assert.Equal(HddModel.SeekCurveMs(10), HddModel.SeekTimeMs(10));
    }

    [Fact]
    public void Sequential_reads_cost_far_less_than_random_ones()
    {
        var seq = new HddModel();
        var rnd = new HddModel();
        var rng = new Random(1);
        for (ulong i = 0; i < 1000; i++)
        {
            seq.Service(DiskRequest.Read(new BlockNo(5000 + i), 1));
            rnd.Service(DiskRequest.Read(new BlockNo((ulong)rng.NextInt64((long)HddModel.ModeledBlocks)), 1));
        }
        Assert.True(seq.Elapsed * 4 < rnd.Elapsed, $"sequential {seq.Elapsed.TotalMilliseconds} ms vs random {rnd.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public void Arm_position_follows_requests()
    {
        var hdd = new HddModel();
        hdd.Service(DiskRequest.Write(new BlockNo(BlocksPerCylinder * 1000 + 20), 1));
        Assert.Equal(1000, hdd.CurrentCylinder);
        Assert.Equal(2, hdd.CurrentHead); // block 20 is on track 2 (9 blocks per track)
        Assert.Equal(HddModel.SeekCurveMs(1000), hdd.Last.SeekMs, precision: 9);
    }

    [Fact]
    public void Rotational_wait_depends_on_arrival_time_and_stays_within_a_revolution()
    {
        var waits = new HashSet<double>();
        for (int idleUs = 0; idleUs < 15_000; idleUs += 1_000)
        {
            var hdd = new HddModel();
            hdd.Advance(TimeSpan.FromMicroseconds(idleUs));
            hdd.Service(DiskRequest.Read(new BlockNo(4), 1));
            Assert.InRange(hdd.Last.RotationMs, 0, HddModel.RevolutionMs);
            Assert.True(hdd.Last.RotationMs < HddModel.RevolutionMs);
            waits.Add(Math.Round(hdd.Last.RotationMs, 6));
        }
        Assert.True(waits.Count > 10, "rotational wait should vary with the platter angle at arrival");
    }

    [Fact]
    public void Any_request_stream_gives_bounded_rotation_and_elapsed_equal_to_the_sum()
    {
        var req = from kind in Gen.Elements(DiskRequestKind.Read, DiskRequestKind.Write, DiskRequestKind.Flush)
                  from start in Gen.Choose(0, int.MaxValue)
                  from blocks in Gen.Choose(0, 40)
                  from idle in Gen.Choose(0, 20_000)
                  select (new DiskRequest(kind, new BlockNo((ulong)start), (ulong)blocks), idle);
        var prop = Prop.ForAll(Arb.From(req.ListOf().Select(l => l.ToArray())), ((DiskRequest R, int IdleUs)[] stream) =>
        {
            var hdd = new HddModel();
            TimeSpan sum = TimeSpan.Zero;
            foreach (var (r, idle) in stream)
            {
                hdd.Advance(TimeSpan.FromMicroseconds(idle));
                var t = hdd.Service(r);
                sum += t;
                var last = hdd.Last;
                if (t.TotalMilliseconds < HddModel.ControllerOverheadMs - 1e-3) return false;
                if (r.Blocks == 1 && (last.RotationMs < 0 || last.RotationMs >= HddModel.RevolutionMs)) return false;
                if (Math.Abs(last.TotalMs - t.TotalMilliseconds) > 1e-3) return false;
                if (hdd.CurrentCylinder is < 0 or >= HddModel.Cylinders) return false;
            }
            return Math.Abs((hdd.Elapsed - sum).TotalMilliseconds) < 1e-3 * (stream.Length + 1);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), prop);
    }

    [Fact]
    public void Read_following_a_read_on_the_same_track_comes_from_read_ahead()
    {
        var hdd = new HddModel();
        hdd.Service(DiskRequest.Read(new BlockNo(0), 1));
        var t = hdd.Service(DiskRequest.Read(new BlockNo(1), 1));
        Assert.True(hdd.Last.FromBuffer);
        Assert.True(t.TotalMilliseconds < HddModel.ControllerOverheadMs + 8 * HddModel.SectorMs + 1e-9);
        hdd.Service(DiskRequest.Write(new BlockNo(2), 1)); // a write ends read-ahead
        hdd.Service(DiskRequest.Read(new BlockNo(3), 1));
        Assert.False(hdd.Last.FromBuffer);
    }

    [Fact]
    public void Request_crossing_a_track_pays_one_head_switch()
    {
        var hdd = new HddModel();
        hdd.Service(DiskRequest.Write(new BlockNo(0), 18)); // tracks 0 and 1 of cylinder 0
        Assert.Equal(HddModel.TrackSwitchMs, hdd.Last.SeekMs, precision: 9);
        Assert.Equal(144 * HddModel.SectorMs, hdd.Last.TransferMs, precision: 9);
        Assert.Equal(1, hdd.CurrentHead);
    }

    [Fact]
    public void Blocks_beyond_the_modeled_disk_wrap_around()
    {
        var a = new HddModel();
        var b = new HddModel();
        var ta = a.Service(DiskRequest.Read(new BlockNo(12345), 2));
        var tb = b.Service(DiskRequest.Read(new BlockNo(HddModel.ModeledBlocks + 12345), 2));
        Assert.Equal(ta, tb);
        Assert.Equal(a.CurrentCylinder, b.CurrentCylinder);
    }

    [Fact]
    public void Flush_costs_controller_overhead_and_reset_restores_the_initial_state()
    {
        var hdd = new HddModel();
        Assert.Equal(HddModel.ControllerOverheadMs, hdd.Service(DiskRequest.Flush()).TotalMilliseconds, precision: 3);
        hdd.Service(DiskRequest.Read(new BlockNo(100_000), 4));
        hdd.Reset();
        Assert.Equal(TimeSpan.Zero, hdd.Elapsed);
        Assert.Equal(0, hdd.CurrentCylinder);
    }
}
