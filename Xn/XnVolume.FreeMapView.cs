using ExoFS.Kernel.Disk;

namespace ExoFS.Xn;

public sealed partial class XnVolume
{
    /// <summary>
    /// Read-only view of the free map over [<paramref name="start"/>, start + <paramref name="count"/>), clipped to
    /// the disk: how many blocks are free (FindFree could give them out now) and how many are deferred (freed, not
    /// reusable until a later Sync). XN's reserved area counts as allocated. Caller holds the volume lock.
    /// </summary>
    internal XnFreeCount CountFreeLocked(BlockNo start, ulong count)
    {
        ulong end = Math.Min(Layout.BlockCount, start.Value + Math.Min(count, Layout.BlockCount));
        ulong free = 0, deferred = 0;
        bool anyDeferred = _free.DeferredCount > 0;
        for (ulong b = Math.Max(start.Value, Layout.ReservedEnd); b < end; b++)
        {
            if (!_free.IsAllocated(b)) free++;
            else if (anyDeferred && _free.IsDeferred(b)) deferred++;
        }
        return new XnFreeCount(free, deferred);
    }
}
