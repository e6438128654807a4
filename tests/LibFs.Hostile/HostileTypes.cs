using System.Buffers.Binary;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.LibFs.Hostile;

/// <summary>
/// The hostile libFS's on-disk types, honest ones: XN verifies their owns-UDFs like any libFS's. Little-endian.
/// <list type="bullet">
/// <item>"hostile.root" (the root block): 32 records of 128 bytes. Record i has raw bytes [128i, 128i+16) and,
/// at [128i+16, 128i+128), 12 data pointers, one pointer to a "hostile.ind" block and one to a "hostile.wide"
/// block (u64 each, 0 = none). Partition i is record i.</item>
/// <item>"hostile.ind": 512 data pointers, 8 partitions of 64.</item>
/// <item>"hostile.wide": the type that lies. Bytes [0,8) hold a pointer, but its owns-UDF claims the 64 blocks
/// starting there; [8,16) is an address it loads from and [16,24) a loop count, both data-dependent so the
/// verifier accepts them and only a run can fault (a load outside the read set, fuel run out).</item>
/// </list>
/// </summary>
public static class HostileTypes
{
    public const string RootType = "hostile.root", IndType = "hostile.ind", WideType = "hostile.wide";
    public const int Records = 32, RecordSize = 128, DirectPointers = 12;
    /// <summary>Blocks a "hostile.wide" pointer claims.</summary>
    public const ulong WideClaim = 64;

    public const string IndOwns = """
        .udf hostile.ind.owns
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

    public const string WideOwns = """
        .udf hostile.wide.owns
        .types xn.data
        .read 0 24
        .fuel 64
          ld64 r2, [r0+0]
          ld64 r3, [r0+8]
          ld8  r4, [r3+0]
          ld64 r5, [r0+16]
          add  r5, r5, 1
        spin:
          loop r5, spin
          beq  r2, 0, done
          emit 0, r2, 64
        done:
          ret  0
        """;

    public const string RootOwns = """
        .udf hostile.root.owns
        .partitions 32
        .types xn.data hostile.ind hostile.wide
        .read 16 112 128
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
          beq  r4, 0, wide
          emit 1, r4, 1
        wide:
          ld64 r4, [r2+8]
          beq  r4, 0, done
          emit 2, r4, 1
        done:
          ret  0
        """;

    private static readonly IReadOnlyList<ByteRange> RootRaw =
        Enumerable.Range(0, Records).Select(i => new ByteRange(RecordSize * i, 16)).ToList();

    public static TypeSpec Ind => new(IndType, IndOwns, [], []);
    public static TypeSpec Wide => new(WideType, WideOwns, [], []);
    public static TypeSpec Root => new(RootType, RootOwns, RootRaw, RootRaw);

    /// <summary>Offset of pointer <paramref name="slot"/> of record <paramref name="record"/> (12: the ind pointer, 13: the wide one).</summary>
    public static int Slot(int record, int slot) => RecordSize * record + 16 + 8 * slot;

    /// <summary>An edit setting the u64 at <paramref name="offset"/>.</summary>
    public static Edit Ptr(int offset, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return new Edit(offset, b);
    }

    public static Extent One(ulong block) => new(new BlockNo(block), 1);
}
