using System.Text;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>One name in a snapshot: the inode it names, whether it is a directory, and the inode's link count.</summary>
public readonly record struct SnapshotEntry(ulong Ino, bool IsDir, uint Nlink);

/// <summary>
/// The attributes of one inode the oracle judges: the whole mode (type and permission bits), owner, group,
/// mtime, and the extended attributes as one canonical text (<see cref="XattrText"/>). atime and ctime are
/// not kept: reads (the snapshot's own among them) move atime under relatime, and a recovery's repairs stamp
/// ctime.
/// </summary>
public readonly record struct SnapshotAttrs(uint Mode, uint Uid, uint Gid, Timespec Mtime, string Xattrs)
{
    /// <summary>The canonical text of an xattr set: "name=HEX" lines in ordinal name order; empty for none.</summary>
    public static string XattrText(IEnumerable<KeyValuePair<string, byte[]>> xattrs)
    {
        var sb = new StringBuilder();
        foreach (var (name, value) in xattrs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append(name).Append('=').Append(Convert.ToHexString(value)).Append('\n');
        return sb.ToString();
    }
}

/// <summary>
/// What a file system shows through <see cref="IFileSystem"/>: every path (to a bounded depth), the content
/// of every regular file and symlink, and the attributes of every inode found, keyed by inode number. Used
/// for the reference model after each step and for a recovered crash image.
/// </summary>
public sealed class FsSnapshot
{
    /// <summary>Path ("/A/foo") → entry, for every name found.</summary>
    public Dictionary<string, SnapshotEntry> Paths { get; } = new(StringComparer.Ordinal);

    /// <summary>Regular-file inode → its whole content (sparse: see <see cref="FileContent"/>); symlink inode → its text (UTF-8).</summary>
    public Dictionary<ulong, FileContent> Contents { get; } = new();

    /// <summary>
    /// Inode → its attributes, read once per inode before its content (so a read's atime update cannot show).
    /// <see cref="Take"/> fills it for every inode it finds; a snapshot built by hand may leave it empty, and
    /// the oracle then does not judge attributes.
    /// </summary>
    public Dictionary<ulong, SnapshotAttrs> Attributes { get; } = new();

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
            if (!snap.Attributes.ContainsKey(attr.Ino.Value))
                snap.Attributes[attr.Ino.Value] = new SnapshotAttrs(attr.Mode, attr.Uid, attr.Gid, attr.Mtime, Xattrs(fs, attr.Ino, path));
            if (isDir)
            {
                if (depth > 1) Walk(fs, snap, attr.Ino, path, depth - 1);
            }
            else if (FileMode.IsRegular(attr.Mode) && !snap.Contents.ContainsKey(attr.Ino.Value))
                snap.Contents[attr.Ino.Value] = FileContent.Read(fs, attr.Ino, (long)attr.Size);
            else if (FileMode.IsSymlink(attr.Mode))
            {
                // A symlink's content is its text (so the content rule judges it like a file's).
                var text = fs.ReadLink(attr.Ino);
                if (!text.Ok) throw new UnexpectedErrnoException($"readlink {path}", text.Error);
                snap.Contents[attr.Ino.Value] = FileContent.FromBytes(Encoding.UTF8.GetBytes(text.Value));
            }
        }
    }

    // A libFS without xattrs (ENOTSUP) has the empty set.
    private static string Xattrs(IFileSystem fs, InodeNo ino, string path)
    {
        var names = fs.ListXattr(ino);
        if (!names.Ok)
            return names.Error == Errno.ENOTSUP ? "" : throw new UnexpectedErrnoException($"listxattr {path}", names.Error);
        if (names.Value.Count == 0) return "";
        var values = new List<KeyValuePair<string, byte[]>>(names.Value.Count);
        foreach (var name in names.Value)
        {
            var v = fs.GetXattr(ino, name);
            if (!v.Ok) throw new UnexpectedErrnoException($"getxattr {path} {name}", v.Error);
            values.Add(new(name, v.Value));
        }
        return SnapshotAttrs.XattrText(values);
    }
}
