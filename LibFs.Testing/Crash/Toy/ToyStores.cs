using System.Buffers.Binary;
using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.Xn;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// Where a <see cref="ShadowToyFileSystem"/> keeps its serialized image. <see cref="Save"/> must replace the
/// previous image atomically and durably (after a crash, <see cref="Load"/> returns the old image or the new
/// one); <see cref="Load"/> returns null with a reason when no valid image is found.
/// </summary>
public interface IToyImageStore
{
    byte[]? Load(out string problem);
    void Save(byte[] image);
}

/// <summary>
/// Shadow paging on a raw device. Block 0 is a header (magic, generation, area, length, FNV-1a checksum);
/// the rest is split into two image areas used alternately. Save writes the image to the spare area, then
/// (after a barrier: the commit point) the header naming it, then flushes. Little-endian.
/// </summary>
public sealed class ToyBlockStore(IBlockDevice dev, ToyBug bug = ToyBug.None) : IToyImageStore
{
    private static ReadOnlySpan<byte> Magic => "TOYSHDW1"u8;
    private const int BlockSize = IBlockDevice.BlockSize;
    private uint _area = 1; // a fresh device's first image goes to area 0
    private ulong _generation;

    private ulong AreaBlocks => (dev.BlockCount - 1) / 2;

    public byte[]? Load(out string problem)
    {
        var header = new byte[BlockSize];
        dev.Read(BlockNo.Zero, header);
        problem = "";
        if (!header.AsSpan(0, 8).SequenceEqual(Magic)) { problem = "toy: no header (bad magic)"; return null; }
        _generation = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        _area = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(16));
        int length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(20));
        uint sum = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(24));
        if (_area > 1 || length < 0 || (ulong)length > AreaBlocks * BlockSize) { problem = "toy: header out of range"; return null; }
        var image = new byte[(length + BlockSize - 1) / BlockSize * BlockSize];
        dev.Read(new BlockNo(1 + _area * AreaBlocks), image);
        if (ToyChecksum.Of(image.AsSpan(0, length)) != sum) { problem = $"toy: image checksum mismatch (area {_area}, {length} bytes)"; return null; }
        return image.AsSpan(0, length).ToArray();
    }

    public void Save(byte[] payload)
    {
        var image = new byte[(payload.Length + BlockSize - 1) / BlockSize * BlockSize];
        payload.CopyTo(image, 0);
        if ((ulong)image.Length / BlockSize > AreaBlocks) throw new IOException("toy: image larger than its area");
        uint area = bug == ToyBug.InPlace ? _area : 1 - _area;
        dev.Write(new BlockNo(1 + area * AreaBlocks), image);
        // The commit point: the header may reach the disk only after the image it names.
        if (bug != ToyBug.MissingBarrier) dev.Barrier();
        var header = new byte[BlockSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), ++_generation);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), area);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(20), payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), ToyChecksum.Of(payload));
        dev.Write(BlockNo.Zero, header);
        dev.Flush();
        _area = area;
    }
}

/// <summary>
/// The toy's image in one XN data extent owned by an XN root block of type <c>toy.root</c>: bytes 0..16 of
/// the root are the extent (start, count — pointer fields, changed only through Alloc/Free), bytes 16..32
/// raw fields (length, FNV-1a checksum, generation). Save frees the old extent, allocates a new one (the
/// lowest free), writes the image into it and the header fields, and syncs XN. The toy relies entirely on
/// XN's ordering: Rule 1 keeps the root from reaching the disk before the new extent, Rule 2 keeps the old
/// extent from being reused while the durable root still points at it. So this store is how the crash
/// explorer tests XN itself.
/// </summary>
public sealed class ToyXnStore : IToyImageStore
{
    /// <summary>The root's name in XN's root catalogue.</summary>
    public const string RootName = "toy";

    private const int BlockSize = IBlockDevice.BlockSize;
    private readonly XnSession _session;
    private readonly BlockNo _root;
    private readonly BlockNo _hint;
    private ulong _generation;

    /// <summary>The root type: one partition owning the extent named by the first 16 bytes.</summary>
    public static TypeSpec RootType { get; } = new("toy.root", """
        .udf toy.root.owns
        .partitions 1
        .types xn.data
        .read 0 16
        .fuel 64
          ld64 r2, [r0+0]
          ld64 r3, [r0+8]
          beq  r2, 0, done
          beq  r3, 0, done
          emit 0, r2, r3
        done:
          ret  0
        """, RawRead: [new ByteRange(0, BlockSize)], RawWrite: [new ByteRange(16, BlockSize - 16)]);

    private ToyXnStore(XnSession session, BlockNo root, BlockNo hint)
    {
        _session = session;
        _root = root;
        _hint = hint;
    }

