using ExoFS.Compare.Workloads;

namespace ExoFS.Compare.Tests;

/// <summary>Each built-in workload issues the calls its documentation promises, counted through a wrapper libFS.</summary>
public sealed class WorkloadOpMixTests
{
    [Fact]
    public void Small_files_creates_reads_and_deletes_each_file_once_per_phase()
    {
        var (results, calls, _) = Runs.Counted(BuiltinWorkloads.SmallFiles(files: 40, size: 1024));
        Assert.Equal(["create", "read", "delete"], results.Select(r => r.Phase));
        Assert.Equal(40, calls["create"].Get("create"));
        Assert.Equal(40, calls["create"].Get("write"));          // 1 KB in one request
        Assert.Equal(0, calls["create"].Get("unlink"));
        Assert.Equal(40, calls["read"].Get("open-read"));
        Assert.Equal(40, calls["read"].Get("read"));
        Assert.Equal(0, calls["read"].Get("write"));
        Assert.Equal(40, calls["delete"].Get("unlink"));
        Assert.All(results, r => Assert.Equal(40, r.Ops));
        Assert.Equal(40 * 1024, results[0].WorkloadBytesWritten);
        Assert.Equal(40 * 1024, results[1].WorkloadBytesRead);
    }

    [Fact]
    public void Large_file_phases_move_the_whole_file_in_their_request_sizes()
    {
        var (results, calls, _) = Runs.Counted(BuiltinWorkloads.LargeFile(mib: 2));
        Assert.Equal(["setup", "seq-write", "seq-read", "rand-write", "rand-read", "seq-reread"], results.Select(r => r.Phase));
        Assert.Equal(1, calls["setup"].Get("create"));
        Assert.Equal(32, calls["seq-write"].Get("write"));      // 2 MiB / 64 KiB
        Assert.Equal(32, calls["seq-read"].Get("read"));
        Assert.Equal(512, calls["rand-write"].Get("write"));    // 2 MiB / 4 KiB
        Assert.Equal(512, calls["rand-read"].Get("read"));
        Assert.Equal(32, calls["seq-reread"].Get("read"));
        Assert.Equal(2L << 20, results[1].WorkloadBytesWritten);
        Assert.Equal(2L << 20, results[3].WorkloadBytesWritten);
        Assert.Equal(2L << 20, results[5].WorkloadBytesRead);
    }

    [Fact]
    public void Postmark_transactions_each_read_or_append_then_create_or_delete()
    {
        var (results, calls, _) = Runs.Counted(BuiltinWorkloads.Postmark(files: 30, transactions: 60));
        Assert.Equal(["create", "transactions", "delete"], results.Select(r => r.Phase));
        Assert.Equal(30, calls["create"].Get("create"));
        var tx = calls["transactions"];
        Assert.Equal(60, tx.Get("open-read") + tx.Get("open-write"));   // read or append
        Assert.Equal(60, tx.Get("create") + tx.Get("unlink"));          // create or delete
        Assert.InRange(tx.Get("open-read"), 15, 45);                    // even odds
        Assert.Equal(120, results[1].Ops);
        // Everything left is deleted at the end.
        Assert.Equal(30 + tx.Get("create") - tx.Get("unlink"), calls["delete"].Get("unlink"));
    }

    [Fact]
    public void Varmail_loop_is_delete_create_fsync_read_append_fsync_read()
    {
        var (results, calls, _) = Runs.Counted(BuiltinWorkloads.Varmail(files: 20, threads: 4, loops: 3));
        Assert.Equal(["setup", "run"], results.Select(r => r.Phase));
        Assert.Equal(20, calls["setup"].Get("create"));
        var run = calls["run"];
        int loops = 4 * 3;
        Assert.Equal(loops, run.Get("unlink"));
        Assert.Equal(loops, run.Get("create"));
        Assert.Equal(2 * loops, run.Get("fsync"));
        Assert.Equal(2 * loops, run.Get("open-read"));
        Assert.Equal(loops, run.Get("open-write"));
        Assert.Equal(5 * loops, results[1].Ops);
        Assert.Equal(0, results[1].Skipped);
    }

