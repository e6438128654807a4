namespace ExoFS.Compare.Workloads;

/// <summary>
/// The named workloads of <c>--workload</c>. Each factory takes the sizes as parameters (tests run them small);
/// <see cref="All"/> holds them at their documented defaults. docs/compare.md describes each one.
/// </summary>
public static class BuiltinWorkloads
{
    private const int KiB = 1024, MiB = 1024 * 1024;

    /// <summary>The built-ins at their defaults, in the order <c>exofs compare</c> runs them.</summary>
    public static IReadOnlyList<WorkloadSpec> All { get; } =
    [
        SmallFiles(), LargeFile(), Postmark(), Varmail(), Fileserver(), Webserver(), Uniform(), HotCold(), Aging(),
    ];

    /// <summary>The built-in named <paramref name="name"/>, or null.</summary>
    public static WorkloadSpec? Find(string name) => All.FirstOrDefault(w => w.Name == name);

    /// <summary>
    /// Sprite LFS's small-file benchmark: create <paramref name="files"/> files of <paramref name="size"/> bytes in
    /// one directory, read them back in creation order after a remount, delete them in the same order.
    /// </summary>
    public static WorkloadSpec SmallFiles(int files = 10_000, int size = 1 * KiB) => new()
    {
        Name = "small-files",
        Description = $"Sprite LFS small-file benchmark: create {files:N0} files of {size:N0} B, read them (cold cache), delete them",
        DeviceMib = DeviceFor((long)files * RoundUp(size), files, 64),
        FileSets = [new FileSetSpec { Name = "small", SizeMin = size, SizeMax = size }],
        Phases =
        [
            new PhaseSpec { Name = "create", Iterations = files, Ops = [new OpSpec { Op = OpKind.Create }] },
            new PhaseSpec { Name = "read", EachFile = "small", Remount = true, Ops = [new OpSpec { Op = OpKind.Read, Pick = Pick.Sequential }] },
            new PhaseSpec { Name = "delete", EachFile = "small", Ops = [new OpSpec { Op = OpKind.Delete, Pick = Pick.Sequential }] },
        ],
    };

    /// <summary>
    /// Sprite LFS's large-file benchmark on one file of <paramref name="mib"/> MiB: sequential write (64 KiB
    /// requests), sequential read, random write and random read (4 KiB, as many as the file has blocks),
    /// sequential re-read. Every read phase starts from a cold cache.
    /// </summary>
    public static WorkloadSpec LargeFile(int mib = 100)
    {
        int seq = 64 * KiB, rnd = 4 * KiB;
        int seqOps = (int)((long)mib * MiB / seq), rndOps = (int)((long)mib * MiB / rnd);
        return new()
        {
            Name = "large-file",
            Description = $"Sprite LFS large-file benchmark: one {mib} MiB file, sequential write/read, random 4 KiB write/read, sequential re-read",
            DeviceMib = DeviceFor((long)mib * MiB, 64),
            FileSets = [new FileSetSpec { Name = "large", Count = 1 }],
            Phases =
            [
                new PhaseSpec { Name = "seq-write", Iterations = seqOps, Ops = [new OpSpec { Op = OpKind.Append, Size = seq }] },
                new PhaseSpec { Name = "seq-read", Iterations = seqOps, Remount = true, Ops = [new OpSpec { Op = OpKind.Read, Offset = OffsetMode.Sequential, Size = seq }] },
                new PhaseSpec { Name = "rand-write", Iterations = rndOps, Ops = [new OpSpec { Op = OpKind.Write, Offset = OffsetMode.Random, Size = rnd }] },
                new PhaseSpec { Name = "rand-read", Iterations = rndOps, Remount = true, Ops = [new OpSpec { Op = OpKind.Read, Offset = OffsetMode.Random, Size = rnd }] },
                new PhaseSpec { Name = "seq-reread", Iterations = seqOps, Remount = true, Ops = [new OpSpec { Op = OpKind.Read, Offset = OffsetMode.Sequential, Size = seq }] },
            ],
        };
    }

    /// <summary>
    /// PostMark: create a pool of <paramref name="files"/> files of 500 B–9.77 KB, run
    /// <paramref name="transactions"/> transactions (each a read or an append, then a create or a delete, even
    /// odds, as PostMark's default biases), delete what is left.
    /// </summary>
    public static WorkloadSpec Postmark(int files = 5_000, int transactions = 20_000) => new()
    {
        Name = "postmark",
        Description = $"PostMark: {files:N0} files of 500 B-9.77 KB, {transactions:N0} transactions (read|append, then create|delete)",
        DeviceMib = DeviceFor((long)files * 10_000, files * 2, 64),
        FileSets = [new FileSetSpec { Name = "pool", SizeMin = 500, SizeMax = 10_000 }],
        Phases =
        [
            new PhaseSpec { Name = "create", Iterations = files, Ops = [new OpSpec { Op = OpKind.Create, Io = 512 }] },
            new PhaseSpec
            {
                Name = "transactions", Iterations = transactions,
                Ops =
                [
                    new OpSpec { Op = OpKind.Choose, OneOf = [new OpSpec { Op = OpKind.Read, Io = 512 }, new OpSpec { Op = OpKind.Append, Io = 512 }] },
                    new OpSpec { Op = OpKind.Choose, OneOf = [new OpSpec { Op = OpKind.Create, Io = 512 }, new OpSpec { Op = OpKind.Delete }] },
                ],
            },
            new PhaseSpec { Name = "delete", EachFile = "pool", Ops = [new OpSpec { Op = OpKind.Delete, Pick = Pick.Sequential }] },
        ],
    };

