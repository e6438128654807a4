using ExoFS.Kernel.Scheduling;
using ExoFS.Kernel.Udf;

namespace ExoFS.Kernel.Tests.Scheduling;

/// <summary>Predicate texts the tests share.</summary>
internal static class Predicates
{
    public static readonly WakeupPredicate Always = WakeupPredicate.Verify(".udf always\n.read 0 8 0\n    ret 1\n").Predicate!;

    /// <summary>"All my disk requests have completed": completed ≥ submitted.</summary>
    public const string DiskDone = """
        .udf disk-done
        .read 16 16 0
            ld64 r2, [r0+16]
            ld64 r3, [r0+24]
            bgeu r3, r2, yes
            ret 0
        yes:
            ret 1
        """;

    /// <summary>"My disk request N has completed", N in counter 0.</summary>
    public const string RequestDone = """
        .udf request-done
        .read 24 8 0
        .read 64 8 0
            ld64 r2, [r0+24]
            ld64 r3, [r0+64]
            bgeu r2, r3, yes
            ret 0
        yes:
            ret 1
        """;

    /// <summary>"The tick has reached counter 1": a timed sleep.</summary>
    public const string TickReached = """
        .udf tick-reached
        .read 0 8 0
        .read 72 8 0
            ld64 r2, [r0+0]
            ld64 r3, [r0+72]
            bgeu r2, r3, yes
            ret 0
        yes:
            ret 1
        """;
}

public class WakeupPredicateTests
{
    private static ExoKernel Boot(int slices = 4, ulong seed = 1) => new(new KernelOptions { PageFrames = 16, TimeSlices = slices, SchedulerSeed = seed });

    [Theory]
    [InlineData(".udf spin\n.read 0 8 0\ntop:\n    ld64 r2, [r0+0]\n    jmp top\n", "unbounded: backward jump")]
    [InlineData(".udf counted\n.read 0 8 0\n    li r2, 100\ntop:\n    ld64 r3, [r0+0]\n    loop r2, top\n    ret 1\n", "may not loop")]
    [InlineData(".udf wide\n.read 0 1024 0\n    ld64 r2, [r0+0]\n    ret r2\n", "read set outside the wakeup state block")]
    [InlineData(".udf peek\n.read 0 64 0\n    ld64 r2, [r0+600]\n    ret r2\n", "load outside read set")]
    [InlineData(".udf emitter\n.types t\n.read 0 8 0\n    emit 0, r0, 1\n    ret 1\n", "may not emit")]
    [InlineData(".udf split\n.partitions 2\n.read 0 8 8\n    ret 1\n", "one partition")]
    [InlineData(".udf tick\n.read 0 8 0\n    time r2\n    ret r2\n", "")]
    public void Unsafe_predicate_is_refused_at_registration(string text, string reason)
    {
        var k = Boot();
        var a = k.CreateEnvironment("a");
        k.Scheduler.Claim(a, new SliceNo(0));
        var r = k.Scheduler.SetWakeup(a, text);
        Assert.Equal(ScheduleStatus.PredicateRejected, r.Status);
        Assert.Contains(reason, r.Reason);
        Assert.True(k.Scheduler.IsRunnable(a));   // nothing installed: still runs
    }

    [Fact]
    public void Refused_predicate_leaves_the_installed_one_in_place()
    {
        var k = Boot();
        var a = k.CreateEnvironment("a");
        k.Scheduler.Claim(a, new SliceNo(0));
        Assert.True(k.Scheduler.SetWakeup(a, ".udf never\n.read 0 8 0\n    ret 0\n").Ok);
        Assert.False(k.Scheduler.SetWakeup(a, ".udf bad\n.read 0 8 0\ntop:\n    jmp top\n").Ok);
        Assert.False(k.Scheduler.IsRunnable(a));
    }

    [Fact]
    public void Environment_waiting_on_its_disk_request_runs_only_once_it_completes()
    {
        var k = Boot(slices: 2);
        var a = k.CreateEnvironment("a");
        var b = k.CreateEnvironment("b");
        k.Scheduler.Claim(a, new SliceNo(0));
        k.Scheduler.Claim(b, new SliceNo(1));
        Assert.True(k.Scheduler.SetWakeup(a, Predicates.DiskDone).Ok);
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SubmitDisk(a, 5, out var t));
        Assert.Equal(new DiskTicket(1, 5), t);

