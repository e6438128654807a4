namespace ExoFS.LibFs.Testing.Corruption;

/// <summary>
/// One name as a file system serves it: the inode's number and attributes (not its times, which reads change),
/// a regular file's whole content, a symlink's target, the extended attributes.
/// </summary>
public sealed record TreeNode(string Path, ulong Ino, uint Mode, uint Nlink, uint Uid, uint Gid, ulong Size,
    byte[]? Content, string? Target, IReadOnlyDictionary<string, byte[]> Xattrs)
{
    public bool IsDir => FileMode.IsDir(Mode);
}

/// <summary>What a walk of a damaged image found: the calls that failed (detected damage) and what was served wrong.</summary>
public sealed class TreeCheck
{
    /// <summary>Calls that answered an error ("read /big@65536: EIO"): the file system noticed something.</summary>
    public List<string> Errors { get; } = [];
    /// <summary>Answers that succeeded but differ from the intact image ("/big: content differs at byte 4096").</summary>
    public List<string> Mismatches { get; } = [];
}

/// <summary>
/// The visible tree of an image: <see cref="Take"/> records it from an intact image (every call must succeed),
/// <see cref="Compare"/> walks a damaged one against it through <see cref="IFileSystem"/> and never throws on an
/// errno: a failed call is an error (detected), a successful one that differs is a mismatch (wrong bytes served).
/// Walks are bounded (depth, names, bytes), so a damaged directory that loops or claims huge sizes cannot run away.
/// </summary>
public static class TreeView
{
    /// <summary>Bounds of a walk of a damaged image.</summary>
    public const int MaxDepth = 16, MaxNames = 4096, ReadPiece = 256 << 10;

    /// <summary>Every name of an intact file system, by path ("/dir/file"); the root is "/".</summary>
    /// <exception cref="InvalidOperationException">A call failed: the image is not intact.</exception>
    public static SortedDictionary<string, TreeNode> Take(IFileSystem fs)
    {
        var tree = new SortedDictionary<string, TreeNode>(StringComparer.Ordinal);
        var check = new TreeCheck();
        var root = fs.GetAttr(InodeNo.Root);
        if (!root.Ok) throw new InvalidOperationException($"getattr /: {root.Error}");
        Record(fs, "/", root.Value, tree, check, null, 0);
        if (check.Errors.Count > 0 || check.Mismatches.Count > 0)
            throw new InvalidOperationException($"the intact image does not read back: {string.Join("; ", check.Errors.Concat(check.Mismatches))}");
        return tree;
    }

    /// <summary>Walks <paramref name="fs"/> against <paramref name="expected"/> (made by <see cref="Take"/>).</summary>
    public static TreeCheck Compare(IFileSystem fs, IReadOnlyDictionary<string, TreeNode> expected)
    {
        var check = new TreeCheck();
        var root = fs.GetAttr(InodeNo.Root);
        if (!root.Ok) { check.Errors.Add($"getattr /: {root.Error}"); return check; }
        Record(fs, "/", root.Value, null, check, expected, 0);
        return check;
    }

