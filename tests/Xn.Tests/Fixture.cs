using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.Xn.Tests;

/// <summary>
/// An FFS-shaped pair of types used throughout the tests. "t.inode": 32 inodes of 128 bytes; inode i has
/// raw bytes [128i, 128i+16) and [128i+120, 128i+128), and 12 direct pointers plus one indirect pointer
/// (u64 each) at [128i+16, 128i+120) — partition i. "t.indirect": 512 u64 pointers to data, 8 partitions
/// of 64 pointers. Zero means "no pointer".
/// </summary>
internal static class TestTypes
{
    public const string IndirectOwns = """
        .udf t.indirect.owns
        .partitions 8
        .types xn.data
        .read 0 512 512
        .fuel 1024
          li   r2, 512
          mul  r2, r1, r2
          li   r3, 64
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;

    public const string InodeOwns = """
        .udf t.inode.owns
        .partitions 32
        .types xn.data t.indirect
        .read 16 104 128
        .fuel 512
          li   r2, 128
          mul  r2, r1, r2
          add  r2, r2, 16
          li   r3, 12
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ld64 r4, [r2+0]
          beq  r4, 0, done
          emit 1, r4, 1
        done:
          ret  0
        """;

    public static TypeSpec Indirect => new("t.indirect", IndirectOwns, [], []);

    public static TypeSpec Inode => new("t.inode", InodeOwns,
        RawRead: Enumerable.Range(0, 32).SelectMany(i => new[] { new ByteRange(128 * i, 16), new ByteRange(128 * i + 120, 8) }).ToList(),
        RawWrite: Enumerable.Range(0, 32).SelectMany(i => new[] { new ByteRange(128 * i, 16), new ByteRange(128 * i + 120, 8) }).ToList());

    /// <summary>Offset of direct pointer <paramref name="slot"/> (12 = the indirect pointer) of inode <paramref name="inode"/>.</summary>
    public static int Slot(int inode, int slot) => 128 * inode + 16 + 8 * slot;

    public static Edit Ptr(int offset, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return new Edit(offset, b);
    }

    public static Edit[] Set(int offset, ulong value) => [Ptr(offset, value)];
    public static Edit[] Clear(int offset) => [Ptr(offset, 0)];
    public static Extent One(ulong block) => new(new BlockNo(block), 1);
}

/// <summary>A formatted memory volume with both test types, two environments and one root each.</summary>
internal sealed class XnFixture : IDisposable
{
    public ExoKernel Kernel { get; } = new();
    public IBlockDevice Dev { get; }
    public XnVolume Vol { get; }
    public ExoEnvironment EnvA { get; }
    public ExoEnvironment EnvB { get; }
    public XnSession A { get; }
    public XnSession B { get; }
    public TypeId Indirect { get; }
    public TypeId Inode { get; }
    public RootInfo RootA { get; }
    public RootInfo RootB { get; }

    public XnFixture(ulong blocks = 1024, IBlockDevice? dev = null)
    {
        Dev = dev ?? new MemoryDevice(blocks);
        Vol = XnVolume.Format(Dev, Kernel).Value;
        EnvA = Kernel.CreateEnvironment("a");
        EnvB = Kernel.CreateEnvironment("b");
        A = Vol.Attach(EnvA);
        B = Vol.Attach(EnvB);
        Indirect = A.RegisterType(TestTypes.Indirect).Value;
        Inode = A.RegisterType(TestTypes.Inode).Value;
        RootA = A.InstallRoot("a", Inode).Value;
        RootB = B.InstallRoot("b", Inode).Value;
    }

    /// <summary>A free block for tests (first free at or after <paramref name="hint"/>).</summary>
    public ulong FreeBlock(ulong hint = 0) => A.FindFree(new BlockNo(hint), 1).Value.Value;

    public void Dispose() => Vol.Dispose();
}
