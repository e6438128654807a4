namespace ExoFS.Mount.Tests;

/// <summary>Whole programs at work on a mounted model libFS: tar, diff, cp, mv, find, du, rm, git, parallel writers.</summary>
public class ToolsOnMountTests
{
    /// <summary>
    /// A real source tree to copy in: the kernel's UAPI headers where installed, plus this repository's
    /// sources and a few entries of every kind (symlink, hard link, empty file, odd modes, sparse file).
    /// </summary>
    private static string MakeSourceTree(string scratch)
    {
        string src = Path.Combine(scratch, "src");
        Directory.CreateDirectory(src);
        string repo = RepositoryRoot();
        var parts = new List<string>();
        if (Directory.Exists("/usr/include/linux")) parts.Add("cp -a /usr/include/linux src/linux");
        parts.Add($"cd {Shell.Quote(repo)} && {SourceFiles("Kernel LibFs Mount tests/Mount.Tests")} | xargs -0 cp -a --parents -t {Shell.Quote(src)} && cd {Shell.Quote(scratch)}");
        parts.Add("mkdir -p src/kinds/deep/er/still && cd src/kinds && : > empty && echo data > file && ln file hard && ln -s file soft"
            + " && ln -s ../../nowhere dangling && chmod 604 file && mkdir -m 700 private && truncate -s 1M sparse"
            + " && printf tail >> sparse && cd deep/er/still && seq 1 20000 > numbers");
        Shell.Ok(string.Join(" && ", parts), scratch);
        return src;
    }