    /// <summary>
    /// filebench varmail: <paramref name="files"/> files of 16 KB mean in one directory, <paramref name="threads"/>
    /// threads each looping <paramref name="loops"/> times: delete a file; create one, append up to 16 KB, fsync;
    /// read a file whole, append up to 16 KB to it, fsync; read another whole.
    /// </summary>
    public static WorkloadSpec Varmail(int files = 1_000, int threads = 16, int loops = 100) => new()
    {
        Name = "varmail",
        Description = $"filebench varmail: {files:N0} files of 16 KB mean, {threads} threads x {loops} loops of delete, create+append+fsync, read+append+fsync, read",
        DeviceMib = DeviceFor((long)files * 32 * KiB + (long)threads * loops * 32 * KiB, files * 2, 64),
        FileSets = [new FileSetSpec { Name = "mail", Count = files, SizeMin = 0, SizeMax = 32 * KiB }],
        Phases =
        [
            new PhaseSpec
            {
                Name = "run", Threads = threads, Iterations = loops,
                Ops =
                [
                    new OpSpec { Op = OpKind.Delete },
                    new OpSpec { Op = OpKind.Create, Size = 1, SizeMax = 16 * KiB, Fsync = true },
                    new OpSpec { Op = OpKind.Read },
                    new OpSpec { Op = OpKind.Append, Pick = Pick.Same, Size = 1, SizeMax = 16 * KiB, Fsync = true },
                    new OpSpec { Op = OpKind.Read },
                ],
            },
        ],
    };

    /// <summary>
    /// filebench fileserver: <paramref name="files"/> files of 128 KB mean, 20 per directory,
    /// <paramref name="threads"/> threads each looping <paramref name="loops"/> times: create and write a file
    /// whole, append up to 16 KB to it, read another whole, delete one, stat one. The personality's 10,000 files
    /// (1.28 GB) do not fit the 1.3 GB HP 97560, so the default is half as many.
    /// </summary>
    public static WorkloadSpec Fileserver(int files = 5_000, int threads = 50, int loops = 20) => new()
    {
        Name = "fileserver",
        Description = $"filebench fileserver: {files:N0} files of 128 KB mean in dirs of 20, {threads} threads x {loops} loops of create+write, append, read, delete, stat",
        DeviceMib = (int)((long)files * 128 * KiB * 3 / 2 / MiB) + 64, // the mean size, half again for growth
        FileSets = [new FileSetSpec { Name = "bigfileset", Count = files, SizeMin = 0, SizeMax = 256 * KiB, Dirs = Math.Max(1, files / 20) }],
        Phases =
        [
            new PhaseSpec
            {
                Name = "run", Threads = threads, Iterations = loops,
                Ops =
                [
                    new OpSpec { Op = OpKind.Create, Io = MiB },
                    new OpSpec { Op = OpKind.Append, Pick = Pick.Same, Size = 1, SizeMax = 16 * KiB },
                    new OpSpec { Op = OpKind.Read, Io = MiB },
                    new OpSpec { Op = OpKind.Delete },
                    new OpSpec { Op = OpKind.Stat },
                ],
            },
        ],
    };

    /// <summary>
    /// filebench webserver: <paramref name="files"/> files of 16 KB mean, 20 per directory, and one log file;
    /// <paramref name="threads"/> threads each looping <paramref name="loops"/> times: read ten files whole, then
    /// append up to 16 KB to the log.
    /// </summary>
    public static WorkloadSpec Webserver(int files = 1_000, int threads = 100, int loops = 10) => new()
    {
        Name = "webserver",
        Description = $"filebench webserver: {files:N0} files of 16 KB mean in dirs of 20, {threads} threads x {loops} loops of 10 whole-file reads and a log append",
        DeviceMib = DeviceFor((long)files * 32 * KiB + (long)threads * loops * 16 * KiB, files * 2, 64),
        FileSets =
        [
            new FileSetSpec { Name = "htdocs", Count = files, SizeMin = 0, SizeMax = 32 * KiB, Dirs = Math.Max(1, files / 20) },
            new FileSetSpec { Name = "logs", Count = 1 },
        ],
        Phases =
        [
            new PhaseSpec
            {
                Name = "run", Threads = threads, Iterations = loops,
                Ops =
                [
                    new OpSpec { Op = OpKind.Read, Set = "htdocs", Io = MiB, Repeat = 10 },
                    new OpSpec { Op = OpKind.Append, Set = "logs", Size = 1, SizeMax = 16 * KiB },
                ],
            },
        ],
    };

