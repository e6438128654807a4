using ExoFS.Kernel.Scheduling;

namespace ExoFS.Kernel.Tests.Scheduling;

public class DeterminismTests
{
    /// <summary>
    /// Four environments on 8 slices, two of them sleeping on disk requests that each run submits when it
    /// gets the CPU, so that slices are often donated. Returns the schedule as text.
    /// </summary>
    private static string Schedule(ulong seed, int steps = 400)
    {
        var k = new ExoKernel(new KernelOptions { PageFrames = 16, TimeSlices = 8, SchedulerSeed = seed });
        var envs = Enumerable.Range(0, 4).Select(i => k.CreateEnvironment($"e{i}")).ToArray();
        k.Scheduler.Claim(envs[0], new SliceNo(0));
        k.Scheduler.Claim(envs[1], new SliceNo(2));
        k.Scheduler.Claim(envs[2], new SliceNo(3));
        k.Scheduler.Claim(envs[3], new SliceNo(6));
        k.Scheduler.SetWakeup(envs[1], Predicates.DiskDone);
        k.Scheduler.SetWakeup(envs[2], Predicates.DiskDone);
        var byId = envs.ToDictionary(e => e.Id);
        var lines = new List<string>();
        for (int i = 0; i < steps; i++)
        {
            var d = k.Scheduler.Step();
            lines.Add(d.ToString());
            if (d.Runner is { } r && (r == envs[1].Id || r == envs[2].Id))
                k.Scheduler.SubmitDisk(byId[r], 1 + i % 5, out _);
        }
        return string.Join('\n', lines);
    }

    [Fact]
    public void Same_seed_gives_the_same_schedule()
    {
        Assert.Equal(Schedule(42), Schedule(42));
        Assert.Equal(Schedule(7), Schedule(7));
    }

    [Fact]
    public void Different_seeds_give_different_schedules()
    {
        var schedules = new ulong[] { 1, 2, 3, 4 }.Select(s => Schedule(s)).ToList();
        Assert.Equal(schedules.Count, schedules.Distinct().Count());
    }

    [Fact]
    public void Reseed_replays_the_donations_of_a_fresh_boot()
    {
        var k1 = new ExoKernel(new KernelOptions { PageFrames = 16, TimeSlices = 4, SchedulerSeed = 99 });
        var k2 = new ExoKernel(new KernelOptions { PageFrames = 16, TimeSlices = 4 });
        k2.Scheduler.Reseed(99);
        string Run(ExoKernel k)
        {
            var a = k.CreateEnvironment("a");
            var b = k.CreateEnvironment("b");
            var c = k.CreateEnvironment("c");
            k.Scheduler.Claim(a, new SliceNo(0));
            k.Scheduler.Claim(b, new SliceNo(1));
            k.Scheduler.Claim(c, new SliceNo(2));
            return string.Join(",", Enumerable.Range(0, 60).Select(_ => k.Scheduler.Step().Runner?.Value ?? 0));
        }
        Assert.Equal(Run(k1), Run(k2));
        Assert.Equal(99UL, k2.Scheduler.Seed);
    }
}
