using ExoFS.Kernel.Udf;

namespace ExoFS.Kernel.Tests.Udf;

/// <summary>Helpers shared by the UDF tests: verify-or-fail, and run both engines demanding they agree.</summary>
internal static class UdfTestKit
{
    public static VerifiedUdf Accept(string text)
    {
        var v = UdfVerifier.Verify(text);
        Assert.True(v.Accepted, $"expected accepted, got: {v.Reason}");
        return v.Udf!;
    }

    public static string Reject(string text)
    {
        var v = UdfVerifier.Verify(text);
        Assert.False(v.Accepted, "expected a rejection");
        return v.Reason!;
    }

    /// <summary>Runs interpreter and compiled code; asserts identical results and extents; returns them.</summary>
    public static (UdfResult Result, List<UdfExtent> Extents) RunBoth(VerifiedUdf udf, byte[] block, int partition = 0)
    {
        var a = new List<UdfExtent>();
        var b = new List<UdfExtent>();
        var ra = udf.Interpret(block, partition, a);
        var rb = udf.Run(block, partition, b);
        Assert.Equal(ra, rb);
        Assert.Equal(a, b);
        return (ra, a);
    }

    /// <summary>Wraps instructions in a one-partition UDF that may read the whole block.</summary>
    public static string Wrap(string body, string directives = ".types t0 t1\n.read 0 4096") =>
        $".udf test\n{directives}\n{body}\n";

    /// <summary>Result of a whole-block UDF made of <paramref name="body"/>, on a zero block unless given.</summary>
    public static UdfResult Eval(string body, byte[]? block = null) =>
        RunBoth(Accept(Wrap(body)), block ?? new byte[4096]).Result;

    public static long Value(string body, byte[]? block = null)
    {
        var r = Eval(body, block);
        Assert.Equal(UdfFault.None, r.Fault);
        return r.Value;
    }

    public static void PutU64(byte[] block, int offset, ulong value) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(offset), value);

    /// <summary>
    /// An FFS-like inode block: 16 inodes of 256 bytes; inode p keeps 12 direct block pointers at bytes
    /// 64..160 and single, double, triple indirect pointers at 160..184. Zero means no pointer.
    /// </summary>
    public static string InodeOwns()
    {
        var s = new System.Text.StringBuilder();
        s.Append(".udf ffs.inode.owns\n.partitions 16\n.types ffs.data ffs.ind1 ffs.ind2 ffs.ind3\n.read 64 120 256\n.fuel 64\n");
        s.Append("    li   r2, 256\n    mul  r2, r1, r2        ; r2 = this inode's offset\n");
        for (int i = 0; i < 15; i++)
        {
            int type = i < 12 ? 0 : i - 11;
            s.Append($"    ld64 r3, [r2+{64 + 8 * i}]\n    beq  r3, 0, p{i}\n    emit {type}, r3, 1\np{i}:\n");
        }
        s.Append("    ret  0\n");
        return s.ToString();
    }

    /// <summary>The indirect-block example of UDF-SPEC.md: 512 u64 pointers, 8 partitions of 64, a loop.</summary>
    public const string IndirectOwns = """
        .udf demo.indirect.owns
        .partitions 8
        .types demo.data
        .read 0 512 512         ; partition p reads bytes [512p, 512p+512)
        .fuel 1024
          li   r2, 512
          mul  r2, r1, r2       ; r2 = offset of this partition's first pointer
          li   r3, 64           ; loop counter
        next:
          ld64 r4, [r2+0]
          beq  r4, 0, skip
          emit 0, r4, 1
        skip:
          add  r2, r2, 8
          loop r3, next
          ret  0
        """;
}
