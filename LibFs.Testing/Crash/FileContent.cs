using System.Collections;
using System.Runtime.CompilerServices;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// A file's bytes, held sparsely so that a file with data a gigabyte in (an FFS triple indirect block) costs what
/// its data costs: the length and the 4 KiB chunks that hold a non-zero byte; every other byte reads as zero.
/// Immutable; equal when the bytes are. Built from bytes (<see cref="FromBytes"/>, an implicit conversion, or a
/// collection expression) or read from a file system by its data regions (<see cref="Read"/>).
/// </summary>
[CollectionBuilder(typeof(FileContent), nameof(FromBytes))]
public sealed class FileContent : IEquatable<FileContent>, IEnumerable<byte>
{
    public const int ChunkSize = 4096;
    private static readonly byte[] ZeroChunk = new byte[ChunkSize];

    // Read's staging buffer, one per thread: a fresh 64 KiB array for every file read was a fifth of the bytes
    // a crash campaign allocated (each recovered snapshot and each model snapshot reads every file).
    [ThreadStatic] private static byte[]? _readBuffer;

    private readonly long[] _keys;     // sorted chunk indices
    private readonly byte[][] _chunks; // ChunkSize bytes each; bytes past Length are zero

    private FileContent(long length, SortedDictionary<long, byte[]> chunks)
    {
        Length = length;
        _keys = [.. chunks.Keys];
        _chunks = [.. chunks.Values];
    }

    /// <summary>The file's size in bytes.</summary>
    public long Length { get; }

    /// <summary>The indices of the chunks holding a non-zero byte, ascending.</summary>
    public ReadOnlySpan<long> DataChunks => _keys;

    /// <summary>Bytes held in memory (the non-zero chunks).</summary>
    public long StoredBytes => (long)_chunks.Length * ChunkSize;

    /// <summary>Chunk <paramref name="index"/> (ChunkSize bytes, zero past <see cref="Length"/>; the zero chunk for a hole).</summary>
    public ReadOnlySpan<byte> Chunk(long index)
    {
        int at = Array.BinarySearch(_keys, index);
        return at >= 0 ? _chunks[at] : ZeroChunk;
    }

    /// <summary>The byte at <paramref name="offset"/> (zero in a hole); offset must be below <see cref="Length"/>.</summary>
    public byte this[long offset] => Chunk(offset / ChunkSize)[(int)(offset % ChunkSize)];

    public static FileContent Empty { get; } = new(0, new SortedDictionary<long, byte[]>());

    public static FileContent FromBytes(ReadOnlySpan<byte> bytes)
    {
        var chunks = new SortedDictionary<long, byte[]>();
        for (long k = 0; k * ChunkSize < bytes.Length; k++)
        {
            var piece = bytes.Slice((int)(k * ChunkSize), (int)Math.Min(ChunkSize, bytes.Length - k * ChunkSize));
            if (!piece.ContainsAnyExcept((byte)0)) continue;
            var chunk = new byte[ChunkSize];
            piece.CopyTo(chunk);
            chunks[k] = chunk;
        }
        return new FileContent(bytes.Length, chunks);
    }

    public static implicit operator FileContent(byte[] bytes) => FromBytes(bytes);

    /// <summary>
    /// The content of regular file <paramref name="ino"/> of <paramref name="size"/> bytes, read region by region:
    /// SEEK_DATA and SEEK_HOLE find the data (a libFS without them reports the whole file as data, read whole).
    /// </summary>
    /// <exception cref="UnexpectedErrnoException">A call failed.</exception>
    public static FileContent Read(IFileSystem fs, InodeNo ino, long size)
    {
        ArgumentNullException.ThrowIfNull(fs);
        var chunks = new SortedDictionary<long, byte[]>();
        if (size == 0) return new FileContent(0, chunks);
        var fh = fs.Open(ino, OpenFlags.ReadOnly).Ok($"open {ino}");
        // Taken, not shared: a nested read on this thread (none today) would get its own.
        var buffer = _readBuffer ?? new byte[64 * 1024];
        _readBuffer = null;
        try
        {
            long offset = 0;
            while (offset < size)
            {
                var data = fs.Lseek(ino, fh, offset, SeekWhence.Data);
                if (data.Error == Errno.ENXIO) break;
                long start = data.Ok($"lseek {ino} SEEK_DATA {offset}");
                long end = Math.Min(size, fs.Lseek(ino, fh, start, SeekWhence.Hole).Ok($"lseek {ino} SEEK_HOLE {start}"));
                if (start < offset || end <= start) throw new InvalidOperationException($"file {ino}: SEEK_DATA/SEEK_HOLE from {offset} gave [{start}, {end})");
                // Whole chunks around the region, so that each chunk is read once.
                long pos = start / ChunkSize * ChunkSize;
                long stop = Math.Min(size, (end + ChunkSize - 1) / ChunkSize * ChunkSize);
                while (pos < stop)
                {
                    int want = (int)Math.Min(buffer.Length, stop - pos);
                    int n = fs.Read(ino, fh, pos, buffer.AsSpan(0, want)).Ok($"read {ino}@{pos}");
                    if (n == 0) throw new InvalidOperationException($"file {ino} ended at {pos}, before its size {size}");
                    for (int done = 0; done < n;)
                    {
                        long k = (pos + done) / ChunkSize;
                        int inChunk = (int)((pos + done) % ChunkSize);
                        int len = Math.Min(n - done, ChunkSize - inChunk);
                        var piece = buffer.AsSpan(done, len);
                        if (piece.ContainsAnyExcept((byte)0))
                        {
                            if (!chunks.TryGetValue(k, out var chunk)) chunks[k] = chunk = new byte[ChunkSize];
                            piece.CopyTo(chunk.AsSpan(inChunk));
                        }
                        done += len;
                    }
                    pos += n;
                }
                offset = stop;
            }
        }
        finally
        {
            _readBuffer = buffer;
            fs.Release(ino, fh);
        }
        return new FileContent(size, chunks);
    }

    public bool Equals(FileContent? other)
    {
        if (other is null || other.Length != Length || other._keys.Length != _keys.Length) return false;
        if (ReferenceEquals(this, other)) return true;
        if (!_keys.AsSpan().SequenceEqual(other._keys)) return false;
        for (int i = 0; i < _chunks.Length; i++)
            if (!_chunks[i].AsSpan().SequenceEqual(other._chunks[i])) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as FileContent);

    public override int GetHashCode() => HashCode.Combine(Length, _keys.Length, _keys.Length > 0 ? _keys[0] : -1);

    /// <summary>Every byte, holes as zeros (for small contents: a gigabyte-long file enumerates a gigabyte).</summary>
    public IEnumerator<byte> GetEnumerator()
    {
        for (long i = 0; i < Length; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>All the bytes as one array (for small contents).</summary>
    public byte[] ToArray()
    {
        if (Length > int.MaxValue) throw new InvalidOperationException($"{Length} bytes do not fit one array");
        var result = new byte[Length];
        for (int i = 0; i < _keys.Length; i++)
        {
            long at = _keys[i] * ChunkSize;
            _chunks[i].AsSpan(0, (int)Math.Min(ChunkSize, Length - at)).CopyTo(result.AsSpan((int)at));
        }
        return result;
    }
}
