using System.Buffers.Binary;
using ExoFS.LibFs.Lfs.Format;

namespace ExoFS.LibFs.Lfs;

/// <summary>
/// A file's block map: 12 direct pointers, then trees of depth 1, 2 and 3 (512 pointers a node). A node's
/// key is (tree t, depth d, prefix): the root of tree t is (t, 0, 0); its child at index i is (t, 1, i); and
/// so on. Nodes move in the log like everything else: changing a pointer dirties the node and every node
/// above it, and the flush writes them bottom-up. A pointer may be <see cref="LfsLayout.ReservedBlock"/> (a
/// fallocated block not written since): it names no log block, so it is never killed or walked as one, and
/// <see cref="Reserved"/> counts such pointers over every file. Lock held.
/// </summary>
internal sealed class BlockTree
{
    private const ulong Rsv = LfsLayout.ReservedBlock;
    private readonly ILfsDisk _disk;
    private readonly SegmentUsage _usage;

    /// <summary>Pointers equal to <see cref="LfsLayout.ReservedBlock"/> in every file's map: blocks the log owes fallocate.</summary>
    public ulong Reserved { get; set; }

    /// <summary>
    /// Dirty nodes over every file in memory: what the next flush appends of tree nodes. Kept exact by every
    /// change of a node's <see cref="TreeNode.Dirty"/> and every node dropped (<see cref="MarkDirty"/>,
    /// <see cref="MarkClean"/>, <see cref="Forget"/>, <see cref="ForgetAll"/>), so the space check before each
    /// write need not scan the dirty inodes; the checker compares it with a scan.
    /// </summary>
    public int DirtyNodes { get; private set; }

    public void MarkDirty(TreeNode n) => DirtyNodes += n.SetDirty(true);
    public void MarkClean(TreeNode n) => DirtyNodes += n.SetDirty(false);

    /// <summary>Drops the loaded node <paramref name="key"/> of <paramref name="ino"/> (a dirty one is no longer the flush's).</summary>
    private void Forget(LfsInode ino, ulong key)
    {
        if (ino.Nodes.Remove(key, out var n) && n.Dirty) DirtyNodes--;
    }

    /// <summary>Drops every loaded node of <paramref name="ino"/> (a deleted file).</summary>
    public void ForgetAll(LfsInode ino)
    {
        foreach (var n in ino.Nodes.Values) if (n.Dirty) DirtyNodes--;
        ino.Nodes.Clear();
    }

    public BlockTree(ILfsDisk disk, SegmentUsage usage)
    {
        _disk = disk;
        _usage = usage;
    }

    public static ulong Key(int tree, int depth, ulong prefix) => ((ulong)tree << 62) | ((ulong)depth << 60) | prefix;
    public static int TreeOf(ulong key) => (int)(key >> 62);
    public static int DepthOf(ulong key) => (int)((key >> 60) & 3);
    public static ulong PrefixOf(ulong key) => key & ((1UL << 60) - 1);

    /// <summary>Which tree maps <paramref name="fb"/> (0: direct) and the index at each depth.</summary>
    public static int Path(ulong fb, Span<int> idx)
    {
        if (fb < LfsLayout.DirectPointers) { idx[0] = (int)fb; return 0; }
        fb -= LfsLayout.DirectPointers;
        if (fb < 512) { idx[0] = (int)fb; return 1; }
        fb -= 512;
        if (fb < 512UL * 512) { idx[0] = (int)(fb / 512); idx[1] = (int)(fb % 512); return 2; }
        fb -= 512UL * 512;
        idx[0] = (int)(fb / (512 * 512)); idx[1] = (int)(fb / 512 % 512); idx[2] = (int)(fb % 512);
        return 3;
    }

    /// <summary>The keys of the nodes on file block <paramref name="fb"/>'s path (none for a direct block): what writing it dirties.</summary>
    public static IEnumerable<ulong> NodesAbove(ulong fb)
    {
        var idx = new int[3];
        int t = Path(fb, idx);
        ulong prefix = 0;
        for (int d = 0; d < t; d++)
        {
            yield return Key(t, d, prefix);
            prefix = prefix * 512 + (ulong)idx[d];
        }
    }

    /// <summary>Node <paramref name="key"/> and every node above it: what rewriting it dirties.</summary>
    public static IEnumerable<ulong> KeyAndAncestors(ulong key)
    {
        int t = TreeOf(key);
        ulong prefix = PrefixOf(key);
        for (int d = DepthOf(key); d >= 0; d--, prefix /= 512) yield return Key(t, d, prefix);
    }

