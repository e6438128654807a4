using System.Text;
using ExoFS.LibFs.Testing.Model;

namespace ExoFS.Mount.Tests;

/// <summary>Starting, refusing, serving and stopping mounts.</summary>
public class MountLifecycleTests
{
    [FuseFact]
    public Task Start_returns_a_ready_mount_listed_as_fuse_exofs() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        var entry = MountTable.Find(m.Dir);
        Assert.NotNull(entry);
        Assert.Equal("fuse.exofs", entry.Value.FsType);
        Assert.Equal("exofs-test", entry.Value.Source);
        Assert.True(m.Mount.IsMounted);
        Assert.Equal(m.Dir, m.Mount.MountPoint);
        // The root answers at once: Start returned only after INIT.
        Assert.Equal("directory 755 0 0", Shell.Ok($"stat -c '%F %a %u %g' {m.Dir}").Trim());
    });

    [FuseFact]
    public Task Unmount_removes_the_mount_syncs_the_libfs_once_and_is_idempotent() => Task.Run(() =>
    {
        var fs = new InstrumentedFileSystem(new ModelFileSystem());
        using var m = TestMount.Start(fs);
        File.WriteAllText(m.P("f"), "data");
        m.Mount.Unmount();
        Assert.False(m.Mount.IsMounted);
        Assert.Null(MountTable.Find(m.Dir));
        Assert.Equal(1, fs.Syncs);
        m.Mount.Unmount();
        Assert.Equal(1, fs.Syncs);
        // The data written through the mount (via the writeback cache) reached the libFS before the session ended.
        var attr = fs.Inner.Lookup(LibFs.InodeNo.Root, "f");
        Assert.True(attr.Ok);
        Assert.Equal(4UL, attr.Value.Size);
    });

    [FuseFact]
    public Task A_request_waiting_for_the_disk_does_not_stall_other_requests() => Task.Run(() =>
    {
        var fs = new InstrumentedFileSystem(new ModelFileSystem());
        using var gate = new ManualResetEventSlim(false);
        using var m = TestMount.Start(fs);
        using var f = new FileStream(m.P("slow"), FileMode.Create, FileAccess.Write);
        f.Write("data"u8);
        fs.FsyncGate = gate;
        var fsync = Task.Run(() => f.Flush(flushToDisk: true));
        try
        {
            Assert.True(fs.FsyncWaiting.Wait(TimeSpan.FromSeconds(5)), "the fsync should reach the libFS");
            // The loop's one thread is inside the blocked fsync: another thread must serve these.
            var others = Task.Run(() =>
            {
                File.WriteAllText(m.P("other"), "served");
                return File.ReadAllText(m.P("other")) + " " + Directory.GetFiles(m.Dir).Length;
            });
            Assert.True(others.Wait(TimeSpan.FromSeconds(5)), "requests queued behind a blocked fsync were not served");
            Assert.Equal("served 2", others.Result);
            Assert.False(fsync.IsCompleted);
        }
        finally
        {
            gate.Set();
        }
        Assert.True(fsync.Wait(TimeSpan.FromSeconds(5)));
    });

    [FuseFact]
    public Task A_loop_that_never_spins_serves_sequential_and_parallel_clients() => Task.Run(() =>
    {
        // Spin zero: the loop sleeps in poll(2) after every request, the path a spinning loop takes only when idle.
        using var m = TestMount.Start(options: new FuseMountOptions { Spin = TimeSpan.Zero });
        for (int i = 0; i < 20; i++) File.WriteAllText(m.P($"s{i}"), $"seq {i}");
        Parallel.For(0, 8, i =>
        {
            for (int j = 0; j < 10; j++) File.WriteAllText(m.P($"p{i}-{j}"), $"par {i} {j}");
        });
        for (int i = 0; i < 20; i++) Assert.Equal($"seq {i}", File.ReadAllText(m.P($"s{i}")));
        Assert.Equal(100, Directory.GetFiles(m.Dir).Length);
    });

    [FuseFact]
    public Task A_libfs_that_serializes_its_calls_is_served_on_one_thread_even_by_parallel_clients() => Task.Run(() =>
    {
        // More threads would only take turns at the libFS's lock; they join only for a request that waits for the disk.
        // Slow calls make the clients' requests queue up, which is what brought helpers in.
        var fs = new InstrumentedFileSystem(new ModelFileSystem()) { Parallel = false, ServeDelay = TimeSpan.FromMilliseconds(1) };
        using var m = TestMount.Start(fs);
        var clients = Enumerable.Range(0, 8).Select(i => new Thread(() =>
        {
            for (int j = 0; j < 25; j++) File.WriteAllText(m.P($"p{i}-{j}"), $"par {i} {j}");
        })).ToList();
        clients.ForEach(t => t.Start());
        clients.ForEach(t => t.Join());
        Assert.Equal(200, Directory.GetFiles(m.Dir).Length);
        Assert.Equal("par 7 24", File.ReadAllText(m.P("p7-24")));
        Assert.Equal(1, fs.ServingThreads);
    });

    [FuseTheory]
    [InlineData(true)]
    [InlineData(false)]
    public Task Closes_send_flushes_only_to_a_libfs_whose_flush_has_an_effect(bool effect) => Task.Run(() =>
    {
        var fs = new InstrumentedFileSystem(new ModelFileSystem()) { FlushEffect = effect };
        using var m = TestMount.Start(fs);
        for (int i = 0; i < 3; i++) File.WriteAllText(m.P($"f{i}"), $"content {i}");
        for (int i = 0; i < 3; i++) Assert.Equal($"content {i}", File.ReadAllText(m.P($"f{i}")));
        if (effect) Assert.True(fs.Flushes >= 6, $"every close should flush, saw {fs.Flushes}");
        else Assert.True(fs.Flushes <= 1, $"after the first ENOSYS the kernel should stop flushing, saw {fs.Flushes}");
    });

    [FuseFact]
    public Task A_mount_point_that_is_already_mounted_is_refused_as_busy() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        var e = Assert.Throws<MountException>(() => FuseMount.Start(new ModelFileSystem(), m.Dir));
        Assert.Contains("busy", e.Message);
        Assert.Contains(m.Dir, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The first mount is unaffected.
        File.WriteAllText(m.P("still-works"), "yes");
        Assert.Equal("yes", File.ReadAllText(m.P("still-works")));
    });

    [FuseFact]
    public Task A_missing_mount_point_is_refused() => Task.Run(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "exofs-missing-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<MountException>(() => FuseMount.Start(new ModelFileSystem(), dir));
        Assert.Equal($"mount point {dir} does not exist", e.Message);
    });

    [FuseFact]
    public Task A_regular_file_as_mount_point_is_refused() => Task.Run(() =>
    {
        string file = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<MountException>(() => FuseMount.Start(new ModelFileSystem(), file));
            Assert.Equal($"mount point {file} is not a directory", e.Message);
            Assert.Null(MountTable.Find(file));
        }
        finally
        {
            File.Delete(file);
        }
    });

    [FuseFact]
    public Task An_unknown_mount_option_is_refused_with_libfuse_reason_and_nothing_is_mounted() => Task.Run(() =>
    {
        string dir = TestMount.NewDirectory();
        try
        {
            var options = new FuseMountOptions { ExtraOptions = ["no_such_option_xyz"], Log = _ => { } };
            var e = Assert.Throws<MountException>(() => FuseMount.Start(new ModelFileSystem(), dir, options));
            Assert.Contains("no_such_option_xyz", e.Message);
            Assert.Contains("unknown option", e.Message);
            Assert.Null(MountTable.Find(dir));
        }
        finally
        {
            Directory.Delete(dir);
        }
    });

    [Fact]
    public void Empty_or_malformed_options_are_refused_before_mounting()
    {
        Assert.Throws<MountException>(() => FuseMount.BuildOptionString(new FuseMountOptions { ExtraOptions = ["ro,,noatime"] }));
        Assert.Throws<MountException>(() => FuseMount.BuildOptionString(new FuseMountOptions { Subtype = "a,b" }));
        Assert.Throws<MountException>(() => FuseMount.BuildOptionString(new FuseMountOptions { MaxThreads = 0 }));
        Assert.Throws<MountException>(() => FuseMount.BuildOptionString(new FuseMountOptions { EntryTimeout = TimeSpan.FromSeconds(-1) }));
        Assert.Throws<MountException>(() => FuseMount.BuildOptionString(new FuseMountOptions { Spin = TimeSpan.FromMilliseconds(-1) }));
        Assert.Throws<MountException>(() => FuseMount.BuildOptionString(new FuseMountOptions { Spin = TimeSpan.FromSeconds(1) }));
        Assert.Equal("fsname=/img\\,1,subtype=exofs,default_permissions,allow_other,noatime",
            FuseMount.BuildOptionString(new FuseMountOptions { FsName = "/img,1", AllowOther = true, ExtraOptions = ["noatime"] }));
    }

    [Fact]
    public void Mount_table_lines_parse_with_octal_escapes_and_optional_fields()
    {
        Assert.True(MountTable.TryParse(
            "812 29 0:52 / /tmp/a\\040b\\134c rw,nosuid,nodev,relatime shared:1 master:2 - fuse.exofs /img\\040x rw,user_id=0", out var e));
        Assert.Equal(new MountInfoEntry(0, 52, "/tmp/a b\\c", "fuse.exofs", "/img x"), e);
        Assert.False(MountTable.TryParse("garbage", out _));
    }

    [FuseFact]
    public Task A_mount_point_whose_name_needs_escaping_mounts_and_unmounts() => Task.Run(() =>
    {
        string parent = TestMount.NewDirectory();
        string dir = Path.Combine(parent, "with space\\and\tbackslash");
        Directory.CreateDirectory(dir);
        try
        {
            var mount = FuseMount.Start(new ModelFileSystem(), dir, new FuseMountOptions { Log = _ => { } });
            try
            {
                Assert.Equal("fuse.exofs", MountTable.Find(dir)?.FsType);
                File.WriteAllText(Path.Combine(dir, "f"), "ok");
            }
            finally
            {
                mount.Unmount();
            }
            Assert.Null(MountTable.Find(dir));
        }
        finally
        {
            if (MountTable.Find(dir) is null) Directory.Delete(parent, recursive: true);
        }
    });

    [FuseFact]
    public Task An_external_umount_ends_the_session_and_Wait_returns() => Task.Run(() =>
    {
        var fs = new InstrumentedFileSystem(new ModelFileSystem());
        using var m = TestMount.Start(fs);
        Assert.False(m.Mount.Wait(TimeSpan.FromMilliseconds(50)));
        Shell.Ok($"umount {Shell.Quote(m.Dir)}");
        Assert.True(m.Mount.Wait(TimeSpan.FromSeconds(10)));
        Assert.False(m.Mount.IsMounted);
        Assert.Equal(1, fs.Syncs);
    });

    [FuseFact]
    public Task Unmount_with_a_file_still_open_detaches_and_finishes_when_it_closes() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        var stream = new FileStream(m.P("open-file"), FileMode.Create, FileAccess.ReadWrite);
        try
        {
            stream.Write("kept open"u8);
            stream.Flush();
            var unmount = StartThread(m.Mount.Unmount);
            // Detached lazily: gone from the namespace at once, still served for the open file.
            Assert.True(SpinWait.SpinUntil(() => MountTable.Find(m.Dir) is null, 10_000), "the mount was not detached");
            Assert.True(m.Mount.IsMounted);
            stream.Position = 0;
            var buf = new byte[9];
            Assert.Equal(9, stream.Read(buf));
            Assert.Equal("kept open", Encoding.ASCII.GetString(buf));
            stream.Dispose();
            Assert.True(unmount.Join(TimeSpan.FromSeconds(10)), "the session did not end after the last file closed");
            Assert.False(m.Mount.IsMounted);
            Assert.DoesNotContain(m.Log, l => l.Contains("aborting", StringComparison.Ordinal));
        }
        finally
        {
            stream.Dispose();
        }
    });

    [FuseFact]
    public Task Unmount_aborts_the_connection_when_a_file_stays_open_too_long() => Task.Run(() =>
    {
        var fs = new InstrumentedFileSystem(new ModelFileSystem());
        using var m = TestMount.Start(fs, new FuseMountOptions { UnmountTimeout = TimeSpan.FromSeconds(1) });
        var stream = new FileStream(m.P("held"), FileMode.Create, FileAccess.ReadWrite);
        try
        {
            stream.Write("x"u8);
            stream.Flush();
            var unmount = StartThread(m.Mount.Unmount);
            Assert.True(unmount.Join(TimeSpan.FromSeconds(15)), "unmount did not finish by aborting");
            Assert.False(m.Mount.IsMounted);
            Assert.Equal(1, fs.Syncs);
            Assert.Contains(m.Log, l => l.Contains("aborting the FUSE connection", StringComparison.Ordinal));
            // The file outlived its file system: using it now fails instead of hanging.
            stream.Position = 0;
            Assert.ThrowsAny<IOException>(() => stream.Read(new byte[1]));
        }
        finally
        {
            try { stream.Dispose(); } catch (IOException) { /* the connection is gone */ }
        }
    });

    /// <summary>A dedicated thread (not the thread pool, which may be starved by parallel tests).</summary>
    private static Thread StartThread(Action action)
    {
        var t = new Thread(() => action()) { IsBackground = true };
        t.Start();
        return t;
    }

    [FuseFact]
    public Task A_libfs_exception_becomes_EIO_and_the_mount_keeps_serving() => Task.Run(() =>
    {
        var fs = new InstrumentedFileSystem(new ModelFileSystem());
        using var m = TestMount.Start(fs);
        m.ExpectFaults = true;
        var lookup = Shell.Run($"stat {Shell.Quote(m.P(InstrumentedFileSystem.ThrowingName))}");
        Assert.NotEqual(0, lookup.Exit);
        Assert.Contains("Input/output error", lookup.Err);
        File.WriteAllText(m.P("x"), "1");
        var xattr = Shell.Run($"getfattr -n {InstrumentedFileSystem.ThrowingXattr} {Shell.Quote(m.P("x"))}");
        Assert.NotEqual(0, xattr.Exit);
        Assert.Contains("Input/output error", xattr.Err);
        Assert.Equal("1", File.ReadAllText(m.P("x")));
        Assert.Contains(m.Log, l => l.Contains("injected lookup bug", StringComparison.Ordinal));
        Assert.Contains(m.Log, l => l.Contains("injected getxattr bug", StringComparison.Ordinal));
    });

    [FuseFact]
    public Task Debug_mode_sends_libfuse_request_trace_to_the_mount_log() => Task.Run(() =>
    {
        using var m = TestMount.Start(options: new FuseMountOptions { Debug = true });
        for (int i = 0; i < 20; i++) Assert.False(File.Exists(m.P($"absent-{i}")));
        // libfuse formats these lines itself (printf-style with a va_list) before they reach the sink.
        Assert.Contains(m.Log, l => l.StartsWith("unique: ", StringComparison.Ordinal) && l.Contains("opcode: LOOKUP", StringComparison.Ordinal));
    });

    [FuseFact]
    public Task Two_mounts_in_one_process_serve_their_own_file_systems() => Task.Run(() =>
    {
        using var a = TestMount.Start();
        using var b = TestMount.Start();
        File.WriteAllText(a.P("which"), "a");
        File.WriteAllText(b.P("which"), "b");
        Assert.Equal("a", File.ReadAllText(a.P("which")));
        Assert.Equal("b", File.ReadAllText(b.P("which")));
        a.Mount.Unmount();
        Assert.Equal("b", File.ReadAllText(b.P("which")));
    });
}
