using ExoFS.Kernel;
using ExoFS.Kernel.Capabilities;
using ExoFS.Kernel.Memory;

namespace ExoFS.Kernel.Tests.Memory;

public class PhysicalMemoryTests
{
    private static (ExoKernel, PhysicalMemory, ExoEnvironment, ExoEnvironment) Boot(int frames)
    {
        var k = new ExoKernel(new KernelOptions { PageFrames = frames });
        return (k, k.Memory, k.CreateEnvironment("a"), k.CreateEnvironment("b"));
    }

    [Fact]
    public void Allocated_frames_are_distinct_zeroed_4KiB_and_owned_by_the_caller()
    {
        var (_, mem, a, _) = Boot(8);
        var r = mem.Allocate(a, 3);
        Assert.True(r.Ok);
        Assert.Equal(3, r.Frames.Select(f => f.Number).Distinct().Count());
        Assert.All(r.Frames, f =>
        {
            Assert.Equal(a.Id, f.Owner);
            Assert.Equal(PageFrame.Size, f.Bytes.Length);
            Assert.True(f.Bytes.Span.IndexOfAnyExcept((byte)0) < 0);
        });
        Assert.Equal(5, mem.FreeFrames);
        Assert.Equal(3, mem.OwnedCount(a));
    }

    [Fact]
    public void Reused_frame_is_zeroed_so_data_does_not_leak_between_environments()
    {
        var (_, mem, a, b) = Boot(1);
        var fa = mem.Allocate(a, 1).Frames[0];
        fa.Bytes.Span.Fill(0xAB);
        Assert.Equal(MemoryStatus.Ok, mem.Free(a, fa));
        var fb = mem.Allocate(b, 1).Frames[0];
        Assert.Equal(fa.Number, fb.Number);
        Assert.True(fb.Bytes.Span.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Quota_is_enforced_all_or_nothing()
    {
        var (_, mem, a, _) = Boot(16);
        Assert.Equal(MemoryStatus.Ok, mem.SetQuota(a, 4));
        Assert.True(mem.Allocate(a, 3).Ok);
        var r = mem.Allocate(a, 2);
        Assert.Equal(MemoryStatus.QuotaExceeded, r.Status);
        Assert.Empty(r.Frames);
        Assert.Equal(3, mem.OwnedCount(a));
        Assert.True(mem.Allocate(a, 1).Ok);
        Assert.Equal(MemoryStatus.QuotaExceeded, mem.Allocate(a, 1).Status);
    }

    [Fact]
    public void Exhausted_pool_without_anyone_over_fair_share_is_out_of_memory()
    {
        var (_, mem, a, b) = Boot(4);
        Assert.True(mem.Allocate(a, 2).Ok);
        Assert.True(mem.Allocate(b, 2).Ok);
        Assert.Equal(MemoryStatus.OutOfMemory, mem.Allocate(a, 1).Status);
        Assert.Equal(MemoryStatus.OutOfMemory, mem.Allocate(a, 5).Status);
    }

    [Fact]
    public void Bad_arguments_are_results_not_crashes()
    {
        var (k, mem, a, _) = Boot(4);
        Assert.Equal(MemoryStatus.InvalidArgument, mem.Allocate(a, -1).Status);
        Assert.Equal(MemoryStatus.InvalidArgument, mem.SetQuota(a, -2));
        var foreign = new ExoKernel(new KernelOptions { PageFrames = 1 }).CreateEnvironment("x");
        Assert.Equal(MemoryStatus.InvalidEnvironment, mem.Allocate(foreign, 1).Status);
        var f = mem.Allocate(a, 1).Frames[0];
        Assert.Equal(MemoryStatus.InvalidEnvironment, foreign.Kernel.Memory.Free(foreign, f));
        k.DestroyEnvironment(a);
        Assert.Equal(MemoryStatus.InvalidEnvironment, mem.Allocate(a, 1).Status);
    }

    [Fact]
    public void Free_by_non_owner_is_refused_and_frame_stays_with_owner()
    {
        var (_, mem, a, b) = Boot(4);
        var f = mem.Allocate(a, 1).Frames[0];
        Assert.Equal(MemoryStatus.NotOwner, mem.Free(b, f));
        Assert.True(f.IsValid);
        Assert.Equal(1, mem.OwnedCount(a));
        Assert.Equal(MemoryStatus.Ok, mem.Free(a, f));
    }

    [Fact]
    public void Double_free_and_use_after_free_are_caught()
    {
        var (_, mem, a, b) = Boot(1);
        var f = mem.Allocate(a, 1).Frames[0];
        Assert.Equal(MemoryStatus.Ok, mem.Free(a, f));
        Assert.False(f.IsValid);
        Assert.Equal(MemoryStatus.StaleFrame, mem.Free(a, f));
        Assert.Throws<InvalidOperationException>(() => f.Bytes);
        Assert.False(f.TryGetBytes(out _));
        // The old handle cannot free the frame's next allocation either.
        var g = mem.Allocate(b, 1).Frames[0];
        Assert.Equal(f.Number, g.Number);
        Assert.Equal(MemoryStatus.StaleFrame, mem.Free(a, f));
        Assert.True(g.IsValid);
    }

    [Fact]
    public void Destroying_an_environment_returns_its_frames()
    {
        var (k, mem, a, _) = Boot(4);
        var frames = mem.Allocate(a, 3).Frames;
        k.DestroyEnvironment(a);
        Assert.Equal(4, mem.FreeFrames);
        Assert.All(frames, f => Assert.False(f.IsValid));
    }

    [Fact]
    public void Shared_frame_is_readable_read_only_through_a_delegated_capability()
    {
        var (k, mem, xn, reader) = Boot(4);
        var page = mem.Allocate(xn, 1).Frames[0];
        page.Bytes.Span[7] = 42;
        var own = mem.CapabilityFor(xn, page, Rights.Read | Rights.Write);
        Assert.True(own.Ok);
        var shared = k.Delegate(xn, own.Capability!, reader, Rights.Read).Capability!;
        var view = mem.MapReadOnly(reader, shared);
        Assert.True(view.Ok);
        Assert.Equal(42, view.View.Span[7]);
        page.Bytes.Span[7] = 43; // a shared page: the reader sees the owner's writes
        Assert.Equal(43, view.View.Span[7]);
        Assert.Equal(43, page.ReadOnlyBytes.Span[7]);
    }

    [Fact]
    public void Frame_capability_does_not_bind_for_others_or_after_reallocation()
    {
        var (k, mem, xn, reader) = Boot(1);
        var page = mem.Allocate(xn, 1).Frames[0];
        var own = mem.CapabilityFor(xn, page, Rights.Read).Capability!;
        Assert.Equal(MemoryStatus.BadCapability, mem.MapReadOnly(reader, own).Status);
        Assert.Equal(CapabilityCheck.NotHolder, mem.CapabilityFor(reader, page, Rights.Read).Status);
        var shared = k.Delegate(xn, own, reader, Rights.Read).Capability!;
        mem.Free(xn, page);
        Assert.Equal(MemoryStatus.StaleFrame, mem.MapReadOnly(reader, shared).Status);
        mem.Allocate(xn, 1);
        Assert.Equal(MemoryStatus.StaleFrame, mem.MapReadOnly(reader, shared).Status);
        var notFrame = k.Delegate(xn, k.Mint(xn, new RootResource("r"), Rights.Read), reader, Rights.Read).Capability!;
        Assert.Equal(MemoryStatus.BadCapability, mem.MapReadOnly(reader, notFrame).Status);
    }
}
