namespace ExoFS.LibFs.Testing.Model;

// fallocate(2) and lseek(2) SEEK_DATA/SEEK_HOLE on the model, with ext4's semantics on 4 KiB chunks:
// - preallocation (mode 0, KEEP_SIZE, ZERO_RANGE) allocates every chunk the range touches, all or nothing
//   (ENOSPC changes nothing); a preallocated chunk is an ordinary chunk of zeros, so it counts in st_blocks
//   and SEEK_DATA finds it (ext4 would report its unwritten extents as holes, tmpfs as data; both read zeros);
// - PUNCH_HOLE does nothing at or past the end of file and ends its range at the end of the chunk holding the
//   last byte (ext4's rule), so chunks preallocated further out survive it;
// - mode 0 and KEEP_SIZE change ctime, and mtime only when the size grows; the other modes change both.
// copy_file_range is the interface's default (Read and Write through the model).
public sealed partial class ModelFileSystem
{
    public Errno Fallocate(InodeNo ino, FileHandle fh, FallocateMode mode, long offset, long length)
    {
        var bad = FallocateRules.Check(mode, offset, length);
        if (bad != Errno.OK) return bad;
        lock (_lock)
        {
            var (node, err) = FileFor(ino, fh, OpenFlags.ReadOnly);
            if (err != Errno.OK) return err;
            long end = offset + length;
            if (end > MaxFileSize) return Errno.EFBIG;
            long size = (long)node!.Size;
            var now = Timespec.Now();
            if (mode == FallocateMode.CollapseRange || mode == FallocateMode.InsertRange)
            {
                if (offset % ChunkSize != 0 || length % ChunkSize != 0) return Errno.EINVAL;
                if (mode == FallocateMode.CollapseRange)
                {
                    if (end >= size) return Errno.EINVAL; // reaching the end of file would be a truncate
                    Shift(node, offset / ChunkSize, end / ChunkSize, -(length / ChunkSize));
                    node.Size -= (ulong)length;
                }
                else
                {
                    if (length > MaxFileSize - size) return Errno.EFBIG;
                    if (offset >= size) return Errno.EINVAL; // inserting at the end would be a plain extend
                    Shift(node, offset / ChunkSize, offset / ChunkSize, length / ChunkSize);
                    node.Size += (ulong)length;
                }
                node.Mtime = node.Ctime = now;
                return Errno.OK;
            }
            if (mode.HasFlag(FallocateMode.PunchHole))
            {
                if (offset >= size) return Errno.OK;
                long stop = Math.Min(end, (size + ChunkSize - 1) / ChunkSize * ChunkSize);
                ZeroBytes(node, offset, stop, drop: true);
                node.Mtime = node.Ctime = now;
                return Errno.OK;
            }
            long first = offset / ChunkSize, last = (end - 1) / ChunkSize;
            long missing = 0;
            for (long ci = first; ci <= last; ci++)
                if (!node.Chunks!.ContainsKey(ci)) missing++;
            if (missing > _capacityChunks - _usedChunks) return Errno.ENOSPC;
            bool zero = mode.HasFlag(FallocateMode.ZeroRange);
            if (zero) ZeroBytes(node, offset, end, drop: false);
            for (long ci = first; ci <= last; ci++)
            {
                if (node.Chunks!.ContainsKey(ci)) continue;
                node.Chunks[ci] = new byte[ChunkSize];
                _usedChunks++;
            }
            bool keep = mode.HasFlag(FallocateMode.KeepSize);
            bool grew = !keep && end > size;
            if (grew) node.Size = (ulong)end;
            if (keep && last >= (size + ChunkSize - 1) / ChunkSize) node.PastEof = true;
            node.Ctime = now;
            if (grew || zero) node.Mtime = now;
            return Errno.OK;
        }
    }

    /// <summary>Zeroes bytes [from, to) of the file; with <paramref name="drop"/> the chunks wholly inside go (a punched hole).</summary>
    private void ZeroBytes(ModelNode node, long from, long to, bool drop)
    {
        for (long ci = from / ChunkSize; ci * ChunkSize < to; ci++)
        {
            if (!node.Chunks!.TryGetValue(ci, out var chunk)) continue;
            long lo = Math.Max(from, ci * ChunkSize), hi = Math.Min(to, (ci + 1) * ChunkSize);
            if (drop && hi - lo == ChunkSize)
            {
                node.Chunks.Remove(ci);
                _usedChunks--;
            }
            else chunk.AsSpan((int)(lo - ci * ChunkSize), (int)(hi - lo)).Clear();
        }
    }

    /// <summary>
    /// Drops the chunks in [<paramref name="dropFrom"/>, <paramref name="dropTo"/>) and moves every chunk from
    /// <paramref name="dropTo"/> on by <paramref name="by"/> chunks (negative: down, for a collapse).
    /// </summary>
    private void Shift(ModelNode node, long dropFrom, long dropTo, long by)
    {
        var chunks = node.Chunks!;
        var moved = new List<KeyValuePair<long, byte[]>>();
        foreach (var kv in chunks.ToList())
        {
            if (kv.Key < dropFrom) continue;
            chunks.Remove(kv.Key);
            if (kv.Key < dropTo) _usedChunks--;
            else moved.Add(kv);
        }
        foreach (var kv in moved) chunks[kv.Key + by] = kv.Value;
    }

    public Result<long> Lseek(InodeNo ino, FileHandle fh, long offset, SeekWhence whence)
    {
        if (whence is not (SeekWhence.Data or SeekWhence.Hole)) return Errno.EINVAL;
        lock (_lock)
        {
            var (node, err) = FileFor(ino, fh, null);
            if (err != Errno.OK) return err;
            long size = (long)node!.Size;
            if (offset < 0 || offset >= size) return Errno.ENXIO;
            // Steps over chunks, not over the bytes between them: a sparse file a gigabyte long has few chunks.
            long from = offset / ChunkSize;
            if (whence == SeekWhence.Data)
            {
                long next = long.MaxValue;
                foreach (long ci in node.Chunks!.Keys)
                    if (ci >= from && ci < next) next = ci;
                // No data from here to the end of file.
                return next != long.MaxValue && next * ChunkSize < size ? Math.Max(offset, next * ChunkSize) : Errno.ENXIO;
            }
            long hole = from;
            while (node.Chunks!.ContainsKey(hole)) hole++;
            // The end of file is always a hole.
            return Math.Min(size, Math.Max(offset, hole * ChunkSize));
        }
    }
}
