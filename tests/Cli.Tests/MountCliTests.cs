using System.Diagnostics;
using ExoFS.Cli.Mounting;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs;
using ExoFS.Xn;

namespace ExoFS.Cli.Tests;

/// <summary>
/// <c>exofs mount</c> / <c>exofs umount</c> end to end: the built exofs binary mounts real FFS images through
/// FUSE (daemon and foreground), ordinary tools work on the mount, and the image is clean after every way of
/// unmounting.
/// </summary>
public sealed class MountCliTests : IDisposable
{
    private readonly MountCliHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [FuseFact]
    public void Daemon_mount_serves_ordinary_tools_and_survives_umount_and_remount()
    {
        string image = _h.MakeImage(size: "512M");
        string mnt = _h.NewMountPoint();
        _h.Mount(image, mnt);
        string m = Q(mnt);

        // A real source tree, through tar, compared byte for byte (and in modes and times, by tar's listing).
        _h.Ok($"tar -C /usr/include -cf src.tar linux && tar -C {m} -xf src.tar && diff -r /usr/include/linux {m}/linux", 120_000);
        _h.Ok($"cp -a {m}/linux {m}/copy && diff -r {m}/linux {m}/copy");
        _h.Ok($"mkdir {m}/a {m}/b && mv {m}/copy/netfilter {m}/a/ && mv {m}/a/netfilter {m}/b/nf && test -f {m}/b/nf/x_tables.h && test ! -e {m}/a/netfilter");
        _h.Ok($"rm -rf {m}/copy && test ! -e {m}/copy");
        Assert.Equal(_h.Ok("find /usr/include/linux -type f | wc -l"), _h.Ok($"find {m}/linux -type f | wc -l"));
        Assert.True(long.Parse(_h.Ok($"du -sk {m}/linux | cut -f1").Trim()) > 1000);
        _h.Ok($"echo hello > {m}/f && ln {m}/f {m}/hard && ln -s f {m}/soft && test $(stat -c %h {m}/f) = 2 && test $(cat {m}/soft) = hello && test $(readlink {m}/soft) = f");
        _h.Ok($"chmod 640 {m}/f && test $(stat -c %a {m}/f) = 640");
        _h.Ok($"touch -d '2001-02-03 04:05:06' {m}/f && test $(stat -c %Y {m}/f) = 981173106");
        _h.Ok($"cd {m} && mkdir repo && cd repo && git init -q && cp -a ../linux/netfilter . && git add -A && git -c user.name=t -c user.email=t@t commit -qm first && git log --oneline | grep -q first && git status --porcelain | wc -l | grep -qx 0", 120_000);
        // Several processes writing different files at once.
        _h.Ok($"for i in 1 2 3 4; do (dd if=/dev/urandom of={m}/par$i bs=64k count=40 status=none; for j in $(seq 1 50); do echo $i $j > {m}/b/p$i-$j; done) & done; wait; " +
              $"for i in 1 2 3 4; do test $(stat -c %s {m}/par$i) = 2621440 || exit 1; done; test $(ls {m}/b | wc -l) = 201", 120_000);
        string listing = $"cd {m} && find . -path ./repo/.git -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum";
        string before = _h.Ok(listing, 120_000);

        _h.Umount(mnt);
        _h.AssertFsckClean(image);

        _h.Mount(image, mnt);
        Assert.Equal(before, _h.Ok(listing, 120_000));
        _h.Ok($"cd {m}/repo && git -c core.fsmonitor=false status --porcelain | wc -l | grep -qx 0 && git fsck --no-progress 2>&1 | wc -l | grep -qx 0");
        _h.Umount(mnt);
        _h.AssertFsckClean(image);
    }

