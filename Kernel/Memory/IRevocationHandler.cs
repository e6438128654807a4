namespace ExoFS.Kernel.Memory;

/// <summary>
/// An environment's revocation upcall (visible revocation): the kernel asks for frames back and the libOS
/// decides which, writing dirty ones back first if it wants. Called without kernel locks held, so a handler
/// may call into the kernel (but should not allocate: that may ask it to give back pages again).
/// </summary>
public interface IRevocationHandler
{
    /// <summary>
    /// Choose <see cref="RevocationRequest.Wanted"/> frames from <see cref="RevocationRequest.Owned"/> to
    /// give back, and return them (their handles die once the kernel takes them). Returning fewer, throwing,
    /// or overrunning the deadline triggers the abort protocol: the kernel takes frames by force.
    /// </summary>
    IReadOnlyList<PageFrame> Revoke(RevocationRequest request);

    /// <summary>Abort protocol notice: these frames were taken by force (also in the repossession vector).</summary>
    void Repossessed(IReadOnlyList<PageFrameNo> taken) { }
}

/// <summary>One revocation upcall's question, and the simulated clock the handler charges its work to.</summary>
public sealed class RevocationRequest
{
    private long _spent;

    internal RevocationRequest(int wanted, IReadOnlyList<PageFrame> owned, long budgetTicks)
    {
        Wanted = wanted;
        Owned = owned;
        BudgetTicks = budgetTicks;
    }

    /// <summary>How many frames the kernel wants back.</summary>
    public int Wanted { get; }

    /// <summary>The environment's frames when the upcall began, in frame-number order.</summary>
    public IReadOnlyList<PageFrame> Owned { get; }

    /// <summary>The simulated time allowed.</summary>
    public long BudgetTicks { get; }

    /// <summary>Simulated time used so far.</summary>
    public long SpentTicks => Interlocked.Read(ref _spent);

    /// <summary>True once more than the budget has been charged.</summary>
    public bool Overrun => SpentTicks > BudgetTicks;

    /// <summary>Charges simulated work (e.g. a write-back) to this request's deadline.</summary>
    public void Charge(long ticks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ticks);
        long cur, next;
        do
        {
            cur = Interlocked.Read(ref _spent);
            next = cur > long.MaxValue - ticks ? long.MaxValue : cur + ticks;
        } while (Interlocked.CompareExchange(ref _spent, next, cur) != cur);
    }
}

/// <summary>Adapts a plain function (wanted, owned) → chosen into an <see cref="IRevocationHandler"/>.</summary>
public sealed class DelegateRevocationHandler(Func<int, IReadOnlyList<PageFrame>, IReadOnlyList<PageFrame>> choose) : IRevocationHandler
{
    public IReadOnlyList<PageFrame> Revoke(RevocationRequest request) => choose(request.Wanted, request.Owned);
}
