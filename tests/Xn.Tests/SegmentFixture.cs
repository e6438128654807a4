using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;

namespace ExoFS.Xn.Tests;

/// <summary>
/// Log-shaped test types on top of <see cref="TestTypes"/>. "t.summary" is a segment type: 64 entries of
/// 16 bytes at [0,1024) — u64 start, u32 count, u32 kind (0 data, 1 t.inode, 2 t.indirect); a zero start
/// is an empty entry. "t.segtable" owns segments: 64 entries (u64 start, u64 count) at [0,1024), each a
/// t.summary segment. "t.runs" owns runs of data: 64 entries (u64 start, u64 count) at [0,1024).
/// Bytes [2048,4096) of each are raw.
/// </summary>
internal static class LogTypes
{
    public const string SummaryOwns = """
        .udf t.summary.owns
        .partitions 1
        .types xn.data t.inode t.indirect
        .read 0 1024
        .fuel 1024
          li   r2, 0
          li   r3, 64
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          ld32 r5, [r2+8]
          ld32 r6, [r2+12]
          beq  r6, 1, inode
          beq  r6, 2, ind
          emit 0, r4, r5
          jmp  skip
        inode:
          emit 1, r4, r5
          jmp  skip
        ind:
          emit 2, r4, r5
        skip:
          add  r2, r2, 16
          loop r3, next
          ret  0
        """;

    private static string RunsOwns(string name, string type) => $"""
        .udf {name}.owns
        .partitions 1
        .types {type}
        .read 0 1024
        .fuel 512
          li   r2, 0
          li   r3, 64
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          ld64 r5, [r2+8]
          emit 0, r4, r5
        skip:
          add  r2, r2, 16
          loop r3, next
          ret  0
        """;

    private static readonly ByteRange[] Raw = [new ByteRange(2048, 2048)];

    public static TypeSpec Summary => new("t.summary", SummaryOwns, Raw, Raw) { Segment = true };
    public static TypeSpec SegTable => new("t.segtable", RunsOwns("t.segtable", "t.summary"), Raw, Raw);
    public static TypeSpec Runs => new("t.runs", RunsOwns("t.runs", "xn.data"), Raw, Raw);

    /// <summary>Summary entry <paramref name="k"/>: <paramref name="count"/> blocks from <paramref name="start"/> of kind 0 data, 1 inode, 2 indirect.</summary>
    public static Edit SummaryEntry(int k, ulong start, uint count, uint kind)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, start);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), count);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), kind);
        return new Edit(16 * k, b);
    }

    /// <summary>Run entry <paramref name="k"/> (t.segtable, t.runs): <paramref name="count"/> blocks from <paramref name="start"/>.</summary>
    public static Edit RunEntry(int k, ulong start, ulong count)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, start);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), count);
        return new Edit(16 * k, b);
    }

    public static Extent Ext(ulong start, ulong count) => new(new BlockNo(start), count);
}

/// <summary>
/// A formatted volume for log tests: env A holds root "la" (t.segtable) and "ra" (t.runs), env B holds
/// root "lb" (t.segtable). <see cref="Dev"/> is a <see cref="RecordingDevice"/> over memory.
/// </summary>
internal sealed class LogFixture : IDisposable
{
    public ExoKernel Kernel { get; } = new();
    public RecordingDevice Dev { get; }
    public XnVolume Vol { get; }
    public XnSession A { get; }
    public XnSession B { get; }
    public TypeId Inode { get; }
    public TypeId Indirect { get; }
    public TypeId Summary { get; }
    public TypeId SegTable { get; }
    public TypeId Runs { get; }
    public BlockNo TableA { get; }
    public BlockNo TableB { get; }
    public BlockNo RunsA { get; }

    public LogFixture(ulong blocks = 2048)
    {
        Dev = new RecordingDevice(new MemoryDevice(blocks));
        Vol = XnVolume.Format(Dev, Kernel).Value;
        A = Vol.Attach(Kernel.CreateEnvironment("a"));
        B = Vol.Attach(Kernel.CreateEnvironment("b"));
        Indirect = A.RegisterType(TestTypes.Indirect).Value;
        Inode = A.RegisterType(TestTypes.Inode).Value;
        Summary = A.RegisterType(LogTypes.Summary).Value;
        SegTable = A.RegisterType(LogTypes.SegTable).Value;
        Runs = A.RegisterType(LogTypes.Runs).Value;
        TableA = A.InstallRoot("la", SegTable).Value.Block;
        RunsA = A.InstallRoot("ra", Runs).Value.Block;
        TableB = B.InstallRoot("lb", SegTable).Value.Block;
    }

    /// <summary>Allocates a segment of <paramref name="count"/> blocks as entry <paramref name="slot"/> of <paramref name="table"/>; returns its head.</summary>
    public ulong Segment(XnSession s, BlockNo table, int slot, ulong count)
    {
        ulong h = s.FindFree(new BlockNo(0), count).Value.Value;
        var r = s.AllocSegment(table, 0, [LogTypes.RunEntry(slot, h, count)], Summary, LogTypes.Ext(h, count));
        Assert.True(r.Ok, r.ToString());
        return h;
    }

    public void Dispose() => Vol.Dispose();
}

/// <summary>A device that records every write request (start, blocks) it passes to its inner device.</summary>
internal sealed class RecordingDevice(IBlockDevice inner) : BlockDeviceBase
{
    public List<(ulong Start, ulong Blocks)> Writes { get; } = new();
    public IBlockDevice Inner => inner;
    public override ulong BlockCount => inner.BlockCount;
    protected override void ReadCore(BlockNo start, Span<byte> buffer) => inner.Read(start, buffer);
    protected override void WriteCore(BlockNo start, ReadOnlySpan<byte> data)
    {
        lock (Writes) Writes.Add((start.Value, (ulong)(data.Length / IBlockDevice.BlockSize)));
        inner.Write(start, data);
    }
    protected override void FlushCore() => inner.Flush();
    protected override void BarrierCore() => inner.Barrier();

    /// <summary>How many times a write request covered <paramref name="block"/>.</summary>
    public int TimesWritten(ulong block) { lock (Writes) return Writes.Count(w => block >= w.Start && block < w.Start + w.Blocks); }
    public byte[] Snapshot() => ((MemoryDevice)inner).Snapshot();
}
