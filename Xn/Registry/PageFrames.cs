using ExoFS.Kernel;
using ExoFS.Kernel.Memory;

namespace ExoFS.Xn.Registry;

/// <summary>
/// XN's buffer cache memory: physical page frames owned by XN's own kernel environment. Under memory
/// pressure the kernel asks XN (visible revocation) to give frames back; XN decides which — clean,
/// unbound pages first, writing dirty ones back in a legal order if it must — through the callback the
/// volume supplies. Not thread-safe by itself: the volume calls it under its lock.
/// </summary>
internal sealed class PageFrames : IRevocationHandler
{
    private readonly ExoKernel _kernel;
    private readonly Func<RevocationRequest, IReadOnlyList<PageFrame>> _revoke;
    private readonly Action<IReadOnlyList<PageFrameNo>> _repossessed;

    public PageFrames(ExoKernel kernel, Func<RevocationRequest, IReadOnlyList<PageFrame>> revoke,
                      Action<IReadOnlyList<PageFrameNo>> repossessed)
    {
        _kernel = kernel;
        _revoke = revoke;
        _repossessed = repossessed;
        Environment = kernel.CreateEnvironment("xn");
        kernel.Memory.SetRevocationHandler(Environment, this);
    }

    /// <summary>The environment that owns XN's cache frames (and mints page capabilities for readers).</summary>
    public ExoEnvironment Environment { get; }

    /// <summary>Frames held now.</summary>
    public int Held => _kernel.Memory.OwnedCount(Environment);

    /// <summary><paramref name="count"/> zeroed frames, all or none; null when the pool cannot give them.</summary>
    public IReadOnlyList<PageFrame>? TryAllocate(int count)
    {
        var r = _kernel.Memory.Allocate(Environment, count);
        return r.Ok ? r.Frames : null;
    }

    public void Release(PageFrame frame) => _kernel.Memory.Free(Environment, frame);

    public IReadOnlyList<PageFrame> Revoke(RevocationRequest request) => _revoke(request);

    public void Repossessed(IReadOnlyList<PageFrameNo> taken) => _repossessed(taken);

    /// <summary>Ends XN's environment: every frame returns to the pool.</summary>
    public void Shutdown() => _kernel.DestroyEnvironment(Environment);
}
