using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.LogTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// Random sequences of segment operations against a model of what each claimed block holds: after every
/// step XN's invariants hold, every claimed block reads back its bytes, and so they do after a reload with
/// a small cache (so pages are written back and evicted under pressure on the way).
/// </summary>
public class SegmentPropertyTests
{
    private sealed class Seg(ulong head, int tableSlot)
    {
        public ulong Head { get; } = head;
        public int TableSlot { get; } = tableSlot;
        public Dictionary<int, ulong> Entries { get; } = new();   // summary entry → claimed block
        public HashSet<ulong> Written { get; } = new();           // body blocks written, not claimed
        public HashSet<ulong> Dead { get; } = new();
    }

    private const ulong SegBlocks = 16;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Random_segment_operations_keep_the_invariants_and_the_data(int seed)
    {
        var rng = new Random(seed);
        var f = new LogFixture(1024);
        var segs = new List<Seg>();
        var content = new Dictionary<ulong, byte>();   // claimed or written block → fill byte
        var freeSlots = Enumerable.Range(0, 64).ToHashSet();
        byte next = 1;
        var done = new int[8];

        Seg? Pick() => segs.Count == 0 ? null : segs[rng.Next(segs.Count)];
        IEnumerable<ulong> Live(Seg s) => Enumerable.Range(1, (int)SegBlocks - 1).Select(i => s.Head + (ulong)i)
            .Where(b => !s.Dead.Contains(b) && !s.Entries.ContainsValue(b));

        for (int step = 0; step < 300; step++)
        {
            var s = Pick();
            int op = rng.Next(8);
            string what = $"step {step} op {op}";
            if (op == 0 || s is null)
            {
                op = 0;
                if (freeSlots.Count == 0 || f.A.FindFree(new BlockNo(0), SegBlocks) is not { Ok: true } h) continue;
                int slot = freeSlots.Min();
                Ok(f.A.AllocSegment(f.TableA, 0, [RunEntry(slot, h.Value.Value, SegBlocks)], f.Summary, Ext(h.Value.Value, SegBlocks)), what);
                freeSlots.Remove(slot);
                segs.Add(new Seg(h.Value.Value, slot));
            }
            else if (op <= 2)
            {
                var live = Live(s).ToList();
                if (live.Count == 0) continue;
                ulong b = live[rng.Next(live.Count)];
                byte v = next++;
                Ok(f.A.WriteRaw(new BlockNo(b), 0, Enumerable.Repeat(v, 4096).ToArray()), what);
                s.Written.Add(b);
                content[b] = v;
            }
            else if (op == 3)
            {
                var written = s.Written.ToList();
                int entry = Enumerable.Range(0, 64).FirstOrDefault(e => !s.Entries.ContainsKey(e), -1);
                if (written.Count == 0 || entry < 0) continue;
                ulong b = written[rng.Next(written.Count)];
                Ok(f.A.Claim(new BlockNo(s.Head), 0, [SummaryEntry(entry, b, 1, 0)], XnTypes.Data, [Ext(b, 1)]), what);
                s.Written.Remove(b);
                s.Entries[entry] = b;
            }
            else if (op == 4 && s.Entries.Count > 0)
            {
                var (entry, b) = s.Entries.ElementAt(rng.Next(s.Entries.Count));
                Ok(f.A.Free(new BlockNo(s.Head), 0, [SummaryEntry(entry, 0, 0, 0)], Ext(b, 1)), what);
                s.Entries.Remove(entry);
                s.Dead.Add(b);
                content.Remove(b);
            }
            else if (op == 5 && s.Entries.Count > 0)
            {
                var (entry, b) = s.Entries.ElementAt(rng.Next(s.Entries.Count));
                var live = Live(s).Where(x => !s.Written.Contains(x)).ToList();
                if (live.Count == 0) continue;
                ulong to = live[rng.Next(live.Count)];
                Ok(f.A.Redirect(new BlockNo(s.Head), 0, [SummaryEntry(entry, to, 1, 0)], Ext(b, 1), Ext(to, 1)), what);
                s.Entries[entry] = to;
                s.Dead.Add(b);
                content[to] = content[b];
                content.Remove(b);
            }
            else if (op == 6 && rng.Next(4) == 0)
            {
                Ok(f.A.Free(f.TableA, 0, [RunEntry(s.TableSlot, 0, 0)], Ext(s.Head, SegBlocks)), what);
                foreach (var b in s.Entries.Values.Concat(s.Written)) content.Remove(b);
                segs.Remove(s);
                // The slot's bytes are nullified now; the extent comes back after a sync.
                freeSlots.Add(s.TableSlot);
            }
            else if (op == 7)
            {
                Ok(f.A.Sync(), what);
                foreach (var x in segs) x.Dead.Clear();
            }
            else continue;
            done[op]++;

            var check = f.Vol.Check();
            Assert.True(check.Clean, $"{what}: " + string.Join("\n", check.Findings));
            if (step % 25 == 0) Verify(f.A, segs, content, what);
        }
        // Every kind of step ran (a generator that never claims or redirects proves nothing).
        Assert.True(done.Skip(1).All(n => n > 0), "steps per kind: " + string.Join(",", done));
        Ok(f.A.Sync(), "final sync");
        Verify(f.A, segs, content, "before reload");
        f.Vol.Dispose();

        var k = new ExoKernel();
        var vol = XnVolume.Load(f.Dev, k, new XnOptions { CachePages = 16 }).Value;
        var env = k.CreateEnvironment("a");
        var session = vol.Attach(env);
        var table = session.MountRoot("la", vol.GrantRoot("la", env).Value).Value.Block;
        var buf = new byte[4096];
        Ok(session.Read(table, buf), "table");
        // Written-but-unclaimed blocks are forgotten at a reload; claimed ones are not.
        foreach (var x in segs) foreach (var b in x.Written) content.Remove(b);
        foreach (var x in segs) x.Written.Clear();
        Verify(session, segs, content, "after reload");
        var c = vol.Check();
        Assert.True(c.Clean, string.Join("\n", c.Findings));
        vol.Dispose();
    }

    private static void Verify(XnSession s, List<Seg> segs, Dictionary<ulong, byte> content, string when)
    {
        var buf = new byte[4096];
        foreach (var seg in segs)
            foreach (var b in seg.Entries.Values.Concat(seg.Written))
            {
                Ok(s.Read(new BlockNo(b), buf), $"{when}: read {b}");
                Assert.True(buf.All(x => x == content[b]), $"{when}: block {b} holds 0x{buf[0]:X2}, expected 0x{content[b]:X2}");
            }
    }

    private static void Ok(XnResult r, string what) => Assert.True(r.Ok, $"{what}: {r}");
}
