using System.CommandLine;
using System.Globalization;
using System.Text;
using ExoFS.Cli.Mounting;
using ExoFS.Host;
using ExoFS.LibFs;

namespace ExoFS.Cli.Commands;

/// <summary>
/// <c>exofs inspect IMAGE VERB ...</c>: a read-only debugfs for ExoFS images. File verbs (ls, stat, cat) go through
/// the libFS contract on a root attached read-only as a guest; block verbs (block, types, udf, roots, free) ask XN
/// through the host. A mounted image (its lock held by a daemon) is asked of that daemon, which answers from the
/// same live state its mounts serve. Exit 0, 1 when what was asked for does not exist, 2 for bad arguments, 8 when
/// the image cannot be opened.
/// </summary>
public sealed class InspectCommand : ICommand
{
    public string Name => "inspect";

    public Command Build()
    {
        var image = Cli.Argument<string>("IMAGE", "An ExoFS image file (a mounted one is asked of its daemon)");
        var root = Cli.Option<string>("--libfs", "The root for ls, stat and cat (needed when the image has several)");
        root.Recursive = true;
        var command = new Command(Name, "Look inside an image, read-only, like debugfs: ls, stat, cat, block, types, udf, roots, free") { image, root };

        Command Verb(string name, string description, params Argument[] args)
        {
            var verb = new Command(name, description);
            foreach (var a in args) verb.Arguments.Add(a);
            verb.SetAction(r =>
            {
                var words = new List<string> { name };
                foreach (var a in args) words.Add(r.GetResult(a)?.Tokens.FirstOrDefault()?.Value ?? "");
                return Run(r.GetValue(image)!, r.GetValue(root), words, Cli.Out(r), Cli.Err(r));
            });
            command.Subcommands.Add(verb);
            return verb;
        }
        Verb("ls", "List a directory (or describe one file): inode, mode, links, size, name", Cli.Argument<string>("PATH", "A path in the root, like /a/b"));
        Verb("stat", "A file's attributes and extended attributes", Cli.Argument<string>("TARGET", "PATH, or #INODE for an inode number"));
        Verb("cat", "A file's bytes, as a mount reads them", Cli.Argument<string>("PATH", "A path in the root"));
        Verb("block", "Who owns block N (root, type, parent), its free-map and registry state, and its type's UDFs on it", Cli.Argument<string>("N", "A block number"));
        Verb("types", "The registered types and their UDFs");
        Verb("udf", "Run a type's UDFs (owns, acl, size) on a block", Cli.Argument<string>("TYPE", "A type name (exofs inspect IMAGE types)"), Cli.Argument<string>("BLOCK", "A block number"));
        Verb("roots", "The roots: name, block, type, libFS, label and UUID");
        Verb("free", "The free extents of the data area");
        return command;
    }

    private static int Run(string image, string? root, List<string> words, TextWriter stdout, TextWriter stderr)
    {
        var opened = XnImage.Open(image, new HostOptions { ReadOnly = true }, out string error, out bool operational);
        if (opened is null)
        {
            // A mounted image: its daemon answers from its live state.
            if (HostClient.Ask(Path.GetFullPath(image), new { op = "inspect", root, args = words }) is { } reply && reply.LastOrDefault() is { } last
                && last.StartsWith("exit ", StringComparison.Ordinal))
            {
                var raw = RawOut(stdout);
                foreach (var line in reply.SkipLast(1))
                {
                    if (line.StartsWith("data ", StringComparison.Ordinal)) raw.Write(Convert.FromBase64String(line[5..]));
                    else if (line.StartsWith("err ", StringComparison.Ordinal)) stderr.WriteLine(line[4..]);
                }
                raw.Flush();
                return int.Parse(last[5..], CultureInfo.InvariantCulture);
            }
            stderr.WriteLine($"exofs inspect: {error}");
            return operational ? 8 : 4;
        }
        using var host = opened;
        var output = RawOut(stdout);
        int code = new Inspector(host, image, root, name => host.Attach(name, out string? why, readOnly: true) is var g && g.Ok
            ? (g.Value.FileSystem, g.Value, null) : (null, null, why ?? g.Error.ToString())).Run(words, output, stderr);
        output.Flush();
        return code;
    }

