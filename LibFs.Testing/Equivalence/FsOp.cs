using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ExoFS.LibFs.Testing.Equivalence;

/// <summary>
/// One step of a random workload over a tiny namespace. Paths are '/'-separated names from a small pool,
/// resolved with Lookup at run time, so a step can fail (ENOENT, ENOTDIR, ...) and the failure is part of
/// what is compared. <see cref="Apply"/> returns the step's observable outcome as text.
/// </summary>
public abstract record FsOp
{
    /// <summary>Runs the step and describes what a caller could observe (errno, data, attributes without times or inode numbers).</summary>
    public abstract string Apply(IFileSystem fs);

    private protected static string Show(Errno e) => e == Errno.OK ? "OK" : e.ToString();

    /// <summary>Resolves a directory path ("" is the root) and a final name; lookups are forgotten again.</summary>
    private protected static Result<InodeNo> ResolveDir(IFileSystem fs, string dir)
    {
        var ino = InodeNo.Root;
        foreach (var part in dir.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var r = fs.Lookup(ino, part);
            if (!r.Ok) return r.Error;
            fs.Forget(r.Value.Ino, 1);
            ino = r.Value.Ino;
        }
        return ino;
    }

    private protected static Result<FileAttr> ResolveEntry(IFileSystem fs, string dir, string name)
    {
        var d = ResolveDir(fs, dir);
        if (!d.Ok) return d.Error;
        var r = fs.Lookup(d.Value, name);
        if (r.Ok) fs.Forget(r.Value.Ino, 1);
        return r;
    }

    /// <summary>Attributes a libFS must agree with the model on: not inode numbers, times, blocks, or directory sizes.</summary>
    public static string Describe(FileAttr a) =>
        string.Create(CultureInfo.InvariantCulture,
            $"mode={a.Mode:X} nlink={a.Nlink} uid={a.Uid} gid={a.Gid} rdev={a.Rdev} size={(FileMode.IsDir(a.Mode) ? "-" : a.Size.ToString(CultureInfo.InvariantCulture))}");

    private protected static string Path(string dir, string name) => dir.Length == 0 ? "/" + name : "/" + dir + "/" + name;

    internal static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    internal static string Hash(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data))[..16];
}

public sealed record CreateOp(string Dir, string Name, uint Perm) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        if (!d.Ok) return Show(d.Error);
        var r = fs.Create(d.Value, Name, FileMode.Regular | Perm, OpenFlags.ReadWrite, Caller.Root);
        if (!r.Ok) return Show(r.Error);
        fs.Release(r.Value.Attr.Ino, r.Value.Handle);
        fs.Forget(r.Value.Attr.Ino, 1);
        return "OK " + Describe(r.Value.Attr);
    }
    public override string ToString() => $"create {Path(Dir, Name)} 0{Convert.ToString(Perm, 8)}";
}

public sealed record MkDirOp(string Dir, string Name) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        if (!d.Ok) return Show(d.Error);
        var r = fs.MkDir(d.Value, Name, FsOps.DirMode755, Caller.Root);
        if (!r.Ok) return Show(r.Error);
        fs.Forget(r.Value.Ino, 1);
        return "OK " + Describe(r.Value);
    }
    public override string ToString() => $"mkdir {Path(Dir, Name)}";
}

public sealed record MkFifoOp(string Dir, string Name) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        if (!d.Ok) return Show(d.Error);
        var r = fs.MkNod(d.Value, Name, FileMode.Fifo | FsOps.FileMode644, 0, Caller.Root);
        if (!r.Ok) return Show(r.Error);
        fs.Forget(r.Value.Ino, 1);
        return "OK " + Describe(r.Value);
    }
    public override string ToString() => $"mkfifo {Path(Dir, Name)}";
}

public sealed record SymlinkOp(string Dir, string Name, string Target) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        if (!d.Ok) return Show(d.Error);
        var r = fs.Symlink(d.Value, Name, Target, Caller.Root);
        if (!r.Ok) return Show(r.Error);
        fs.Forget(r.Value.Ino, 1);
        return "OK " + Describe(r.Value);
    }
    public override string ToString() => $"symlink {Path(Dir, Name)} -> {Target}";
}

