using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// A write of up to <see cref="LfsFileSystem.WholeWriteSpaceCheck"/> bytes that reclaimable space cannot cover
/// answers ENOSPC before it writes anything (the shared model's rule), instead of coming back short; one that
/// fits is written whole, cleaning first if it must.
/// </summary>
public sealed class WriteSpaceTests
{
    private const int B = LfsLayout.BlockSize;
    private static readonly InodeNo Root = InodeNo.Root;

    [Fact]
    public void A_write_that_cannot_fit_answers_ENOSPC_and_writes_nothing()
    {
        var (fs, _) = LfsTestKit.Fresh(24UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var (fill, ffh) = fs.Create(Root, "fill", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Ok();
        // Fill until statfs has room for fewer than 200 blocks, with syncs so dead space is won back as we go.
        var chunk = new byte[16 * B];
        new Random(3).NextBytes(chunk);
        long at = 0;
        while (fs.StatFs().Ok().BlocksFree > 200 + 16)
        {
            Assert.Equal(chunk.Length, fs.Write(fill.Ino, ffh, at, chunk).Ok());
            at += chunk.Length;
            if (at % (64 * chunk.Length) == 0) fs.Sync().Ok();
        }
        fs.Sync().Ok();
        ulong free = fs.StatFs().Ok().BlocksFree;
        Assert.InRange(free, 100UL, 216UL);

        // 1 MiB (256 new blocks) cannot fit: ENOSPC, and the file is as it was (empty, no blocks).
        var (big, bfh) = fs.Create(Root, "big", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Ok();
        var mib = new byte[256 * B];
        new Random(4).NextBytes(mib);
        var w = fs.Write(big.Ino, bfh, 0, mib);
        Assert.False(w.Ok, $"a 1 MiB write with room for {free} blocks wrote {(w.Ok ? w.Value : 0)} bytes");
        Assert.Equal(Errno.ENOSPC, w.Error);
        var attr = fs.GetAttr(big.Ino).Ok();
        Assert.Equal(0UL, attr.Size);
        Assert.Equal(0UL, attr.Blocks512);
        Assert.Equal(free, fs.StatFs().Ok().BlocksFree);

        // What does fit is written whole, and reads back.
        int fits = (int)(free / 2) * B;
        Assert.Equal(fits, fs.Write(big.Ino, bfh, 0, mib.AsSpan(0, fits)).Ok());
        var back = new byte[fits];
        Assert.Equal(fits, fs.Read(big.Ino, bfh, 0, back).Ok());
        Assert.True(back.AsSpan().SequenceEqual(mib.AsSpan(0, fits)));
        fs.Release(big.Ino, bfh).Ok();
        fs.Release(fill.Ino, ffh).Ok();
        fs.Sync().Ok();
        LfsTestKit.AssertClean(fs);
    }

    [Fact]
    public void An_overwrite_that_fits_is_whole_on_a_nearly_full_volume()
    {
        var (fs, _) = LfsTestKit.Fresh(24UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var (f, fh) = fs.Create(Root, "f", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root).Ok();
        var chunk = new byte[64 * B];
        long at = 0;
        while (fs.StatFs().Ok().BlocksFree > 300)
        {
            new Random((int)(at / chunk.Length)).NextBytes(chunk);
            Assert.Equal(chunk.Length, fs.Write(f.Ino, fh, at, chunk).Ok());
            at += chunk.Length;
        }
        fs.Sync().Ok();
        // Overwriting 2 MiB in place needs log room (the cleaner makes it) but no free space: it is written whole.
        var two = new byte[512 * B];
        new Random(9).NextBytes(two);
        for (int k = 0; k < 6; k++)
            Assert.Equal(two.Length, fs.Write(f.Ino, fh, 0, two).Ok());
        var back = new byte[two.Length];
        Assert.Equal(two.Length, fs.Read(f.Ino, fh, 0, back).Ok());
        Assert.True(back.AsSpan().SequenceEqual(two));
        fs.Release(f.Ino, fh).Ok();
        fs.Sync().Ok();
        LfsTestKit.AssertClean(fs);
    }

    /// <summary>
    /// A 12 MiB volume (256 KiB segments) kept at its full edge: overwrites and appends of 1 to 512 blocks into a
    /// few files, a file unlinked now and then after a refusal so space comes and goes, a sync every 32 calls. Every write of up to
    /// 2 MiB is whole or answers ENOSPC having changed nothing (the file's size and bytes read back as before).
    /// Before the whole-write check made the room for every block it writes (an overwrite's new copy included)
    /// up front, seeds 1 to 4 each saw writes come back short.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Writes_at_a_full_volume_edge_are_whole_or_change_nothing(int seed)
    {
        var (fs, _) = LfsTestKit.Fresh(12UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var rng = new Random(seed);
        var files = new List<(string Name, InodeNo Ino, FileHandle Fh, List<byte> Bytes)>();
        int next = 0, enospc = 0, wholeAfterFull = 0;
        bool refused = false;
        for (int op = 0; op < 4000 && enospc < 150; op++)
        {
            if (files.Count < 4 || (refused && rng.Next(4) == 0))
            {
                refused = false;
                if (files.Count >= 4)
                {
                    var gone = files[rng.Next(files.Count)];
                    fs.Release(gone.Ino, gone.Fh).Ok();
                    Assert.Equal(Errno.OK, fs.Unlink(Root, gone.Name));
                    fs.Forget(gone.Ino, 1);
                    files.Remove(gone);
                }
                var c = fs.Create(Root, $"f{next}", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root);
                if (!c.Ok) { Assert.Equal(Errno.ENOSPC, c.Error); enospc++; refused = true; continue; }
                files.Add(($"f{next++}", c.Value.Attr.Ino, c.Value.Handle, new List<byte>()));
                continue;
            }
            var f = files[rng.Next(files.Count)];
            int blocks = rng.Next(4) == 0 ? rng.Next(1, 513) : rng.Next(1, 65);
            var data = new byte[blocks * B - (rng.Next(2) == 0 ? rng.Next(1, B) : 0)];
            rng.NextBytes(data);
            long at = f.Bytes.Count > data.Length && rng.Next(3) != 0 ? rng.Next(f.Bytes.Count - data.Length) : f.Bytes.Count;
            var w = fs.Write(f.Ino, f.Fh, at, data);
            if (w.Ok)
            {
                Assert.True(w.Value == data.Length, $"op {op}: a {data.Length}-byte write at {at} of a {f.Bytes.Count}-byte file came back short: {w.Value}");
                if (at + data.Length > f.Bytes.Count) f.Bytes.AddRange(new byte[at + data.Length - f.Bytes.Count]);
                for (int k = 0; k < data.Length; k++) f.Bytes[(int)at + k] = data[k];
                if (enospc > 0) wholeAfterFull++;
            }
            else
            {
                Assert.Equal(Errno.ENOSPC, w.Error);
                enospc++;
                refused = true;
                Assert.Equal((ulong)f.Bytes.Count, fs.GetAttr(f.Ino).Ok().Size);
                var back = new byte[f.Bytes.Count];
                Assert.Equal(back.Length, fs.Read(f.Ino, f.Fh, 0, back).Ok());
                Assert.True(back.AsSpan().SequenceEqual(f.Bytes.ToArray()), $"op {op}: a refused write changed the file");
            }
            if (op % 32 == 31) Assert.Equal(Errno.OK, fs.Sync());
        }
        Assert.True(enospc >= 20, $"the volume's edge was met {enospc} times");
        Assert.True(wholeAfterFull >= 20, $"{wholeAfterFull} writes were whole once the volume had filled");
        foreach (var f in files)
        {
            var back = new byte[f.Bytes.Count];
            Assert.Equal(back.Length, fs.Read(f.Ino, f.Fh, 0, back).Ok());
            Assert.True(back.AsSpan().SequenceEqual(f.Bytes.ToArray()), $"{f.Name} reads back different bytes");
            fs.Release(f.Ino, f.Fh).Ok();
        }
        Assert.Equal(Errno.OK, fs.Sync());
        LfsTestKit.AssertClean(fs);
    }
}
