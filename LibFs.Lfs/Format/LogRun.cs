namespace ExoFS.LibFs.Lfs.Format;

/// <summary>
/// How a run the log head writes (<see cref="ILfsDisk.Write"/>) splits into partial segments: in each segment it
/// enters, past the segment's first <c>firstOffset</c> blocks where the run starts there (an XN segment head's
/// place), one partial per summary that names its own slot and offset and whose blocks fit in the segment and the
/// run; a stretch that does not open with
/// such a summary is one undescribed piece up to the segment's (or run's) end. Blocks in no segment are skipped.
/// The one reading of a run, shared by the disk that claims its partials and the checker that learns their CRCs.
/// </summary>
internal static class LogRun
{
    /// <summary>A piece of the run: <paramref name="N"/> blocks from <paramref name="At"/> in <paramref name="Slot"/>; <paramref name="Sum"/> null when undescribed.</summary>
    internal readonly record struct Partial(int Slot, ulong At, uint N, Summary? Sum);

    public static List<Partial> Split(ulong start, ReadOnlySpan<byte> blocks, Func<ulong, int> slotOf,
        Func<int, ulong> segmentStart, uint segBlocks, uint firstOffset)
    {
        var list = new List<Partial>();
        ulong end = start + (ulong)(blocks.Length / LfsLayout.BlockSize);
        for (ulong b = start; b < end;)
        {
            int slot = slotOf(b);
            if (slot < 0) { b++; continue; }
            ulong seg = segmentStart(slot), segEnd = Math.Min(end, seg + segBlocks);
            if (b == seg) b += firstOffset;   // the head's place: not a log block
            while (b < segEnd)
            {
                if (Summary.ReadFrom(blocks[(int)((b - start) * LfsLayout.BlockSize)..]) is { } sum && sum.Slot == (uint)slot
                    && sum.Offset == b - seg && b + 1 + (uint)sum.Entries.Count <= segEnd)
                {
                    uint n = 1 + (uint)sum.Entries.Count;
                    list.Add(new Partial(slot, b, n, sum));
                    b += n;
                    continue;
                }
                list.Add(new Partial(slot, b, (uint)(segEnd - b), null));
                b = segEnd;
            }
            b = Math.Max(b, segEnd);
        }
        return list;
    }
}
