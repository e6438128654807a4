using System.Text;
using ExoFS.LibFs.Testing;
using Xunit.Abstractions;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// The LFS's crash guarantee, checked on the fake disk: after a crash at any point, with any subset of the
/// writes in flight reaching the disk, the recovered file system equals the state after some prefix of the
/// completed operations, and that prefix includes everything before the last completed fsync or sync.
/// Random workloads over a small namespace (create, overwrite, append, truncate, unlink, mkdir, rmdir,
/// rename, rename-exchange, link, symlink, fsync, sync); several crash states per operation.
/// </summary>
public sealed class CrashPrefixTests(ITestOutputHelper output)
{
    private static readonly InodeNo Root = InodeNo.Root;
    private static readonly string[] Names = ["a", "b", "c", "d"];

    /// <summary>The namespace and contents as one comparable string.</summary>
    private static string Snap(IFileSystem fs)
    {
        var sb = new StringBuilder();
        void Walk(InodeNo dir, string path, int depth)
        {
            foreach (var e in fs.ListDir(dir).OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                var a = fs.GetAttr(e.Ino).Ok();
                string p = path + "/" + e.Name;
                if (FileMode.IsDir(a.Mode)) { sb.Append($"{p}/ n{a.Nlink}\n"); if (depth < 4) Walk(e.Ino, p, depth + 1); }
                else if (FileMode.IsSymlink(a.Mode)) sb.Append($"{p} -> {fs.ReadLink(e.Ino).Ok()}\n");
                else sb.Append($"{p} n{a.Nlink} {Convert.ToHexString(System.Security.Cryptography.SHA1.HashData(fs.ReadFile(e.Ino)))} {a.Size}\n");
            }
        }
        Walk(Root, "", 0);
        return sb.ToString();
    }

    private static InodeNo? Dir(IFileSystem fs, Random rng)
    {
        if (rng.Next(3) == 0) return Root;
        var d = fs.Find(Root, "dir");
        return d is { } x && FileMode.IsDir(x.Mode) ? x.Ino : Root;
    }

    /// <summary>One random operation; returns true if it was a persistence point (fsync/sync that succeeded).</summary>
    private static readonly List<string> CleanLog = new();

    private static bool Step(IFileSystem fs, Random rng, List<string> log, bool big)
    {
        var dir = Dir(fs, rng)!.Value;
        string n = Names[rng.Next(Names.Length)], m = Names[rng.Next(Names.Length)];
        var target = fs.Find(dir, n);
        switch (rng.Next(16))
        {
            case 15:
                // The background cleaner runs a pass (it flushes, copies, checkpoints and releases).
                if (fs is LfsFileSystem c) log.Add($"clean {c.Cleaner.CleanOnce()} [{string.Join(",", c.Usage.AllocatedSlots.Select(x => $"{x}:{c.Usage.Live(x)}"))}] head {c.Log.HeadSlot}");
                if (log.Count > 0 && log[^1].StartsWith("clean", StringComparison.Ordinal)) lock (CleanLog) CleanLog.Add(log[^1]);
                return false;
            case 13:
            case 14:
                // Background write-back: the dirty state becomes a write unit in flight, not yet durable.
                if (fs is LfsFileSystem lfs) lock (lfs.Lock) lfs.Flush(withImap: false).Ok();
                log.Add("flush");
                return false;
            case 0:
            case 1:
            {
                var data = new byte[rng.Next(1, 3) == 1 ? rng.Next(1, 300) : rng.Next(4000, 70_000) * (big ? 3 : 1)];
                rng.NextBytes(data);
                if (target is null) { fs.WriteFile(dir, n, data); log.Add($"create {n} {data.Length}"); }
                else if (FileMode.IsRegular(target.Value.Mode))
                {
                    var fh = fs.Open(target.Value.Ino, OpenFlags.WriteOnly).Ok();
                    long off = rng.Next(2) == 0 ? 0 : (long)target.Value.Size;
                    fs.Write(target.Value.Ino, fh, off, data).Ok();
                    fs.Release(target.Value.Ino, fh).Ok();
                    log.Add($"write {n} @{off} {data.Length}");
                }
                return false;
            }
            case 2:
                if (target is { } t && FileMode.IsRegular(t.Mode))
                {
                    ulong size = (ulong)rng.Next(0, 20_000);
                    fs.SetAttr(t.Ino, new SetAttrRequest { Size = size }).Ok();
                    log.Add($"truncate {n} {size}");
                }
                return false;
            case 3: log.Add($"unlink {n} {fs.Unlink(dir, n)}"); return false;
            case 4: log.Add($"mkdir dir {fs.MkDir(Root, "dir", 0x1ED, Caller.Root).Error}"); return false;
            case 5: log.Add($"rmdir dir {fs.RmDir(Root, "dir")}"); return false;
            case 6: log.Add($"rename {n} {m} {fs.Rename(dir, n, Root, m, RenameFlags.None)}"); return false;
            case 7: log.Add($"exchange {n} {m} {fs.Rename(Root, n, dir, m, RenameFlags.Exchange)}"); return false;
            case 8:
                if (target is { } l && !FileMode.IsDir(l.Mode)) log.Add($"link {n} {m} {fs.Link(l.Ino, Root, m).Error}");
                return false;
            case 9: log.Add($"symlink {n} {fs.Symlink(dir, n, "to/" + m, Caller.Root).Error}"); return false;
            case 10:
            case 11:
                if (target is { } f && FileMode.IsRegular(f.Mode))
                {
                    var fh = fs.Open(f.Ino, OpenFlags.ReadOnly).Ok();
                    var e = fs.Fsync(f.Ino, fh, false);
                    fs.Release(f.Ino, fh).Ok();
                    log.Add($"fsync {n} {e}");
                    return e == Errno.OK;
                }
                return false;
            default:
                log.Add("sync");
                return fs.Sync() == Errno.OK;
        }
    }