    [FuseFact]
    public void A_read_only_mount_serves_the_files_and_never_writes_the_image()
    {
        string image = _h.MakeImage();
        string mnt = _h.NewMountPoint();
        _h.Mount(image, mnt);
        _h.Ok($"mkdir {Q(mnt)}/d && echo kept > {Q(mnt)}/d/f");
        _h.Umount(mnt);
        string hash = _h.Ok($"sha256sum {Q(image)}");

        _h.Mount(image, mnt, "-o", "ro");
        Assert.Equal("kept\n", _h.Ok($"cat {Q(mnt)}/d/f"));
        var write = _h.Sh($"echo new > {Q(mnt)}/d/g");
        Assert.NotEqual(0, write.Exit);
        Assert.Contains("Read-only file system", write.Err);
        // A second read-only mount of the same image may coexist; a read-write one may not.
        string mnt2 = _h.NewMountPoint("mnt2");
        _h.Mount(image, mnt2, "-o", "ro");
        Assert.Equal("kept\n", _h.Ok($"cat {Q(mnt2)}/d/f"));
        var rw = _h.Exofs("mount", image, _h.NewMountPoint("mnt3"));
        Assert.NotEqual(0, rw.Exit);
        Assert.Contains("in use", rw.Err);
        _h.Umount(mnt2);
        _h.Umount(mnt);

        Assert.Equal(hash, _h.Ok($"sha256sum {Q(image)}"));
        _h.AssertFsckClean(image);
    }

