using ExoFS.Kernel;
using ExoFS.Kernel.Memory;

namespace ExoFS.Kernel.Tests.Memory;

public class RevocationTests
{
    private readonly ExoKernel _k = new(new KernelOptions { PageFrames = 8, PressureReclaimTicks = 10 });
    private PhysicalMemory Mem => _k.Memory;

    private sealed class Handler(Func<RevocationRequest, IReadOnlyList<PageFrame>> revoke) : IRevocationHandler
    {
        public List<IReadOnlyList<PageFrameNo>> Notices { get; } = [];
        public int Calls { get; private set; }
        public IReadOnlyList<PageFrame> Revoke(RevocationRequest request) { Calls++; return revoke(request); }
        public void Repossessed(IReadOnlyList<PageFrameNo> taken) => Notices.Add(taken);
    }

    [Fact]
    public void Compliant_environment_chooses_which_frames_it_returns()
    {
        var a = _k.CreateEnvironment("a");
        var frames = Mem.Allocate(a, 6).Frames;
        // The libOS keeps its "hot" pages and gives back frames 1 and 4.
        var handler = new Handler(req => [req.Owned[1], req.Owned[4]]);
        Mem.SetRevocationHandler(a, handler);

        var report = Mem.Reclaim(a, 2, new ReclaimDeadline(100));

        Assert.Equal(ReclaimOutcome.Complied, report.Outcome);
        Assert.Equal([frames[1].Number, frames[4].Number], report.Returned);
        Assert.Empty(report.Repossessed);
        Assert.Empty(Mem.RepossessionVector(a));
        Assert.False(frames[1].IsValid);
        Assert.False(frames[4].IsValid);
        Assert.Equal(4, Mem.OwnedCount(a));
        Assert.All(new[] { 0, 2, 3, 5 }, i => Assert.True(frames[i].IsValid));
        Assert.Empty(handler.Notices);
    }

    [Fact]
    public void Handler_sees_what_it_owns_and_can_write_back_within_budget()
    {
        var a = _k.CreateEnvironment("a");
        Mem.Allocate(a, 4);
        RevocationRequest? seen = null;
        Mem.SetRevocationHandler(a, new Handler(req =>
        {
            seen = req;
            req.Charge(5); // e.g. writing two dirty pages back
            req.Charge(5);
            return req.Owned.Take(req.Wanted).ToArray();
        }));
        var report = Mem.Reclaim(a, 3, new ReclaimDeadline(10));
        Assert.Equal(ReclaimOutcome.Complied, report.Outcome);
        Assert.Equal(3, seen!.Wanted);
        Assert.Equal(4, seen.Owned.Count);
        Assert.Equal(10, seen.SpentTicks);
    }

    [Fact]
    public void Non_compliant_environment_loses_most_recent_frames_and_vector_names_exactly_them()
    {
        var a = _k.CreateEnvironment("a");
        var frames = Mem.Allocate(a, 3).Frames.Concat(Mem.Allocate(a, 2).Frames).ToArray();
        var handler = new Handler(_ => []);
        Mem.SetRevocationHandler(a, handler);

        var report = Mem.Reclaim(a, 2, new ReclaimDeadline(100));

        Assert.Equal(ReclaimOutcome.TooFew, report.Outcome);
        PageFrameNo[] expected = [frames[4].Number, frames[3].Number];
        Assert.Equal(expected, report.Repossessed);
        Assert.Equal(expected, Mem.RepossessionVector(a));
        Assert.Equal(expected, Assert.Single(handler.Notices));
        Assert.False(frames[3].IsValid);
        Assert.False(frames[4].IsValid);
        Assert.Equal(3, Mem.OwnedCount(a));
    }

    [Fact]
    public void Partly_compliant_environment_keeps_its_choice_and_loses_only_the_shortfall()
    {
        var a = _k.CreateEnvironment("a");
        var frames = Mem.Allocate(a, 5).Frames;
        Mem.SetRevocationHandler(a, new Handler(req => [req.Owned[4]]));
        var report = Mem.Reclaim(a, 3, new ReclaimDeadline(100));
        Assert.Equal(ReclaimOutcome.TooFew, report.Outcome);
        Assert.Equal([frames[4].Number], report.Returned);
        Assert.Equal([frames[3].Number, frames[2].Number], report.Repossessed);
        Assert.Equal(report.Repossessed, Mem.RepossessionVector(a));
    }

    [Fact]
    public void Returning_frames_it_does_not_own_or_duplicates_does_not_count()
    {
        var a = _k.CreateEnvironment("a");
        var b = _k.CreateEnvironment("b");
        var bFrame = Mem.Allocate(b, 1).Frames[0];
        var frames = Mem.Allocate(a, 3).Frames;
        Mem.SetRevocationHandler(a, new Handler(req => [bFrame, req.Owned[0], req.Owned[0]]));
        var report = Mem.Reclaim(a, 2, new ReclaimDeadline(100));
        Assert.Equal([frames[0].Number], report.Returned);
        Assert.Equal([frames[2].Number], report.Repossessed);
        Assert.True(bFrame.IsValid);
        Assert.Equal(1, Mem.OwnedCount(b));
    }

