using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;
using Xunit.Abstractions;

namespace ExoFS.Crash.Tests;

/// <summary>
/// XN's log-structured calls under the crash model, directly (no libFS): at every barrier and flush of
/// the sync that makes a change durable, every legal crash state is materialized, loaded, and judged.
/// Redirect: exactly one of the old and the new block is reachable, with its contents, and XN's invariants
/// hold (leaks allowed). Segments: a durable summary names only blocks whose contents are durable.
/// Each XN rule switched off is caught, so the judges can fail.
/// </summary>
public sealed class XnLogCrashTests(ITestOutputHelper output)
{
    // "c.root": 8 data pointers (u64) at [0,64); "c.table": 8 segment entries (u64 start, u64 count) at
    // [0,128); "c.summary" (segment type): 8 data entries (u64 start, u64 count) at [0,128). Rest raw.
    private const string RootOwns = """
        .udf c.root.owns
        .partitions 1
        .types xn.data
        .read 0 64
        .fuel 128
          li   r2, 0
          li   r3, 8
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;

    private static string RunsOwns(string name, string type) => $"""
        .udf {name}.owns
        .partitions 1
        .types {type}
        .read 0 128
        .fuel 128
          li   r2, 0
          li   r3, 8
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          ld64 r5, [r2+8]
          emit 0, r4, r5
        skip:
          add  r2, r2, 16
          loop r3, next
          ret  0
        """;

    private static readonly ByteRange[] Raw = [new ByteRange(1024, 3072)];

    private static Edit Ptr(int offset, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return new Edit(offset, b);
    }

    private static Edit Run(int k, ulong start, ulong count)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, start);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), count);
        return new Edit(16 * k, b);
    }

    private static byte[] Fill(byte v) => Enumerable.Repeat(v, 4096).ToArray();
    private static Extent One(ulong b) => new(new BlockNo(b), 1);
    private static void Ok(XnResult r) => Assert.True(r.Ok, r.ToString());

    /// <summary>A volume on a crash-model device with root "r" (c.root) and root "t" (c.table), flushed.</summary>
    private sealed class World
    {
        public CrashModelDevice Dev { get; } = new(new MemoryDevice(512));
        public XnVolume Vol { get; }
        public XnSession S { get; }
        public TypeId Summary { get; }
        public BlockNo Root { get; }
        public BlockNo Table { get; }

        public World(Action<XnVolume>? mutate = null)
        {
            var k = new ExoKernel();
            Vol = XnVolume.Format(Dev, k).Value;
            mutate?.Invoke(Vol);
            S = Vol.Attach(k.CreateEnvironment("c"));
            var root = S.RegisterType(new TypeSpec("c.root", RootOwns, Raw, Raw)).Value;
            Summary = S.RegisterType(new TypeSpec("c.summary", RunsOwns("c.summary", "xn.data"), Raw, Raw) { Segment = true }).Value;
            var table = S.RegisterType(new TypeSpec("c.table", RunsOwns("c.table", "c.summary"), Raw, Raw)).Value;
            var runs = S.RegisterType(new TypeSpec("c.runs", RunsOwns("c.runs", "xn.data"), Raw, Raw)).Value;
            Root = S.InstallRoot("r", root).Value.Block;
            Table = S.InstallRoot("t", table).Value.Block;
            Runs = S.InstallRoot("p", runs).Value.Block;
        }

        public BlockNo Runs { get; }

        public ulong Free(ulong count = 1) => S.FindFree(new BlockNo(0), count).Value.Value;

        /// <summary>Runs <paramref name="sync"/> and judges every crash state at each of its persistence points.</summary>
        public List<string> Explore(Func<XnResult> sync, Func<MemoryDevice, string?> judge, out int states)
        {
            var problems = new List<string>();
            int seen = 0;
            void OnPoint(CrashModelDevice d, PersistencePoint p)
            {
                foreach (var st in d.EnumerateCrashStates(4096))
                {
                    seen++;
                    var why = judge(d.Materialize(st));
                    if (why is not null) problems.Add($"{p.Kind} {st}: {why}");
                }
            }
            Dev.PersistencePoint += OnPoint;
            try { Ok(sync()); }
            finally { Dev.PersistencePoint -= OnPoint; }
            states = seen;
            return problems;
        }
    }

    /// <summary>Loads a crash image and reads root <paramref name="name"/>'s block and, through it, others.</summary>
    private static (XnVolume Vol, XnSession S, BlockNo Root)? Mount(MemoryDevice image, string name)
    {
        var k = new ExoKernel();
        var loaded = XnVolume.Load(image, k, new XnOptions { ReadOnly = true });
        if (!loaded.Ok) return null;
        var env = k.CreateEnvironment("judge");
        var s = loaded.Value.Attach(env);
        var info = s.MountRoot(name, loaded.Value.GrantRoot(name, env).Value);
        return info.Ok ? (loaded.Value, s, info.Value.Block) : null;
    }

    private static string? Errors(XnVolume vol)
    {
        var errors = vol.Check().Errors.ToList();
        return errors.Count == 0 ? null : string.Join("; ", errors);
    }

    /// <summary>
    /// Redirect of data block A (holding 0xA1) to B, then B rewritten (0xB2), then a Sync. With
    /// <paramref name="reuse"/>, A is then allocated again under slot 1 and filled with 0xEE (the intact XN
    /// refuses that until the sync: rule 2).
    /// </summary>
    private List<string> RedirectUnderCrashes(Action<XnVolume>? mutate, bool reuse, out int states)
    {
        var w = new World(mutate);
        ulong a = w.Free();
        Ok(w.S.Alloc(w.Root, 0, [Ptr(0, a)], XnTypes.Data, One(a)));
        Ok(w.S.WriteRaw(new BlockNo(a), 0, Fill(0xA1)));
        Ok(w.S.Sync());
        ulong b = w.Free();
        Ok(w.S.Redirect(w.Root, 0, [Ptr(0, b)], One(a), One(b)));
        Ok(w.S.WriteRaw(new BlockNo(b), 0, Fill(0xB2)));
        var again = w.S.Alloc(w.Root, 0, [Ptr(8, a)], XnTypes.Data, One(a));
        if (reuse)
        {
            Ok(again);
            Ok(w.S.WriteRaw(new BlockNo(a), 0, Fill(0xEE)));
        }
        else Assert.Equal(XnError.FreeDeferred, again.Error);

        return w.Explore(w.S.Sync, image =>
        {
            if (Mount(image, "r") is not { } m) return "does not load";
            var (vol, s, root) = m;
            var page = new byte[4096];
            if (!s.Read(root, page).Ok) return "root unreadable";
            ulong named = BinaryPrimitives.ReadUInt64LittleEndian(page);
            byte want = named == a ? (byte)0xA1 : named == b ? (byte)0xB2 : (byte)0;
            if (want == 0) return $"slot 0 names {named}, neither A={a} nor B={b}";
            if (!s.Read(new BlockNo(named), page).Ok) return $"block {named} unreadable";
            if (!page.AsSpan().SequenceEqual(Fill(want))) return $"slot 0 names {(named == a ? "A" : "B")} but it holds 0x{page[0]:X2}, not 0x{want:X2}";
            return Errors(vol);
        }, out states);
    }

    [Fact]
    public void Redirect_leaves_exactly_one_of_the_two_blocks_reachable_in_every_crash_state()
    {
        var problems = RedirectUnderCrashes(null, reuse: false, out int states);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(states >= 4, $"only {states} states");
    }

    [Fact]
    public void Redirect_with_rule_1_off_is_caught_naming_the_new_block_before_it_is_written()
    {
        var problems = RedirectUnderCrashes(v => v.OrderingEnabled = false, reuse: false, out _);
        output.WriteLine(string.Join("\n", problems));
        Assert.Contains(problems, p => p.Contains("names B but it holds"));
    }

    [Fact]
    public void Redirect_with_rule_2_off_is_caught_reusing_the_old_block_while_the_old_pointer_is_durable()
    {
        var problems = RedirectUnderCrashes(v => v.DeferFreesEnabled = false, reuse: true, out _);
        output.WriteLine(string.Join("\n", problems));
        Assert.Contains(problems, p => p.Contains("names A but it holds 0xEE"));
    }

    /// <summary>
    /// A segment of 32 blocks under the table; 20 body blocks written (0x50 + i) and claimed by the summary,
    /// then a Sync. Every crash state: if the table names the segment and the summary names a block, that
    /// block holds its bytes; XN's invariants hold.
    /// </summary>
    private List<string> SegmentUnderCrashes(Action<XnVolume>? mutate, bool writeBackSegment, out int states)
    {
        var w = new World(mutate);
        ulong h = w.Free(32);
        Ok(w.S.AllocSegment(w.Table, 0, [Run(0, h, 32)], w.Summary, new Extent(new BlockNo(h), 32)));
        for (ulong i = 1; i <= 20; i++) Ok(w.S.WriteRaw(new BlockNo(h + i), 0, Fill((byte)(0x50 + i))));
        Ok(w.S.Claim(new BlockNo(h), 0, [Run(0, h + 1, 20)], XnTypes.Data, [new Extent(new BlockNo(h + 1), 20)]));
        return w.Explore(() =>
        {
            var r = writeBackSegment ? w.S.WriteBackSegment(new BlockNo(h)) : XnResult.Success;
            return r.Ok ? w.S.Sync() : r;
        }, image =>
        {
            if (Mount(image, "t") is not { } m) return "does not load";
            var (vol, s, root) = m;
            var page = new byte[4096];
            if (!s.Read(root, page).Ok) return "table unreadable";
            if (BinaryPrimitives.ReadUInt64LittleEndian(page) != h) return Errors(vol);   // segment not bound yet
            if (!s.Read(new BlockNo(h), page).Ok) return "summary unreadable";
            ulong start = BinaryPrimitives.ReadUInt64LittleEndian(page), count = BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(8));
            if (start == 0) return Errors(vol);
            for (ulong b = start; b < start + count; b++)
            {
                if (!s.Read(new BlockNo(b), page).Ok) return $"claimed block {b} unreadable";
                if (page[0] != (byte)(0x50 + (b - h)) || page[4095] != page[0]) return $"the durable summary names block {b}, which holds 0x{page[0]:X2}";
            }
            return Errors(vol);
        }, out states);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_durable_summary_names_only_blocks_whose_contents_are_durable(bool writeBackSegment)
    {
        var problems = SegmentUnderCrashes(null, writeBackSegment, out int states);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(states >= 4, $"only {states} states");
    }

    [Fact]
    public void A_segment_written_with_rule_1_off_is_caught_naming_blocks_not_yet_written()
    {
        // Sync alone: with rule 1 off the table, the summary and the body go out in one unordered batch.
        var problems = SegmentUnderCrashes(v => v.OrderingEnabled = false, writeBackSegment: false, out _);
        output.WriteLine(string.Join("\n", problems.Take(5)));
        Assert.Contains(problems, p => p.Contains("the durable summary names block"));
    }

    [Fact]
    public void A_segment_body_reaches_the_device_as_one_request()
    {
        var w = new World();
        ulong h = w.Free(64);
        Ok(w.S.AllocSegment(w.Table, 0, [Run(0, h, 64)], w.Summary, new Extent(new BlockNo(h), 64)));
        for (ulong i = 1; i <= 40; i++) Ok(w.S.WriteRaw(new BlockNo(h + i), 0, Fill((byte)i)));
        Ok(w.S.Claim(new BlockNo(h), 0, [Run(0, h + 1, 40)], XnTypes.Data, [new Extent(new BlockNo(h + 1), 40)]));
        Ok(w.S.WriteBackSegment(new BlockNo(h)));
        var body = w.Dev.InFlightWrites.Where(x => x.Block.Value > h && x.Block.Value <= h + 40).ToList();
        Assert.Equal(40, body.Count);
        Assert.Single(body.Select(x => x.Request).Distinct());
        // Still one write per block for crashes: a request is not atomic.
        Assert.Equal(40, body.Select(x => x.Sequence).Distinct().Count());
    }

    /// <summary>The (start, count) entries of a runs-shaped block (c.table, c.summary, c.runs).</summary>
    private static List<(int Entry, ulong Start, ulong Count)> Entries(byte[] page)
    {
        var list = new List<(int, ulong, ulong)>();
        for (int k = 0; k < 8; k++)
        {
            ulong start = BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(16 * k));
            if (start != 0) list.Add((k, start, BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(16 * k + 8))));
        }
        return list;
    }

    /// <summary>Whether every block of [start, start+count) reads as all <paramref name="want"/>; else why not.</summary>
    private static string? Holds(XnSession s, ulong start, ulong count, byte want, string what)
    {
        var page = new byte[4096];
        for (ulong b = start; b < start + count; b++)
        {
            if (!s.Read(new BlockNo(b), page).Ok) return $"{what}: block {b} unreadable";
            if (!page.AsSpan().SequenceEqual(Fill(want))) return $"{what}: block {b} holds 0x{page[0]:X2}, not 0x{want:X2}";
        }
        return null;
    }

    /// <summary>
    /// A cleaned segment goes back: segment S1 (table entry 0, its summary naming 8 blocks of 0x11) is freed,
    /// and a segment at the same place is wanted again under entry 1 (0x22). The intact XN refuses until the
    /// freeing table write is durable (rule 2); with <paramref name="reuse"/> (the rule-2 mutant lets it)
    /// the new segment is written and synced. Judge: every segment the table names has the contents its
    /// entry promises.
    /// </summary>
    private List<string> CleanedSegmentUnderCrashes(Action<XnVolume>? mutate, bool reuse)
    {
        var w = new World(mutate);
        ulong h = w.Free(16);
        var ext = new Extent(new BlockNo(h), 16);
        Ok(w.S.AllocSegment(w.Table, 0, [Run(0, h, 16)], w.Summary, ext));
        for (ulong i = 1; i <= 8; i++) Ok(w.S.WriteRaw(new BlockNo(h + i), 0, Fill(0x11)));
        Ok(w.S.Claim(new BlockNo(h), 0, [Run(0, h + 1, 8)], XnTypes.Data, [new Extent(new BlockNo(h + 1), 8)]));
        Ok(w.S.Sync());
        Ok(w.S.Free(w.Table, 0, [Run(0, 0, 0)], ext));
        var again = w.S.AllocSegment(w.Table, 0, [Run(1, h, 16)], w.Summary, ext);
        if (reuse)
        {
            Ok(again);
            for (ulong i = 1; i <= 8; i++) Ok(w.S.WriteRaw(new BlockNo(h + i), 0, Fill(0x22)));
            Ok(w.S.Claim(new BlockNo(h), 0, [Run(0, h + 1, 8)], XnTypes.Data, [new Extent(new BlockNo(h + 1), 8)]));
        }
        else Assert.Equal(XnError.FreeDeferred, again.Error);
        return w.Explore(w.S.Sync, image =>
        {
            if (Mount(image, "t") is not { } m) return "does not load";
            var (vol, s, table) = m;
            var page = new byte[4096];
            if (!s.Read(table, page).Ok) return "table unreadable";
            foreach (var (entry, start, _) in Entries(page))
            {
                var summary = new byte[4096];
                if (!s.Read(new BlockNo(start), summary).Ok) return $"summary {start} unreadable";
                foreach (var (_, b, n) in Entries(summary))
                    if (Holds(s, b, n, entry == 0 ? (byte)0x11 : (byte)0x22, $"segment of table entry {entry}") is { } why) return why;
            }
            return Errors(vol);
        }, out _);
    }

    [Fact]
    public void A_cleaned_segment_is_not_reused_before_the_freeing_table_write_is_durable()
    {
        var problems = CleanedSegmentUnderCrashes(null, reuse: false);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Reusing_a_cleaned_segment_with_rule_2_off_is_caught()
    {
        var problems = CleanedSegmentUnderCrashes(v => v.DeferFreesEnabled = false, reuse: true);
        output.WriteLine(string.Join("\n", problems.Take(5)));
        Assert.Contains(problems, p => p.Contains("segment of table entry 0") && p.Contains("holds 0x22"));
    }

    /// <summary>
    /// Partial free: run [x, x+8) of 0x33 loses [x+2, x+5); x+3 is wanted again under entry 2 (0x44). Judge:
    /// every run the root names holds its entry's contents.
    /// </summary>
    private List<string> PartialFreeUnderCrashes(Action<XnVolume>? mutate, bool reuse)
    {
        var w = new World(mutate);
        ulong x = w.Free(8);
        Ok(w.S.Alloc(w.Runs, 0, [Run(0, x, 8)], XnTypes.Data, new Extent(new BlockNo(x), 8)));
        for (ulong i = 0; i < 8; i++) Ok(w.S.WriteRaw(new BlockNo(x + i), 0, Fill(0x33)));
        Ok(w.S.Sync());
        Ok(w.S.Free(w.Runs, 0, [Run(0, x, 2), Run(1, x + 5, 3)], new Extent(new BlockNo(x + 2), 3)));
        var again = w.S.Alloc(w.Runs, 0, [Run(2, x + 3, 1)], XnTypes.Data, new Extent(new BlockNo(x + 3), 1));
        if (reuse)
        {
            Ok(again);
            Ok(w.S.WriteRaw(new BlockNo(x + 3), 0, Fill(0x44)));
        }
        else Assert.Equal(XnError.FreeDeferred, again.Error);
        return w.Explore(w.S.Sync, image =>
        {
            if (Mount(image, "p") is not { } m) return "does not load";
            var (vol, s, runs) = m;
            var page = new byte[4096];
            if (!s.Read(runs, page).Ok) return "runs unreadable";
            foreach (var (entry, start, n) in Entries(page))
                if (Holds(s, start, n, entry == 2 ? (byte)0x44 : (byte)0x33, $"run entry {entry}") is { } why) return why;
            return Errors(vol);
        }, out _);
    }

    [Fact]
    public void A_partially_freed_piece_is_not_reused_before_the_shrinking_write_is_durable()
    {
        var problems = PartialFreeUnderCrashes(null, reuse: false);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Reusing_a_partially_freed_piece_with_rule_2_off_is_caught()
    {
        var problems = PartialFreeUnderCrashes(v => v.DeferFreesEnabled = false, reuse: true);
        output.WriteLine(string.Join("\n", problems.Take(5)));
        Assert.Contains(problems, p => p.Contains("run entry 0") && p.Contains("holds 0x44"));
    }
}