        var d = Enumerable.Range(0, 8).Select(_ => k.Scheduler.Step()).ToList();
        // Ticks 0..4: a is asleep, its slice goes to b. From tick 5 the request is done and a has its slices back.
        for (int i = 0; i < 5; i++) Assert.Equal(b.Id, d[i].Runner);
        Assert.Equal(SliceGrant.Donated, d[0].Grant);
        Assert.Equal(SliceGrant.Owner, d[1].Grant);
        Assert.Equal(a.Id, d[6].Runner);
        Assert.Equal(SliceGrant.Owner, d[6].Grant);
        Assert.Equal(b.Id, d[7].Runner);
    }

    [Fact]
    public void Requests_queue_behind_each_other_and_the_counter_names_which_one_to_wait_for()
    {
        var k = Boot(slices: 1);
        var a = k.CreateEnvironment("a");
        var b = k.CreateEnvironment("b");
        k.Scheduler.Claim(a, new SliceNo(0));
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SubmitDisk(b, 4, out var tb));
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SubmitDisk(a, 2, out var t1));
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SubmitDisk(a, 3, out var t2));
        Assert.Equal(4, tb.CompletesAt);
        Assert.Equal(new DiskTicket(1, 6), t1);
        Assert.Equal(new DiskTicket(2, 9), t2);
        Assert.True(k.Scheduler.SetWakeup(a, Predicates.RequestDone).Ok);
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SetCounter(a, 0, (ulong)t1.Number));
        var runs = Enumerable.Range(0, 10).Select(_ => k.Scheduler.Step().Runner).ToList();
        Assert.Equal(6, runs.IndexOf(a.Id));   // request 1 done at tick 6; request 2 (tick 9) not awaited
        Assert.All(runs.Skip(6), r => Assert.Equal(a.Id, r));
    }

    [Fact]
    public void Counter_predicate_wakes_at_the_target_tick()
    {
        var k = Boot(slices: 1);
        var a = k.CreateEnvironment("a");
        k.Scheduler.Claim(a, new SliceNo(0));
        Assert.True(k.Scheduler.SetWakeup(a, Predicates.TickReached).Ok);
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.SetCounter(a, 1, 7));
        var runs = Enumerable.Range(0, 10).Select(_ => k.Scheduler.Step()).ToList();
        Assert.All(runs.Take(7), d => Assert.Equal(SliceGrant.Idle, d.Grant));
        Assert.All(runs.Skip(7), d => Assert.Equal(a.Id, d.Runner));
        Assert.Equal(ScheduleStatus.OutOfRange, k.Scheduler.SetCounter(a, WakeupState.Counters, 1));
        Assert.Equal(ScheduleStatus.Ok, k.Scheduler.ClearWakeup(a));
    }

    [Fact]
    public void Run_time_load_fault_counts_as_false()
    {
        // The address comes from counter 0, so only the run-time check can refuse it.
        const string text = """
            .udf indirect
            .read 64 8 0
                ld64 r2, [r0+64]
                ld64 r3, [r2+0]
                ret 1
            """;
        var k = Boot(slices: 1);
        var a = k.CreateEnvironment("a");
        k.Scheduler.Claim(a, new SliceNo(0));
        Assert.True(k.Scheduler.SetWakeup(a, text).Ok);
        Assert.False(k.Scheduler.IsRunnable(a));         // counter 0 = 0: byte 0 is outside the read set
        k.Scheduler.SetCounter(a, 0, 64);
        Assert.True(k.Scheduler.IsRunnable(a));          // inside
        k.Scheduler.SetCounter(a, 0, 200);
        Assert.False(k.Scheduler.IsRunnable(a));
        Assert.Null(k.Scheduler.Step().Runner);
        Assert.True(k.Scheduler.PredicateFaults >= 2);
    }

    [Fact]
    public void State_block_shows_the_kernel_words()
    {
        var k = Boot(slices: 1);
        var a = k.CreateEnvironment("a");
        k.Scheduler.Claim(a, new SliceNo(0));
        k.Scheduler.SubmitDisk(a, 1, out _);
        k.Scheduler.SetCounter(a, 3, 0xABCD);
        k.Scheduler.Step();
        k.Scheduler.Step();
        var s = k.Scheduler.ReadState(a.Id);
        Assert.Equal(WakeupState.Size, s.Length);
        Assert.Equal(2L, BitConverter.ToInt64(s, WakeupState.Tick));
        Assert.Equal((long)a.Id.Value, BitConverter.ToInt64(s, WakeupState.EnvId));
        Assert.Equal(1L, BitConverter.ToInt64(s, WakeupState.DiskSubmitted));
        Assert.Equal(1L, BitConverter.ToInt64(s, WakeupState.DiskCompleted));
        Assert.Equal(2L, BitConverter.ToInt64(s, WakeupState.Runs));
        Assert.Equal(0xABCDL, BitConverter.ToInt64(s, WakeupState.Counter(3)));
    }

    [Fact]
    public void Compiled_and_interpreted_predicates_agree_on_random_states()
    {
        var p = WakeupPredicate.Verify(Predicates.RequestDone).Predicate!;
        var rng = new Random(5);
        var block = new byte[UdfLimits.BlockSize];
        var scratch = new List<UdfExtent>();
        for (int i = 0; i < 500; i++)
        {
            rng.NextBytes(block.AsSpan(0, WakeupState.Size));
            if (i % 3 == 0) block.AsSpan(24, 8).CopyTo(block.AsSpan(64, 8));
            Assert.Equal(p.HoldsInterpreted(block, scratch, out var f1), p.Holds(block, scratch, out var f2));
            Assert.Equal(f1, f2);
        }
    }
}
