using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// RENAME_EXCHANGE between two directory blocks is made crash-atomic by an intent record in the superblock: a crash
/// after the intent reached the disk and before the entries did leaves the next read-write mount to finish it.
/// </summary>
public class ExchangeIntentTests
{
    private static readonly Caller Me = new(1000, 1000);

    /// <summary>/a/one (a file) and /b/two (a directory) exchanged until the process dies right after the intent is durable.</summary>
    private static (MemoryDevice Crashed, ulong One, ulong Two) CrashAfterIntent()
    {
        var dev = new MemoryDevice(16384);
        var fs = HostedFfs.FormatDevice(dev, out string? error).Value;
        var a = fs.MkDir(InodeNo.Root, "a", 0x1ED, Me).Value;
        var b = fs.MkDir(InodeNo.Root, "b", 0x1ED, Me).Value;
        var (one, fh) = fs.Create(a.Ino, "one", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        fs.Write(one.Ino, fh, 0, new byte[5000]);
        fs.Release(one.Ino, fh);
        var two = fs.MkDir(b.Ino, "two", 0x1ED, Me).Value;
        Assert.Equal(Errno.OK, fs.Sync());
        fs.StopAfterExchangeIntent = true;
        Assert.Equal(Errno.EIO, fs.Rename(a.Ino, "one", b.Ino, "two", RenameFlags.Exchange));
        return (dev.Clone(), one.Ino.Value, two.Ino.Value);   // the process dies here
    }

    private static ExoHost Load(IBlockDevice dev, bool readOnly = false)
    {
        var host = ExoHost.Load(dev, out string? error, new HostOptions { ReadOnly = readOnly });
        Assert.True(host.Ok, error);
        return host.Value;
    }

    [Fact]
    public void A_mount_completes_an_exchange_whose_intent_reached_the_disk()
    {
        var (dev, one, two) = CrashAfterIntent();
        using var host = Load(dev);
        var guest = host.Attach("ffs", out string? error);
        Assert.True(guest.Ok, error);
        var fs = (FfsFileSystem)guest.Value.FileSystem;
        Assert.Contains(string.Format(FfsFileSystem.IntentRedoneLine, 3), fs.RecoveryActions);
        var a = fs.Lookup(InodeNo.Root, "a").Value.Ino;
        var b = fs.Lookup(InodeNo.Root, "b").Value.Ino;
        Assert.Equal(two, fs.Lookup(a, "one").Value.Ino.Value);
        Assert.Equal(one, fs.Lookup(b, "two").Value.Ino.Value);
        Assert.Equal(a.Value, fs.Lookup(new InodeNo(two), "..").Value.Ino.Value); // the moved directory's ".." too
        var report = Fsck.Check(fs);
        Assert.All(report.Findings, f => Assert.True(f.IsLeak, f.ToString()));
    }

    [Fact]
    public void A_read_only_mount_says_the_exchange_is_pending_and_a_read_write_mount_then_completes_it()
    {
        var (dev, one, two) = CrashAfterIntent();
        using (var host = Load(dev, readOnly: true))
        {
            var guest = host.Attach("ffs", out string? error);
            Assert.True(guest.Ok, error);
            var fs = (FfsFileSystem)guest.Value.FileSystem;
            Assert.True(fs.IntentPending);
            Assert.Contains(FfsFileSystem.IntentPendingLine, fs.RecoveryActions);
            var b = fs.Lookup(InodeNo.Root, "b").Value.Ino;
            Assert.Equal(two, fs.Lookup(b, "two").Value.Ino.Value); // not applied: the view is the old one
        }
        using (var host = Load(dev))
        {
            var fs = (FfsFileSystem)host.Attach("ffs", out _).Value.FileSystem;
            Assert.False(fs.IntentPending);
            var b = fs.Lookup(InodeNo.Root, "b").Value.Ino;
            Assert.Equal(one, fs.Lookup(b, "two").Value.Ino.Value);
        }
    }

    [Fact]
    public void Intent_records_round_trip_and_malformed_ones_are_refused()
    {
        var block = new byte[FfsLayout.BlockSize];
        Assert.Empty(NameIntent.Decode(block)!);
        var entries = new[] { new NameIntent.Retarget(5, 0, 24, 9, 8), new NameIntent.Retarget(7, 3, 4000, 12, 4) };
        NameIntent.Encode(entries).CopyTo(block, Superblock.IntentOffset);
        Assert.Equal(entries, NameIntent.Decode(block));
        block[Superblock.IntentOffset + 4] = 9; // count past the maximum
        Assert.Null(NameIntent.Decode(block));
        block[Superblock.IntentOffset + 4] = 2;
        block[Superblock.IntentOffset + NameIntent.HeaderBytes + 16] = 3; // an offset off the 8-byte grain
        Assert.Null(NameIntent.Decode(block));
        var stray = new byte[FfsLayout.BlockSize];
        stray[Superblock.IntentOffset + 40] = 1; // no magic, yet not zero
        Assert.Null(NameIntent.Decode(stray));
    }
}