public sealed record WriteOp(string Dir, string Name, long Offset, int Length, int Seed) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var fh = fs.Open(e.Value.Ino, OpenFlags.WriteOnly);
        if (!fh.Ok) return Show(fh.Error);
        var w = fs.Write(e.Value.Ino, fh.Value, Offset, Pattern(Length, Seed));
        fs.Release(e.Value.Ino, fh.Value);
        return w.Ok ? $"OK {w.Value}" : Show(w.Error);
    }
    public override string ToString() => $"write {Path(Dir, Name)} @{Offset} len={Length} seed={Seed}";
}

/// <summary>fallocate(2) on a file opened read-write; reports the outcome, the size and the data extents SEEK_DATA/SEEK_HOLE find.</summary>
public sealed record FallocateOp(string Dir, string Name, FallocateMode Mode, long Offset, long Length) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var fh = fs.Open(e.Value.Ino, OpenFlags.ReadWrite);
        if (!fh.Ok) return Show(fh.Error);
        var err = fs.Fallocate(e.Value.Ino, fh.Value, Mode, Offset, Length);
        string layout = Extents(fs, e.Value.Ino, fh.Value);
        fs.Release(e.Value.Ino, fh.Value);
        var a = fs.GetAttr(e.Value.Ino);
        return $"{Show(err)} size={(a.Ok ? a.Value.Size.ToString(CultureInfo.InvariantCulture) : Show(a.Error))} {layout}";
    }

    /// <summary>The file's data extents below its end, as SEEK_DATA and SEEK_HOLE report them ("data@0+4096 ...").</summary>
    internal static string Extents(IFileSystem fs, InodeNo ino, FileHandle fh)
    {
        var sb = new StringBuilder("extents:");
        long at = 0;
        for (int guard = 0; guard < 64; guard++)
        {
            var d = fs.Lseek(ino, fh, at, SeekWhence.Data);
            if (!d.Ok) { sb.Append(' ').Append(Show(d.Error)); break; }
            var h = fs.Lseek(ino, fh, d.Value, SeekWhence.Hole);
            if (!h.Ok) { sb.Append(" hole:").Append(Show(h.Error)); break; }
            sb.Append(CultureInfo.InvariantCulture, $" data@{d.Value}+{h.Value - d.Value}");
            at = h.Value;
        }
        return sb.ToString();
    }

    public override string ToString() => $"fallocate {Path(Dir, Name)} mode={(int)Mode:X} @{Offset} len={Length}";
}

/// <summary>lseek(2) SEEK_DATA or SEEK_HOLE on a file opened read-only.</summary>
public sealed record SeekOp(string Dir, string Name, long Offset, SeekWhence Whence) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var fh = fs.Open(e.Value.Ino, OpenFlags.ReadOnly);
        if (!fh.Ok) return Show(fh.Error);
        var r = fs.Lseek(e.Value.Ino, fh.Value, Offset, Whence);
        fs.Release(e.Value.Ino, fh.Value);
        return r.Ok ? $"OK {r.Value}" : Show(r.Error);
    }
    public override string ToString() => $"lseek {Path(Dir, Name)} {Whence} @{Offset}";
}

public sealed record ReadOp(string Dir, string Name, long Offset, int Length) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var fh = fs.Open(e.Value.Ino, OpenFlags.ReadOnly);
        if (!fh.Ok) return Show(fh.Error);
        var buf = new byte[Length];
        var r = fs.Read(e.Value.Ino, fh.Value, Offset, buf);
        fs.Release(e.Value.Ino, fh.Value);
        return r.Ok ? $"OK {r.Value} {Hash(buf.AsSpan(0, r.Value))}" : Show(r.Error);
    }
    public override string ToString() => $"read {Path(Dir, Name)} @{Offset} len={Length}";
}

public sealed record TruncateOp(string Dir, string Name, ulong Size) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var r = fs.SetAttr(e.Value.Ino, new SetAttrRequest { Size = Size });
        return r.Ok ? "OK " + Describe(r.Value) : Show(r.Error);
    }
    public override string ToString() => $"truncate {Path(Dir, Name)} {Size}";
}