    /// <summary>Bytes to the process's stdout when that is the console (cat must not re-encode); else through the writer.</summary>
    private static Stream RawOut(TextWriter stdout)
    {
        if (ReferenceEquals(stdout, Console.Out)) { stdout.Flush(); return Console.OpenStandardOutput(); }
        return new WriterStream(stdout);
    }

    /// <summary>A stream over a text writer (tests' StringWriter): bytes decoded as UTF-8.</summary>
    private sealed class WriterStream(TextWriter writer) : Stream
    {
        private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => writer.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count)
        {
            var chars = new char[_decoder.GetCharCount(buffer, offset, count)];
            _decoder.GetChars(buffer, offset, count, chars, 0);
            writer.Write(chars);
        }
    }
}

/// <summary>
/// The inspect verbs over one host. <paramref name="openRoot"/> gives the file system of a root by name (a
/// read-only guest, or the daemon's serving one) and something to dispose when done; used by the command and by
/// the mount daemon's "inspect" request.
/// </summary>
internal sealed class Inspector(ExoHost host, string image, string? rootName,
    Func<string, (IFileSystem? Fs, IDisposable? Lease, string? Error)> openRoot)
{
    private const int NotFound = 1, BadArgs = 2;

    public int Run(IReadOnlyList<string> words, Stream output, TextWriter stderr)
    {
        using var o = new StreamWriter(output, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
        int Fail(int code, string message) { stderr.WriteLine($"exofs inspect: {message}"); return code; }
        switch (words[0])
        {
            case "roots":
                foreach (var r in host.Roots())
                {
                    var (label, uuid) = Identity(r);
                    o.WriteLine($"{r.Name,-16} block {r.Block.Value,-8} type {r.Type,-16} libfs {r.LibFs ?? "(unknown)",-6} label {label ?? "-"} uuid {uuid ?? "-"}");
                }
                return 0;
            case "types":
                foreach (var (id, spec, partitions) in host.Types)
                    o.WriteLine($"{id.Value,4} {spec.Name,-20} {partitions} partition(s), owns{(spec.AclUdf is null ? "" : ", acl")}{(spec.SizeUdf is null ? "" : ", size")}; "
                                + $"raw read {Ranges(spec.RawRead)}, raw write {Ranges(spec.RawWrite)}");
                return 0;
            case "free":
            {
                ulong total = 0;
                foreach (var (start, count) in host.FreeExtents())
                {
                    o.WriteLine($"[{start}+{count}]");
                    total += count;
                }
                o.WriteLine($"{total} free block(s)");
                return 0;
            }
            case "block":
            {
                if (!ulong.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)) return Fail(BadArgs, $"block: '{words[1]}' is not a block number");
                var b = host.InspectBlock(n);
                if (b is null) return Fail(NotFound, $"block {n} is past the end of the disk ({host.BlockCount} blocks)");
                o.WriteLine($"block:     {b.Block} ({b.Area})");
                o.WriteLine($"free map:  {(b.Allocated ? "allocated" : "free")}{(b.DeferredFree ? ", free deferred until its parent is written" : "")}");
                o.WriteLine(b.Type is null
                    ? $"owner:     {(b.Area != "data" ? "XN" : b.Allocated ? "none reachable from a root (leaked?)" : "none")}"
                    : b.Parent is null ? $"owner:     root '{b.Root}' (its root block), type {b.Type}"
                    : $"owner:     root '{b.Root}', type {b.Type}, parent block {b.Parent} ({b.ParentType}) partition {b.Partition}");
                o.WriteLine($"registry:  {b.Registry ?? "not in memory"}");
                WriteUdfs(o, b.Udfs);
                return 0;
            }
            case "udf":
            {
                if (!ulong.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)) return Fail(BadArgs, $"udf: '{words[2]}' is not a block number");
                var runs = host.RunUdfs(words[1], n, out string? why);
                if (runs is null) return Fail(NotFound, why!);
                WriteUdfs(o, runs);
                return 0;
            }
        }

        // ls, stat, cat: through the libFS of one root.
        var roots = host.Roots().Where(r => r.LibFs is not null).ToList();
        string? name = rootName ?? (roots.Count == 1 ? roots[0].Name : null);
        if (name is null) return Fail(BadArgs, roots.Count == 0 ? $"{image} has no root this build can read" : $"{image} has several roots ({string.Join(", ", roots.Select(r => r.Name))}); pick one with --libfs NAME");
        var (fs, lease, error) = openRoot(name);
        if (fs is null) return Fail(8, $"{image}: {error}");
        using (lease)
        {
            var held = new List<InodeNo>();
            try
            {
                var target = Resolve(fs, words[1], held, out string? problem);
                if (target is null) return Fail(NotFound, $"{words[0]}: {problem}");
                var attr = target.Value;
                switch (words[0])
                {
                    case "stat":
                        o.WriteLine($"inode:  {attr.Ino.Value}");
                        o.WriteLine($"type:   {Kind(attr.Mode)}, mode {Convert.ToString(attr.Mode & 0xFFF, 8)}, {attr.Nlink} link(s), uid {attr.Uid} gid {attr.Gid}");
                        o.WriteLine($"size:   {attr.Size} bytes, {attr.Blocks512} 512-byte blocks");
                        o.WriteLine($"mtime:  {Time(attr.Mtime)}; ctime {Time(attr.Ctime)}; atime {Time(attr.Atime)}");
                        if ((attr.Mode & 0xF000) == 0xA000 && fs.ReadLink(attr.Ino) is { Ok: true } link) o.WriteLine($"target: {link.Value}");
                        if (fs.ListXattr(attr.Ino) is { Ok: true } names)
                            foreach (var x in names.Value)
                                o.WriteLine($"xattr:  {x} = {(fs.GetXattr(attr.Ino, x) is { Ok: true } v ? Encoding.UTF8.GetString(v.Value) : "?")}");
                        return 0;
                    case "cat":
                    {
                        if ((attr.Mode & 0xF000) != 0x8000) return Fail(BadArgs, $"cat: {words[1]} is a {Kind(attr.Mode)}, not a regular file");
                        var fh = fs.Open(attr.Ino, OpenFlags.ReadOnly);
                        if (!fh.Ok) return Fail(NotFound, $"cat: cannot open {words[1]}: {fh.Error}");
                        o.Flush();
                        var buffer = new byte[128 * 1024];
                        long offset = 0;
                        try
                        {
                            while (true)
                            {
                                var got = fs.Read(attr.Ino, fh.Value, offset, buffer);
                                if (!got.Ok) return Fail(NotFound, $"cat: reading {words[1]} at {offset}: {got.Error}");
                                if (got.Value == 0) break;
                                output.Write(buffer, 0, got.Value);
                                offset += got.Value;
                            }
                        }
                        finally { fs.Release(attr.Ino, fh.Value); }
                        return 0;
                    }
                    default: // ls
                    {
                        if ((attr.Mode & 0xF000) != 0x4000) { o.WriteLine(Line(attr, words[1])); return 0; }
                        var dh = fs.OpenDir(attr.Ino);
                        if (!dh.Ok) return Fail(NotFound, $"ls: cannot open {words[1]}: {dh.Error}");
                        var entries = new List<DirEntry>();
                        long offset = 0;
                        try
                        {
                            while (true)
                            {
                                int before = entries.Count;
                                long next = offset;
                                var e = fs.ReadDir(attr.Ino, dh.Value, offset, (in DirEntry d) => { entries.Add(d); next = d.NextOffset; return true; });
                                if (e != Errno.OK) return Fail(NotFound, $"ls: reading {words[1]}: {e}");
                                if (entries.Count == before) break;
                                offset = next;
                            }
                        }
                        finally { fs.ReleaseDir(attr.Ino, dh.Value); }
                        foreach (var d in entries.Where(d => d.Name is not "." and not "..").OrderBy(d => d.Name, StringComparer.Ordinal))
                        {
                            var child = fs.Lookup(attr.Ino, d.Name);
                            if (!child.Ok) { o.WriteLine($"{d.Ino.Value,8} ? {d.Name}"); continue; }
                            o.WriteLine(Line(child.Value, d.Name));
                            fs.Forget(child.Value.Ino, 1);
                        }
                        return 0;
                    }
                }
            }
            finally { foreach (var ino in held) fs.Forget(ino, 1); }
        }
    }

    /// <summary>
    /// The file <paramref name="target"/> names: a path from the root, or #INODE. Every inode it looked up is added to
    /// <paramref name="held"/>; the caller gives those references back (Forget) when done.
    /// </summary>
    private static FileAttr? Resolve(IFileSystem fs, string target, List<InodeNo> held, out string? problem)
    {
        problem = null;
        if (target.StartsWith('#'))
        {
            if (!ulong.TryParse(target[1..], NumberStyles.None, CultureInfo.InvariantCulture, out ulong ino)) { problem = $"'{target}' is not #INODE"; return null; }
            var a = fs.GetAttr(new InodeNo(ino));
            if (!a.Ok) problem = $"no inode {ino} ({a.Error})";
            return a.Ok ? a.Value : null;
        }
        var attr = fs.GetAttr(InodeNo.Root);
        if (!attr.Ok) { problem = $"the root directory: {attr.Error}"; return null; }
        foreach (var part in target.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if ((attr.Value.Mode & 0xF000) != 0x4000) { problem = $"{target}: not a directory on the way"; return null; }
            var next = fs.Lookup(attr.Value.Ino, part);
            if (!next.Ok)
            {
                problem = $"{target}: {(next.Error == Errno.ENOENT ? "no such file or directory" : next.Error.ToString())}";
                return null;
            }
            held.Add(next.Value.Ino);
            attr = next;
        }
        return attr.Value;
    }

    private (string? Label, string? Uuid) Identity(HostRoot r)
    {
        if (r.LibFs is null) return (null, null);
        var (fs, lease, _) = openRoot(r.Name);
        if (fs is null) return (null, null);
        using (lease)
        {
            string? Get(string n) => fs.GetXattr(InodeNo.Root, n) is { Ok: true } v ? Encoding.UTF8.GetString(v.Value) : null;
            return (Get(MkfsCommand.LabelXattr), Get(MkfsCommand.UuidXattr));
        }
    }

    /// <summary>
    /// Each UDF run, its extents merged where adjacent and of one type ([133+512] rather than 512 lines); owns
    /// partitions that emit nothing are listed together.
    /// </summary>
    private static void WriteUdfs(TextWriter o, IReadOnlyList<InspectUdfRun> runs)
    {
        var empty = runs.Where(u => u.Udf == "owns" && u.Extents.Count == 0 && u.Verdict.EndsWith("extent(s)", StringComparison.Ordinal)).Select(u => u.Partition).ToList();
        foreach (var u in runs.Except(runs.Where(u => u.Udf == "owns" && empty.Contains(u.Partition))))
        {
            o.WriteLine($"{u.Udf} p{u.Partition}: {u.Verdict}");
            InspectExtent? run = null;
            foreach (var x in u.Extents)
            {
                if (run is not null && run.Type == x.Type && run.Start + run.Count == x.Start) { run = run with { Count = run.Count + x.Count }; continue; }
                if (run is not null) o.WriteLine($"  [{run.Start}+{run.Count}] {run.Type}");
                run = x;
            }
            if (run is not null) o.WriteLine($"  [{run.Start}+{run.Count}] {run.Type}");
        }
        if (empty.Count > 0) o.WriteLine($"owns {Partitions(empty)}: nothing");
    }

    private static string Partitions(List<int> ps) =>
        ps.Count == 1 ? $"p{ps[0]}" : ps[^1] - ps[0] == ps.Count - 1 ? $"p{ps[0]}..p{ps[^1]}" : string.Join(",", ps.Select(p => $"p{p}"));

    private static string Ranges(IReadOnlyList<ExoFS.Xn.ByteRange> ranges) =>
        ranges.Count == 0 ? "none" : ranges.Count <= 3 ? string.Join(",", ranges.Select(r => $"[{r.Offset}+{r.Length}]"))
        : $"{ranges.Count} ranges, {ranges.Sum(r => r.Length)} bytes";

    private static string Line(FileAttr a, string name) =>
        $"{a.Ino.Value,8} {TypeChar(a.Mode)}{Convert.ToString(a.Mode & 0xFFF, 8),-4} {a.Nlink,3} {a.Size,12} {name}";

    private static string Kind(uint mode) => (mode & 0xF000) switch
    {
        0x4000 => "directory", 0x8000 => "regular file", 0xA000 => "link (symbolic)", 0x1000 => "pipe", 0xC000 => "socket",
        0x2000 => "character device", 0x6000 => "block device", _ => "unknown",
    };

    private static char TypeChar(uint mode) => (mode & 0xF000) switch
    {
        0x4000 => 'd', 0x8000 => '-', 0xA000 => 'l', 0x1000 => 'p', 0xC000 => 's', 0x2000 => 'c', 0x6000 => 'b', _ => '?',
    };

    private static string Time(Timespec t) => DateTimeOffset.FromUnixTimeSeconds(t.Sec).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
