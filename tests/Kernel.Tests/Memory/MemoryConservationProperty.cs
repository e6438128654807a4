using FsCheck;
using FsCheck.Fluent;
using ExoFS.Kernel;
using ExoFS.Kernel.Memory;

namespace ExoFS.Kernel.Tests.Memory;

/// <summary>
/// Random allocate / free / reclaim / quota / teardown sequences over three environments whose revocation
/// handlers misbehave in every way the abort protocol must survive. After every step: no frame is owned by
/// two environments, owned + free = pool size, every live handle is owned and every other handle is dead.
/// </summary>
public class MemoryConservationProperty
{
    private const int Frames = 12;

    // One op per int: bits 0-2 kind, 3-4 environment slot, 5-7 amount, 8-10 handler behaviour, 11-14 pick.
    private static void Run(int[] ops)
    {
        var k = new ExoKernel(new KernelOptions { PageFrames = Frames, PressureReclaimTicks = 10 });
        var mem = k.Memory;
        var envs = new ExoEnvironment[3];
        var modes = new int[3];
        var issued = new List<PageFrame>();
        for (int i = 0; i < envs.Length; i++) envs[i] = NewEnv(k, i, modes, envs);

        foreach (int op in ops)
        {
            int kind = op & 7, slot = (op >> 3) & 3, n = (op >> 5) & 7, mode = (op >> 8) & 7, pick = (op >> 11) & 15;
            if (slot == 3) slot = 0;
            var env = envs[slot];
            modes[slot] = mode;
            switch (kind)
            {
                case 0 or 1:
                    var a = mem.Allocate(env, n);
                    if (a.Ok) { Assert.Equal(n, a.Frames.Count); issued.AddRange(a.Frames); }
                    else Assert.Empty(a.Frames);
                    break;
                case 2:
                    var owned = mem.OwnedFrames(env);
                    if (owned.Count > 0) Assert.Equal(MemoryStatus.Ok, mem.Free(env, owned[pick % owned.Count]));
                    break;
                case 3:
                    // Someone else's frame: must be refused and stay put.
                    var theirs = mem.OwnedFrames(envs[(slot + 1) % 3]);
                    if (theirs.Count > 0)
                    {
                        var f = theirs[pick % theirs.Count];
                        Assert.Equal(MemoryStatus.NotOwner, mem.Free(env, f));
                        Assert.True(f.IsValid);
                    }
                    break;
                case 4 or 5:
                    int before = mem.OwnedCount(env);
                    var vectorBefore = mem.RepossessionVector(env).Count;
                    var r = mem.Reclaim(env, n, new ReclaimDeadline(10));
                    Assert.Equal(Math.Min(n, before), r.Reclaimed);
                    Assert.Equal(before - r.Reclaimed, mem.OwnedCount(env));
                    Assert.Equal(r.Repossessed, mem.RepossessionVector(env).Skip(vectorBefore));
                    Assert.Empty(r.Returned.Intersect(r.Repossessed));
                    break;
                case 6:
                    mem.SetQuota(env, n == 7 ? null : n * 2);
                    break;
                case 7:
                    k.DestroyEnvironment(env);
                    envs[slot] = NewEnv(k, slot, modes, envs);
                    break;
            }
            CheckConserved(mem, envs, issued);
        }
    }

    private static ExoEnvironment NewEnv(ExoKernel k, int slot, int[] modes, ExoEnvironment[] envs)
    {
        var env = k.CreateEnvironment($"e{slot}");
        k.Memory.SetRevocationHandler(env, new DelegateRevocationHandler((wanted, owned) => modes[slot] switch
        {
            0 or 1 => owned.Take(wanted).ToArray(),                       // compliant, lowest first
            2 => owned.Reverse().Take(wanted).ToArray(),                   // compliant, highest first
            3 => owned.Take(wanted / 2).ToArray(),                        // too few
            4 => throw new InvalidOperationException("handler bug"),
            5 => [.. owned.Take(1), .. owned.Take(1), .. k.Memory.OwnedFrames(envs[(slot + 1) % 3])], // duplicates + theft
            6 => [],
            _ => owned,                                                    // more than asked
        }));
        return env;
    }

    private static void CheckConserved(PhysicalMemory mem, ExoEnvironment[] envs, List<PageFrame> issued)
    {
        Assert.Empty(mem.CheckInvariants());
        var owners = new Dictionary<PageFrameNo, EnvId>();
        var live = new HashSet<PageFrame>(ReferenceEqualityComparer.Instance);
        foreach (var e in envs)
            foreach (var f in mem.OwnedFrames(e))
            {
                Assert.True(owners.TryAdd(f.Number, e.Id), $"{f.Number} owned by {owners.GetValueOrDefault(f.Number)} and {e.Id}");
                Assert.Equal(e.Id, f.Owner);
                Assert.True(f.IsValid);
                live.Add(f);
            }
        Assert.Equal(Frames, owners.Count + mem.FreeFrames);
        foreach (var h in issued) Assert.Equal(live.Contains(h), h.IsValid);
    }

    [Fact]
    public void No_frame_is_ever_owned_twice_and_frames_are_conserved()
    {
        // Every bit of an op matters, so draw ops uniformly rather than from FsCheck's small default ints.
        var arb = Gen.ArrayOf(Gen.Choose(0, 0x7FFF)).ToArbitrary();
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300).WithEndSize(60), Prop.ForAll(arb, Run));
    }

    [Fact]
    public void Concurrent_allocators_and_reclaimers_keep_frames_conserved()
    {
        var k = new ExoKernel(new KernelOptions { PageFrames = 32, PressureReclaimTicks = 10 });
        var envs = Enumerable.Range(0, 4).Select(i => k.CreateEnvironment($"t{i}")).ToArray();
        foreach (var e in envs.Where((_, i) => i % 2 == 0))
            k.Memory.SetRevocationHandler(e, new DelegateRevocationHandler((w, owned) => owned.Take(w).ToArray()));
        Parallel.For(0, 4, t =>
        {
            var rng = new Random(t);
            var me = envs[t];
            for (int i = 0; i < 2_000; i++)
            {
                switch (rng.Next(3))
                {
                    case 0: k.Memory.Allocate(me, rng.Next(1, 6)); break;
                    case 1:
                        var owned = k.Memory.OwnedFrames(me);
                        if (owned.Count > 0) k.Memory.Free(me, owned[rng.Next(owned.Count)]); // may race a reclaim
                        break;
                    default: k.Memory.Reclaim(envs[rng.Next(envs.Length)], rng.Next(1, 4), new ReclaimDeadline(10)); break;
                }
            }
        });
        Assert.Empty(k.Memory.CheckInvariants());
        Assert.Equal(32, envs.Sum(k.Memory.OwnedCount) + k.Memory.FreeFrames);
    }
}
