using System.Text;

namespace ExoFS.LibFs.Testing;

/// <summary>
/// Shorthands for tests that drive an <see cref="IFileSystem"/>: each does a common sequence of calls and
/// throws <see cref="UnexpectedErrnoException"/> if any step fails, so a test states its intent in one line.
/// They leave lookup counts as they found them (every lookup they take they forget) and close every handle
/// they open; the attributes they return stay valid because the inodes stay linked.
/// </summary>
public static class FsOps
{
    public const uint FileMode644 = 0x1A4, DirMode755 = 0x1ED;

    /// <summary>The value of a result, or an <see cref="UnexpectedErrnoException"/> naming <paramref name="what"/>.</summary>
    public static T Ok<T>(this Result<T> r, string what = "call") =>
        r.Ok ? r.Value : throw new UnexpectedErrnoException(what, r.Error);

    /// <summary>Throws unless <paramref name="e"/> is OK.</summary>
    public static void Ok(this Errno e, string what = "call")
    {
        if (e != Errno.OK) throw new UnexpectedErrnoException(what, e);
    }

    /// <summary>Creates parent/name with <paramref name="content"/> (EEXIST is an error) and returns its attributes.</summary>
    public static FileAttr WriteFile(this IFileSystem fs, InodeNo parent, string name, ReadOnlySpan<byte> content, uint mode = FileMode644)
    {
        var (attr, fh) = fs.Create(parent, name, FileMode.Regular | mode, OpenFlags.ReadWrite, Caller.Root).Ok($"create {name}");
        try
        {
            if (content.Length > 0)
            {
                int n = fs.Write(attr.Ino, fh, 0, content).Ok($"write {name}");
                if (n != content.Length) throw new InvalidOperationException($"short write to {name}: {n} of {content.Length}");
            }
        }
        finally
        {
            fs.Release(attr.Ino, fh);
            fs.Forget(attr.Ino, 1);
        }
        return fs.GetAttr(attr.Ino).Ok($"getattr {name}");
    }

    /// <summary><see cref="WriteFile(IFileSystem, InodeNo, string, ReadOnlySpan{byte}, uint)"/> with UTF-8 text.</summary>
    public static FileAttr WriteFile(this IFileSystem fs, InodeNo parent, string name, string text) =>
        fs.WriteFile(parent, name, Encoding.UTF8.GetBytes(text));

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> into an existing regular file.</summary>
    public static void WriteAt(this IFileSystem fs, InodeNo ino, long offset, ReadOnlySpan<byte> data)
    {
        var fh = fs.Open(ino, OpenFlags.WriteOnly).Ok($"open {ino}");
        try
        {
            int n = fs.Write(ino, fh, offset, data).Ok($"write {ino}@{offset}");
            if (n != data.Length) throw new InvalidOperationException($"short write to {ino}: {n} of {data.Length}");
        }
        finally { fs.Release(ino, fh); }
    }

    /// <summary>Reads up to <paramref name="count"/> bytes at <paramref name="offset"/> (fewer at end of file).</summary>
    public static byte[] ReadAt(this IFileSystem fs, InodeNo ino, long offset, int count)
    {
        var fh = fs.Open(ino, OpenFlags.ReadOnly).Ok($"open {ino}");
        try
        {
            var buf = new byte[count];
            int n = fs.Read(ino, fh, offset, buf).Ok($"read {ino}@{offset}");
            return buf.AsSpan(0, n).ToArray();
        }
        finally { fs.Release(ino, fh); }
    }

