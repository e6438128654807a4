using ExoFS.LibFs.Testing.Simulation;

namespace ExoFS.Crash.Tests;

/// <summary>
/// Issue 11 part 5: two FFS roots and the hostile libFS run seeded workloads interleaved by the kernel's scheduler.
/// Every attack is refused with XN's exact error while each FFS root keeps matching its model, and a run replays
/// byte for byte from its seed.
/// </summary>
public class HostileSimulationTests
{
    private static readonly SimulationOptions TwoRootsAndHostile = new()
    {
        Seed = 23, Roots = ["ffs", "home"], Hostile = true, OpsPerGuest = 24,
    };

    [Fact]
    public void Hostile_guest_beside_two_ffs_roots_is_refused_every_time_and_the_run_replays_from_its_seed()
    {
        var first = MultiGuestSimulation.Run(TwoRootsAndHostile);
        Assert.True(first.Clean, first.ToString());
        Assert.Equal(24, first.Attacks);
        Assert.Equal(24, first.AttacksRefused);
        var attacks = first.Trace.Where(l => l.Contains(" attack #", StringComparison.Ordinal)).ToList();
        Assert.Equal(24, attacks.Count);
        // Both victims were attacked, by several kinds of attack, interleaved with the victims' own steps.
        Assert.Contains(attacks, l => l.Contains("root 'ffs'", StringComparison.Ordinal));
        Assert.Contains(attacks, l => l.Contains("root 'home'", StringComparison.Ordinal));
        Assert.True(attacks.Select(l => l.Split(" root '")[1].Split(' ')[1]).Distinct().Count() >= 6, string.Join("\n", attacks));
        int firstAttack = first.Trace.ToList().FindIndex(l => l.Contains(" attack #", StringComparison.Ordinal));
        int lastStep = first.Trace.ToList().FindLastIndex(l => l.Contains("(ffs:", StringComparison.Ordinal) && l.Contains(" #", StringComparison.Ordinal));
        Assert.True(firstAttack < lastStep, "the attacks all came after the FFS guests finished");
        Assert.Contains("host check: clean", first.Trace);

        var second = MultiGuestSimulation.Run(TwoRootsAndHostile);
        Assert.Equal(first.TraceBytes, second.TraceBytes);
        Assert.NotEqual(first.TraceText, MultiGuestSimulation.Run(TwoRootsAndHostile with { Seed = 24 }).TraceText);
    }

    [Fact]
    public void Crash_states_with_the_hostile_guest_recover_every_ffs_root_to_what_it_allows()
    {
        var options = TwoRootsAndHostile with { Seed = 4, OpsPerGuest = 10, CrashStatesPerPoint = 1 };
        var r = MultiGuestSimulation.Run(options);
        Assert.True(r.Clean, r.ToString());
        Assert.True(r.CrashStates > 10, r.ToString());
        Assert.Equal(r.Attacks, r.AttacksRefused);
        Assert.Equal(r.TraceBytes, MultiGuestSimulation.Run(options).TraceBytes);
    }
}
