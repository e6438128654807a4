using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Testing.Crash;
using ExoFS.Xn;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>
/// A kill -9 of the process serving FFS: the image holds exactly the device writes issued before the kill. With a
/// small dirty budget FFS writes back every few blocks, and with a cache far smaller than the workload XN writes
/// dirty pages back under pressure at the end of any XN call: so also in the middle of one FFS operation (between
/// the Alloc that sets a pointer and the inode write that follows). Every prefix of the writes must recover with
/// leaks only, as soft updates promise.
/// </summary>
public class KillPointTests
{
    private static readonly Caller Me = new(1000, 1000);

    /// <summary>Forwards to a memory device and keeps every write, in order, so that any prefix can be rebuilt.</summary>
    private sealed class WriteLog(MemoryDevice inner) : IBlockDevice
    {
        public readonly List<(BlockNo Start, byte[] Data)> Writes = [];
        public ulong BlockCount => inner.BlockCount;
        public void Read(BlockNo start, Span<byte> buffer) => inner.Read(start, buffer);
        public void Write(BlockNo start, ReadOnlySpan<byte> data)
        {
            inner.Write(start, data);
            Writes.Add((start, data.ToArray()));
        }
        public void Flush() => inner.Flush();
        public void Barrier() => inner.Barrier();
        public void Dispose() { }
    }

    [Fact]
    public void Every_prefix_of_the_writes_under_cache_pressure_recovers_with_leaks_only()
    {
        var target = new FfsCrashTarget();
        var formatted = new MemoryDevice(target.DeviceBlocks);
        target.Format(formatted);
        var log = new WriteLog(formatted.Clone());
        var kernel = new ExoKernel();
        var vol = XnVolume.Load(log, kernel, new XnOptions { CachePages = 12 }).Value;
        var env = kernel.CreateEnvironment("ffs");
        var cap = vol.GrantRoot(FfsFileSystem.DefaultRootName, env);
        Assert.True(cap.Ok, cap.ToString());
        var mounted = FfsFileSystem.Mount(vol.Attach(env, mayInstallRoots: false), cap.Value, vol.BlockCount, out string? error);
        Assert.True(mounted.Ok, error);
        var fs = mounted.Value;
        fs.DirtyBudget = 3;   // FFS's own write-back, every few blocks, inside operations too

        // Small files (direct pointers), a file grown past its direct pointers by small appends (each new block
        // an Alloc into an indirect block), a whole-block run, an xattr block, a rename and an unlink.
        var dir = fs.MkDir(InodeNo.Root, "d", 0x1ED, Me).Value;
        for (int i = 0; i < 12; i++)
        {
            var (f, fh) = fs.Create(dir.Ino, $"f{i}", 0x1A4, OpenFlags.ReadWrite, Me).Value;
            Assert.Equal(6, fs.Write(f.Ino, fh, 0, "small\n"u8.ToArray()).Value);
            fs.Release(f.Ino, fh);
        }
        var (big, bh) = fs.Create(InodeNo.Root, "big", 0x1A4, OpenFlags.ReadWrite, Me).Value;
        var chunk = new byte[3000];
        for (int k = 0; k < 24; k++)
        {
            chunk.AsSpan().Fill((byte)(k + 1));
            Assert.Equal(chunk.Length, fs.Write(big.Ino, bh, k * chunk.Length, chunk).Value);
        }
        Assert.Equal(16 * 4096, fs.Write(big.Ino, bh, 24 * chunk.Length + 4096 - 24 * chunk.Length % 4096, new byte[16 * 4096]).Value);
        fs.Release(big.Ino, bh);
        Assert.Equal(Errno.OK, fs.SetXattr(dir.Ino, "user.note", new byte[600], XattrFlags.None));
        Assert.Equal(Errno.OK, fs.Rename(dir.Ino, "f3", InodeNo.Root, "moved", RenameFlags.None));
        Assert.Equal(Errno.OK, fs.Unlink(dir.Ino, "f5"));
        Assert.Equal(Errno.OK, fs.Sync());
        Assert.True(log.Writes.Count > 20, $"only {log.Writes.Count} writes");

        // The process dies after write k, for every k: recovery (FFS's walk) finds leaks at most.
        var state = formatted.Clone();
        for (int k = 0; k < log.Writes.Count; k++)
        {
            state.Write(log.Writes[k].Start, log.Writes[k].Data);
            var recovered = target.Recover(state.Clone());
            Assert.True(recovered.Mount is not null, $"after write {k + 1} of {log.Writes.Count}: {string.Join("; ", recovered.Problems)}");
            Assert.True(recovered.Damage.Count == 0, $"after write {k + 1} of {log.Writes.Count}: {string.Join("; ", recovered.Damage)}");
        }
    }
}
