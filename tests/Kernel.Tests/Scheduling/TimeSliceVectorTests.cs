using ExoFS.Kernel.Scheduling;

namespace ExoFS.Kernel.Tests.Scheduling;

public class TimeSliceVectorTests
{
    private static ExoKernel Boot(int slices = 8, ulong seed = 1) => new(new KernelOptions { PageFrames = 16, TimeSlices = slices, SchedulerSeed = seed });

    [Fact]
    public void Claimed_slice_is_owned_and_a_second_claim_is_refused()
    {
        var k = Boot();
        var a = k.CreateEnvironment("a");
        var b = k.CreateEnvironment("b");
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.Claim(a, new SliceNo(3)));
        Assert.Equal(a.Id, k.Scheduler.OwnerOf(new SliceNo(3)));
        Assert.Equal(ScheduleStatus.Taken, k.Scheduler.Claim(b, new SliceNo(3)));
        Assert.Equal(ScheduleStatus.Taken, k.Scheduler.Claim(a, new SliceNo(3)));
        Assert.Equal(a.Id, k.Scheduler.OwnerOf(new SliceNo(3)));
    }

    [Fact]
    public void Claim_outside_the_ring_is_refused()
    {
        var k = Boot(slices: 4);
        var a = k.CreateEnvironment("a");
        Assert.Equal(ScheduleStatus.OutOfRange, k.Scheduler.Claim(a, new SliceNo(4)));
        Assert.Equal(ScheduleStatus.OutOfRange, k.Scheduler.Claim(a, new SliceNo(-1)));
        Assert.Empty(k.Scheduler.SlicesOf(a.Id));
    }

    [Fact]
    public void Claim_any_takes_all_or_nothing()
    {
        var k = Boot(slices: 4);
        var a = k.CreateEnvironment("a");
        var b = k.CreateEnvironment("b");
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.Claim(a, new SliceNo(1)));
        var got = k.Scheduler.ClaimAny(b, 2);
        Assert.True(got.Ok);
        Assert.Equal([new SliceNo(0), new SliceNo(2)], got.Slices);
        var refused = k.Scheduler.ClaimAny(a, 2);
        Assert.Equal(ScheduleStatus.NoFreeSlice, refused.Status);
        Assert.Equal([new SliceNo(1)], k.Scheduler.SlicesOf(a.Id));
        Assert.Null(k.Scheduler.OwnerOf(new SliceNo(3)));
        Assert.Equal(ScheduleStatus.InvalidArgument, k.Scheduler.ClaimAny(a, 0).Status);
    }

    [Fact]
    public void Only_the_owner_may_release_a_slice()
    {
        var k = Boot();
        var a = k.CreateEnvironment("a");
        var b = k.CreateEnvironment("b");
        k.Scheduler.Claim(a, new SliceNo(2));
        Assert.Equal(ScheduleStatus.NotOwner, k.Scheduler.Release(b, new SliceNo(2)));
        Assert.Equal(a.Id, k.Scheduler.OwnerOf(new SliceNo(2)));
        Assert.Equal(ScheduleStatus.NotOwner, k.Scheduler.Release(b, new SliceNo(5)));   // a free slice has no owner to be
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.Release(a, new SliceNo(2)));
        Assert.Null(k.Scheduler.OwnerOf(new SliceNo(2)));
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.Claim(b, new SliceNo(2)));
    }

    [Fact]
    public void Destroyed_environment_loses_its_slices_and_cannot_claim()
    {
        var k = Boot();
        var a = k.CreateEnvironment("a");
        Assert.True(k.Scheduler.ClaimAny(a, 3).Ok);
        k.DestroyEnvironment(a);
        Assert.Empty(k.Scheduler.SlicesOf(a.Id));
        Assert.Equal(ScheduleStatus.InvalidEnvironment, k.Scheduler.Claim(a, new SliceNo(0)));
        Assert.Equal(ScheduleStatus.InvalidEnvironment, k.Scheduler.Release(a, new SliceNo(0)));
        for (int i = 0; i < 8; i++) Assert.Null(k.Scheduler.Step().Runner);
    }

    [Fact]
    public void Environment_of_another_kernel_is_refused()
    {
        var k1 = Boot();
        var k2 = Boot();
        var foreign = k2.CreateEnvironment("x");
        Assert.Equal(ScheduleStatus.InvalidEnvironment, k1.Scheduler.Claim(foreign, new SliceNo(0)));
        Assert.Equal(ScheduleStatus.InvalidEnvironment, k1.Scheduler.SetWakeup(foreign, Predicates.Always).Status);
        Assert.Null(k1.Scheduler.OwnerOf(new SliceNo(0)));
    }

    [Fact]
    public void Ring_gives_each_slice_to_its_owner_in_order()
    {
        var k = Boot(slices: 5);
        var a = k.CreateEnvironment("a");
        var b = k.CreateEnvironment("b");
        var c = k.CreateEnvironment("c");
        k.Scheduler.Claim(a, new SliceNo(0));
        k.Scheduler.Claim(b, new SliceNo(1));
        k.Scheduler.Claim(a, new SliceNo(2));
        k.Scheduler.Claim(c, new SliceNo(3));
        k.Scheduler.Claim(b, new SliceNo(4));
        var ran = Enumerable.Range(0, 10).Select(_ => k.Scheduler.Step()).ToList();
        Assert.All(ran, d => Assert.Equal(SliceGrant.Owner, d.Grant));
        Assert.Equal(new[] { a, b, a, c, b, a, b, a, c, b }.Select(e => (EnvId?)e.Id), ran.Select(d => d.Runner));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), ran.Select(d => d.Tick));
        Assert.Equal(10, k.Scheduler.Tick);
    }

    [Fact]
    public void Free_slice_is_donated_to_a_slice_holder_and_nobody_else()
    {
        var k = Boot(slices: 4);
        var a = k.CreateEnvironment("a");
        var idle = k.CreateEnvironment("no slices");
        k.Scheduler.Claim(a, new SliceNo(0));
        for (int i = 0; i < 8; i++)
        {
            var d = k.Scheduler.Step();
            Assert.Equal(a.Id, d.Runner);
            Assert.Equal(i % 4 == 0 ? SliceGrant.Owner : SliceGrant.Donated, d.Grant);
        }
        Assert.False(k.Scheduler.SlicesOf(idle.Id).Any());
    }

    [Fact]
    public void Slice_quota_caps_claims_and_keeps_what_is_held()
    {
        var k = Boot(slices: 8);
        var a = k.CreateEnvironment("a");
        Assert.True(k.Scheduler.ClaimAny(a, 2).Ok);
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SetSliceQuota(a, 3));
        Assert.Equal(ScheduleStatus.QuotaExceeded, k.Scheduler.ClaimAny(a, 2).Status);
        Assert.Equal(2, k.Scheduler.SlicesOf(a.Id).Count);
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.Claim(a, new SliceNo(7)));
        Assert.Equal(ScheduleStatus.QuotaExceeded, k.Scheduler.Claim(a, new SliceNo(6)));
        Assert.Null(k.Scheduler.OwnerOf(new SliceNo(6)));
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SetSliceQuota(a, 1));
        Assert.Equal(3, k.Scheduler.SlicesOf(a.Id).Count);
        Assert.Equal(ScheduleStatus.InvalidArgument, k.Scheduler.SetSliceQuota(a, -1));
    }
}
