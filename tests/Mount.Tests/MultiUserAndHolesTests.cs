using ExoFS.LibFs;
using ExoFS.LibFs.Testing;
using ExoFS.LibFs.Testing.Conformance;

namespace ExoFS.Mount.Tests;

/// <summary>
/// An FFS mount shared with other users (allow_other, default_permissions) checked call by call from an
/// unprivileged uid against what POSIX says each may do; and SEEK_DATA/SEEK_HOLE, fallocate and
/// copy_file_range reaching the libFS through FUSE's own ops.
/// </summary>
public class MultiUserAndHolesTests
{
    private const int Nobody = 65534;

    /// <summary>Counts the calls that the kernel could otherwise serve itself (or refuse) without the libFS.</summary>
    private sealed class Counting(IFileSystem inner) : ForwardingFileSystem<IFileSystem>(inner)
    {
        public int Fallocates, Lseeks, Copies;
        public long BytesWritten;
        public override Errno Fallocate(InodeNo ino, FileHandle fh, FallocateMode mode, long offset, long length)
        {
            Interlocked.Increment(ref Fallocates);
            return base.Fallocate(ino, fh, mode, offset, length);
        }
        public override Result<long> Lseek(InodeNo ino, FileHandle fh, long offset, SeekWhence whence)
        {
            Interlocked.Increment(ref Lseeks);
            return base.Lseek(ino, fh, offset, whence);
        }
        public override Result<long> CopyFileRange(InodeNo inIno, FileHandle inFh, long inOffset, InodeNo outIno, FileHandle outFh, long outOffset, long length)
        {
            Interlocked.Increment(ref Copies);
            return base.CopyFileRange(inIno, inFh, inOffset, outIno, outFh, outOffset, length);
        }
        public override Result<int> Write(InodeNo ino, FileHandle fh, long offset, ReadOnlySpan<byte> data)
        {
            Interlocked.Add(ref BytesWritten, data.Length);
            return base.Write(ino, fh, offset, data);
        }
    }

    /// <summary>
    /// Runs Python statements as <paramref name="uid"/> (no supplementary groups) and returns "OK" or the errno's
    /// name (EACCES, EPERM, ...), so each refusal is checked for its exact errno.
    /// </summary>
    private static string As(int uid, string statement)
    {
        string py = "import os, errno\ntry:\n    " + statement.Replace("\n", "\n    ") + "\n    print('OK')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])";
        return Shell.Ok($"setpriv --reuid={uid} --regid={uid} --clear-groups /usr/bin/python3 -c {Shell.Quote(py)}").Trim();
    }

    private static string Py(string path) => "'" + path.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    [FuseFact]
    public Task Another_user_may_do_what_POSIX_allows_and_is_refused_the_rest_with_its_errno() => Task.Run(() =>
    {
        var ffs = LibFsRegistry.Get("ffs").CreateFresh();
        using (var m = TestMount.Start(ffs, new FuseMountOptions { AllowOther = true }))
        {
            string pub = m.P("pub"), open = m.P("open");
            // As root: a sticky world-writable directory (like /tmp), a plain world-writable one, root's files.
            Shell.Ok($"mkdir -m 1777 {Shell.Quote(pub)} && mkdir -m 0777 {Shell.Quote(open)} && echo root > {Shell.Quote(pub + "/r")} && chmod 644 {Shell.Quote(pub + "/r")} && echo root > {Shell.Quote(open + "/r")}");
            string r = Py(pub + "/r"), mine = Py(pub + "/mine");

            // What the owner of a file, or anyone with write access to a directory, may do.
            Assert.Equal("OK", As(Nobody, $"open({mine}, 'x').write('hi')"));
            Assert.Equal($"{Nobody} {Nobody}", Shell.Ok($"stat -c '%u %g' {Shell.Quote(pub + "/mine")}").Trim());
            Assert.Equal("OK", As(Nobody, $"assert open({r}).read() == 'root\\n'"));
            Assert.Equal("OK", As(Nobody, $"os.chmod({mine}, 0o600)"));
            Assert.Equal("600", Shell.Ok($"stat -c %a {Shell.Quote(pub + "/mine")}").Trim());
            Assert.Equal("OK", As(Nobody, $"os.rename({mine}, {Py(pub + "/mine2")})"));
            Assert.Equal("OK", As(Nobody, $"os.mkdir({Py(pub + "/d")}); os.rename({Py(pub + "/d")}, {Py(pub + "/d2")})"));
            Assert.Equal("OK", As(Nobody, $"os.utime({Py(pub + "/mine2")}, (1, 1))"));
            // Without the sticky bit, write access to the directory is enough to remove another user's file.
            Assert.Equal("OK", As(Nobody, $"os.unlink({Py(open + "/r")})"));

            // What they may not.
            Assert.Equal("EACCES", As(Nobody, $"open({r}, 'a')"));                       // write a 0644 file of root's
            Assert.Equal("EACCES", As(Nobody, $"os.truncate({r}, 0)"));
            Assert.Equal("EPERM", As(Nobody, $"os.chmod({r}, 0o666)"));                 // chmod needs ownership
            Assert.Equal("EPERM", As(Nobody, $"os.chown({r}, {Nobody}, -1)"));          // chown is root's
            Assert.Equal("EPERM", As(Nobody, $"os.utime({r}, (1, 1))"));                // explicit times: owner only
            Assert.Equal("EACCES", As(Nobody, $"os.utime({r})"));                       // "now": owner or write access
            Assert.Equal("EPERM", As(Nobody, $"os.unlink({r})"));                       // sticky: not theirs to remove
            Assert.Equal("EPERM", As(Nobody, $"os.rename({r}, {Py(pub + "/stolen")})")); // nor to rename
            Assert.Equal("EACCES", As(Nobody, $"os.mkdir({Py(m.P("top"))})"));         // the root directory is 0755
            Assert.Equal("EACCES", As(Nobody - 1, $"open({Py(pub + "/mine2")})"));      // a third user, a 0600 file
            Assert.Equal("EPERM", As(Nobody - 1, $"os.unlink({Py(pub + "/mine2")})"));
            Assert.Equal("EPERM", As(Nobody - 1, $"os.rmdir({Py(pub + "/d2")})"));
            Assert.Equal("root\n", File.ReadAllText(pub + "/r"));
            Assert.Equal("hi", File.ReadAllText(pub + "/mine2")); // root reads past the mode, as everywhere
        }
        Assert.Empty(LibFsRegistry.Get("ffs").Fsck(ffs));
        ffs.Dispose();
    });