    /// <summary>First file block that tree <paramref name="t"/> maps.</summary>
    public static ulong TreeBase(int t) => t switch
    {
        1 => LfsLayout.DirectPointers,
        2 => LfsLayout.DirectPointers + 512UL,
        _ => LfsLayout.DirectPointers + 512UL + 512UL * 512,
    };

    /// <summary>File blocks one pointer at depth <paramref name="d"/> of tree <paramref name="t"/> covers.</summary>
    public static ulong Span(int t, int d)
    {
        ulong s = 1;
        for (int i = d + 1; i < t; i++) s *= 512;
        return s;
    }

    /// <summary>The node with <paramref name="key"/> whose log address is <paramref name="addr"/>, read if not loaded (null if neither).</summary>
    public Result<TreeNode?> Node(LfsInode ino, ulong key, ulong addr, bool create)
    {
        if (ino.Nodes.TryGetValue(key, out var n)) return n;
        if (addr == 0)
        {
            if (!create) return (TreeNode?)null;
            n = new TreeNode();
            MarkDirty(n);
            ino.Nodes[key] = n;
            return n;
        }
        n = new TreeNode { Addr = addr };
        var buf = new byte[LfsLayout.BlockSize];
        var err = _disk.Read(addr, buf);
        if (err != Errno.OK) return err;
        for (int i = 0; i < LfsLayout.PointersPerBlock; i++) n.Ptr[i] = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(i * 8));
        ino.Nodes[key] = n;
        return n;
    }

    /// <summary>The log address of file block <paramref name="fb"/> (0: a hole or not yet written).</summary>
    public Result<ulong> Lookup(LfsInode ino, ulong fb)
    {
        Span<int> idx = stackalloc int[3];
        int t = Path(fb, idx);
        if (t == 0) return ino.Rec.Direct[idx[0]];
        ulong addr = ino.Rec.Roots[t - 1];
        ulong prefix = 0;
        for (int d = 0; d < t; d++)
        {
            var n = Node(ino, Key(t, d, prefix), addr, create: false);
            if (!n.Ok) return n.Error;
            if (n.Value is null) return 0UL;
            addr = n.Value.Ptr[idx[d]];
            prefix = prefix * 512 + (ulong)idx[d];
        }
        return addr;
    }

    /// <summary>Points file block <paramref name="fb"/> at <paramref name="addr"/> (0 to unmap), making nodes as needed; returns the old address.</summary>
    public Result<ulong> Set(LfsInode ino, ulong fb, ulong addr)
    {
        Span<int> idx = stackalloc int[3];
        int t = Path(fb, idx);
        ulong old;
        if (t == 0)
        {
            old = ino.Rec.Direct[idx[0]];
            ino.Rec.Direct[idx[0]] = addr;
            CountReserved(old, addr);
            return old;
        }
        ulong a = ino.Rec.Roots[t - 1];
        ulong prefix = 0;
        TreeNode? n = null;
        for (int d = 0; d < t; d++)
        {
            var r = Node(ino, Key(t, d, prefix), a, create: addr != 0);
            if (!r.Ok) return r.Error;
            if (r.Value is null) return 0UL; // unmapping a hole
            n = r.Value;
            MarkDirty(n);
            if (d < t - 1) a = n.Ptr[idx[d]];
            prefix = prefix * 512 + (ulong)idx[d];
        }
        old = n!.Ptr[idx[t - 1]];
        n.Ptr[idx[t - 1]] = addr;
        CountReserved(old, addr);
        return old;
    }

    private void CountReserved(ulong old, ulong now)
    {
        if (old == Rsv) Reserved--;
        if (now == Rsv) Reserved++;
    }

    /// <summary>A data pointer goes: a log block dies, a reservation is given back.</summary>
    private void Drop(ulong addr)
    {
        if (addr == Rsv) Reserved--;
        else _usage.Kill(addr);
    }

    /// <summary>
    /// The first file block in [<paramref name="from"/>, <paramref name="to"/>) whose pointer is set
    /// (<paramref name="mapped"/>: a log block or a reservation) or clear (a hole), or <paramref name="to"/> if
    /// none; subtrees without a node are skipped whole. Dirty data the map does not name yet is the caller's.
    /// </summary>
    public Result<ulong> Next(LfsInode ino, ulong from, ulong to, bool mapped)
    {
        to = Math.Min(to, LfsLayout.MaxFileBlocks);
        for (ulong fb = from; fb < Math.Min(to, LfsLayout.DirectPointers); fb++)
            if ((ino.Rec.Direct[fb] != 0) == mapped) return fb;
        for (int t = 1; t <= 3; t++)
        {
            ulong lo = TreeBase(t), hi = lo + Span(t, -1);
            if (hi <= from || lo >= to) continue;
            var r = NextIn(ino, t, 0, 0, ino.Rec.Roots[t - 1], lo, Math.Max(from, lo), Math.Min(to, hi), mapped);
            if (!r.Ok || r.Value < Math.Min(to, hi)) return r;
        }
        return to;
    }

    private Result<ulong> NextIn(LfsInode ino, int t, int d, ulong prefix, ulong addr, ulong first, ulong from, ulong to, bool mapped)
    {
        var nr = Node(ino, Key(t, d, prefix), addr, create: false);
        if (!nr.Ok) return nr.Error;
        if (nr.Value is not { } n) return mapped ? to : from;
        ulong span = Span(t, d);
        for (int i = (int)((from - first) / span); i < LfsLayout.PointersPerBlock; i++)
        {
            ulong lo = first + (ulong)i * span;
            if (lo >= to) break;
            if (d == t - 1)
            {
                if ((n.Ptr[i] != 0) == mapped) return Math.Max(lo, from);
                continue;
            }
            var r = NextIn(ino, t, d + 1, prefix * 512 + (ulong)i, n.Ptr[i], lo, Math.Max(lo, from), Math.Min(to, lo + span), mapped);
            if (!r.Ok || r.Value < Math.Min(to, lo + span)) return r;
        }
        return to;
    }

    /// <summary>
    /// Unmaps every file block at or past <paramref name="keep"/> and drops nodes left empty, counting each
    /// released log block dead; calls <paramref name="dropped"/> for every data block unmapped. Returns the
    /// number of data blocks unmapped.
    /// </summary>
    public Result<ulong> Truncate(LfsInode ino, ulong keep)
    {
        ulong freed = 0;
        for (ulong fb = keep; fb < LfsLayout.DirectPointers; fb++)
            if (ino.Rec.Direct[fb] != 0) { Drop(ino.Rec.Direct[fb]); ino.Rec.Direct[fb] = 0; freed++; }
        for (int t = 1; t <= 3; t++)
        {
            ulong root = ino.Rec.Roots[t - 1];
            var key = Key(t, 0, 0);
            if (root == 0 && !ino.Nodes.ContainsKey(key)) continue;
            var r = TruncateNode(ino, t, 0, 0, root, TreeBase(t), keep);
            if (!r.Ok) return r.Error;
            freed += r.Value.Freed;
            if (r.Value.Empty)
            {
                if (root != 0) _usage.Kill(root);
                ino.Rec.Roots[t - 1] = 0;
                Forget(ino, key);
            }
        }
        return freed;
    }

    private Result<(ulong Freed, bool Empty)> TruncateNode(LfsInode ino, int t, int d, ulong prefix, ulong addr, ulong first, ulong keep)
    {
        var nr = Node(ino, Key(t, d, prefix), addr, create: false);
        if (!nr.Ok) return nr.Error;
        var n = nr.Value!;
        ulong span = Span(t, d), freed = 0;
        bool empty = true;
        for (int i = 0; i < LfsLayout.PointersPerBlock; i++)
        {
            ulong lo = first + (ulong)i * span, hi = lo + span;
            ulong childKey = Key(t, d + 1, prefix * 512 + (ulong)i);
            bool childLoaded = d < t - 1 && ino.Nodes.ContainsKey(childKey);
            if (n.Ptr[i] == 0 && !childLoaded) continue;
            if (hi <= keep) { empty = false; continue; }
            if (d == t - 1)
            {
                Drop(n.Ptr[i]);
                n.Ptr[i] = 0;
                MarkDirty(n);
                freed++;
                continue;
            }
            var r = TruncateNode(ino, t, d + 1, prefix * 512 + (ulong)i, n.Ptr[i], lo, keep);
            if (!r.Ok) return r.Error;
            freed += r.Value.Freed;
            if (r.Value.Empty)
            {
                if (n.Ptr[i] != 0) _usage.Kill(n.Ptr[i]);
                n.Ptr[i] = 0;
                MarkDirty(n);
                Forget(ino, childKey);
            }
            else empty = false;
        }
        return (freed, empty);
    }

    /// <summary>
    /// Every log block the file's map holds (data and nodes), loading nodes as it goes; for fsck and recovery.
    /// Reserved pointers name no block: they go to <paramref name="reserved"/> (with the file block) instead.
    /// </summary>
    public Errno Walk(LfsInode ino, Action<LogKind, ulong, ulong> visit, Action<ulong>? reserved = null)
    {
        Action<LogKind, ulong, ulong> v = (kind, index, addr) =>
        {
            if (addr != Rsv) visit(kind, index, addr);
            else reserved?.Invoke(index);
        };
        for (int i = 0; i < LfsLayout.DirectPointers; i++)
            if (ino.Rec.Direct[i] != 0) v(LogKind.Data, (ulong)i, ino.Rec.Direct[i]);
        for (int t = 1; t <= 3; t++)
        {
            if (ino.Rec.Roots[t - 1] == 0 && !ino.Nodes.ContainsKey(Key(t, 0, 0))) continue;
            var err = WalkNode(ino, t, 0, 0, ino.Rec.Roots[t - 1], TreeBase(t), v);
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }

    private Errno WalkNode(LfsInode ino, int t, int d, ulong prefix, ulong addr, ulong first, Action<LogKind, ulong, ulong> visit)
    {
        ulong key = Key(t, d, prefix);
        var nr = Node(ino, key, addr, create: false);
        if (!nr.Ok) return nr.Error;
        if (nr.Value is null) return Errno.OK;
        if (addr != 0) visit(LogKind.Node, key, addr);
        ulong span = Span(t, d);
        for (int i = 0; i < LfsLayout.PointersPerBlock; i++)
        {
            ulong p = nr.Value.Ptr[i];
            if (d == t - 1)
            {
                if (p != 0) visit(LogKind.Data, first + (ulong)i, p);
                continue;
            }
            if (p == 0 && !ino.Nodes.ContainsKey(Key(t, d + 1, prefix * 512 + (ulong)i))) continue;
            var err = WalkNode(ino, t, d + 1, prefix * 512 + (ulong)i, p, first + (ulong)i * span, visit);
            if (err != Errno.OK) return err;
        }
        return Errno.OK;
    }

    /// <summary>The address of the node with <paramref name="key"/> as the map stands now (0 if none); for the cleaner.</summary>
    public Result<ulong> NodeAddr(LfsInode ino, ulong key)
    {
        int t = TreeOf(key), depth = DepthOf(key);
        if (t is < 1 or > 3 || depth >= t) return 0UL;
        ulong prefix = PrefixOf(key);
        // Walk from the root towards the node: the indices are the prefix's base-512 digits.
        Span<int> digits = stackalloc int[3];
        ulong p = prefix;
        for (int d = depth - 1; d >= 0; d--) { digits[d] = (int)(p % 512); p /= 512; }
        if (p != 0) return 0UL;
        ulong addr = ino.Rec.Roots[t - 1];
        ulong pre = 0;
        for (int d = 0; d < depth; d++)
        {
            var n = Node(ino, Key(t, d, pre), addr, create: false);
            if (!n.Ok) return n.Error;
            if (n.Value is null) return 0UL;
            addr = n.Value.Ptr[digits[d]];
            pre = pre * 512 + (ulong)digits[d];
        }
        return addr;
    }

    /// <summary>Points the parent of node <paramref name="key"/> (or the inode) at <paramref name="addr"/>; the parent becomes dirty.</summary>
    public ulong SetNodeAddr(LfsInode ino, ulong key, ulong addr)
    {
        int t = TreeOf(key), depth = DepthOf(key);
        ulong prefix = PrefixOf(key);
        ulong old;
        if (depth == 0)
        {
            old = ino.Rec.Roots[t - 1];
            ino.Rec.Roots[t - 1] = addr;
            return old;
        }
        var parent = ino.Nodes[Key(t, depth - 1, prefix / 512)];
        old = parent.Ptr[prefix % 512];
        parent.Ptr[prefix % 512] = addr;
        MarkDirty(parent);
        return old;
    }

    public static void Encode(TreeNode n, Span<byte> block)
    {
        for (int i = 0; i < LfsLayout.PointersPerBlock; i++) BinaryPrimitives.WriteUInt64LittleEndian(block[(i * 8)..], n.Ptr[i]);
    }
}
