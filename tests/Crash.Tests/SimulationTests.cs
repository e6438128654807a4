using ExoFS.LibFs;
using ExoFS.LibFs.Testing.Simulation;

namespace ExoFS.Crash.Tests;

/// <summary>
/// The seeded multi-guest simulation: two FFS roots of one host and the auditor, interleaved by the kernel's
/// scheduler. Each run checks every step against the root's model, the host's check and a reload itself; these
/// tests add replay (same seed, same bytes), seed sensitivity, and that the schedule really interleaves.
/// </summary>
public class SimulationTests
{
    [Fact]
    public void Run_replays_byte_for_byte_from_its_seed()
    {
        var options = new SimulationOptions { Seed = 17 };
        var first = MultiGuestSimulation.Run(options);
        var second = MultiGuestSimulation.Run(options);
        Assert.True(first.Clean, first.ToString());
        Assert.Equal(first.TraceBytes, second.TraceBytes);
        Assert.Contains("host check: clean", first.Trace);
    }

    [Fact]
    public void Different_seeds_give_different_traces()
    {
        var a = MultiGuestSimulation.Run(new SimulationOptions { Seed = 1, OpsPerGuest = 15 });
        var b = MultiGuestSimulation.Run(new SimulationOptions { Seed = 2, OpsPerGuest = 15 });
        Assert.True(a.Clean, a.ToString());
        Assert.True(b.Clean, b.ToString());
        Assert.NotEqual(a.TraceText, b.TraceText);
    }

    [Fact]
    public void Guests_interleave_sleep_on_their_disk_requests_and_are_audited()
    {
        var r = MultiGuestSimulation.Run(new SimulationOptions { Seed = 5, Roots = ["a", "b", "c"], OpsPerGuest = 20 });
        Assert.True(r.Clean, r.ToString());
        var steps = r.Trace.Where(l => l.Contains(" #", StringComparison.Ordinal)).ToList();
        Assert.Equal(60, steps.Count);
        // Every root's guest ran steps before another root's guest finished: the run is interleaved, not serial.
        var order = steps.Select(l => l.Contains("(ffs:a)") ? 'a' : l.Contains("(ffs:b)") ? 'b' : 'c').ToList();
        int switches = order.Zip(order.Skip(1)).Count(p => p.First != p.Second);
        Assert.True(switches >= 10, $"only {switches} switches between guests");
        Assert.Contains(r.Trace, l => l.Contains(" donated ", StringComparison.Ordinal) && l.Contains(" #", StringComparison.Ordinal));
        Assert.Contains(r.Trace, l => l.Contains(" disk#", StringComparison.Ordinal));
        Assert.Contains(r.Trace, l => l.Contains("audit: xn clean", StringComparison.Ordinal));
        Assert.Equal(3, r.Trace.Count(l => l.StartsWith("final root", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(41)]
    [InlineData(-7)]
    public void Seeded_runs_are_clean(int seed)
    {
        var r = MultiGuestSimulation.Run(new SimulationOptions { Seed = seed, OpsPerGuest = 25 });
        Assert.True(r.Clean, r.ToString());
        Assert.Equal(50, r.Trace.Count(l => l.Contains(" #", StringComparison.Ordinal)));
    }

    [Fact]
    public void Crash_states_across_all_guests_recover_to_what_each_root_allows()
    {
        var options = new SimulationOptions { Seed = 3, OpsPerGuest = 12, CrashStatesPerPoint = 2 };
        var r = MultiGuestSimulation.Run(options);
        Assert.True(r.Clean, r.ToString());
        Assert.True(r.CrashPoints > 20, r.ToString());
        Assert.True(r.CrashStates > r.CrashPoints, r.ToString());
        // Crash exploration reads the device but never changes the run: the replay is still exact.
        Assert.Equal(r.TraceBytes, MultiGuestSimulation.Run(options).TraceBytes);
        Assert.Equal(r.TraceBytes, MultiGuestSimulation.Run(options with { CrashStatesPerPoint = 0 }).TraceBytes);
    }
}

/// <summary>The simulation's own checks can fail: a root whose writes are silently damaged is caught, and only that root.</summary>
public class SimulationCatchesTests
{
    /// <summary>Flips the first byte of every write of more than one byte, and says it wrote what it was given.</summary>
    private sealed class CorruptingWrites(IFileSystem inner) : LibFs.Testing.ForwardingFileSystem<IFileSystem>(inner)
    {
        public override Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
        {
            if (data.Length < 2) return Inner.Write(ino, fh, offset, data);
            var copy = data.ToArray();
            copy[0] ^= 0xFF;
            return Inner.Write(ino, fh, offset, copy);
        }
    }

    [Fact]
    public void Corrupted_writes_of_one_root_are_caught_against_that_roots_model()
    {
        var r = MultiGuestSimulation.Run(new SimulationOptions
        {
            Seed = 17, OpsPerGuest = 10, Interpose = (root, fs) => root == "b" ? new CorruptingWrites(fs) : fs,
        });
        Assert.False(r.Clean);
        Assert.Contains(r.Problems, p => p.StartsWith("root 'b' step 4 (write /A/foo 0 8192 seed=1): tree differs", StringComparison.Ordinal));
        Assert.DoesNotContain(r.Problems, p => p.Contains("root 'a'", StringComparison.Ordinal));
    }

    /// <summary>Answers fsync, fsyncdir and sync with OK and does nothing: the data stays in the cache, never durable.</summary>
    private sealed class LazyFsync(IFileSystem inner) : LibFs.Testing.ForwardingFileSystem<IFileSystem>(inner)
    {
        public override Errno Fsync(InodeNo ino, FileHandle fh, bool dataOnly) => Errno.OK;
        public override Errno FsyncDir(InodeNo ino, FileHandle fh, bool dataOnly) => Errno.OK;
        public override Errno Sync() => Errno.OK;
    }

    [Fact]
    public void Lost_fsync_of_one_root_is_caught_in_a_crash_state_of_the_shared_device()
    {
        var r = MultiGuestSimulation.Run(new SimulationOptions
        {
            Seed = 3, OpsPerGuest = 30, CrashStatesPerPoint = 2, Auditor = false,
            Interpose = (root, fs) => root == "a" ? new LazyFsync(fs) : fs,
        });
        Assert.False(r.Clean);
        var crash = Assert.Single(r.Problems, p => p.StartsWith("crash at ", StringComparison.Ordinal));
        Assert.Contains("root 'a': ", crash);
        Assert.DoesNotContain("root 'b': ", crash);
    }
}