public sealed record ChmodOp(string Dir, string Name, uint Perm) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var r = fs.SetAttr(e.Value.Ino, new SetAttrRequest { Mode = Perm, Uid = Perm & 7 });
        return r.Ok ? "OK " + Describe(r.Value) : Show(r.Error);
    }
    public override string ToString() => $"chmod+chown {Path(Dir, Name)} 0{Convert.ToString(Perm, 8)} uid={Perm & 7}";
}

public sealed record RenameOp(string Dir, string Name, string NewDir, string NewName, RenameFlags Flags) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        if (!d.Ok) return Show(d.Error);
        var nd = ResolveDir(fs, NewDir);
        if (!nd.Ok) return Show(nd.Error);
        return Show(fs.Rename(d.Value, Name, nd.Value, NewName, Flags));
    }
    public override string ToString() => $"rename {Path(Dir, Name)} {Path(NewDir, NewName)} {Flags}";
}

public sealed record LinkOp(string Dir, string Name, string NewDir, string NewName) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var nd = ResolveDir(fs, NewDir);
        if (!nd.Ok) return Show(nd.Error);
        var r = fs.Link(e.Value.Ino, nd.Value, NewName);
        if (!r.Ok) return Show(r.Error);
        fs.Forget(r.Value.Ino, 1);
        return "OK " + Describe(r.Value);
    }
    public override string ToString() => $"link {Path(Dir, Name)} {Path(NewDir, NewName)}";
}

public sealed record UnlinkOp(string Dir, string Name) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        return d.Ok ? Show(fs.Unlink(d.Value, Name)) : Show(d.Error);
    }
    public override string ToString() => $"unlink {Path(Dir, Name)}";
}

public sealed record RmDirOp(string Dir, string Name) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        return d.Ok ? Show(fs.RmDir(d.Value, Name)) : Show(d.Error);
    }
    public override string ToString() => $"rmdir {Path(Dir, Name)}";
}

public sealed record GetAttrOp(string Dir, string Name) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var g = fs.GetAttr(e.Value.Ino);
        return g.Ok ? "OK " + Describe(g.Value) : Show(g.Error);
    }
    public override string ToString() => $"stat {Path(Dir, Name)}";
}

public sealed record ReadDirOp(string Dir) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var d = ResolveDir(fs, Dir);
        if (!d.Ok) return Show(d.Error);
        var fh = fs.OpenDir(d.Value);
        if (!fh.Ok) return Show(fh.Error);
        var names = new List<string>();
        var err = fs.ReadDir(d.Value, fh.Value, 0, (in DirEntry e) =>
        {
            names.Add(e.Name + ":" + (FileMode.TypeOf(e.Mode) >> 12));
            return true;
        });
        fs.ReleaseDir(d.Value, fh.Value);
        if (err != Errno.OK) return Show(err);
        names.Sort(StringComparer.Ordinal); // a listing is compared as a set
        return "OK " + string.Join(",", names);
    }
    public override string ToString() => $"readdir /{Dir}";
}

public sealed record SetXattrOp(string Dir, string Name, string Key, XattrFlags Flags, int Seed) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        return Show(fs.SetXattr(e.Value.Ino, Key, Pattern(Seed % 50, Seed), Flags));
    }
    public override string ToString() => $"setxattr {Path(Dir, Name)} {Key} {Flags} seed={Seed}";
}

public sealed record GetXattrOp(string Dir, string Name, string Key) : FsOp
{
    public override string Apply(IFileSystem fs)
    {
        var e = ResolveEntry(fs, Dir, Name);
        if (!e.Ok) return Show(e.Error);
        var g = fs.GetXattr(e.Value.Ino, Key);
        return g.Ok ? "OK " + Hash(g.Value) : Show(g.Error);
    }
    public override string ToString() => $"getxattr {Path(Dir, Name)} {Key}";
}

/// <summary>A workload: the operations in order. Its text is what a failing property prints.</summary>
public sealed record OpSequence(IReadOnlyList<FsOp> Ops)
{
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Ops.Count} ops:");
        for (int i = 0; i < Ops.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"\n  {i + 1,2}. {Ops[i]}");
        return sb.ToString();
    }
}
