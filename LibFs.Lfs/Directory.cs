using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// A directory in memory: its entries by name and by cookie (readdir order, stable across changes) and which
/// data block each lives in. Every change re-encodes the touched blocks into the directory inode's dirty
/// data, so the log sees a directory like any file. Block 0 also holds ".." and the next cookie.
/// </summary>
internal sealed class DirState
{
    public const ulong FirstCookie = 3; // 1 and 2 are "." and ".."
    public readonly Dictionary<string, DirRecord> ByName = new(StringComparer.Ordinal);
    public readonly SortedDictionary<ulong, DirRecord> ByCookie = new();
    public readonly Dictionary<string, int> BlockOf = new(StringComparer.Ordinal);
    public readonly List<List<DirRecord>> Blocks = new();
    public readonly List<int> Used = new();
    public ulong Parent;
    public ulong NextCookie = FirstCookie;

    public static DirState Empty(ulong parent)
    {
        var d = new DirState { Parent = parent };
        d.Blocks.Add(new List<DirRecord>());
        d.Used.Add(0);
        return d;
    }

    /// <summary>Rebuilds a directory from its data blocks; null if one is malformed.</summary>
    public static DirState? Load(IReadOnlyList<byte[]> blocks)
    {
        var d = new DirState();
        for (int b = 0; b < blocks.Count; b++)
        {
            var list = DirBlock.Read(blocks[b], (ulong)b, out ulong parent, out ulong next);
            if (list is null) return null;
            if (b == 0) { d.Parent = parent; d.NextCookie = Math.Max(next, FirstCookie); }
            d.Blocks.Add(list);
            d.Used.Add(list.Sum(e => e.Size));
            foreach (var e in list)
            {
                if (!d.ByName.TryAdd(e.Name, e) || !d.ByCookie.TryAdd(e.Cookie, e)) return null;
                d.BlockOf[e.Name] = b;
                d.NextCookie = Math.Max(d.NextCookie, e.Cookie + 1);
            }
        }
        if (d.Blocks.Count == 0) { d.Blocks.Add(new List<DirRecord>()); d.Used.Add(0); }
        return d;
    }

    /// <summary>Adds an entry; returns the block indices changed.</summary>
    public (int Block, bool Grew) Add(string name, ulong ino, byte type)
    {
        var e = new DirRecord(name, ino, type, NextCookie++);
        int b = -1;
        for (int i = 0; i < Blocks.Count; i++)
            if (Used[i] + e.Size <= DirBlock.Capacity((ulong)i)) { b = i; break; }
        bool grew = false;
        if (b < 0)
        {
            Blocks.Add(new List<DirRecord>());
            Used.Add(0);
            b = Blocks.Count - 1;
            grew = true;
        }
        Blocks[b].Add(e);
        Used[b] += e.Size;
        ByName[name] = e;
        ByCookie[e.Cookie] = e;
        BlockOf[name] = b;
        return (b, grew);
    }

    /// <summary>Removes an entry; returns its block.</summary>
    public int Remove(string name)
    {
        var e = ByName[name];
        int b = BlockOf[name];
        Blocks[b].Remove(e);
        Used[b] -= e.Size;
        ByName.Remove(name);
        ByCookie.Remove(e.Cookie);
        BlockOf.Remove(name);
        return b;
    }

    /// <summary>Points an existing entry at another inode (same name, same cookie); returns its block.</summary>
    public int Retarget(string name, ulong ino, byte type)
    {
        var old = ByName[name];
        int b = BlockOf[name];
        var e = old with { Ino = ino, Type = type };
        int at = Blocks[b].IndexOf(old);
        Blocks[b][at] = e;
        ByName[name] = e;
        ByCookie[e.Cookie] = e;
        return b;
    }

    public byte[] Encode(int b)
    {
        var block = new byte[LfsLayout.BlockSize];
        DirBlock.Write(block, (ulong)b, Blocks[b], Parent, NextCookie);
        return block;
    }

    public static byte TypeOf(uint mode) => (byte)(FileMode.TypeOf(mode) >> 12);
}
