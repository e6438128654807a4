using System.Text.Json;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs;

namespace ExoFS.Cli.Tests;

/// <summary><c>exofs info</c> of an unmounted image shows the host's last-recovery record (kept in XN's superblock).</summary>
public sealed class LastRecoveryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("exofs-lastrec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Exofs(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Dispatch(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>An image whose host died with an unlinked file still open (a leak) after a sync.</summary>
    private string CrashedImage()
    {
        string image = Path.Combine(_dir, "fs.img");
        Assert.Equal(0, Exofs("mkfs", image, "--size", "64M").Code);
        var dev = ImageFileDevice.Open(image);
        var host = ExoHost.Load(dev, out string? error, new HostOptions { PageFrames = ExoHost.ImagePageFrames });
        Assert.True(host.Ok, error);
        var fs = host.Value.Attach("ffs", out error).Value.FileSystem;
        var f = fs.Create(InodeNo.Root, "orphan", 0x81A4, OpenFlags.ReadWrite, Caller.Root).Value;
        fs.Write(f.Attr.Ino, f.Handle, 0, new byte[40000]);
        Assert.Equal(Errno.OK, fs.Unlink(InodeNo.Root, "orphan"));
        Assert.Equal(Errno.OK, fs.Sync());
        dev.Dispose();   // the host is abandoned: no unmount, no clean flag
        return image;
    }

    [Fact]
    public void Info_of_an_unmounted_image_shows_the_last_recovery_and_then_the_repair_that_followed()
    {
        string image = CrashedImage();
        Assert.Contains("last recovery: none recorded", Exofs("info", image).Out);

        // What a mount's daemon does after the crash: XN's recovery at load, then each root's (FFS defers its walk).
        var host = ExoHost.OpenImage(image, out string? error);
        Assert.True(host.Ok, error);
        using (host.Value) Assert.Equal(Errno.OK, host.Value.RunRootRecovery(out error));

        var info = Exofs("info", image);
        Assert.Equal(0, info.Code);
        Assert.Matches(@"last recovery: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(mount 3\), recovery after an unclean shutdown: xn 1 line\(s\), ffs root 'ffs' 1 line\(s\)", info.Out);
        Assert.Contains("  xn: free map settled from the in-flight record", info.Out);
        Assert.Contains("  ffs root 'ffs': leaks not reclaimed yet", info.Out);

        using (var doc = JsonDocument.Parse(Exofs("info", image, "--json").Out))
        {
            var last = doc.RootElement.GetProperty("lastRecovery");
            Assert.Equal(RecoveryRecord.AfterCrash, last.GetProperty("kind").GetString());
            Assert.Equal(3, last.GetProperty("mountCount").GetInt32());
            var sources = last.GetProperty("sources").EnumerateArray().Select(s => (s.GetProperty("source").GetString(), s.GetProperty("lines").GetInt32())).ToList();
            Assert.Equal([("xn", 1), ("ffs root 'ffs'", 1)], sources);
            Assert.Equal(2, last.GetProperty("lines").GetArrayLength());
            Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse(last.GetProperty("when").GetString()!) < TimeSpan.FromMinutes(5));
        }

        // fsck --repair reclaims the leak: the record now says what the repair did.
        var repair = Exofs("fsck", image, "--repair");
        Assert.True(repair.Code == 1, repair.Out + repair.Err);
        info = Exofs("info", image);
        Assert.Matches(@"last recovery: .*, fsck --repair: root 'ffs' \d+ line\(s\)", info.Out);
        Assert.Matches(@"  root 'ffs': repaired: leak: ", info.Out);
        Assert.DoesNotContain("leaks not reclaimed", info.Out);

        // A clean mount and unmount leave the record as it was.
        using (var again = ExoHost.OpenImage(image, out error).Value) again.Attach("ffs", out error).Value.Dispose();
        Assert.Equal(info.Out.Split('\n').Where(l => l.StartsWith("last recovery:", StringComparison.Ordinal)),
            Exofs("info", image).Out.Split('\n').Where(l => l.StartsWith("last recovery:", StringComparison.Ordinal)));
    }
}
