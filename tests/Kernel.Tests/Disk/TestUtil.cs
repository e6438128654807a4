using ExoFS.Kernel.Disk;

namespace ExoFS.Kernel.Tests.Disk;

internal static class TestUtil
{
    public const int B = IBlockDevice.BlockSize;

    /// <summary>A block filled with <paramref name="value"/>.</summary>
    public static byte[] Block(byte value, int blocks = 1)
    {
        var data = new byte[B * blocks];
        data.AsSpan().Fill(value);
        return data;
    }

    public static byte[] ReadBlock(IBlockDevice dev, ulong block)
    {
        var buf = new byte[B];
        dev.Read(new BlockNo(block), buf);
        return buf;
    }

    /// <summary>First byte of each block: enough to identify which write a block holds in these tests.</summary>
    public static byte[] Tags(IBlockDevice dev)
    {
        var tags = new byte[dev.BlockCount];
        for (ulong b = 0; b < dev.BlockCount; b++) tags[b] = ReadBlock(dev, b)[0];
        return tags;
    }
}

/// <summary>A temporary directory removed after the test.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("exofs-disk-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