    [FuseFact]
    public void Refusals_are_one_line_with_a_nonzero_exit()
    {
        string image = _h.MakeImage(size: "64M");
        string mnt = _h.NewMountPoint("mnt"), other = _h.NewMountPoint("other");
        string garbage = Path.Combine(_h.Dir, "garbage.img");
        File.WriteAllBytes(garbage, Enumerable.Range(0, 1 << 16).Select(i => (byte)(i * 131 + 7)).ToArray());
        string file = Path.Combine(_h.Dir, "plain");
        File.WriteAllText(file, "x");

        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", Path.Combine(_h.Dir, "missing.img"), mnt), "no such image file");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", garbage, mnt), "not an ExoFS image");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", image, Path.Combine(_h.Dir, "nowhere")), "does not exist");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", image, file), "is not a directory");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", image, mnt, "-o", "no_such_option"), "no_such_option");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", image, mnt, "--libfs", "lfs"), "no root named 'lfs'");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", image), "missing MOUNTPOINT");
        Assert.False(MountCliHarness.IsMounted(mnt));

        _h.Mount(image, mnt);
        // The image's daemon answers a second mount: the same root cannot be mounted read-write twice.
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", image, other), "root 'ffs' is already mounted on");
        string second = _h.MakeImage("second.img", "64M");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("mount", second, mnt), "is busy");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("umount", other), "is not mounted");
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("umount", "/proc"), "not an exofs mount");
        // The refused attempts did not disturb the mount that was there.
        _h.Ok($"echo still > {Q(mnt)}/x && cat {Q(mnt)}/x");
        _h.Umount(mnt);
        _h.AssertFsckClean(image);
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("umount", mnt), "is not mounted");
    }

    [FuseFact]
    public void Sigterm_to_the_daemon_unmounts_and_leaves_the_image_clean()
    {
        string image = _h.MakeImage(size: "64M");
        string mnt = _h.NewMountPoint();
        int pid = _h.Mount(image, mnt);
        _h.Ok($"mkdir {Q(mnt)}/d && for i in $(seq 1 100); do echo $i > {Q(mnt)}/d/f$i; done");
        Assert.Equal(0, _h.Sh($"kill -TERM {pid}").Exit);
        MountCliHarness.WaitUntil(() => !MountCliHarness.ProcessAlive(pid), 60_000, "the daemon did not exit after SIGTERM");
        Assert.False(MountCliHarness.IsMounted(mnt));
        _h.AssertFsckClean(image);
        _h.Mount(image, mnt);
        Assert.Equal("100", _h.Ok($"ls {Q(mnt)}/d | wc -l").Trim());
        Assert.Equal("42", _h.Ok($"cat {Q(mnt)}/d/f42").Trim());
    }

    [FuseFact]
    public void External_umount_ends_the_daemon_with_the_image_clean()
    {
        string image = _h.MakeImage(size: "64M");
        string mnt = _h.NewMountPoint();
        int pid = _h.Mount(image, mnt);
        _h.Ok($"dd if=/dev/zero of={Q(mnt)}/big bs=1M count=8 status=none");
        _h.Ok($"fusermount3 -u {Q(mnt)}");
        MountCliHarness.WaitUntil(() => !MountCliHarness.ProcessAlive(pid), 60_000, "the daemon did not exit after fusermount3 -u");
        _h.AssertFsckClean(image);
        _h.Mount(image, mnt);
        Assert.Equal("8388608", _h.Ok($"stat -c %s {Q(mnt)}/big").Trim());
    }

    [FuseFact]
    public void Foreground_mount_stays_attached_until_a_signal_then_closes_clean()
    {
        string image = _h.MakeImage(size: "64M");
        string mnt = _h.NewMountPoint();
        using var p = Process.Start(_h.ExofsStartInfo("mount", image, mnt, "--foreground"))!;
        try
        {
            p.StandardInput.Close();
            var first = p.StandardOutput.ReadLineAsync();
            Assert.True(first.Wait(60_000), "no readiness line from the foreground mount");
            Assert.Contains("mounted on", first.Result);
            Assert.True(MountCliHarness.IsExofsMount(mnt));
            Assert.False(p.HasExited);
            _h.Ok($"echo fg > {Q(mnt)}/file");
            _h.Ok($"kill -TERM {p.Id}");
            Assert.True(p.WaitForExit(60_000), "foreground mount did not exit after SIGTERM");
            Assert.Equal(0, p.ExitCode);
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
        Assert.False(MountCliHarness.IsMounted(mnt));
        _h.AssertFsckClean(image);
    }

    [FuseFact]
    public void An_image_with_several_roots_needs_libfs_to_choose()
    {
        string image = Path.Combine(_h.Dir, "two.img");
        var made = _h.Exofs("mkfs", image, "--size", "64M", "--libfs", "ffs:home", "--libfs", "ffs:scratch");
        Assert.True(made.Exit == 0, made.ToString());
        string mnt = _h.NewMountPoint();
        var refused = _h.Exofs("mount", image, mnt);
        MountCliHarness.AssertOneLineRefusal(refused, "several libFS roots");
        Assert.Contains("home", refused.Err);
        Assert.Contains("scratch", refused.Err);
        _h.Mount(image, mnt, "--libfs", "scratch");
        _h.Ok($"touch {Q(mnt)}/in-scratch");
        _h.Umount(mnt);
        _h.AssertFsckClean(image);
        _h.Mount(image, mnt, "--libfs", "home");
        Assert.Equal("", _h.Ok($"ls {Q(mnt)}").Trim());
        _h.Umount(mnt);
    }

    [Fact]
    public void Mount_recovery_option_picks_xn_recovery_and_stays_out_of_fuse()
    {
        Assert.Equal(ExoFS.Xn.XnRecovery.InFlightRecord, new MountRequest("/x.img", "/mnt", null, []).Recovery);
        Assert.Equal(new ExoFS.Host.HostOptions().Recovery, new MountRequest("/x.img", "/mnt", null, []).Recovery);
        var scan = new MountRequest("/x.img", "/mnt", null, ["noatime,recovery=scan"]);
        Assert.Equal(ExoFS.Xn.XnRecovery.Scan, scan.Recovery);
        Assert.Equal(["noatime"], scan.ToFuseOptions(_ => { }, out _)!.ExtraOptions);
        Assert.Equal(ExoFS.Xn.XnRecovery.PersistedMap, new MountRequest("/x.img", "/mnt", null, ["recovery=scan", "recovery=map"]).Recovery);
        Assert.Equal(ExoFS.Xn.XnRecovery.InFlightRecord, new MountRequest("/x.img", "/mnt", null, ["recovery=record"]).Recovery);
        Assert.Null(new MountRequest("/x.img", "/mnt", null, ["recovery=fast"]).ToFuseOptions(_ => { }, out string error));
        Assert.Equal("recovery= takes record, scan or map, not 'fast'", error);
    }

    [Fact]
    public void Mount_options_map_well_known_words_and_drop_fstab_ones()
    {
        var request = new MountRequest("/x.img", "/mnt", null, ["rw,defaults,noauto,allow_other,noatime", "fsname=mine,x-systemd.automount,_netdev"]);
        var o = request.ToFuseOptions(_ => { }, out string error);
        Assert.NotNull(o);
        Assert.Equal("", error);
        Assert.True(o.AllowOther);
        Assert.Equal("mine", o.FsName);
        Assert.Equal("exofs", o.Subtype);
        Assert.Equal(["noatime"], o.ExtraOptions);
        // Shared by default wherever allow_other may be granted, private on request or where it may not be.
        Assert.True(new MountRequest("/x.img", "/mnt", null, []).ToFuseOptions(_ => { }, out _, mayAllowOther: true)!.AllowOther);
        Assert.False(new MountRequest("/x.img", "/mnt", null, ["private"]).ToFuseOptions(_ => { }, out _, mayAllowOther: true)!.AllowOther);
        Assert.False(new MountRequest("/x.img", "/mnt", null, ["allow_other,private"]).ToFuseOptions(_ => { }, out _, mayAllowOther: true)!.AllowOther);
        Assert.False(new MountRequest("/x.img", "/mnt", null, []).ToFuseOptions(_ => { }, out _, mayAllowOther: false)!.AllowOther);
        Assert.Null(new MountRequest("/x.img", "/mnt", null, ["allow_other"]).ToFuseOptions(_ => { }, out error, mayAllowOther: false));
        Assert.Contains("user_allow_other", error);
        Assert.DoesNotContain("private", new MountRequest("/x.img", "/mnt", null, ["private"]).ToFuseOptions(_ => { }, out _, mayAllowOther: true)!.ExtraOptions);
        Assert.Null(new MountRequest("/x.img", "/mnt", null, ["ro,,noatime"]).ToFuseOptions(_ => { }, out error));
        Assert.Contains("empty mount option", error);
        Assert.Equal("/x.img", new MountRequest("/x.img", "/mnt", null, []).ToFuseOptions(_ => { }, out _)!.FsName);
        Assert.Equal(TimeSpan.FromMicroseconds(200), new MountRequest("/x.img", "/mnt", null, []).ToFuseOptions(_ => { }, out _)!.Spin);
        Assert.Equal(TimeSpan.Zero, new MountRequest("/x.img", "/mnt", null, ["spin=0"]).ToFuseOptions(_ => { }, out _)!.Spin);
        Assert.Equal(TimeSpan.FromMicroseconds(50), new MountRequest("/x.img", "/mnt", null, ["noatime,spin=50"]).ToFuseOptions(_ => { }, out _)!.Spin);
        foreach (string bad in new[] { "spin=", "spin=-1", "spin=fast", "spin=100001" })
        {
            Assert.Null(new MountRequest("/x.img", "/mnt", null, [bad]).ToFuseOptions(_ => { }, out error));
            Assert.StartsWith("spin= takes microseconds", error);
        }
    }

    [Fact]
    public void State_file_names_differ_for_different_mount_points()
    {
        string[] points = ["/mnt/a-b", "/mnt/a/b", "/mnt/a_b", "/mnt/a b", "/mnt/a_2db", "/", "/mnt/é"];
        var names = points.Select(DaemonRecord.Escape).ToList();
        Assert.Equal(points.Length, names.Distinct().Count());
        Assert.All(names, n => Assert.DoesNotContain('/', n));
    }
}
