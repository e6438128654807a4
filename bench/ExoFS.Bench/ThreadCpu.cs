using System.Runtime.InteropServices;

namespace ExoFS.Bench;

/// <summary>
/// The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID): a cost figure that stays meaningful on a
/// machine shared with other busy processes, where wall time does not.
/// </summary>
internal static class ThreadCpu
{
    private const int ClockThreadCpuTime = 3;

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    public static long Nanoseconds()
    {
        if (!OperatingSystem.IsLinux() || ClockGetTime(ClockThreadCpuTime, out var t) != 0)
            throw new PlatformNotSupportedException("the benchmarks measure thread CPU time through Linux's clock_gettime");
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }
}