    /// <summary>A shell pipeline printing the NUL-separated source files under <paramref name="dirs"/>, build output excluded.</summary>
    private static string SourceFiles(string dirs) =>
        $"find {dirs} \\( -name bin -o -name obj \\) -prune -o -type f -print0";

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ExoFS.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ExoFS.sln not found above the test binaries");
    }

    [FuseFact]
    public Task A_tarred_source_tree_extracts_identically_and_survives_cp_mv_find_du_rm() => Task.Run(() =>
    {
        string scratch = TestMount.NewDirectory();
        try
        {
            string src = MakeSourceTree(scratch);
            // POSIX (pax) format keeps nanosecond times, so they can be compared after extraction.
            Shell.Ok("tar --format=posix -cf tree.tar -C src .", scratch);
            using var m = TestMount.Start();
            string mnt = Shell.Quote(m.Dir), s = Shell.Quote(src);

            Shell.Ok($"mkdir {mnt}/x && tar -xpf tree.tar -C {mnt}/x", scratch, 60_000);
            Shell.Ok($"diff -r --no-dereference {s} {mnt}/x", timeoutMs: 60_000);
            // Modes, owners, nanosecond times, sizes, link counts and symlink targets survive too (directory
            // sizes and link counts are each file system's own business).
            string Listing(string root) => Shell.Ok(
                $"cd {root} && {{ find . -mindepth 1 -type d -printf '%p %y %m %U %G %T@\\n'; "
                + $"find . ! -type d -printf '%p %y %m %U %G %T@ %s %n %l\\n'; }} | sort", timeoutMs: 60_000);
            Assert.Equal(Listing(s), Listing($"{mnt}/x"));
            Assert.Equal(Shell.Ok($"cd {s} && find . | wc -l"), Shell.Ok($"cd {mnt}/x && find . | wc -l"));
            Assert.Equal("1048580", Shell.Ok($"stat -c %s {mnt}/x/kinds/sparse").Trim());

            Shell.Ok($"cp -a {mnt}/x {mnt}/copy && diff -r --no-dereference {s} {mnt}/copy", timeoutMs: 60_000);
            Shell.Ok($"mkdir -p {mnt}/other/place && mv {mnt}/copy/kinds {mnt}/other/place/ && test ! -e {mnt}/copy/kinds");
            Shell.Ok($"diff -r --no-dereference {s}/kinds {mnt}/other/place/kinds");
            int kib = int.Parse(Shell.Ok($"du -sk {mnt}/x").Split('\t')[0]);
            Assert.InRange(kib, 100, 1_000_000);
            Shell.Ok($"rm -rf {mnt}/x {mnt}/copy {mnt}/other", timeoutMs: 60_000);
            Assert.Empty(Directory.GetFileSystemEntries(m.Dir));
            Assert.Empty(m.Model.Check());
        }
        finally
        {
            Shell.Run($"rm -rf {Shell.Quote(scratch)}");
        }
    });

    [FuseFact]
    public Task Lookup_counts_balance_once_deleted_inodes_are_forgotten() => Task.Run(() =>
    {
        var fs = new InstrumentedFileSystem(new LibFs.Testing.Model.ModelFileSystem());
        using var m = TestMount.Start(fs);
        string mnt = Shell.Quote(m.Dir);
        Shell.Ok($"cd {Shell.Quote(RepositoryRoot())} && {SourceFiles("Mount LibFs")} | xargs -0 cp -a --parents -t {mnt}");
        // Lookups by name, by readdirplus (ls -l), hard links, symlinks, renames: then everything goes.
        Shell.Ok($"cd {mnt} && ls -lR . > /dev/null && find . -type f | head -20 | while read f; do ln \"$f\" \"$f.hard\"; ln -s \"$f\" \"$f.soft\"; done && mv Mount Moved && ls -laR . > /dev/null");
        Assert.NotEmpty(fs.NonZeroLookups);
        Shell.Ok($"rm -rf {mnt}/*");
        // Forgets for evicted inodes are queued by the kernel; give them a moment to arrive.
        SpinWait.SpinUntil(() => fs.NonZeroLookups.Count == 0, 5_000);
        Assert.Empty(fs.OverForgets);
        Assert.Empty(fs.NonZeroLookups);
    });

    [FuseFact]
    public Task Git_init_add_commit_and_fsck_work_inside_the_mount() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        string repo = Shell.Quote(RepositoryRoot());
        Shell.Ok($"mkdir work && cd {repo} && {SourceFiles("Mount LibFs")} | xargs -0 cp --parents -t {Shell.Quote(m.P("work"))}", m.Dir);
        const string git = "git -c user.name=ExoFS -c user.email=exofs@example.invalid -c init.defaultBranch=main";
        string work = m.P("work");
        Shell.Ok($"{git} init -q && {git} add -A && {git} commit -q -m first", work, 60_000);
        Shell.Ok($"echo change >> Mount/Mount.csproj && {git} commit -q -am second && {git} mv Mount renamed && {git} commit -q -m third", work, 60_000);
        Assert.Equal("third\nsecond\nfirst", Shell.Ok($"{git} log --format=%s", work).Trim());
        Shell.Ok($"{git} fsck --strict --no-progress", work, 60_000);
        Assert.Equal("", Shell.Ok($"{git} status --porcelain", work));
        Shell.Ok($"{git} gc -q", work, 60_000);
        Assert.Equal("", Shell.Ok($"{git} status --porcelain", work));
    });

    [FuseFact]
    public Task Several_processes_writing_different_files_at_once_all_land_intact() => Task.Run(() =>
    {
        using var m = TestMount.Start();
        const int writers = 8;
        // Each writer streams its own pattern in odd-sized chunks while the others do the same.
        string script = string.Join(" & ", Enumerable.Range(0, writers).Select(i =>
            $"(seq {i} {writers} 400000 | dd of={Shell.Quote(m.P($"w{i}"))} bs=7777 status=none)")) + " & wait";
        Shell.Ok(script, timeoutMs: 60_000);
        for (int i = 0; i < writers; i++)
        {
            string expected = Shell.Ok($"seq {i} {writers} 400000 | sha256sum");
            Assert.Equal(expected, Shell.Ok($"sha256sum < {Shell.Quote(m.P($"w{i}"))}"));
        }
        // And concurrent readers of those files through System.IO.
        Parallel.For(0, writers, i => Assert.True(File.ReadAllBytes(m.P($"w{i}")).Length > 100_000));
        Assert.Empty(m.Model.Check());
    });
}