    [Fact]
    public void Fileserver_loop_is_create_append_read_delete_stat()
    {
        var (results, calls, _) = Runs.Counted(BuiltinWorkloads.Fileserver(files: 40, threads: 5, loops: 2));
        Assert.Equal(40, calls["setup"].Get("create"));
        Assert.Equal(2, calls["setup"].Get("mkdir") - 1);                // 40 files / 20 per directory, under the set's own
        var run = calls["run"];
        Assert.Equal(10, run.Get("create"));
        Assert.Equal(10, run.Get("open-write"));
        Assert.Equal(10, run.Get("open-read"));
        Assert.Equal(10, run.Get("unlink"));
        Assert.Equal(10, run.Get("getattr"));
        Assert.Equal(0, run.Get("fsync"));
        Assert.Equal(50, results.Single(r => r.Phase == "run").Ops);
    }

    [Fact]
    public void Webserver_reads_ten_files_per_log_append()
    {
        var (results, calls, mounts) = Runs.Counted(BuiltinWorkloads.Webserver(files: 30, threads: 5, loops: 2));
        Assert.Equal(31, calls["setup"].Get("create"));                 // 30 pages and the log
        var run = calls["run"];
        Assert.Equal(100, run.Get("open-read"));
        Assert.Equal(10, run.Get("open-write"));
        Assert.Equal(0, run.Get("create") + run.Get("unlink"));
        // All ten appends go to the one log file (made empty; each page got one write at setup, or none if empty).
        var multiple = mounts[^1].WritesByIno.Where(kv => kv.Value > 1).ToList();
        Assert.Single(multiple);
        Assert.Equal(10, multiple[0].Value);
        Assert.Equal(110, results.Single(r => r.Phase == "run").Ops);
    }

    [Fact]
    public void Uniform_fills_the_utilization_then_overwrites_each_pass_as_many_files_as_there_are()
    {
        var (results, calls, _) = Runs.Counted(BuiltinWorkloads.Uniform(deviceMib: 16, passes: 2, fileKib: 32), utilization: 0.5);
        long files = calls["setup"].Get("create");
        var stats = results.Single(r => r.Phase == "setup");
        // Half the file system's blocks hold file data (the file system has a little under 4,096 blocks).
        Assert.InRange(files * 32 * 1024, 0.45 * 16 * 1024 * 1024 * 0.9, 0.5 * 16 * 1024 * 1024);
        Assert.Equal(files * 32 * 1024, stats.WorkloadBytesWritten);
        Assert.Equal(files, calls["overwrite-1"].Get("write"));
        Assert.Equal(files, calls["overwrite-2"].Get("write"));
        Assert.All(results, r => Assert.Equal(0.5, r.Utilization));
    }

    [Fact]
    public void Hot_cold_sends_nine_tenths_of_the_writes_to_a_tenth_of_the_files()
    {
        var (_, calls, mounts) = Runs.Counted(BuiltinWorkloads.HotCold(deviceMib: 32, passes: 3, fileKib: 32), utilization: 0.5);
        long files = calls["setup"].Get("create");
        var perFile = mounts[^1].WritesByIno.Values.Select(w => w - 1).OrderByDescending(w => w).ToList(); // less the create's write
        long total = perFile.Sum();
        Assert.Equal(3 * files, total);
        long hot = perFile.Take((int)(files / 10)).Sum();
        Assert.InRange((double)hot / total, 0.85, 0.95);
    }

    [Fact]
    public void Aging_churns_with_creates_appends_and_deletes_then_reads_every_live_file()
    {
        var (results, calls, _) = Runs.Counted(BuiltinWorkloads.Aging(files: 30, churn: 90));
        Assert.Equal(["fill", "read-fresh", "churn", "read-aged"], results.Select(r => r.Phase));
        Assert.Equal(30, calls["fill"].Get("create"));
        Assert.Equal(30, calls["read-fresh"].Get("open-read"));
        var churn = calls["churn"];
        var churnResult = results.Single(r => r.Phase == "churn");
        Assert.Equal(90, churnResult.Ops + churnResult.Skipped);
        Assert.Equal(churnResult.Ops, churn.Get("create") + churn.Get("open-write") + churn.Get("unlink"));
        Assert.All(new[] { churn.Get("create"), churn.Get("open-write"), churn.Get("unlink") }, n => Assert.InRange(n, 15, 45));
        Assert.Equal(30 + churn.Get("create") - churn.Get("unlink"), calls["read-aged"].Get("open-read"));
    }
}
