namespace ExoFS.LibFs.Testing.Crash;

/// <summary>One name in a snapshot: the inode it names, whether it is a directory, and the inode's link count.</summary>
public readonly record struct SnapshotEntry(ulong Ino, bool IsDir, uint Nlink);

/// <summary>
/// What a file system shows through <see cref="IFileSystem"/>: every path (to a bounded depth) and the
/// content of every regular file, keyed by inode number. Used for the reference model after each step and
/// for a recovered crash image.
/// </summary>
public sealed class FsSnapshot
{
    /// <summary>Path ("/A/foo") → entry, for every name found.</summary>
    public Dictionary<string, SnapshotEntry> Paths { get; } = new(StringComparer.Ordinal);

    /// <summary>Regular-file inode → its whole content; symlink inode → its text (UTF-8).</summary>
    public Dictionary<ulong, byte[]> Contents { get; } = new();

    /// <summary>Walks <paramref name="fs"/> from the root down to <paramref name="maxDepth"/> levels of directories.</summary>
    /// <exception cref="UnexpectedErrnoException">A call failed (the caller reports it as a broken state).</exception>
    public static FsSnapshot Take(IFileSystem fs, int maxDepth = 4)
    {
        ArgumentNullException.ThrowIfNull(fs);
        var snap = new FsSnapshot();
        Walk(fs, snap, InodeNo.Root, "", maxDepth);
        return snap;
    }

    private static void Walk(IFileSystem fs, FsSnapshot snap, InodeNo dir, string prefix, int depth)
    {
        foreach (var e in fs.ListDir(dir))
        {
            string path = prefix + "/" + e.Name;
            var attr = fs.GetAttr(e.Ino).Ok($"getattr {path}");
            bool isDir = FileMode.IsDir(attr.Mode);
            snap.Paths[path] = new SnapshotEntry(attr.Ino.Value, isDir, attr.Nlink);
            if (isDir)
            {
                if (depth > 1) Walk(fs, snap, attr.Ino, path, depth - 1);
            }
            else if (FileMode.IsRegular(attr.Mode) && !snap.Contents.ContainsKey(attr.Ino.Value))
                snap.Contents[attr.Ino.Value] = fs.ReadFile(attr.Ino);
            else if (FileMode.IsSymlink(attr.Mode))
            {
                // A symlink's content is its text (so the content rule judges it like a file's).
                var text = fs.ReadLink(attr.Ino);
                if (!text.Ok) throw new UnexpectedErrnoException($"readlink {path}", text.Error);
                snap.Contents[attr.Ino.Value] = System.Text.Encoding.UTF8.GetBytes(text.Value);
            }
        }
    }
}
