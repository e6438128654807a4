using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using ExoFS.LibFs;
using FileMode = System.IO.FileMode;

namespace ExoFS.Mount.Tests;

/// <summary>POSIX operations made by ordinary programs (System.IO, coreutils, attr) on a mounted model libFS.</summary>
public partial class PosixThroughMountTests
{
    [FuseFact]
    public Task Files_written_through_the_mount_read_back_and_reach_the_libfs() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        byte[] data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 123);
        File.WriteAllBytes(m.P("big.bin"), data);
        Assert.Equal(data, File.ReadAllBytes(m.P("big.bin")));
        Assert.Equal(data.Length, new FileInfo(m.P("big.bin")).Length);

        // Random access: overwrite the middle, read a window across the change.
        using (var fs = new FileStream(m.P("big.bin"), FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = 1_000_000;
            fs.Write("XYZ"u8);
            fs.Flush();
            fs.Position = 999_999;
            var window = new byte[5];
            fs.ReadExactly(window);
            Assert.Equal(new[] { data[999_999], (byte)'X', (byte)'Y', (byte)'Z', data[1_000_003] }, window);
        }
        var attr = m.Model.Lookup(InodeNo.Root, "big.bin");
        Assert.True(attr.Ok);
        Assert.Equal((ulong)data.Length, attr.Value.Size);
        Assert.Empty(m.Model.Check());
    });

    [FuseFact]
    public Task Append_truncate_and_sparse_writes_behave_as_on_linux() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        string f = Shell.Quote(m.P("log"));
        Shell.Ok($"echo one >> {f}; echo two >> {f}");
        Assert.Equal("one\ntwo\n", File.ReadAllText(m.P("log")));
        Shell.Ok($": > {f}");
        Assert.Equal(0, new FileInfo(m.P("log")).Length);
        Shell.Ok($"truncate -s 10000 {f}");
        Assert.Equal(new byte[10000], File.ReadAllBytes(m.P("log")));
        Shell.Ok($"printf end | dd of={f} bs=1 seek=20000 conv=notrunc status=none");
        byte[] all = File.ReadAllBytes(m.P("log"));
        Assert.Equal(20003, all.Length);
        Assert.All(all.AsSpan(0, 20000).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal("end", Encoding.ASCII.GetString(all, 20000, 3));
    });

    [FuseFact]
    public Task Directories_are_made_renamed_and_removed_with_posix_errors() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        Directory.CreateDirectory(m.P("a/b/c"));
        File.WriteAllText(m.P("a/b/c/file"), "x");
        Directory.Move(m.P("a/b"), m.P("moved"));
        Assert.True(File.Exists(m.P("moved/c/file")));
        Assert.False(Directory.Exists(m.P("a/b")));

        var rmdir = Shell.Run($"rmdir {Shell.Quote(m.P("moved"))}");
        Assert.Contains("Directory not empty", rmdir.Err);
        var mkdir = Shell.Run($"mkdir {Shell.Quote(m.P("a"))}");
        Assert.Contains("File exists", mkdir.Err);
        var missing = Shell.Run($"cat {Shell.Quote(m.P("nope"))}");
        Assert.Contains("No such file or directory", missing.Err);

        File.Delete(m.P("moved/c/file"));
        Directory.Delete(m.P("moved/c"));
        Directory.Delete(m.P("moved"));
        Assert.Equal(["a"], Directory.GetFileSystemEntries(m.Dir).Select(Path.GetFileName));
        // nlink of a directory: 2 + subdirectories.
        Directory.CreateDirectory(m.P("a/s1"));
        Directory.CreateDirectory(m.P("a/s2"));
        Assert.Equal("4", Shell.Ok($"stat -c %h {Shell.Quote(m.P("a"))}").Trim());
    });

    [FuseFact]
    public Task Symlinks_resolve_and_readlink_returns_the_target() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        File.WriteAllText(m.P("target.txt"), "through the link");
        File.CreateSymbolicLink(m.P("link"), "target.txt");
        Assert.Equal("target.txt", new FileInfo(m.P("link")).LinkTarget);
        Assert.Equal("through the link", File.ReadAllText(m.P("link")));
        Assert.Equal("target.txt", Shell.Ok($"readlink {Shell.Quote(m.P("link"))}").Trim());
        Assert.Equal("symbolic link", Shell.Ok($"stat -c %F {Shell.Quote(m.P("link"))}").Trim());
        string longTarget = string.Join('/', Enumerable.Repeat("dir", 300));
        File.CreateSymbolicLink(m.P("long"), longTarget);
        Assert.Equal(longTarget, new FileInfo(m.P("long")).LinkTarget);
        File.CreateSymbolicLink(m.P("dangling"), "does/not/exist");
        Assert.Contains("No such file", Shell.Run($"cat {Shell.Quote(m.P("dangling"))}").Err);
    });

    [FuseFact]
    public Task Hard_links_share_data_and_count_links() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        File.WriteAllText(m.P("one"), "first");
        Shell.Ok($"ln {Shell.Quote(m.P("one"))} {Shell.Quote(m.P("two"))}");
        Assert.Equal("2 2", Shell.Ok($"stat -c %h {Shell.Quote(m.P("one"))} {Shell.Quote(m.P("two"))} | paste -sd' '").Trim());
        Assert.Equal(Shell.Ok($"stat -c %i {Shell.Quote(m.P("one"))}"), Shell.Ok($"stat -c %i {Shell.Quote(m.P("two"))}"));
        File.WriteAllText(m.P("two"), "second");
        Assert.Equal("second", File.ReadAllText(m.P("one")));
        File.Delete(m.P("one"));
        Assert.Equal("1", Shell.Ok($"stat -c %h {Shell.Quote(m.P("two"))}").Trim());
        Assert.Equal("second", File.ReadAllText(m.P("two")));
    });

    [FuseFact]
    public Task Chmod_chown_and_touch_set_mode_owner_and_nanosecond_times() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        File.WriteAllText(m.P("f"), "x");
        File.SetUnixFileMode(m.P("f"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.SetUser);
        Assert.Equal("4640", Shell.Ok($"stat -c %a {Shell.Quote(m.P("f"))}").Trim());
        Shell.Ok($"chown 1234:5678 {Shell.Quote(m.P("f"))}");
        // chown clears set-user-ID, as on Linux.
        Assert.Equal("640 1234 5678", Shell.Ok($"stat -c '%a %u %g' {Shell.Quote(m.P("f"))}").Trim());
        Shell.Ok($"touch -m -d '2001-02-03 04:05:06.123456789' {Shell.Quote(m.P("f"))}");
        Shell.Ok($"touch -a -d '1999-12-31 23:59:59.5' {Shell.Quote(m.P("f"))}");
        Assert.Equal("2001-02-03 04:05:06.123456789 +0000",
            Shell.Ok($"stat -c %y {Shell.Quote(m.P("f"))}").Trim());
        Assert.Equal("1999-12-31 23:59:59.500000000 +0000",
            Shell.Ok($"stat -c %x {Shell.Quote(m.P("f"))}").Trim());
        var model = m.Model.Lookup(InodeNo.Root, "f").Value;
        Assert.Equal(new Timespec(981173106, 123456789), model.Mtime);
        Shell.Ok($"touch {Shell.Quote(m.P("f"))}");
        Assert.True(m.Model.GetAttr(model.Ino).Value.Mtime.Sec > 1_600_000_000);
    });

    [FuseFact]
    public Task Extended_attributes_are_set_listed_read_and_removed() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        string f = Shell.Quote(m.P("f"));
        File.WriteAllText(m.P("f"), "x");
        Shell.Ok($"setfattr -n user.color -v blue {f}");
        Shell.Ok($"setfattr -n user.empty {f}");
        string big = new('v', 5000);
        Shell.Ok($"setfattr -n user.big -v {big} {f}");
        string dump = Shell.Ok($"getfattr -d --absolute-names {f}");
        Assert.Contains("user.color=\"blue\"", dump);
        Assert.Contains("user.empty", dump);
        Assert.Contains($"user.big=\"{big}\"", dump);
        Assert.Equal("blue", Shell.Ok($"getfattr --only-values -n user.color {f}"));
        Assert.Equal(["user.big", "user.color", "user.empty"],
            Shell.Ok($"getfattr --absolute-names -m - {f}").Split('\n').Where(l => l.StartsWith("user.", StringComparison.Ordinal)).Order());
        Shell.Ok($"setfattr -x user.color {f}");
        Assert.Contains("No such attribute", Shell.Run($"getfattr -n user.color {f}").Err);
        Assert.Contains("No such attribute", Shell.Run($"setfattr -x user.color {f}").Err);
        Assert.True(m.Model.GetXattr(m.Model.Lookup(InodeNo.Root, "f").Value.Ino, "user.big").Ok);
    });

    [FuseFact]
    public Task A_large_directory_lists_every_entry_across_several_readdir_replies() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        Directory.CreateDirectory(m.P("many"));
        var expected = new HashSet<string>();
        for (int i = 0; i < 1200; i++)
        {
            string name = $"entry-{i:D5}-" + new string('n', i % 200);
            expected.Add(name);
            File.WriteAllBytes(m.P("many/" + name), []);
        }
        Assert.Equal(expected, Directory.GetFiles(m.P("many")).Select(p => Path.GetFileName(p)!).ToHashSet());
        // ls -l makes the kernel use readdirplus; the listing and the sizes must agree.
        string[] lines = Shell.Ok($"ls -la {Shell.Quote(m.P("many"))}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1200 + 3, lines.Length); // "total", ".", ".."
        Assert.Equal("1200", Shell.Ok($"find {Shell.Quote(m.P("many"))} -type f | wc -l").Trim());
    });

    [FuseFact]
    public Task Rename_noreplace_and_exchange_flags_reach_the_libfs() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        File.WriteAllText(m.P("a"), "A");
        File.WriteAllText(m.P("b"), "B");
        Assert.Equal(-1, RenameAt2(m.P("a"), m.P("b"), 1 /* RENAME_NOREPLACE */));
        Assert.Equal(17 /* EEXIST */, Marshal.GetLastPInvokeError());
        Assert.Equal(0, RenameAt2(m.P("a"), m.P("b"), 2 /* RENAME_EXCHANGE */));
        Assert.Equal("B", File.ReadAllText(m.P("a")));
        Assert.Equal("A", File.ReadAllText(m.P("b")));
        Assert.Equal(0, RenameAt2(m.P("a"), m.P("c"), 1));
        Assert.False(File.Exists(m.P("a")));
        Assert.Equal("B", File.ReadAllText(m.P("c")));
    });

    [FuseFact]
    public Task Fifos_statfs_and_the_callers_identity_pass_through() => Task.Run(() =>
    {
        using var m = TestMount.Start(options: new FuseMountOptions { AllowOther = true });
        Shell.Ok($"mkfifo {Shell.Quote(m.P("pipe"))}");
        Assert.Equal("fifo", Shell.Ok($"stat -c %F {Shell.Quote(m.P("pipe"))}").Trim());

        var stats = m.Model.StatFs().Value;
        Assert.Equal($"{stats.BlockSize} {stats.Blocks} {stats.FilesFree}",
            Shell.Ok($"stat -f -c '%S %b %d' {Shell.Quote(m.Dir)}").Trim());

        // A file created by another user is owned by that user (the caller's uid/gid from fuse_req_ctx).
        Directory.CreateDirectory(m.P("shared"));
        File.SetUnixFileMode(m.P("shared"), (UnixFileMode)0x1FF);
        Shell.Ok($"setpriv --reuid=4321 --regid=8765 --clear-groups sh -c 'echo mine > {m.P("shared/theirs")}; mkdir {m.P("shared/d")}; ln -s x {m.P("shared/l")}'");
        Assert.Equal("4321 8765\n4321 8765\n4321 8765",
            Shell.Ok($"cd {Shell.Quote(m.P("shared"))} && stat -c '%u %g' theirs d l").Trim());
        // default_permissions: the kernel refuses what the modes forbid.
        File.SetUnixFileMode(m.P("shared/theirs"), UnixFileMode.UserRead);
        var denied = Shell.Run($"setpriv --reuid=999 --regid=999 --clear-groups cat {Shell.Quote(m.P("shared/theirs"))}");
        Assert.Contains("Permission denied", denied.Err);
    });

    [LibraryImport("libc.so.6", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int RenameAt2Native(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    private static int RenameAt2(string from, string to, uint flags) => RenameAt2Native(-100 /* AT_FDCWD */, from, -100, to, flags);
}
