using ExoFS.LibFs.Lfs.Log;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>A flush that cannot finish (no segment for the log to go on in) leaves nothing the file system points at unreadable.</summary>
public sealed class CutShortFlushTests
{
    private static readonly InodeNo Root = InodeNo.Root;

    /// <summary>
    /// Three files of 40 blocks each, dirty together, then a sync while the disk refuses new segments: the flush
    /// fills the head segment and stops. The partials it closed hold blocks the files now point at; they reach the
    /// disk with their summaries, so every file reads back whole (before: the files whose blocks went into those
    /// partials answered EIO, their summaries never written), and once segments are there again the sync succeeds,
    /// fsck is clean and a remount reads the same; a crash right after the cut-short flush recovers the last
    /// checkpoint's state.
    /// </summary>
    [Fact]
    public void Files_read_back_after_a_flush_cut_short_for_want_of_a_segment()
    {
        var fake = new FakeLfsDisk(8192, segBlocks: 64);
        var disk = CheckedLfsDisk.Wrap(fake);
        var fs = LfsFileSystem.FormatOn(disk).Ok();
        var content = new List<(InodeNo Ino, byte[] Bytes)>();
        var rng = new Random(4);
        for (int n = 0; n < 3; n++)
        {
            var bytes = new byte[40 * 4096];
            rng.NextBytes(bytes);
            content.Add((fs.WriteFile(Root, $"f{n}", bytes).Ino, bytes));
        }
        fake.NoMoreSegments = true;
        Assert.Equal(Errno.ENOSPC, fs.Sync());
        foreach (var (ino, bytes) in content) Assert.Equal(bytes, fs.ReadFile(ino));
        // A crash now, every write in flight kept or none: the flush's unit was never ended, so recovery gives the
        // state of the last checkpoint (the empty root), clean.
        foreach (bool keep in new[] { true, false })
        {
            var crashed = LfsFileSystem.MountOn(CheckedLfsDisk.Wrap(fake.Crash(_ => keep))).Ok();
            Assert.Empty(crashed.Names(Root));
            LfsTestKit.AssertClean(crashed);
            crashed.Dispose();
        }

        fake.NoMoreSegments = false;
        Assert.Equal(Errno.OK, fs.Sync());
        foreach (var (ino, bytes) in content) Assert.Equal(bytes, fs.ReadFile(ino));
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsFileSystem.MountOn(CheckedLfsDisk.Wrap(fake)).Ok();
        foreach (var (ino, bytes) in content) Assert.Equal(bytes, again.ReadFile(ino));
        LfsTestKit.AssertClean(again);
    }
}
