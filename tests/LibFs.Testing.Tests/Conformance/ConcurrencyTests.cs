namespace ExoFS.LibFs.Testing.Tests.Conformance;

public sealed class ConcurrencyTests : ConformanceBase
{
    private const int Threads = 8;

    private static void Parallel(int threads, Action<int> body)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var ts = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try { body(t); }
            catch (Exception e) { errors.Enqueue(e); }
        })).ToList();
        ts.ForEach(t => t.Start());
        ts.ForEach(t => t.Join());
        if (!errors.IsEmpty) throw new AggregateException(errors);
    }

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Threads_creating_writing_and_removing_their_own_files_leave_exact_state(string libfs) => Run(libfs, fs =>
    {
        var dirs = Enumerable.Range(0, Threads).Select(t => fs.MakeDir(Root, $"t{t}").Ino).ToArray();
        Parallel(Threads, t =>
        {
            for (int i = 0; i < 60; i++) fs.WriteFile(dirs[t], $"f{i}", Bytes(1000 + i * 37, seed: t * 1000 + i));
            for (int i = 0; i < 60; i += 3) fs.Unlink(dirs[t], $"f{i}").Ok();
            // Also share the root directory between threads.
            fs.WriteFile(Root, $"shared-{t}", $"{t}");
        });
        for (int t = 0; t < Threads; t++)
        {
            var names = fs.Names(dirs[t]);
            Assert.Equal(40, names.Count);
            for (int i = 0; i < 60; i++)
            {
                var e = fs.Find(dirs[t], $"f{i}");
                if (i % 3 == 0) Assert.Null(e);
                else Assert.Equal(Bytes(1000 + i * 37, seed: t * 1000 + i), fs.ReadFile(e!.Value.Ino));
            }
            Assert.Equal($"{t}", fs.ReadText(fs.Get(Root, $"shared-{t}").Ino));
        }
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Threads_writing_disjoint_regions_of_one_file_all_land(string libfs) => Run(libfs, fs =>
    {
        var f = fs.WriteFile(Root, "shared", ReadOnlySpan<byte>.Empty);
        const int Piece = 10_000;
        Parallel(Threads, t =>
        {
            var fh = fs.Open(f.Ino, OpenFlags.WriteOnly).Ok();
            for (int k = 0; k < 10; k++)
                fs.Write(f.Ino, fh, (long)(k * Threads + t) * Piece, Bytes(Piece, seed: k * Threads + t)).Ok();
            fs.Release(f.Ino, fh).Ok();
        });
        var all = fs.ReadFile(f.Ino);
        Assert.Equal(10 * Threads * Piece, all.Length);
        for (int p = 0; p < 10 * Threads; p++) Assert.Equal(Bytes(Piece, seed: p), all[(p * Piece)..((p + 1) * Piece)]);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Concurrent_mkdir_and_rmdir_in_one_parent_keep_nlink_right(string libfs) => Run(libfs, fs =>
    {
        var p = fs.MakeDir(Root, "p");
        Parallel(Threads, t =>
        {
            for (int i = 0; i < 30; i++) fs.MakeDir(p.Ino, $"d{t}-{i}");
            for (int i = 0; i < 30; i += 2) fs.RmDir(p.Ino, $"d{t}-{i}").Ok();
        });
        Assert.Equal(Threads * 15, fs.ListDir(p.Ino).Count);
        Assert.Equal(2U + Threads * 15, fs.GetAttr(p.Ino).Ok().Nlink);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Listing_while_other_threads_create_sees_the_stable_entries(string libfs) => Run(libfs, fs =>
    {
        var d = fs.MakeDir(Root, "d");
        for (int i = 0; i < 100; i++) fs.WriteFile(d.Ino, $"stable{i}", "");
        Parallel(4, t =>
        {
            if (t == 0)
            {
                for (int round = 0; round < 10; round++)
                {
                    var names = fs.ListDir(d.Ino, pageSize: 16).Select(e => e.Name).ToList();
                    Assert.Equal(names.Count, names.Distinct().Count());
                    for (int i = 0; i < 100; i++) Assert.Contains($"stable{i}", names);
                }
            }
            else
                for (int i = 0; i < 100; i++) fs.WriteFile(d.Ino, $"new{t}-{i}", "");
        });
        Assert.Equal(400, fs.ListDir(d.Ino).Count);
    });

    [Theory, MemberData(nameof(LibFses.All), MemberType = typeof(LibFses))]
    public void Concurrent_renames_of_distinct_files_between_two_directories(string libfs) => Run(libfs, fs =>
    {
        var a = fs.MakeDir(Root, "a");
        var b = fs.MakeDir(Root, "b");
        for (int t = 0; t < Threads; t++) fs.WriteFile(a.Ino, $"f{t}", $"{t}");
        Parallel(Threads, t =>
        {
            for (int i = 0; i < 25; i++)
            {
                fs.Rename(a.Ino, $"f{t}", b.Ino, $"f{t}", RenameFlags.None).Ok();
                fs.Rename(b.Ino, $"f{t}", a.Ino, $"f{t}", RenameFlags.None).Ok();
            }
        });
        Assert.Equal(Threads, fs.Names(a.Ino).Count);
        Assert.Empty(fs.Names(b.Ino));
        for (int t = 0; t < Threads; t++) Assert.Equal($"{t}", fs.ReadText(fs.Get(a.Ino, $"f{t}").Ino));
    });
}
