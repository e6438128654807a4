using System.Reflection;

namespace ExoFS.LibFs.Tests;

/// <summary>The contract assembly: results and errnos, and that it stands on nothing below it.</summary>
public class ContractTests
{
    [Fact]
    public void The_contract_assembly_references_neither_the_kernel_nor_xn()
    {
        var refs = typeof(IFileSystem).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("Kernel", refs);
        Assert.DoesNotContain("Xn", refs);
        Assert.DoesNotContain("LibFs.Runtime", refs);
    }

    [Fact]
    public void The_fuse_adapter_depends_on_the_contract_only()
    {
        var mount = Assembly.Load("Mount");
        var refs = mount.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("LibFs", refs);
        Assert.DoesNotContain("Kernel", refs);
        Assert.DoesNotContain("Xn", refs);
        Assert.DoesNotContain("Host", refs);
    }

    [Fact]
    public void A_result_is_a_value_or_an_errno_never_both()
    {
        Result<int> ok = 7, bad = Errno.ENOENT;
        Assert.True(ok.Ok);
        Assert.Equal(7, ok.Value);
        Assert.False(bad.Ok);
        Assert.Equal(Errno.ENOENT, bad.Error);
        Assert.Throws<InvalidOperationException>(() => bad.Value);
        Assert.Throws<ArgumentException>(() => Result<int>.Fail(Errno.OK));
    }

    [Theory]
    [InlineData(Errno.ENOENT, 2)]
    [InlineData(Errno.EACCES, 13)]
    [InlineData(Errno.ENOSPC, 28)]
    [InlineData(Errno.ENOTEMPTY, 39)]
    [InlineData(Errno.EUCLEAN, 117)]
    public void Errnos_carry_linux_values(Errno e, int linux) => Assert.Equal(linux, (int)e);
}