    /// <summary>Runs the campaign; returns the violations found (empty when the guarantee holds).</summary>
    private static List<string> Campaign(int cases, bool rollForward, out int states) => Campaign(cases, rollForward, out states, out _, 4096, 4, 14);

    private static List<string> Campaign(int cases, bool rollForward, out int states, out ulong cleaned, ulong diskBlocks, int minOps, int maxOps,
        bool checkpointAtCleanerHead = false)
    {
        var violations = new List<string>();
        states = 0;
        cleaned = 0;
        for (int seed = 0; seed < cases; seed++)
        {
            var rng = new Random(seed);
            var disk = new FakeLfsDisk(diskBlocks, segBlocks: 64, maxInodes: 1024);
            var fs = LfsFileSystem.FormatOn(disk).Value;
            fs.CheckpointAtCleanerHead = checkpointAtCleanerHead;
            var snaps = new List<string> { Snap(fs) };
            var log = new List<string>();
            int durable = 0;
            int ops = rng.Next(minOps, maxOps);
            for (int k = 0; k < ops; k++)
            {
                // Sometimes the crash comes in the middle of this operation's syncs: it then never completed.
                bool torn = rng.Next(maxOps > 14 ? 40 : 6) == 0;
                if (torn) disk.SyncsHonored = rng.Next(0, 2);
                bool persisted = Step(fs, rng, log, big: maxOps > 14) && !torn;
                snaps.Add(Snap(fs));
                if (persisted) durable = snaps.Count - 1;
                for (int c = 0; c < 3; c++)
                {
                    double keep = c == 0 ? 0 : c == 1 ? 1 : rng.NextDouble();
                    var crng = new Random(seed * 1000 + k * 10 + c);
                    var crashed = disk.Crash(_ => crng.NextDouble() < keep);
                    var r = LfsFileSystem.MountOn(crashed, rollForward: rollForward);
                    string where = $"seed {seed} after op {k} ({string.Join("; ", log)}){(torn ? " torn" : "")}, crash keeping {keep:F2}";
                    states++;
                    if (!r.Ok) { violations.Add($"{where}: mount failed with {r.Error}"); continue; }
                    var got = Snap(r.Value);
                    int match = snaps.LastIndexOf(got);
                    if (match < durable)
                        violations.Add($"{where}: recovered state is {(match < 0 ? "no prefix" : $"prefix {match}")}, durable prefix {durable}\n--- got\n{got}--- durable\n{snaps[durable]}");
                    var fsck = LfsFsck.Check(r.Value);
                    if (!fsck.Clean) violations.Add($"{where}: fsck\n  " + string.Join("\n  ", fsck.Problems));
                }
                if (torn) break; // the file system lost syncs it thinks happened: end this workload here
            }
            cleaned += fs.Cleaner.SegmentsCleaned;
        }
        return violations;
    }

    [Fact]
    public void Every_crash_state_recovers_to_a_prefix_that_includes_the_last_sync()
    {
        var v = Campaign(80, rollForward: true, out int states);
        Assert.True(v.Count == 0, $"{v.Count} of {states} crash states broke the guarantee; first:\n{v.FirstOrDefault()}");
        output.WriteLine($"80 workloads, {states} crash states: every one a prefix at or after the last persistence point, fsck clean");
    }

    [Fact]
    public void The_campaign_catches_recovery_without_roll_forward()
    {
        var v = Campaign(80, rollForward: false, out int states);
        output.WriteLine($"roll-forward off: {v.Count} of {states} crash states broke the guarantee");
        Assert.NotEmpty(v);
    }

    [Fact]
    public void Crash_states_while_the_cleaner_works_recover_to_a_prefix()
    {
        // A disk of 10 segments: the workloads' overwrites soon need the cleaner, and it also runs as an operation.
        var v = Campaign(60, rollForward: true, out int states, out ulong cleaned, diskBlocks: 10 * 64 + 40, minOps: 20, maxOps: 40);
        output.WriteLine($"60 workloads on a 10-segment disk, {states} crash states, {cleaned} segments cleaned");
        Assert.True(cleaned > 0, "the cleaner never ran: " + string.Join(" | ", CleanLog.TakeLast(5)));
        Assert.True(v.Count == 0, $"{v.Count} of {states} crash states broke the guarantee; first:\n{v.FirstOrDefault()}");
    }

    [Fact]
    public void Crash_states_recover_when_checkpoints_flush_at_the_cleaner_head()
    {
        // Near full, a checkpoint whose flush the main head has no room for writes it at the cleaner's head (which
        // nothing rolls forward): here every checkpoint does, once the cleaner has a head.
        var v = Campaign(60, rollForward: true, out int states, out ulong cleaned, diskBlocks: 10 * 64 + 40, minOps: 20, maxOps: 40,
            checkpointAtCleanerHead: true);
        output.WriteLine($"60 workloads on a 10-segment disk, checkpoints at the cleaner's head: {states} crash states, {cleaned} segments cleaned");
        Assert.True(cleaned > 0, "the cleaner never ran");
        Assert.True(v.Count == 0, $"{v.Count} of {states} crash states broke the guarantee; first:\n{v.FirstOrDefault()}");
    }
}
