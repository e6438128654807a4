using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ExoFS.Cli.Tests;

/// <summary>
/// Several libFS roots of one image served at once by one host process (the image's daemon), each root a guest
/// with its own environment and FUSE session: real mounts driven by ordinary tools, info and fsck asked of the
/// running host, and recovery after the daemon is killed reported rather than done silently.
/// </summary>
public sealed class MultiRootMountTests : IDisposable
{
    private readonly MountCliHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";

    private string MakeTwoRootImage(string size = "512M")
    {
        string image = Path.Combine(_h.Dir, "two.img");
        var made = _h.Exofs("mkfs", image, "--size", size, "--libfs", "ffs", "--libfs", "ffs:home");
        Assert.True(made.Exit == 0, made.ToString());
        Assert.Contains("root 'ffs' (ffs)", made.Out);
        Assert.Contains("root 'home' (ffs)", made.Out);
        return image;
    }

    [FuseFact]
    public void Two_roots_of_one_image_are_served_by_one_daemon_and_unmount_independently()
    {
        string image = MakeTwoRootImage();
        string a = _h.NewMountPoint("a"), b = _h.NewMountPoint("b");
        int pidA = _h.Mount(image, a, "--libfs", "ffs");
        int pidB = _h.Mount(image, b, "--libfs", "home");
        Assert.Equal(pidA, pidB);   // the second mount joined the image's host
        Assert.Single(Process.GetProcesses(), p => p.Id == pidA);

        // An untar into each root in parallel, then each compared with the source and with the other.
        _h.Ok($"tar -C /usr/include -cf src.tar linux");
        _h.Ok($"(tar -C {Q(a)} -xf src.tar) & (tar -C {Q(b)} -xf src.tar) & wait; diff -r /usr/include/linux {Q(a)}/linux && diff -r {Q(a)}/linux {Q(b)}/linux", 180_000);
        _h.Ok($"echo only-in-a > {Q(a)}/mine && test ! -e {Q(b)}/mine");

        // info and fsck (checking only) on the mounted image are answered by its host.
        var info = _h.Exofs("info", image);
        Assert.True(info.Exit == 0, info.ToString());
        Assert.Matches(new Regex($"mounted: +root 'ffs' on {Regex.Escape(a)}"), info.Out);
        Assert.Matches(new Regex($"mounted: +root 'home' on {Regex.Escape(b)}"), info.Out);
        var check = _h.Exofs("fsck", image);
        Assert.True(check.Exit == 0, check.ToString());
        Assert.Contains("checking the live state", check.Out);
        MountCliHarness.AssertOneLineRefusal(_h.Exofs("fsck", image, "--repair"), "unmount it before");

        // One root goes; the other keeps serving from the same daemon.
        _h.Umount(a);
        Assert.True(MountCliHarness.ProcessAlive(pidA), "the daemon exited although a root is still mounted");
        _h.Ok($"cat {Q(b)}/linux/types.h > /dev/null && echo more > {Q(b)}/later && sync -f {Q(b)}/later");
        // ... and the unmounted one can come back, joining the same host.
        Assert.Equal(pidA, _h.Mount(image, a, "--libfs", "ffs"));
        Assert.Equal("only-in-a\n", _h.Ok($"cat {Q(a)}/mine"));

        _h.Umount(b);
        _h.Umount(a);
        WaitGone(pidA);
        _h.AssertFsckClean(image);

        // After both are gone a fresh daemon serves them again, with everything in place.
        string a2 = _h.NewMountPoint("a2");
        _h.Mount(image, a2, "--libfs", "home");
        Assert.Equal("more\n", _h.Ok($"cat {Q(a2)}/later"));
        _h.Ok($"diff -r /usr/include/linux {Q(a2)}/linux", 120_000);
        _h.Umount(a2);
        _h.AssertFsckClean(image);
    }