    /// <summary>The whole content of a regular file, read in 64 KiB pieces up to its size.</summary>
    public static byte[] ReadFile(this IFileSystem fs, InodeNo ino)
    {
        ulong size = fs.GetAttr(ino).Ok($"getattr {ino}").Size;
        if (size > int.MaxValue) throw new InvalidOperationException($"file {ino} too large to read whole ({size})");
        var fh = fs.Open(ino, OpenFlags.ReadOnly).Ok($"open {ino}");
        try
        {
            var result = new byte[size];
            int done = 0;
            while (done < result.Length)
            {
                int n = fs.Read(ino, fh, done, result.AsSpan(done, Math.Min(65536, result.Length - done))).Ok($"read {ino}@{done}");
                if (n == 0) throw new InvalidOperationException($"file {ino} ended at {done}, before its size {size}");
                done += n;
            }
            return result;
        }
        finally { fs.Release(ino, fh); }
    }

    /// <summary>The whole content of a regular file as UTF-8 text.</summary>
    public static string ReadText(this IFileSystem fs, InodeNo ino) => Encoding.UTF8.GetString(fs.ReadFile(ino));

    /// <summary>Makes a directory and returns its attributes.</summary>
    public static FileAttr MakeDir(this IFileSystem fs, InodeNo parent, string name, uint mode = DirMode755)
    {
        var attr = fs.MkDir(parent, name, mode, Caller.Root).Ok($"mkdir {name}");
        fs.Forget(attr.Ino, 1);
        return attr;
    }

    /// <summary>Makes a symlink and returns its attributes.</summary>
    public static FileAttr MakeSymlink(this IFileSystem fs, InodeNo parent, string name, string target)
    {
        var attr = fs.Symlink(parent, name, target, Caller.Root).Ok($"symlink {name}");
        fs.Forget(attr.Ino, 1);
        return attr;
    }

    /// <summary>Looks up parent/name; null when ENOENT, throws on any other error.</summary>
    public static FileAttr? Find(this IFileSystem fs, InodeNo parent, string name)
    {
        var r = fs.Lookup(parent, name);
        if (r.Error == Errno.ENOENT) return null;
        var attr = r.Ok($"lookup {name}");
        fs.Forget(attr.Ino, 1);
        return attr;
    }

    /// <summary>Looks up parent/name; throws if it is not there.</summary>
    public static FileAttr Get(this IFileSystem fs, InodeNo parent, string name) =>
        fs.Find(parent, name) ?? throw new UnexpectedErrnoException($"lookup {name}", Errno.ENOENT);

    /// <summary>Resolves a '/'-separated path from the root without following symlinks ("" or "/" is the root).</summary>
    public static FileAttr Resolve(this IFileSystem fs, string path)
    {
        var attr = fs.GetAttr(InodeNo.Root).Ok("getattr /");
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
            attr = fs.Get(attr.Ino, part);
        return attr;
    }

    /// <summary>
    /// Every entry of a directory by reading it in pages of <paramref name="pageSize"/> entries, each page
    /// resuming from the last cookie (so paging is exercised); "." and ".." only when asked.
    /// </summary>
    public static List<DirEntry> ListDir(this IFileSystem fs, InodeNo dir, bool includeDots = false, int pageSize = 64)
    {
        var fh = fs.OpenDir(dir).Ok($"opendir {dir}");
        try
        {
            var all = new List<DirEntry>();
            long offset = 0;
            while (true)
            {
                var page = new List<DirEntry>();
                fs.ReadDir(dir, fh, offset, (in DirEntry e) =>
                {
                    if (page.Count == pageSize) return false;
                    page.Add(e);
                    return true;
                }).Ok($"readdir {dir}@{offset}");
                if (page.Count == 0) break;
                all.AddRange(page);
                offset = page[^1].NextOffset;
            }
            return includeDots ? all : all.Where(e => e.Name is not ("." or "..")).ToList();
        }
        finally { fs.ReleaseDir(dir, fh); }
    }

    /// <summary>The names in a directory (without "." and ".."), sorted ordinally.</summary>
    public static List<string> Names(this IFileSystem fs, InodeNo dir) =>
        fs.ListDir(dir).Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
}

/// <summary>A test helper's step failed with an errno it did not expect.</summary>
public sealed class UnexpectedErrnoException(string what, Errno errno) : Exception($"{what} failed: {errno}")
{
    public Errno Errno { get; } = errno;
}