    /// <summary>
    /// Overwrite traffic for cleaning (the LFS paper's simulator): files of <paramref name="fileKib"/> KiB filling
    /// the chosen utilization of a <paramref name="deviceMib"/> MiB disk, then <paramref name="passes"/> passes of
    /// whole-file overwrites, each pass as many overwrites as there are files, every file equally likely.
    /// The paper's simulator used 4 KB files; the default is 32 KiB because FFS makes one inode per 16 KiB of
    /// disk, so 4 KiB files could fill at most a quarter of it.
    /// </summary>
    public static WorkloadSpec Uniform(int deviceMib = 128, int passes = 3, int fileKib = 32) =>
        Overwrite("uniform", "every file equally likely", Pick.Random, deviceMib, passes, fileKib);

    /// <summary>As <see cref="Uniform"/>, but 10% of the files take 90% of the overwrites (the paper's hot-and-cold).</summary>
    public static WorkloadSpec HotCold(int deviceMib = 128, int passes = 3, int fileKib = 32) =>
        Overwrite("hot-cold", "10% of the files take 90% of the overwrites", Pick.HotCold, deviceMib, passes, fileKib);

    private static WorkloadSpec Overwrite(string name, string how, Pick pick, int deviceMib, int passes, int fileKib) => new()
    {
        Name = name,
        Description = $"{fileKib} KiB files filling --utilization of a {deviceMib} MiB disk, then {passes} passes of whole-file overwrites, {how}",
        DeviceMib = deviceMib,
        FileSets = [new FileSetSpec { Name = "data", CountFromUtilization = true, SizeMin = fileKib * KiB, SizeMax = fileKib * KiB, Dirs = 16 }],
        Phases = Enumerable.Range(1, passes).Select(p => new PhaseSpec
        {
            Name = $"overwrite-{p}", EachFile = "data",
            Ops = [new OpSpec { Op = OpKind.Write, Pick = pick }],
        }).ToList(),
    };

    /// <summary>
    /// Aging: <paramref name="files"/> files of 4–64 KiB in 20 directories, read back whole (fresh), then
    /// <paramref name="churn"/> random creates, appends and deletes (even odds), then everything live read back
    /// whole again (aged). Comparing the two read phases shows what fragmentation costs.
    /// </summary>
    public static WorkloadSpec Aging(int files = 2_000, int churn = 10_000) => new()
    {
        Name = "aging",
        Description = $"{files:N0} files of 4-64 KiB read fresh, {churn:N0} create/append/delete churn ops, read again aged",
        DeviceMib = DeviceFor((long)files * 64 * KiB, files * 2, 64),
        FileSets = [new FileSetSpec { Name = "aged", SizeMin = 4 * KiB, SizeMax = 64 * KiB, Dirs = 20 }],
        Phases =
        [
            new PhaseSpec { Name = "fill", Iterations = files, Ops = [new OpSpec { Op = OpKind.Create }] },
            new PhaseSpec { Name = "read-fresh", EachFile = "aged", Remount = true, Ops = [new OpSpec { Op = OpKind.Read, Pick = Pick.Sequential }] },
            new PhaseSpec
            {
                Name = "churn", Iterations = churn,
                Ops =
                [
                    new OpSpec
                    {
                        Op = OpKind.Choose,
                        OneOf =
                        [
                            new OpSpec { Op = OpKind.Create },
                            new OpSpec { Op = OpKind.Append, Size = 4 * KiB, SizeMax = 16 * KiB },
                            new OpSpec { Op = OpKind.Delete },
                        ],
                    },
                ],
            },
            new PhaseSpec { Name = "read-aged", EachFile = "aged", Remount = true, Ops = [new OpSpec { Op = OpKind.Read, Pick = Pick.Sequential }] },
        ],
    };

    private static int RoundUp(int bytes) => (bytes + 4095) / 4096 * 4096;

    // Room for the data twice over plus metadata, at least minMib: FFS needs free groups to place well, and a
    // nearly full disk would measure the allocator's fallbacks rather than the workload.
    private static int DeviceFor(long dataBytes, int minMib) => (int)Math.Max(minMib, dataBytes * 2 / MiB + 32);

    // As above, and inodes for `files` files with a quarter spare: FFS makes one inode per 16 KiB of disk, so a
    // disk sized for many small files' data alone runs out of inodes first.
    private static int DeviceFor(long dataBytes, long files, int minMib) =>
        (int)Math.Max(DeviceFor(dataBytes, minMib), files * 16 * KiB * 5 / 4 / MiB + 32);
}