    // One walk for both: with expected null it records into tree; otherwise it compares, recording nothing.
    private static void Record(IFileSystem fs, string path, FileAttr attr, SortedDictionary<string, TreeNode>? tree, TreeCheck check,
        IReadOnlyDictionary<string, TreeNode>? expected, int depth)
    {
        TreeNode? want = null;
        if (expected is not null)
        {
            if (!expected.TryGetValue(path, out want)) { check.Mismatches.Add($"{path}: a name the image never had is served"); return; }
            string? differs = attr.Ino.Value != want.Ino ? $"inode {attr.Ino.Value}, not {want.Ino}"
                : attr.Mode != want.Mode ? $"mode {attr.Mode:x}, not {want.Mode:x}"
                : attr.Nlink != want.Nlink ? $"{attr.Nlink} link(s), not {want.Nlink}"
                : attr.Uid != want.Uid || attr.Gid != want.Gid ? $"owner {attr.Uid}:{attr.Gid}, not {want.Uid}:{want.Gid}"
                : attr.Size != want.Size ? $"size {attr.Size}, not {want.Size}" : null;
            if (differs is not null) { check.Mismatches.Add($"{path}: {differs}"); return; }
        }
        byte[]? content = null;
        string? target = null;
        var xattrs = ReadXattrs(fs, path, attr.Ino, check, want);
        if (FileMode.IsRegular(attr.Mode)) content = ReadContent(fs, path, attr, check, want);
        else if (FileMode.IsSymlink(attr.Mode))
        {
            var link = fs.ReadLink(attr.Ino);
            if (!link.Ok) check.Errors.Add($"readlink {path}: {link.Error}");
            else if (want is not null && link.Value != want.Target) check.Mismatches.Add($"{path}: symlink target differs");
            else target = link.Value;
        }
        tree?.Add(path, new TreeNode(path, attr.Ino.Value, attr.Mode, attr.Nlink, attr.Uid, attr.Gid, attr.Size, content, target, xattrs ?? new Dictionary<string, byte[]>()));
        if (!FileMode.IsDir(attr.Mode)) return;
        if (depth >= MaxDepth) { check.Mismatches.Add($"{path}: directories nest deeper than {MaxDepth}"); return; }

        var names = ListDir(fs, path, attr.Ino, check);
        if (names is null) return;
        string prefix = path == "/" ? "/" : path + "/";
        if (expected is not null)
        {
            var served = names.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var missing in expected.Keys.Where(k => IsChild(k, prefix) && !served.Contains(k[prefix.Length..])))
                check.Mismatches.Add($"{missing}: missing from its directory's listing");
        }
        foreach (var (name, ino) in names)
        {
            string child = prefix + name;
            var looked = fs.Lookup(attr.Ino, name);
            if (!looked.Ok)
            {
                if (looked.Error == Errno.ENOENT) check.Mismatches.Add($"{child}: listed, but lookup answers ENOENT");
                else check.Errors.Add($"lookup {child}: {looked.Error}");
                continue;
            }
            fs.Forget(looked.Value.Ino, 1);
            if (looked.Value.Ino != ino) check.Mismatches.Add($"{child}: listed as inode {ino.Value}, looked up as {looked.Value.Ino.Value}");
            Record(fs, child, looked.Value, tree, check, expected, depth + 1);
        }
    }

    private static bool IsChild(string path, string prefix) =>
        path.Length > prefix.Length && path.StartsWith(prefix, StringComparison.Ordinal) && path.IndexOf('/', prefix.Length) < 0;

    private static List<(string Name, InodeNo Ino)>? ListDir(IFileSystem fs, string path, InodeNo dir, TreeCheck check)
    {
        var fh = fs.OpenDir(dir);
        if (!fh.Ok) { check.Errors.Add($"opendir {path}: {fh.Error}"); return null; }
        try
        {
            var all = new List<(string, InodeNo)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            while (true)
            {
                var page = new List<DirEntry>();
                var r = fs.ReadDir(dir, fh.Value, offset, (in DirEntry e) =>
                {
                    if (page.Count == 64) return false;
                    page.Add(e);
                    return true;
                });
                if (r != Errno.OK) { check.Errors.Add($"readdir {path}@{offset}: {r}"); return null; }
                if (page.Count == 0) return all;
                foreach (var e in page)
                {
                    if (e.Name is "." or "..") continue;
                    if (!seen.Add(e.Name)) { check.Mismatches.Add($"{path}: name '{e.Name}' listed twice"); return null; }
                    all.Add((e.Name, e.Ino));
                }
                if (all.Count > MaxNames || page[^1].NextOffset <= offset)
                {
                    check.Mismatches.Add($"{path}: the listing does not end ({all.Count} names, cookie {page[^1].NextOffset} after {offset})");
                    return null;
                }
                offset = page[^1].NextOffset;
            }
        }
        finally { fs.ReleaseDir(dir, fh.Value); }
    }

    /// <summary>A regular file's content; compared piece by piece with <paramref name="want"/>'s when given.</summary>
    private static byte[]? ReadContent(IFileSystem fs, string path, FileAttr attr, TreeCheck check, TreeNode? want)
    {
        if (attr.Size > (want is null ? 64UL << 20 : (ulong)want.Content!.Length))
        {
            check.Mismatches.Add($"{path}: size {attr.Size} beyond what a walk reads");
            return null;
        }
        var fh = fs.Open(attr.Ino, OpenFlags.ReadOnly);
        if (!fh.Ok) { check.Errors.Add($"open {path}: {fh.Error}"); return null; }
        try
        {
            var content = new byte[attr.Size];
            int done = 0;
            while (done < content.Length)
            {
                var piece = content.AsSpan(done, Math.Min(ReadPiece, content.Length - done));
                var n = fs.Read(attr.Ino, fh.Value, done, piece);
                if (!n.Ok) { check.Errors.Add($"read {path}@{done}: {n.Error}"); return null; }
                if (n.Value <= 0 || n.Value > piece.Length) { check.Mismatches.Add($"{path}: read at {done} returned {n.Value} of {piece.Length} bytes before the end of file"); return null; }
                if (want is not null && !piece[..n.Value].SequenceEqual(want.Content.AsSpan(done, n.Value)))
                {
                    int at = done + piece[..n.Value].CommonPrefixLength(want.Content.AsSpan(done, n.Value));
                    check.Mismatches.Add($"{path}: content differs at byte {at}");
                    return null;
                }
                done += n.Value;
            }
            return content;
        }
        finally { fs.Release(attr.Ino, fh.Value); }
    }

    private static Dictionary<string, byte[]>? ReadXattrs(IFileSystem fs, string path, InodeNo ino, TreeCheck check, TreeNode? want)
    {
        var names = fs.ListXattr(ino);
        if (!names.Ok)
        {
            if (names.Error == Errno.ENOTSUP && (want is null || want.Xattrs.Count == 0)) return null;
            check.Errors.Add($"listxattr {path}: {names.Error}");
            return null;
        }
        if (want is not null && !names.Value.Order(StringComparer.Ordinal).SequenceEqual(want.Xattrs.Keys.Order(StringComparer.Ordinal)))
        {
            check.Mismatches.Add($"{path}: extended attribute names differ");
            return null;
        }
        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in names.Value)
        {
            var v = fs.GetXattr(ino, name);
            if (!v.Ok) { check.Errors.Add($"getxattr {path} {name}: {v.Error}"); return null; }
            if (want is not null && !v.Value.AsSpan().SequenceEqual(want.Xattrs[name])) { check.Mismatches.Add($"{path}: extended attribute {name} differs"); return null; }
            values[name] = v.Value;
        }
        return values;
    }
}
