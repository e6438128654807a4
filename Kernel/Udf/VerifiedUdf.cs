using System.Runtime.InteropServices;

namespace ExoFS.Kernel.Udf;

/// <summary>
/// A UDF that <see cref="UdfVerifier"/> accepted; only the verifier creates one. Immutable and
/// thread-safe: <see cref="Interpret"/> and <see cref="Run"/> may be called concurrently. Both give the
/// same result, extents and fault for every block and partition; <see cref="Run"/> uses IL compiled on
/// first use and cached in this object.
/// </summary>
public sealed class VerifiedUdf
{
    // Compiled once, on first Run; null afterwards only on a big-endian host.
    private UdfBody? _compiled;
    private bool _compileTried;
    private object? _compileLock;
    private readonly Func<UdfBody?> _compile;   // one delegate, not one per Run
    private readonly Lazy<bool> _disjoint;

    internal VerifiedUdf(UdfProgram program, Insn[] code, UdfReadSets sets, bool needsFuel)
    {
        Program = program;
        Code = code;
        Sets = sets;
        NeedsFuel = needsFuel;
        _disjoint = new Lazy<bool>(ComputeDisjoint);
        _compile = () => UdfCompiler.Compile(this);
    }

    /// <summary>The program as parsed; <c>Program.ToText()</c> is the canonical text to store.</summary>
    public UdfProgram Program { get; }
    /// <summary>The <c>.udf</c> name.</summary>
    public string Name => Program.Name;
    /// <summary>Number of partitions; valid partition indices are 0..Partitions-1.</summary>
    public int Partitions => Program.Partitions;
    /// <summary>The <c>.types</c> names; <see cref="UdfExtent.TypeIndex"/> indexes this list.</summary>
    public IReadOnlyList<string> TypeNames => Program.TypeNames;
    /// <summary>The <c>.inputs</c> count: registers r2..r(1+Inputs) hold the caller's values at entry.</summary>
    public int Inputs => Program.Inputs;
    /// <summary>Most instructions one run may execute.</summary>
    public int Fuel => Program.Fuel;

    internal Insn[] Code { get; }
    internal UdfReadSets Sets { get; }
    /// <summary>False when the verifier proved no run can exhaust the fuel.</summary>
    internal bool NeedsFuel { get; }

    /// <summary>The bytes partition <paramref name="partition"/> may read: sorted, disjoint, merged ranges.</summary>
    public IReadOnlyList<UdfByteRange> ReadSet(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, Partitions);
        return Sets.Of(partition);
    }

    /// <summary>
    /// True when no byte is in the read set of two partitions (XN requires this of owns-UDFs so that a
    /// byte change is covered by exactly one partition). The language itself allows overlap.
    /// </summary>
    public bool ReadSetsDisjoint => _disjoint.Value;

    /// <summary>
    /// Runs the reference interpreter on <paramref name="block"/> (exactly 4096 bytes) for
    /// <paramref name="partition"/>, appending emitted extents to <paramref name="output"/>. On a fault the
    /// value is 0 and extents emitted before the fault remain appended.
    /// </summary>
    public UdfResult Interpret(ReadOnlySpan<byte> block, int partition, List<UdfExtent> output) =>
        Interpret(block, partition, output, null);

    /// <summary>
    /// <see cref="Interpret(ReadOnlySpan{byte}, int, List{UdfExtent})"/> with the caller's inputs: r2..r(1+<see cref="Inputs"/>)
    /// start as <paramref name="inputs"/>[0..] (0 past its end or when null); inputs beyond <see cref="Inputs"/> are ignored.
    /// </summary>
    public UdfResult Interpret(ReadOnlySpan<byte> block, int partition, List<UdfExtent> output, ulong[]? inputs)
    {
        CheckArgs(block, output);
        return UdfInterpreter.Run(this, block, partition, output, inputs);
    }

    /// <summary>Same contract and results as <see cref="Interpret(ReadOnlySpan{byte}, int, List{UdfExtent})"/>, using compiled IL.</summary>
    public UdfResult Run(ReadOnlySpan<byte> block, int partition, List<UdfExtent> output) => Run(block, partition, output, null);

    /// <summary>Same contract and results as <see cref="Interpret(ReadOnlySpan{byte}, int, List{UdfExtent}, ulong[])"/>, using compiled IL.</summary>
    public UdfResult Run(ReadOnlySpan<byte> block, int partition, List<UdfExtent> output, ulong[]? inputs)
    {
        CheckArgs(block, output);
        var body = LazyInitializer.EnsureInitialized(ref _compiled, ref _compileTried, ref _compileLock, _compile);
        // Compiled loads read native-endian memory, so a big-endian host uses the interpreter.
        return body is null
            ? UdfInterpreter.Run(this, block, partition, output, inputs)
            : body(ref MemoryMarshal.GetReference(block), partition, output, inputs);
    }

    private static void CheckArgs(ReadOnlySpan<byte> block, List<UdfExtent> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (block.Length != UdfLimits.BlockSize)
            throw new ArgumentException($"a UDF runs on exactly {UdfLimits.BlockSize} bytes, got {block.Length}", nameof(block));
    }

    private bool ComputeDisjoint()
    {
        var all = new List<(int Start, int End)>();
        for (int p = 0; p < Partitions; p++)
        {
            var r = Sets.RangesOf(p);
            for (int i = 0; i < r.Length; i += 2) all.Add((r[i], r[i + 1]));
        }
        all.Sort();
        int reached = 0;
        foreach (var (start, end) in all)
        {
            if (start < reached) return false;
            reached = Math.Max(reached, end);
        }
        return true;
    }

    public override string ToString() => $"verified udf {Name}";
}