    [Fact]
    public void Handler_that_throws_loses_frames_by_force()
    {
        var a = _k.CreateEnvironment("a");
        var frames = Mem.Allocate(a, 3).Frames;
        Mem.SetRevocationHandler(a, new Handler(_ => throw new InvalidOperationException("libOS bug")));
        var report = Mem.Reclaim(a, 1, new ReclaimDeadline(100));
        Assert.Equal(ReclaimOutcome.HandlerFailed, report.Outcome);
        Assert.Equal([frames[2].Number], Mem.RepossessionVector(a));
    }

    [Fact]
    public void Handler_over_its_simulated_deadline_is_ignored_and_frames_taken_by_force()
    {
        var a = _k.CreateEnvironment("a");
        var frames = Mem.Allocate(a, 4).Frames;
        Mem.SetRevocationHandler(a, new Handler(req =>
        {
            req.Charge(11); // too slow: budget is 10
            return [req.Owned[0], req.Owned[1]];
        }));
        var report = Mem.Reclaim(a, 2, new ReclaimDeadline(10));
        Assert.Equal(ReclaimOutcome.DeadlineExceeded, report.Outcome);
        Assert.Empty(report.Returned);
        Assert.Equal([frames[3].Number, frames[2].Number], report.Repossessed);
        Assert.True(frames[0].IsValid);
    }

    [Fact]
    public void Handler_blocking_past_a_wall_clock_deadline_loses_frames_by_force()
    {
        var a = _k.CreateEnvironment("a");
        var frames = Mem.Allocate(a, 2).Frames;
        using var release = new ManualResetEventSlim();
        Mem.SetRevocationHandler(a, new Handler(req => { release.Wait(TimeSpan.FromSeconds(10)); return req.Owned; }));
        var report = Mem.Reclaim(a, 1, new ReclaimDeadline(long.MaxValue, TimeSpan.FromMilliseconds(50)));
        release.Set();
        Assert.Equal(ReclaimOutcome.DeadlineExceeded, report.Outcome);
        Assert.Equal([frames[1].Number], report.Repossessed);
    }

    [Fact]
    public void Environment_without_handler_loses_frames_by_force()
    {
        var a = _k.CreateEnvironment("a");
        var frames = Mem.Allocate(a, 2).Frames;
        var report = Mem.Reclaim(a, 5, ReclaimDeadline.Unbounded);
        Assert.Equal(ReclaimOutcome.NoHandler, report.Outcome);
        Assert.Equal(2, report.Requested); // capped at what it owns
        Assert.Equal([frames[1].Number, frames[0].Number], Mem.TakeRepossessionVector(a));
        Assert.Empty(Mem.RepossessionVector(a));
    }

    [Fact]
    public void Allocation_under_pressure_reclaims_from_the_environment_over_its_fair_share()
    {
        var hog = _k.CreateEnvironment("hog");
        var small = _k.CreateEnvironment("small");
        var hogFrames = Mem.Allocate(hog, 7).Frames;
        Mem.Allocate(small, 1);
        var handler = new Handler(req => req.Owned.Take(req.Wanted).ToArray()); // gives back its lowest frames
        Mem.SetRevocationHandler(hog, handler);

        var r = Mem.Allocate(small, 2); // fair share is 8/2 = 4; hog holds 7

        Assert.True(r.Ok);
        Assert.Equal(1, handler.Calls);
        Assert.Equal(5, Mem.OwnedCount(hog));
        Assert.Equal(3, Mem.OwnedCount(small));
        Assert.False(hogFrames[0].IsValid);
        Assert.False(hogFrames[1].IsValid);
        Assert.Empty(Mem.RepossessionVector(hog));
    }

    [Fact]
    public void Allocation_under_pressure_forces_a_non_compliant_hog()
    {
        var hog = _k.CreateEnvironment("hog");
        var small = _k.CreateEnvironment("small");
        var hogFrames = Mem.Allocate(hog, 8).Frames;
        Mem.SetRevocationHandler(hog, new Handler(req => { req.Charge(1_000); return req.Owned; }));
        var r = Mem.Allocate(small, 3);
        Assert.True(r.Ok);
        Assert.Equal([hogFrames[7].Number, hogFrames[6].Number, hogFrames[5].Number], Mem.RepossessionVector(hog));
    }

    [Fact]
    public void Requester_above_its_fair_share_does_not_trigger_reclaim()
    {
        var a = _k.CreateEnvironment("a");
        var b = _k.CreateEnvironment("b");
        Mem.Allocate(a, 4);
        Mem.Allocate(b, 4);
        var handler = new Handler(req => req.Owned);
        Mem.SetRevocationHandler(b, handler);
        Assert.Equal(MemoryStatus.OutOfMemory, Mem.Allocate(a, 1).Status);
        Assert.Equal(0, handler.Calls);
        Assert.Equal(4, Mem.OwnedCount(b));
    }

    [Fact]
    public void Environment_torn_down_during_its_upcall_is_handled_without_error()
    {
        var a = _k.CreateEnvironment("a");
        Mem.Allocate(a, 3);
        Mem.SetRevocationHandler(a, new Handler(req => { _k.DestroyEnvironment(a); return req.Owned; }));
        var report = Mem.Reclaim(a, 2, new ReclaimDeadline(10));
        Assert.Empty(report.Repossessed);
        Assert.Equal(8, Mem.FreeFrames);
        Assert.Empty(Mem.CheckInvariants());
    }

    [Fact]
    public void Oversized_pool_is_refused_at_boot()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExoKernel(new KernelOptions { PageFrames = ExoKernel.MaxPageFrames + 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExoKernel(new KernelOptions { PageFrames = -1 }));
    }
}
