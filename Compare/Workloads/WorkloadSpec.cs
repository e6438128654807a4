namespace ExoFS.Compare.Workloads;

/// <summary>
/// A workload: file sets made before it runs, then phases, each a loop of operations run by one or more threads.
/// Built-in workloads (<see cref="BuiltinWorkloads"/>) and workload files (<see cref="WorkloadFile"/>, JSON) are
/// both this record, so a user's workload runs through exactly the code the built-ins do.
/// <para>
/// Everything random (sizes, which file, which offset) comes from one generator seeded by <c>--seed</c>, and the
/// threads of a phase are interleaved round-robin, one operation per turn, so a run is a pure function of the
/// spec, the seed, the utilization and the libFS.
/// </para>
/// </summary>
public sealed record WorkloadSpec
{
    /// <summary>The name used in <c>--workload</c> and in results.</summary>
    public required string Name { get; init; }

    /// <summary>What it models, one or two sentences.</summary>
    public string Description { get; init; } = "";

    /// <summary>Size of the fresh device each run gets, in MiB (the HDD model covers 1,310 MiB; larger wraps).</summary>
    public int DeviceMib { get; init; } = 256;

    /// <summary>The file sets; a set's files are made (untimed for the workload, reported as phase "setup").</summary>
    public IReadOnlyList<FileSetSpec> FileSets { get; init; } = [];

    /// <summary>The measured phases, in order.</summary>
    public IReadOnlyList<PhaseSpec> Phases { get; init; } = [];
}

/// <summary>
/// A named set of files spread over <see cref="Dirs"/> directories. <see cref="Count"/> files (or, with
/// <see cref="CountFromUtilization"/>, as many as fill the chosen utilization) exist before the first phase.
/// File sizes are uniform in [<see cref="SizeMin"/>, <see cref="SizeMax"/>] bytes.
/// </summary>
public sealed record FileSetSpec
{
    public required string Name { get; init; }

    /// <summary>Files made during setup.</summary>
    public int Count { get; init; }

    /// <summary>
    /// Make floor(u · (file system blocks) / (blocks per mean-size file)) files instead of <see cref="Count"/>,
    /// u from <c>--utilization</c>: u is then the fraction of the file system's blocks holding live file data.
    /// </summary>
    public bool CountFromUtilization { get; init; }

    public int SizeMin { get; init; }
    public int SizeMax { get; init; }

    /// <summary>Directories the files are spread over (file i goes to directory i mod Dirs).</summary>
    public int Dirs { get; init; } = 1;
}

/// <summary>
/// One measured phase: <see cref="Threads"/> threads each run the <see cref="Ops"/> list
/// <see cref="Iterations"/> times (or, with <see cref="EachFile"/>, once per file live in that set when the
/// phase starts, shared out among the threads). The phase ends with a sync, so its device work is its own.
/// </summary>
public sealed record PhaseSpec
{
    public required string Name { get; init; }
    public int Threads { get; init; } = 1;

    /// <summary>Loops per thread.</summary>
    public int Iterations { get; init; } = 1;

    /// <summary>If set, the name of a file set: the phase loops once per file live in it (overrides <see cref="Iterations"/>).</summary>
    public string? EachFile { get; init; }

    /// <summary>Unmount and mount again before the phase, so it starts with a cold cache (not measured).</summary>
    public bool Remount { get; init; }

    public required IReadOnlyList<OpSpec> Ops { get; init; }
}

/// <summary>What an operation does.</summary>
public enum OpKind
{
    /// <summary>Create a new file in the set and write its size (from the op, else the set's distribution).</summary>
    Create,
    /// <summary>Unlink the picked file.</summary>
    Delete,
    /// <summary>Read the picked file: whole, or <see cref="OpSpec.Size"/> bytes at a sequential or random offset.</summary>
    Read,
    /// <summary>Overwrite the picked file: whole, or <see cref="OpSpec.Size"/> bytes at a sequential or random offset (never extends it).</summary>
    Write,
    /// <summary>Write the op's size (else the set's distribution) at the end of the picked file.</summary>
    Append,
    /// <summary>fsync the picked file.</summary>
    Fsync,
    /// <summary>Look the picked file up and get its attributes.</summary>
    Stat,
    /// <summary>Run one of <see cref="OpSpec.OneOf"/>, chosen by weight.</summary>
    Choose,
}

/// <summary>Which file an operation works on.</summary>
public enum Pick
{
    /// <summary>Uniformly among the set's live files (a delete skips files another thread's last op used).</summary>
    Random,
    /// <summary>The set's live files in creation order, cycling (one cursor per set, shared by the threads).</summary>
    Sequential,
    /// <summary>With probability <see cref="OpSpec.HotShare"/> one of the first <see cref="OpSpec.HotFraction"/> of the live files, else one of the rest.</summary>
    HotCold,
    /// <summary>The file this thread's previous operation used (or created).</summary>
    Same,
}

/// <summary>Where in the file a read or write goes.</summary>
public enum OffsetMode
{
    /// <summary>The whole file, from 0, in <see cref="OpSpec.Io"/>-byte requests.</summary>
    Whole,
    /// <summary><see cref="OpSpec.Size"/> bytes at the file's cursor, which advances and wraps at end of file.</summary>
    Sequential,
    /// <summary><see cref="OpSpec.Size"/> bytes at a random multiple of the size within the file.</summary>
    Random,
}

/// <summary>One operation of a phase's loop.</summary>
public sealed record OpSpec
{
    public OpKind Op { get; init; }

    /// <summary>The file set it works on; null: the workload's first set.</summary>
    public string? Set { get; init; }

    public Pick Pick { get; init; } = Pick.Random;
    public OffsetMode Offset { get; init; } = OffsetMode.Whole;

    /// <summary>Bytes (create, append, and sequential/random read and write); 0: the set's size distribution.</summary>
    public int Size { get; init; }

    /// <summary>If above <see cref="Size"/>, the bytes are uniform in [Size, SizeMax].</summary>
    public int SizeMax { get; init; }

    /// <summary>Bytes per read or write request when a whole file or a large size is moved.</summary>
    public int Io { get; init; } = 64 * 1024;

    /// <summary>fsync the file before closing it (create, write, append).</summary>
    public bool Fsync { get; init; }

    /// <summary>Times the operation runs in a row (each counts as one op).</summary>
    public int Repeat { get; init; } = 1;

    /// <summary>For <see cref="Pick.HotCold"/>: the hot fraction of the files, and the share of picks that go to them.</summary>
    public double HotFraction { get; init; } = 0.1;
    public double HotShare { get; init; } = 0.9;

    /// <summary>For <see cref="OpKind.Choose"/>: the choices' relative weight.</summary>
    public double Weight { get; init; } = 1;

    /// <summary>For <see cref="OpKind.Choose"/>: the operations to choose among.</summary>
    public IReadOnlyList<OpSpec>? OneOf { get; init; }
}
