using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Testing;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// The running counts of dirty state that <see cref="LfsFileSystem.PendingBlocks"/> adds up (dirty data blocks,
/// tree nodes, xattr sets) stay equal to a scan of the inodes through every kind of call that dirties or cleans
/// them: writes deep enough to make tree nodes, truncates and hole punches that drop nodes, xattrs, unlinks of
/// dirty files, flushes, syncs and the cleaner's passes on a nearly full volume.
/// </summary>
public sealed class DirtyCountTests
{
    private const int B = LfsLayout.BlockSize;
    private static readonly InodeNo Root = InodeNo.Root;

    [Fact]
    public void Running_dirty_counts_equal_a_scan_after_every_call()
    {
        var (fs, _) = LfsTestKit.Fresh(12UL << 20, new LfsFormatOptions { SegmentBytes = 256 << 10 });
        var rng = new Random(7);
        var files = new List<(string Name, InodeNo Ino, FileHandle Fh)>();
        var data = new byte[64 * B];
        rng.NextBytes(data);
        int maxNodes = 0, maxXattrs = 0, next = 0;
        bool full = false; // the last call met ENOSPC: the next one unlinks
        void Check(string after)
        {
            var problems = fs.CheckDirtyCounts();
            Assert.True(problems.Count == 0, $"after {after}: {string.Join("; ", problems)}");
            maxNodes = Math.Max(maxNodes, fs.Tree.DirtyNodes);
            maxXattrs = Math.Max(maxXattrs, fs.DirtyXattrs);
        }
        for (int op = 0; op < 3000; op++)
        {
            // Unlink when space runs short, so the volume stays clear of ENOSPC (this test is about the counts).
            full |= fs.StatFs().Ok().BlocksFree < 600;
            int kind = full && files.Count > 1 ? 7 : files.Count < 4 ? 0 : rng.Next(files.Count > 12 ? 10 : 9);
            full = false;
            var f = files.Count == 0 ? default : files[rng.Next(files.Count)];
            string what = kind.ToString();
            switch (kind)
            {
                case 0:
                {
                    var c = fs.Create(Root, $"f{next}", FileMode.Regular | 0x1A4, OpenFlags.ReadWrite, Caller.Root);
                    Assert.True(c.Ok || c.Error == Errno.ENOSPC, $"create: {c}");
                    if (c.Ok) files.Add(($"f{next++}", c.Value.Attr.Ino, c.Value.Handle));
                    full = !c.Ok;
                    what = "create";
                    break;
                }
                case 1 or 2 or 3:
                {
                    // Direct blocks, the single tree, and the double tree (from block 524 on).
                    long at = rng.Next(3) switch { 0 => rng.Next(12) * B, 1 => (12 + rng.Next(512)) * B, _ => (524L + rng.Next(1024)) * B };
                    var w = fs.Write(f.Ino, f.Fh, at, data.AsSpan(0, rng.Next(1, data.Length)));
                    Assert.True(w.Ok || w.Error == Errno.ENOSPC, $"write: {w}");
                    full = !w.Ok;
                    what = $"write at {at}";
                    break;
                }
                case 4:
                {
                    ulong size = (ulong)rng.Next(0, 600 * B);
                    var r = fs.SetAttr(f.Ino, new SetAttrRequest { Size = size });
                    Assert.True(r.Ok || r.Error == Errno.ENOSPC, $"truncate: {r}");
                    full = !r.Ok;
                    what = $"truncate to {size}";
                    break;
                }
                case 5:
                {
                    long at = rng.Next(0, 2000) * (long)B;
                    var e = fs.Fallocate(f.Ino, f.Fh, FallocateMode.PunchHole | FallocateMode.KeepSize, at, rng.Next(1, 600) * (long)B);
                    Assert.True(e is Errno.OK or Errno.ENOSPC, $"punch: {e}");
                    full = e != Errno.OK;
                    what = $"punch at {at}";
                    break;
                }
                case 6:
                {
                    var e = rng.Next(3) == 0 ? fs.RemoveXattr(f.Ino, "user.a") : fs.SetXattr(f.Ino, "user.a", data.AsSpan(0, rng.Next(1, 2000)), XattrFlags.None);
                    Assert.True(e is Errno.OK or Errno.ENODATA or Errno.ENOSPC, $"xattr: {e}");
                    full = e == Errno.ENOSPC;
                    what = "xattr";
                    break;
                }
                case 7:
                {
                    fs.Release(f.Ino, f.Fh).Ok();
                    fs.Unlink(Root, f.Name).Ok();
                    fs.Forget(f.Ino, 1);
                    files.Remove(f);
                    what = "unlink";
                    break;
                }
                case 8:
                    var sf = fs.Fsync(f.Ino, f.Fh, false);
                    Assert.True(sf is Errno.OK or Errno.ENOSPC, $"fsync: {sf}");
                    full = sf != Errno.OK;
                    what = "fsync";
                    break;
                default:
                    if (rng.Next(4) == 0) { var ss = fs.Sync(); Assert.True(ss is Errno.OK or Errno.ENOSPC, $"sync: {ss}"); full = ss != Errno.OK; what = "sync"; }
                    else what = "nothing";
                    break;
            }
            Check($"op {op} ({what})");
        }
        // The counts were exercised, not only zero.
        Assert.True(maxNodes > 2, $"at most {maxNodes} dirty tree nodes at once");
        Assert.True(maxXattrs > 0, "no dirty xattr set ever");
        Assert.True(fs.Cleaner.SegmentsCleaned > 0, "the cleaner never ran");
        foreach (var (name, ino, fh) in files)
        {
            fs.Release(ino, fh).Ok();
            fs.Unlink(Root, name).Ok();
            fs.Forget(ino, 1);
            Check($"unlink {name}");
        }
        LfsTestKit.AssertClean(fs);
    }
}
