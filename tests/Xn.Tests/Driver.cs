using ExoFS.Kernel.Disk;
using static ExoFS.Xn.Tests.TestTypes;

namespace ExoFS.Xn.Tests;

/// <summary>
/// Turns a list of integers into legal XN operations by two environments on their own roots of one
/// volume, keeping a model of every pointer so each operation is one a correct libFS could issue. Each
/// code picks the environment (bit 0), the operation (bits 1-3) and its targets (the rest). Every
/// operation must succeed (a refusal of a legal operation is a bug), except NoSpace on a full disk.
/// </summary>
internal sealed class Driver
{
    private sealed record Pointer(ulong Parent, int Partition, int Offset, ulong Child, bool Indirect);

    private readonly XnFixture _f;
    private readonly XnSession[] _s;
    private readonly BlockNo[] _roots;
    private readonly List<Pointer>[] _ptrs = [new(), new()];
    private readonly bool _crossBlockMoves;
    private int _stamp;

    public Driver(XnFixture f, bool crossBlockMoves)
    {
        _f = f;
        _s = [f.A, f.B];
        _roots = [f.RootA.Block, f.RootB.Block];
        _crossBlockMoves = crossBlockMoves;
    }

    public List<string> Log { get; } = new();

    /// <summary>Blocks that were ever moved from one parent block to another (candidates for a crash duplicate).</summary>
    public HashSet<ulong> CrossMoved { get; } = new();

    public void Apply(int code)
    {
        uint c = unchecked((uint)code);
        int env = (int)(c & 1), kind = (int)((c >> 1) % 8);
        uint arg = c >> 4;
        var s = _s[env];
        var ptrs = _ptrs[env];
        var root = _roots[env];
        switch (kind)
        {
            case 0: case 1:
            {
                // Data block in the first empty direct slot at or after a chosen one.
                for (int k = 0; k < 32 * 12; k++)
                {
                    int i = (int)((arg + (uint)k) % (32 * 12)), inode = i / 12, slot = i % 12;
                    int off = Slot(inode, slot);
                    if (ptrs.Any(p => p.Parent == root.Value && p.Offset == off)) continue;
                    AllocAt(env, root.Value, inode, off, XnTypes.Data, false);
                    return;
                }
                return;
            }
            case 2:
            {
                for (int k = 0; k < 32; k++)
                {
                    int inode = (int)((arg + (uint)k) % 32), off = Slot(inode, 12);
                    if (ptrs.Any(p => p.Parent == root.Value && p.Offset == off)) continue;
                    AllocAt(env, root.Value, inode, off, _f.Indirect, true);
                    return;
                }
                return;
            }
            case 3:
            {
                var inds = ptrs.Where(p => p.Indirect).ToList();
                if (inds.Count == 0) return;
                var ind = inds[(int)(arg % (uint)inds.Count)].Child;
                for (int k = 0; k < 512; k++)
                {
                    int idx = (int)((arg / 7 + (uint)k) % 512), off = 8 * idx;
                    if (ptrs.Any(p => p.Parent == ind && p.Offset == off)) continue;
                    AllocAt(env, ind, idx / 64, off, XnTypes.Data, false);
                    return;
                }
                return;
            }
            case 4:
            {
                // Free a data pointer, or an indirect block that owns nothing.
                var candidates = ptrs.Where(p => !p.Indirect || !ptrs.Any(q => q.Parent == p.Child)).ToList();
                if (candidates.Count == 0) return;
                var p = candidates[(int)(arg % (uint)candidates.Count)];
                Ok(s.Free(new BlockNo(p.Parent), p.Partition, Clear(p.Offset), One(p.Child)), $"free {p}");
                ptrs.Remove(p);
                return;
            }
            case 5:
            {
                // Move a data pointer to an empty direct slot (same block or, if allowed, another block).
                var data = ptrs.Where(p => !p.Indirect).ToList();
                if (data.Count == 0) return;
                var p = data[(int)(arg % (uint)data.Count)];
                var targets = new List<(ulong Block, int Partition, int Offset)>();
                for (int i = 0; i < 32 * 12; i++)
                {
                    int off = Slot(i / 12, i % 12);
                    if (!ptrs.Any(q => q.Parent == root.Value && q.Offset == off)) targets.Add((root.Value, i / 12, off));
                }
                if (_crossBlockMoves)
                    foreach (var ind in ptrs.Where(q => q.Indirect).Take(2))
                        for (int idx = 0; idx < 512; idx += 37)
                            if (!ptrs.Any(q => q.Parent == ind.Child && q.Offset == 8 * idx)) targets.Add((ind.Child, idx / 64, 8 * idx));
                targets.RemoveAll(t => !_crossBlockMoves && t.Block != p.Parent);
                if (targets.Count == 0) return;
                var t = targets[(int)((arg / 3) % (uint)targets.Count)];
                var r = s.Move(new BlockNo(p.Parent), p.Partition, Clear(p.Offset), new BlockNo(t.Block), t.Partition, Set(t.Offset, p.Child), One(p.Child));
                if (t.Block != p.Parent) CrossMoved.Add(p.Child);
                Ok(r, $"move {p} -> {t}");
                ptrs.Remove(p);
                ptrs.Add(new Pointer(t.Block, t.Partition, t.Offset, p.Child, false));
                return;
            }
            case 6:
            {
                var data = ptrs.Where(p => !p.Indirect).ToList();
                var stamp = BitConverter.GetBytes(++_stamp);
                if (data.Count == 0 || (arg & 1) == 0)
                    Ok(s.WriteRaw(root, 128 * (int)(arg % 32), stamp), "raw inode");
                else
                {
                    var p = data[(int)(arg % (uint)data.Count)];
                    Ok(s.WriteRaw(new BlockNo(p.Child), (int)(arg % 4000), stamp), "raw data");
                }
                return;
            }
            default:
            {
                if ((arg & 3) == 0) { Ok(s.Sync(), "sync"); return; }
                // Write back some block of this root; Tainted is an expected answer for a parent.
                var blocks = ptrs.Select(p => p.Child).Append(root.Value).ToList();
                var b = blocks[(int)(arg % (uint)blocks.Count)];
                var r = s.WriteBack(new BlockNo(b));
                Assert.True(r.Ok || r.Error == XnError.Tainted, $"writeback {b}: {r}");
                Log.Add($"writeback {b}: {r.Error}");
                return;
            }
        }
    }

    private void AllocAt(int env, ulong parent, int partition, int off, TypeId type, bool indirect)
    {
        var s = _s[env];
        var hint = new BlockNo(parent + 1);
        for (int attempt = 0; ; attempt++)
        {
            var free = s.FindFree(hint, 1);
            if (!free.Ok) { Assert.Equal(XnError.NoSpace, free.Error); return; }
            ulong b = free.Value.Value;
            var r = s.Alloc(new BlockNo(parent), partition, Set(off, b), type, One(b));
            // Another environment running concurrently may take the block between FindFree and Alloc.
            if (r.Error == XnError.NotFree && attempt < 100) continue;
            Ok(r, $"alloc {b} at {parent}/{partition}+{off}");
            _ptrs[env].Add(new Pointer(parent, partition, off, b, indirect));
            return;
        }
    }

    private void Ok(XnResult r, string what)
    {
        Log.Add($"{what}: {r.Error}");
        Assert.True(r.Ok, $"{what}: {r}\n{string.Join("\n", Log)}");
    }
}