    [FuseFact]
    public void Kill_9_of_the_daemon_then_fsck_says_what_recovery_will_do_mount_defers_the_leaks_and_repair_reclaims_them()
    {
        string image = MakeTwoRootImage("256M");
        string a = _h.NewMountPoint("a");
        int pid = _h.Mount(image, a, "--libfs", "home");
        // Four processes creating, writing, renaming and removing (and now and then fsyncing a directory, so that
        // the image holds states from the middle of the run) while the daemon is killed.
        string m = Q(a);
        var stress = _h.Sh($"for i in 1 2 3 4; do (mkdir -p {m}/d$i; for j in $(seq 1 400); do echo $i$j > {m}/d$i/f$j; " +
                           $"mv {m}/d$i/f$j {m}/d$i/g$j 2>/dev/null; [ $((j % 3)) = 0 ] && rm -f {m}/d$i/g$j; " +
                           $"[ $((j % 20)) = 0 ] && sync {m}/d$i; done) 2>/dev/null & done; sleep 3; kill -9 {pid}; wait; true",
                           120_000);
        Assert.Equal(0, stress.Exit);
        WaitGone(pid);
        _h.Sh($"umount -l {m} 2>/dev/null; fusermount3 -uz {m} 2>/dev/null; true");

        var check = _h.Exofs("fsck", image);
        Assert.True(check.Exit == 0, check.ToString());
        Assert.Contains("not cleanly unmounted", check.Out);
        Assert.Contains("a mount's recovery will do", check.Out);
        Assert.Contains("consistent once recovered", check.Out);

        // FFS orders its namespace writes by soft updates' rules: what its walk will do is reclaiming leaks
        // (unreachable inodes and blocks, link counts too high), nothing else.
        var ffsActions = check.Out.Split('\n').Where(l => l.Contains("will do: ffs root", StringComparison.Ordinal)).ToList();
        Assert.All(ffsActions, l => Assert.True(Regex.IsMatch(l, @"recovery \(fsck --repair; a mount defers leaks\) will do: ffs root '\w+': leak: "), check.Out));
        // So the mount defers the walk, and says so: XN's recovery, then the leaks left for fsck --repair.
        var mount = _h.Exofs("mount", image, a, "--libfs", "home");
        Assert.True(mount.Exit == 0, mount.ToString());
        Assert.Contains("recovery: xn: free map settled from the in-flight record", mount.Out);
        Assert.Contains("recovery: ffs root 'home': leaks not reclaimed yet", mount.Out);
        Assert.Contains("'exofs fsck --repair' reclaims them", mount.Out);
        Assert.DoesNotContain("damage:", mount.Out + check.Out);
        // Which of the stress's files survive is open; the root serves.
        _h.Ok($"ls {m} > /dev/null && echo after > {m}/after && test $(cat {m}/after) = after");
        _h.Umount(a);
        // The flag outlives the clean unmount; --repair reclaims what the crash left, leaks only, and clears it.
        var repair = _h.Exofs("fsck", image, "--repair");
        Assert.True(repair.Exit == 1, repair.ToString());
        Assert.Contains("leaks pending", repair.Out);
        var fixes = repair.Out.Split('\n').Where(l => l.Contains(": leak: ", StringComparison.Ordinal) || l.Contains(": damage: ", StringComparison.Ordinal)).ToList();
        Assert.All(fixes, l => Assert.Contains(": leak: ", l));
        Assert.DoesNotContain("damage:", repair.Out);
        Assert.Contains("repaired", repair.Out);
        var clean = _h.Exofs("fsck", image);
        Assert.True(clean.Exit == 0, clean.ToString());
        Assert.DoesNotContain("not cleanly", clean.Out);
        Assert.DoesNotContain("leaks pending", clean.Out);
        // And the next mount has nothing to report.
        var again = _h.Exofs("mount", image, a, "--libfs", "home");
        Assert.True(again.Exit == 0, again.ToString());
        Assert.DoesNotContain("recovery:", again.Out);
        _h.Umount(a);
    }

    [FuseFact]
    public void Ffs_and_lfs_roots_of_one_image_serve_ordinary_tools_side_by_side()
    {
        string image = Path.Combine(_h.Dir, "mixed.img");
        var made = _h.Exofs("mkfs", image, "--size", "512M", "--libfs", "ffs", "--libfs", "lfs");
        Assert.True(made.Exit == 0, made.ToString());
        string f = _h.NewMountPoint("f"), l = _h.NewMountPoint("l");
        int pid = _h.Mount(image, f, "--libfs", "ffs");
        Assert.Equal(pid, _h.Mount(image, l, "--libfs", "lfs", "-o", "cleaner=greedy"));
        string mf = Q(f), ml = Q(l);

        _h.Ok($"tar -C /usr/include -cf src.tar linux && (tar -C {mf} -xf src.tar & tar -C {ml} -xf src.tar & wait) && diff -r /usr/include/linux {ml}/linux && diff -r {mf}/linux {ml}/linux", 180_000);
        _h.Ok($"cp -a {ml}/linux {ml}/copy && diff -r {ml}/linux {ml}/copy && mkdir {ml}/x && mv {ml}/copy/netfilter {ml}/x/nf && test -f {ml}/x/nf/x_tables.h && rm -rf {ml}/copy && test ! -e {ml}/copy");
        Assert.Equal(_h.Ok("find /usr/include/linux -type f | wc -l"), _h.Ok($"find {ml}/linux -type f | wc -l"));
        _h.Ok($"cd {ml} && mkdir repo && cd repo && git init -q && cp -a ../x/nf . && git add -A && git -c user.name=t -c user.email=t@t commit -qm first && git fsck --no-progress 2>&1 | wc -l | grep -qx 0", 120_000);
        string listing = $"cd {ml} && find . -path ./repo/.git -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum";
        string before = _h.Ok(listing, 120_000);

        _h.Umount(l);
        _h.Umount(f);
        WaitGone(pid);
        _h.AssertFsckClean(image);
        _h.Mount(image, l, "--libfs", "lfs");
        Assert.Equal(before, _h.Ok(listing, 120_000));
        _h.Ok($"cd {ml}/repo && git log --oneline | grep -q first");
        _h.Umount(l);
        _h.AssertFsckClean(image);
    }

    private static void WaitGone(int pid)
    {
        var clock = Stopwatch.StartNew();
        while (MountCliHarness.ProcessAlive(pid))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"daemon {pid} did not exit");
            Thread.Sleep(50);
        }
    }
}