    /// <summary>Registers the type, installs the root and saves nothing yet (Format saves the first image).</summary>
    public static ToyXnStore Install(XnVolume vol, XnSession session)
    {
        var type = Must(session.RegisterType(RootType), "register toy.root");
        var root = Must(session.InstallRoot(RootName, type), "install root");
        return new ToyXnStore(session, root.Block, vol.FirstDataBlock);
    }

    /// <summary>Opens the root on a loaded volume for <paramref name="env"/>; null with the reason if it is not there.</summary>
    public static ToyXnStore? Open(XnVolume vol, ExoEnvironment env, out string problem)
    {
        problem = "";
        var cap = vol.GrantRoot(RootName, env);
        if (!cap.Ok) { problem = $"xn: {cap}"; return null; }
        var session = vol.Attach(env);
        var root = session.MountRoot(RootName, cap.Value);
        if (!root.Ok) { problem = $"xn: mount root: {root}"; return null; }
        return new ToyXnStore(session, root.Value.Block, vol.FirstDataBlock);
    }

    public byte[]? Load(out string problem)
    {
        problem = "";
        var root = new byte[BlockSize];
        var r = _session.Read(_root, root);
        if (!r.Ok) { problem = $"xn: read root: {r}"; return null; }
        ulong start = BinaryPrimitives.ReadUInt64LittleEndian(root);
        ulong count = BinaryPrimitives.ReadUInt64LittleEndian(root.AsSpan(8));
        int length = BinaryPrimitives.ReadInt32LittleEndian(root.AsSpan(16));
        uint sum = BinaryPrimitives.ReadUInt32LittleEndian(root.AsSpan(20));
        _generation = BinaryPrimitives.ReadUInt64LittleEndian(root.AsSpan(24));
        if (start == 0 || length < 0 || (ulong)length > count * BlockSize) { problem = $"toy: root names no image (extent {start}+{count}, {length} bytes)"; return null; }
        var image = new byte[count * BlockSize];
        for (ulong i = 0; i < count; i++)
        {
            var rb = _session.Read(new BlockNo(start + i), image.AsSpan((int)i * BlockSize, BlockSize));
            if (!rb.Ok) { problem = $"xn: read image block {start + i}: {rb}"; return null; }
        }
        if (ToyChecksum.Of(image.AsSpan(0, length)) != sum) { problem = $"toy: image checksum mismatch (extent {start}+{count}, {length} bytes)"; return null; }
        return image.AsSpan(0, length).ToArray();
    }

    public void Save(byte[] payload)
    {
        var root = new byte[BlockSize];
        Must(_session.Read(_root, root), "read root");
        ulong oldStart = BinaryPrimitives.ReadUInt64LittleEndian(root);
        ulong oldCount = BinaryPrimitives.ReadUInt64LittleEndian(root.AsSpan(8));
        if (oldStart != 0)
            Must(_session.Free(_root, 0, [Field(0, 0), Field(8, 0)], new Extent(new BlockNo(oldStart), oldCount)), "free old image");
        ulong count = (ulong)Math.Max(1, (payload.Length + BlockSize - 1) / BlockSize);
        var start = Must(_session.FindFree(_hint, count), "find free");
        var extent = new Extent(start, count);
        Must(_session.Alloc(_root, 0, [Field(0, start.Value), Field(8, count)], XnTypes.Data, extent), "alloc image");
        var block = new byte[BlockSize];
        for (ulong i = 0; i < count; i++)
        {
            Array.Clear(block);
            int from = (int)i * BlockSize;
            payload.AsSpan(from, Math.Min(BlockSize, payload.Length - from)).CopyTo(block);
            Must(_session.WriteRaw(start.Offset(i), 0, block), "write image");
        }
        var header = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(header, payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), ToyChecksum.Of(payload));
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), ++_generation);
        Must(_session.WriteRaw(_root, 16, header), "write root header");
        Must(_session.Sync(), "sync");
    }

    private static Edit Field(int offset, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return new Edit(offset, b);
    }

    // A refused XN call here is a bug in the toy or in XN, not an expected failure: surface it loudly.
    private static void Must(XnResult r, string what)
    {
        if (!r.Ok) throw new IOException($"toy on xn: {what}: {r}");
    }

    private static T Must<T>(XnResult<T> r, string what) =>
        r.Ok ? r.Value : throw new IOException($"toy on xn: {what}: {r}");
}

internal static class ToyChecksum
{
    public static uint Of(ReadOnlySpan<byte> data)
    {
        uint h = 2166136261; // FNV-1a
        foreach (byte b in data) h = (h ^ b) * 16777619;
        return h;
    }
}