    [Fact]
    public void User_allow_other_is_read_from_fuse_conf_lines_not_comments()
    {
        string dir = TestMount.NewDirectory();
        try
        {
            string conf = Path.Combine(dir, "fuse.conf");
            Assert.False(FuseMountOptions.UserAllowOther(conf)); // no file: not allowed
            File.WriteAllText(conf, "# user_allow_other\nmount_max = 1000\n");
            Assert.False(FuseMountOptions.UserAllowOther(conf));
            File.WriteAllText(conf, "mount_max = 1000\n  user_allow_other   # let users share their mounts\n");
            Assert.True(FuseMountOptions.UserAllowOther(conf));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [FuseFact]
    public Task With_the_writeback_cache_seek_data_never_calls_unflushed_data_a_hole() => Task.Run(() =>
    {
        var ffs = LibFsRegistry.Get("ffs").CreateFresh();
        var fs = new Counting(ffs);
        using (var m = TestMount.Start(fs))
        {
            // Data still in the kernel's page cache (no fsync, no close): the libFS has not seen it yet.
            string script = $$"""
                fd = os.open({{Py(m.P("fresh"))}}, os.O_RDWR | os.O_CREAT, 0o644)
                os.pwrite(fd, b'a' * 100000, 0)
                print(os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 99999, os.SEEK_DATA))
                os.close(fd)
                """;
            Assert.Equal("0 100000 99999", Shell.Ok($"python3 -c {Shell.Quote("import os\n" + script)}").Trim());
            Assert.Equal(0, fs.Lseeks); // the adapter answers ENOSYS, and the kernel stops asking
        }
        Assert.Empty(LibFsRegistry.Get("ffs").Fsck(ffs));
        ffs.Dispose();
    });

    [FuseFact]
    public Task Seek_data_and_hole_fallocate_and_copy_file_range_are_served_by_the_libfs() => Task.Run(() =>
    {
        var ffs = LibFsRegistry.Get("ffs").CreateFresh();
        var fs = new Counting(ffs);
        // Without the writeback cache, which keeps SEEK_DATA/SEEK_HOLE in the kernel (see the next test).
        using (var m = TestMount.Start(fs, new FuseMountOptions { WritebackCache = false }))
        {
            string f = Py(m.P("sparse")), g = Py(m.P("copy"));
            string script = $$"""
                fd = os.open({{f}}, os.O_RDWR | os.O_CREAT, 0o644)
                os.pwrite(fd, b'a' * 4096, 0)
                os.pwrite(fd, b'b' * 4096, 5 << 20)
                os.fsync(fd)
                assert os.lseek(fd, 0, os.SEEK_HOLE) == 4096, 'hole'
                assert os.lseek(fd, 4096, os.SEEK_DATA) == 5 << 20, 'data'
                try:
                    os.lseek(fd, (5 << 20) + 4096, os.SEEK_DATA)
                    raise AssertionError('no ENXIO')
                except OSError as e:
                    assert e.errno == errno.ENXIO, e
                os.posix_fallocate(fd, 0, 1 << 20)
                libc = ctypes.CDLL(None, use_errno=True)
                assert libc.fallocate(fd, 3, ctypes.c_long(4096), ctypes.c_long(8192)) == 0, os.strerror(ctypes.get_errno())  # PUNCH_HOLE | KEEP_SIZE
                assert os.lseek(fd, 0, os.SEEK_HOLE) == 4096, 'punched'
                assert os.lseek(fd, 4096, os.SEEK_DATA) == 12288, 'after the punch'
                out = os.open({{g}}, os.O_RDWR | os.O_CREAT, 0o644)
                n = os.copy_file_range(fd, out, 4096, 5 << 20, 0)
                assert n == 4096, n
                assert os.pread(out, 10, 0) == b'b' * 10
                os.close(out)
                os.close(fd)
                print('done')
                """;
            Assert.Equal("done", Shell.Ok($"python3 -c {Shell.Quote("import os, errno, ctypes\n" + script)}").Trim());
            Assert.True(fs.Lseeks >= 5, $"{fs.Lseeks} lseek calls reached the libFS");
            Assert.True(fs.Fallocates >= 2, $"{fs.Fallocates} fallocate calls reached the libFS");
            Assert.Equal(1, fs.Copies);
            // The copy's bytes went from libFS to libFS inside the daemon (the wrapper sees only FUSE's writes): only
            // the two pwrites came through as writes, and posix_fallocate did not fall back to writing zeros.
            Assert.Equal(8192, Interlocked.Read(ref fs.BytesWritten));
        }
        Assert.Empty(LibFsRegistry.Get("ffs").Fsck(ffs));
        ffs.Dispose();
    });
}
