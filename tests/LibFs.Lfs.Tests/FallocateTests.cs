using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// fallocate's reservations in the log (the shared conformance suite checks the semantics): statfs counts them
/// as used, nothing else can take their room, a write into them does not fail with ENOSPC, and their count
/// survives a remount and a crash (roll-forward recounts it).
/// </summary>
public sealed class FallocateTests
{
    private const int B = LfsLayout.BlockSize;
    private static readonly InodeNo Root = InodeNo.Root;

    [Fact]
    public void Reserved_blocks_are_used_space_that_only_their_file_can_write()
    {
        var (fs, dev) = LfsTestKit.Fresh(24UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var (attr, fh) = fs.Create(Root, "big", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Ok();
        ulong free0 = fs.StatFs().Ok().BlocksFree;
        // Reserve nearly all the free space (each reserved block is charged a margin: see ReservedCharge).
        Assert.Equal(Errno.ENOSPC, fs.Fallocate(attr.Ino, fh, FallocateMode.Allocate, 0, (long)(free0 + 1) * B));
        long reserve = (long)(free0 * 7 / 8 - 64) * B;
        fs.Fallocate(attr.Ino, fh, FallocateMode.Allocate, 0, reserve).Ok();
        ulong free1 = fs.StatFs().Ok().BlocksFree;
        Assert.True(free1 + (ulong)reserve / B <= free0, $"statfs free {free1} after reserving {reserve / B} of {free0} blocks");
        Assert.True(free1 < free0 / 8, $"statfs free {free1} after reserving {reserve / B} of {free0} blocks");
        Assert.Equal((ulong)reserve / 512, fs.GetAttr(attr.Ino).Ok().Blocks512);

        // Another file cannot take the reserved room...
        var (otherAttr, ofh) = fs.Create(Root, "other", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Ok();
        var chunk = new byte[16 * B];
        Errno last = Errno.OK;
        for (int k = 0; k < 64 && last == Errno.OK; k++)
        {
            var w = fs.Write(otherAttr.Ino, ofh, (long)k * chunk.Length, chunk);
            last = w.Ok ? Errno.OK : w.Error;
        }
        Assert.Equal(Errno.ENOSPC, last);

        // ...and the file that reserved it writes every block of it, with syncs (and so cleaning) along the way.
        var data = new byte[64 * B];
        for (long at = 0; at < reserve; at += data.Length)
        {
            new Random((int)(at / data.Length)).NextBytes(data);
            int n = (int)Math.Min(data.Length, reserve - at);
            var w = fs.Write(attr.Ino, fh, at, data.AsSpan(0, n));
            Assert.True(w.Ok, $"write into reserved blocks at {at}: {w}");
            if (w.Value != n)
            {
                var retry = fs.Write(attr.Ino, fh, at + w.Value, data.AsSpan(w.Value, n - w.Value));
                Assert.Fail($"short write at {at}: {w.Value} of {n}; then {retry}; free {fs.StatFs().Ok().BlocksFree} reserved {fs.Tree.Reserved} immediate {fs.ImmediateBlocks()} need {fs.NeedFor(2)} live {fs.Usage.TotalLive}");
            }
            if (at / data.Length % 16 == 15) fs.Sync().Ok();
        }
        Assert.Equal((ulong)reserve / 512, fs.GetAttr(attr.Ino).Ok().Blocks512);
        fs.Release(attr.Ino, fh).Ok();
        fs.Release(otherAttr.Ino, ofh).Ok();
        LfsTestKit.AssertClean(fs);
        fs.Dispose();

        var again = LfsTestKit.Mount(dev);
        var big = again.Get(Root, "big");
        var back = again.ReadFile(big.Ino);
        for (long at = 0; at < reserve; at += data.Length)
        {
            new Random((int)(at / data.Length)).NextBytes(data);
            int n = (int)Math.Min(data.Length, reserve - at);
            Assert.True(data.AsSpan(0, n).SequenceEqual(back.AsSpan((int)at, n)), $"content at {at}");
        }
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }

    [Fact]
    public void Reservations_survive_a_remount_and_a_crash_and_go_back_when_unused()
    {
        var disk = new FakeLfsDisk(8192);
        var fs = LfsFileSystem.FormatOn(disk).Value;
        var (attr, fh) = fs.Create(Root, "f", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Ok();
        ulong free0 = fs.StatFs().Ok().BlocksFree;
        fs.Fallocate(attr.Ino, fh, FallocateMode.KeepSize, 0, 100 * B).Ok();
        fs.Write(attr.Ino, fh, 10 * B, "x"u8).Ok();
        fs.Sync().Ok();
        // After the checkpoint: 99 reservations, one written block.
        fs.Fallocate(attr.Ino, fh, FallocateMode.PunchHole | FallocateMode.KeepSize, 0, 5 * B).Ok();
        fs.Fsync(attr.Ino, fh, false).Ok();
        // Rolled forward: the punch gave 5 back (94 reserved, the written block and a new one-byte size).
        var crashed = disk.Crash(_ => false);
        var after = LfsFileSystem.MountOn(crashed).Value;
        Assert.True(after.Recovery.UnitsRolledForward >= 1);
        var f = after.Get(Root, "f");
        Assert.Equal((ulong)95 * (B / 512), after.GetAttr(f.Ino).Ok().Blocks512);
        ulong free1 = after.StatFs().Ok().BlocksFree;
        Assert.True(free0 - free1 >= 95 && free0 - free1 <= 110, $"free {free0} before, {free1} with 95 blocks held");
        LfsTestKit.AssertClean(after);
        // A truncate to the size drops what lies past it: the room comes back.
        after.SetAttr(f.Ino, new SetAttrRequest { Size = 10 * B + 1 }).Ok();
        Assert.Equal((ulong)6 * (B / 512), after.GetAttr(f.Ino).Ok().Blocks512);
        after.Sync().Ok();
        Assert.True(after.StatFs().Ok().BlocksFree >= free1 + 85);
        LfsTestKit.AssertClean(after);
        after.Dispose();
        var clean = LfsFileSystem.MountOn(crashed).Value;
        Assert.Equal((ulong)6 * (B / 512), clean.GetAttr(clean.Get(Root, "f").Ino).Ok().Blocks512);
        LfsTestKit.AssertClean(clean);
    }

    [Fact]
    public void Collapse_rewrites_moved_blocks_so_the_cleaner_keeps_them()
    {
        // The cleaner decides liveness from the file block a summary names: a block collapse moved must not
        // look dead when its old segment is cleaned.
        var (fs, dev) = LfsTestKit.Fresh(16UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var content = new byte[40 * B];
        new Random(5).NextBytes(content);
        var f = fs.WriteFile(Root, "f", content);
        fs.Sync().Ok();
        var fh = fs.Open(f.Ino, OpenFlags.ReadWrite).Ok();
        fs.Fallocate(f.Ino, fh, FallocateMode.CollapseRange, 4 * B, 8 * B).Ok();
        fs.Release(f.Ino, fh).Ok();
        fs.Sync().Ok();
        for (int k = 0; k < 10 && fs.Cleaner.CleanOnce(); k++) { }
        var expect = content.AsSpan(0, 4 * B).ToArray().Concat(content.AsSpan(12 * B).ToArray()).ToArray();
        Assert.Equal(expect, fs.ReadFile(f.Ino));
        LfsTestKit.AssertClean(fs);
        fs.Dispose();
        var again = LfsTestKit.Mount(dev);
        Assert.Equal(expect, again.ReadFile(again.Get(Root, "f").Ino));
        LfsTestKit.AssertClean(again);
        again.Dispose();
    }
}
