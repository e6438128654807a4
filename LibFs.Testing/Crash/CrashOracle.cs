using System.Globalization;
using System.IO.Hashing;
using System.Text;
using ExoFS.LibFs.Testing.Model;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// The reference of legal crash states. It runs each workload step on a <see cref="ModelFileSystem"/> (so
/// POSIX semantics come from one place) and keeps, since the last moment each thing became durable:
/// <list type="bullet">
/// <item>for every path, the bindings it had at step boundaries (absent, or a model inode and its type);</item>
/// <item>for every regular file, the contents it had at step boundaries (the first one is the durable one)
/// and the byte ranges writes and truncates touched;</item>
/// <item>for every inode, the values each of its judged attributes (<see cref="CrashGuarantees.Attributes"/>)
/// had at step boundaries since its attributes were last durable;</item>
/// <item>which inodes are durably linked (must not vanish) and the most names each had at once.</item>
/// </list>
/// A crash state is legal when each path binds one of its recorded bindings, with the file content rule of
/// <see cref="CrashGuarantees.WritesAtomic"/> and the attribute rule (each judged attribute of the inode holds
/// one of its recorded values), link counts match names, and (with
/// <see cref="CrashGuarantees.NamespaceOpsAtomic"/>) no durably linked inode is lost or over-linked.
/// Persistence steps reset histories exactly as far as the target's <see cref="CrashGuarantees"/> promise.
/// The per-path rule treats paths independently: it admits some combinations no single boundary had (two
/// unsynced creates persisting in either order), which POSIX allows, and the atomicity checks add back
/// the cross-path constraints a rename needs. Not thread-safe.
/// </summary>
public sealed class CrashOracle
{
    private readonly CrashGuarantees _g;
    private readonly ModelFileSystem _model;
    private FsSnapshot _current;
    private readonly Dictionary<string, List<SnapshotEntry?>> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, List<FileContent>> _contents = new();
    private readonly Dictionary<ulong, List<(long Start, long End)>> _touched = new();
    private readonly Dictionary<ulong, List<SnapshotAttrs>> _attrs = new();
    private readonly CrashAttributes _judged;
    private readonly Dictionary<ulong, int> _maxNames = new();
    // Names each inode was renamed away from since they were last durable (RenameMayLeaveBothNames).
    private readonly Dictionary<ulong, HashSet<string>> _renamedFrom = new();
    private readonly HashSet<ulong> _durablyLinked = new();
    // RENAME_EXCHANGEs since their names were last durable (ExchangeMayOrphanOne): the two model inodes, the two
    // paths, and which of the paths are not durable yet (the record goes when both are).
    private sealed record ExchangeRecord(ulong A, ulong B, string PathA, string PathB, HashSet<string> Pending);
    private readonly List<ExchangeRecord> _exchanges = new();
    private readonly Dictionary<ulong, ulong> _realIno = new() { [1] = 1 };
    private readonly Dictionary<ulong, string> _firstPath = new();
    // With PrefixSemantics: every whole state at a step boundary since the last persistence step (the first is durable).
    private List<FsSnapshot> _prefixStates;
    // What this oracle has been told so far, hashed (see History); null once a step ran under the wall clock.
    private UInt128? _history;

    /// <summary>Starts from an empty, durable file system (a freshly formatted device).</summary>
    /// <param name="guarantees">What the target promises.</param>
    /// <param name="sharedClock">
    /// True when the model and the target read one <see cref="LogicalClock"/> that ticks only between steps (as
    /// the crash explorer runs them), so the times a step stamps are the same on both: only then is mtime
    /// judged (when <see cref="CrashGuarantees.Attributes"/> names it). Under the wall clock the model's
    /// times are not the target's.
    /// </param>
    public CrashOracle(CrashGuarantees guarantees, bool sharedClock = false)
    {
        _g = guarantees ?? throw new ArgumentNullException(nameof(guarantees));
        _judged = sharedClock ? _g.Attributes : _g.Attributes & ~CrashAttributes.Mtime;
        _model = new ModelFileSystem();
        _current = FsSnapshot.Take(_model);
        _prefixStates = [_current];
        _history = Hash(0, $"oracle {_g} reserved={string.Join(",", _g.ReservedRootNames)} judged={_judged}");
    }

    // A deep copy (see Fork). Snapshots and file contents are never changed once made, so they are shared.
    private CrashOracle(CrashOracle from)
    {
        _g = from._g;
        _judged = from._judged;
        _model = from._model.Fork();
        _current = from._current;
        foreach (var (path, h) in from._names) _names[path] = [.. h];
        foreach (var (ino, h) in from._contents) _contents[ino] = [.. h];
        foreach (var (ino, h) in from._touched) _touched[ino] = [.. h];
        foreach (var (ino, h) in from._attrs) _attrs[ino] = [.. h];
        foreach (var (ino, n) in from._maxNames) _maxNames[ino] = n;
        foreach (var (ino, names) in from._renamedFrom) _renamedFrom[ino] = new(names, StringComparer.Ordinal);
        _durablyLinked.UnionWith(from._durablyLinked);
        foreach (var x in from._exchanges) _exchanges.Add(x with { Pending = new(x.Pending, StringComparer.Ordinal) });
        foreach (var (m, r) in from._realIno) _realIno[m] = r;
        foreach (var (ino, path) in from._firstPath) _firstPath[ino] = path;
        _prefixStates = [.. from._prefixStates];
        _history = from._history;
        Version = from.Version;
    }

    /// <summary>
    /// An independent copy in the same state (same <see cref="History"/>): the crash explorer makes the oracle of a
    /// setup once and forks it for each workload that starts from that setup. This oracle stays usable.
    /// </summary>
    public CrashOracle Fork() => new(this);

    /// <summary>
    /// A fingerprint of everything this oracle was told (its guarantees, and every <see cref="Apply"/>,
    /// <see cref="RecordInode"/>, <see cref="Completed"/> and <see cref="MarkAllDurable"/> call with its
    /// arguments and the logical time of each step): two oracles with the same history are in the same state
    /// (the model is deterministic under a <see cref="LogicalClock"/>), so they judge a snapshot alike and a
    /// verdict may be shared (<see cref="RecoveredImage"/>). Null when a step ran under the wall clock, whose
    /// times make the model's state unrepeatable.
    /// </summary>
    public UInt128? History => _history;

    private void Told(string what)
    {
        if (_history is { } h) _history = Hash(h, what);
    }

    private static UInt128 Hash(UInt128 previous, string what)
    {
        Span<byte> head = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(head, previous);
        var hash = new XxHash128();
        hash.Append(head);
        hash.Append(Encoding.UTF8.GetBytes(what));
        return hash.GetCurrentHashAsUInt128();
    }

    private static string Token(CrashOp op) =>
        string.Create(CultureInfo.InvariantCulture, $"{(int)op.Kind}|{op.Path}|{op.Target}|{op.Offset}|{op.Length}|{op.Seed}");

    /// <summary>The promises this oracle checks.</summary>
    public CrashGuarantees Guarantees => _g;

    /// <summary>Bumped whenever a persistence step tightens what is legal: crash images checked before are stale.</summary>
    public int Version { get; private set; }

    /// <summary>
    /// Runs <paramref name="op"/> on the model and admits the state after it as legal (a crash during the
    /// step may leave it done). Returns the model's outcome, which the target's must agree with.
    /// </summary>
    public Errno Apply(CrashOp op)
    {
        ArgumentNullException.ThrowIfNull(op);
        if (LogicalClock.Current is { } clock) Told($"apply {Token(op)} at {clock.Read()}");
        else _history = null;
        long sizeBefore = op.Kind == CrashOpKind.Truncate && _current.Paths.TryGetValue(op.Path, out var t) && !t.IsDir
            ? _current.Contents[t.Ino].Length : 0;
        ulong? renamed = op.Kind is CrashOpKind.Rename or CrashOpKind.Exchange && _current.Paths.TryGetValue(op.Path, out var r) ? r.Ino : null;
        ulong? swapped = op.Kind == CrashOpKind.Exchange && _current.Paths.TryGetValue(op.Target, out var x) ? x.Ino : null;
        var err = OpRunner.Run(_model, op, out _);
        if (err != Errno.OK) return err;
        if (renamed is { } moved && op.Path != op.Target)
        {
            RenamedAway(moved, op.Path);
            // An exchange moves both: each inode is renamed away from its name.
            if (swapped is { } other)
            {
                RenamedAway(other, op.Target);
                _exchanges.Add(new ExchangeRecord(moved, other, op.Path, op.Target, new(StringComparer.Ordinal) { op.Path, op.Target }));
            }
        }
        _current = FsSnapshot.Take(_model);
        if (_g.PrefixSemantics) _prefixStates.Add(_current);
        // Bytes a step rewrote are not settled even where the new value happens to equal the old one.
        if (op.Kind is CrashOpKind.Write or CrashOpKind.Truncate && _current.Paths.TryGetValue(op.Path, out var f))
        {
            var range = op.Kind == CrashOpKind.Write
                ? (op.Offset, op.Offset + op.Length)
                : (Math.Min(sizeBefore, op.Offset), Math.Max(sizeBefore, op.Offset));
            if (!_touched.TryGetValue(f.Ino, out var list)) _touched[f.Ino] = list = [];
            list.Add(range);
        }
        foreach (var path in _names.Keys.Union(_current.Paths.Keys).ToList())
        {
            SnapshotEntry? now = _current.Paths.TryGetValue(path, out var e) ? Bare(e) : null;
            if (!_names.TryGetValue(path, out var h)) _names[path] = h = [null]; // unknown paths were absent
            if (h[^1] != now) h.Add(now);
            if (now is { } n) _firstPath.TryAdd(n.Ino, path);
        }
        foreach (var (ino, data) in _current.Contents)
        {
            if (!_contents.TryGetValue(ino, out var h)) _contents[ino] = [data];
            else if (!h[^1].Equals(data)) h.Add(data);
        }
        foreach (var (ino, a) in _current.Attributes)
        {
            if (!_attrs.TryGetValue(ino, out var h)) _attrs[ino] = [a];
            else if (h[^1] != a) h.Add(a);
        }
        var counts = NameCounts(_current);
        foreach (var (ino, c) in counts)
            _maxNames[ino] = Math.Max(c, _maxNames.GetValueOrDefault(ino));
        _durablyLinked.RemoveWhere(ino => !counts.ContainsKey(ino)); // lost its last name: may vanish
        return Errno.OK;
    }

    private void RenamedAway(ulong ino, string path)
    {
        if (!_renamedFrom.TryGetValue(ino, out var from)) _renamedFrom[ino] = from = new(StringComparer.Ordinal);
        from.Add(path);
    }

    /// <summary>Records that <paramref name="path"/>, just created on the target, is inode <paramref name="realIno"/> there.</summary>
    public void RecordInode(string path, InodeNo realIno)
    {
        Told($"inode {path} {realIno.Value}");
        if (_current.Paths.TryGetValue(path, out var e)) _realIno[e.Ino] = realIno.Value;
    }

    /// <summary>Applies what a persistence step that has returned successfully makes durable, per the guarantees.</summary>
    public void Completed(CrashOp op)
    {
        Told($"completed {Token(op)}");
        if (op.Kind == CrashOpKind.Sync)
        {
            if (_g.SyncPersistsAll) MarkAllDurable();
            return;
        }
        if (op.Kind == CrashOpKind.Fsync && _g.PrefixSemantics) _prefixStates = [_current]; // every step before it is durable
        if (op.Kind != CrashOpKind.Fsync || !_current.Paths.TryGetValue(op.Path, out var target)) return;
        if (_g.FsyncPersistsAttributes && _current.Attributes.TryGetValue(target.Ino, out var attrs)) _attrs[target.Ino] = [attrs];
        if (!target.IsDir)
        {
            if (_g.FsyncPersistsFile)
            {
                _contents[target.Ino] = [_current.Contents[target.Ino]];
                _touched.Remove(target.Ino);
            }
            if (_g.FsyncPersistsNames)
                foreach (var (path, e) in _current.Paths)
                    if (e.Ino == target.Ino) PathDurable(path);
        }
        else if (_g.FsyncDirPersistsEntries)
        {
            PathDurable(op.Path);
            foreach (var path in _names.Keys.ToList())
                if (ParentOf(path) == op.Path) PathDurable(path);
        }
        Version++;
    }

    /// <summary>Everything is durable now (after sync, or a clean unmount).</summary>
    public void MarkAllDurable()
    {
        Told("all durable");
        foreach (var path in _names.Keys.ToList())
            _names[path] = [_current.Paths.TryGetValue(path, out var e) ? Bare(e) : null];
        foreach (var ino in _contents.Keys.ToList())
            _contents[ino] = _current.Contents.TryGetValue(ino, out var data) ? [data] : [.. _contents[ino].TakeLast(1)];
        _touched.Clear();
        foreach (var ino in _attrs.Keys.ToList())
            _attrs[ino] = _current.Attributes.TryGetValue(ino, out var a) ? [a] : [.. _attrs[ino].TakeLast(1)];
        foreach (var (ino, a) in _current.Attributes) _attrs.TryAdd(ino, [a]);
        var counts = NameCounts(_current);
        _maxNames.Clear();
        foreach (var (ino, c) in counts) _maxNames[ino] = c;
        _durablyLinked.Clear();
        _durablyLinked.UnionWith(counts.Keys);
        _renamedFrom.Clear();
        _exchanges.Clear();
        _prefixStates = [_current];
        Version++;
    }

    // A path and every directory above it become durable as they are now.
    private void PathDurable(string path)
    {
        for (string? p = path; !string.IsNullOrEmpty(p); p = ParentOf(p))
        {
            SnapshotEntry? now = _current.Paths.TryGetValue(p, out var e) ? Bare(e) : null;
            _names[p] = [now];
            foreach (var from in _renamedFrom.Values) from.Remove(p);
            foreach (var x in _exchanges) x.Pending.Remove(p);
            _exchanges.RemoveAll(x => x.Pending.Count == 0);
            if (now is { } n)
            {
                _durablyLinked.Add(n.Ino);
                _maxNames[n.Ino] = NameCounts(_current).GetValueOrDefault(n.Ino);
            }
        }
    }

    /// <summary>Every way <paramref name="observed"/>, a recovered crash image, breaks the rules; empty when legal.</summary>
    public IReadOnlyList<string> Check(FsSnapshot observed)
    {
        ArgumentNullException.ThrowIfNull(observed);
        var problems = new List<string>();
        foreach (var (path, e) in observed.Paths)
            if (!_names.ContainsKey(path) && !IsReserved(path))
                problems.Add($"{path}: unexpected name ({Describe(e)}); the workload never made it");

        foreach (var (path, legal) in _names)
        {
            SnapshotEntry? seen = observed.Paths.TryGetValue(path, out var e) ? e : null;
            string? why = null;
            if (legal.Any(h => Matches(h, seen, observed, out why))) continue;
            string found = seen is { } s ? Describe(s) : "absent";
            problems.Add($"{path}: found {found}; legal: {string.Join(" | ", legal.Select(DescribeModel))}" +
                         (why is null ? "" : $" ({why})"));
        }

        // Link counts must match the names found (an fsck property, cheap to check here too).
        foreach (var group in observed.Paths.Where(p => !p.Value.IsDir && !IsReserved(p.Key)).GroupBy(p => p.Value.Ino))
        {
            uint nlink = group.First().Value.Nlink;
            if (nlink != group.Count())
                problems.Add($"inode {group.Key}: link count {nlink} but {group.Count()} name(s): {string.Join(", ", group.Select(g => g.Key))}");
        }

        if (_g.NamespaceOpsAtomic || _g.LeaksOnly)
        {
            // Never lost (atomic steps; with leaks only, rule 3: a live file never becomes a leak).
            foreach (var ino in _durablyLinked)
            {
                if (ino == 1 || !_realIno.TryGetValue(ino, out var real)) continue;
                bool found = observed.Paths.Any(p => p.Value.Ino == real && _names.TryGetValue(p.Key, out var h) && h.Any(b => b?.Ino == ino));
                if (!found && _g.ExchangeMayOrphanOne && OrphanedByExchange(ino, observed)) continue;
                if (!found)
                {
                    var had = _names.Where(n => n.Value.Any(b => b?.Ino == ino)).Select(n => n.Key);
                    problems.Add($"{ModelName(ino)} lost: it was durably linked and never unlinked, but none of its names ({string.Join(", ", had)}) holds it");
                }
            }
        }
        if (_g.NamespaceOpsAtomic || _g.RenameMayLeaveBothNames)
        {
            // With RenameMayLeaveBothNames, a name the inode was renamed away from may linger: it does not count.
            int Counted(ulong m, IEnumerable<string> names) => _g.NamespaceOpsAtomic || !_renamedFrom.TryGetValue(m, out var from)
                ? names.Count() : names.Count(n => !from.Contains(n));
            foreach (var group in observed.Paths.Where(p => !IsReserved(p.Key)).GroupBy(p => p.Value.Ino))
            {
                var candidates = _realIno.Where(m => m.Value == group.Key).Select(m => m.Key).ToList();
                var names = group.Select(g => g.Key).ToList();
                if (candidates.Count > 0 && candidates.All(m => Counted(m, names) > _maxNames.GetValueOrDefault(m, int.MaxValue)))
                    problems.Add($"inode {group.Key} has {group.Count()} names ({string.Join(", ", names)}), more than it ever had at once" +
                                 (_g.NamespaceOpsAtomic ? " (a half-done rename or link)" : ", not counting names it was renamed away from"));
            }
        }
        if (_g.PrefixSemantics && !_prefixStates.Any(state => SameState(state, observed)))
            problems.Add($"the state is none of the {_prefixStates.Count} states after a prefix of the steps since the last persistence step");
        return problems;
    }

    // ExchangeMayOrphanOne: model inode `ino` took part in an exchange (since its names were durable) and the name
    // it held before it is seen naming the exchange's other inode: the write that took the name from it reached the
    // disk, the one giving it the other name did not.
    private bool OrphanedByExchange(ulong ino, FsSnapshot observed)
    {
        foreach (var x in _exchanges)
        {
            if (x.A != ino && x.B != ino) continue;
            var (oldName, other) = x.A == ino ? (x.PathA, x.B) : (x.PathB, x.A);
            if (_realIno.TryGetValue(other, out var partner) && observed.Paths.TryGetValue(oldName, out var e) && e.Ino == partner)
                return true;
        }
        return false;
    }

    // PrefixSemantics: the observed state is exactly the model's state: the same names, kinds, link counts of
    // files and contents, and one observed inode per model inode (the known numbers where they are known).
    private bool SameState(FsSnapshot model, FsSnapshot observed)
    {
        var seen = observed.Paths.Where(p => !IsReserved(p.Key)).ToList();
        if (seen.Count != model.Paths.Count) return false;
        var toObserved = new Dictionary<ulong, ulong>();
        var toModel = new Dictionary<ulong, ulong>();
        foreach (var (path, o) in seen)
        {
            if (!model.Paths.TryGetValue(path, out var m) || m.IsDir != o.IsDir) return false;
            if (_realIno.TryGetValue(m.Ino, out var real) && real != o.Ino) return false;
            if (toObserved.TryGetValue(m.Ino, out var mapped) ? mapped != o.Ino : toModel.ContainsKey(o.Ino)) return false;
            toObserved[m.Ino] = o.Ino;
            toModel[o.Ino] = m.Ino;
            if (!SameAttributes(model, m.Ino, observed, o.Ino)) return false;
            if (m.IsDir) continue;
            if (m.Nlink != o.Nlink) return false;
            bool isFile = model.Contents.TryGetValue(m.Ino, out var want);
            if (isFile != observed.Contents.TryGetValue(o.Ino, out var data)) return false;
            if (isFile && !data!.Equals(want)) return false;
        }
        return true;
    }

    private bool SameAttributes(FsSnapshot model, ulong ino, FsSnapshot observed, ulong seenIno)
    {
        if (!observed.Attributes.TryGetValue(seenIno, out var o) || !model.Attributes.TryGetValue(ino, out var m)) return true;
        return (!Judged(CrashAttributes.Mode) || o.Mode == m.Mode)
            && (!Judged(CrashAttributes.Owner) || (o.Uid == m.Uid && o.Gid == m.Gid))
            && (!Judged(CrashAttributes.Mtime) || o.Mtime == m.Mtime)
            && (!Judged(CrashAttributes.Xattrs) || o.Xattrs == m.Xattrs);
    }

    private bool Matches(SnapshotEntry? legal, SnapshotEntry? seen, FsSnapshot observed, out string? why)
    {
        why = null;
        if (legal is null || seen is null) return legal is null && seen is null;
        var (l, s) = (legal.Value, seen.Value);
        if (l.IsDir != s.IsDir) return false;
        // An inode created during the step being crashed has no known number yet: any number may be it.
        if (_realIno.TryGetValue(l.Ino, out var real) && real != s.Ino) return false;
        if (!AttributesLegal(l.Ino, s.Ino, observed, out why)) return false;
        if (l.IsDir) return true;
        if (!observed.Contents.TryGetValue(s.Ino, out var data)) { why = "content unreadable"; return false; }
        return ContentLegal(l.Ino, data, out why);
    }

    /// <summary>
    /// The attribute rule for model inode <paramref name="ino"/> seen as <paramref name="seenIno"/>: each judged
    /// attribute holds a value the inode had at a step boundary since its attributes were last durable (each on its
    /// own). Not judged when the observed snapshot carries no attributes (one built by hand).
    /// </summary>
    private bool AttributesLegal(ulong ino, ulong seenIno, FsSnapshot observed, out string? why)
    {
        why = null;
        if (_judged == CrashAttributes.None || !observed.Attributes.TryGetValue(seenIno, out var seen)) return true;
        if (!_attrs.TryGetValue(ino, out var h)) return true; // never seen by the model (cannot happen for a bound inode)
        var wrong = new List<string>(0);
        if (Judged(CrashAttributes.Mode) && !h.Any(a => a.Mode == seen.Mode))
            wrong.Add($"mode {Octal(seen.Mode)} is none it had ({string.Join(", ", h.Select(a => Octal(a.Mode)).Distinct())})");
        if (Judged(CrashAttributes.Owner) && !h.Any(a => a.Uid == seen.Uid && a.Gid == seen.Gid))
            wrong.Add($"owner {seen.Uid}:{seen.Gid} is none it had ({string.Join(", ", h.Select(a => $"{a.Uid}:{a.Gid}").Distinct())})");
        if (Judged(CrashAttributes.Mtime) && !h.Any(a => a.Mtime == seen.Mtime))
            wrong.Add($"mtime {Time(seen.Mtime)} is none it had ({string.Join(", ", h.Select(a => Time(a.Mtime)).Distinct())})");
        if (Judged(CrashAttributes.Xattrs) && !h.Any(a => a.Xattrs == seen.Xattrs))
            wrong.Add($"xattrs {{{XattrSummary(seen.Xattrs)}}} are none it had ({string.Join(" | ", h.Select(a => "{" + XattrSummary(a.Xattrs) + "}").Distinct())})");
        if (wrong.Count > 0) why = string.Join("; ", wrong);
        return why is null;
    }

    private bool Judged(CrashAttributes a) => (_judged & a) != 0;

    private static string Octal(uint mode) => "0" + Convert.ToString(mode & 0xFFF, 8);

    private static string Time(Timespec t) => string.Create(CultureInfo.InvariantCulture, $"{t.Sec}.{t.Nsec:D9}");

    // Names with value lengths, e.g. "user.k:100b, user.n:3b"; values differ by content too, which the text cannot show briefly.
    private static string XattrSummary(string text) =>
        string.Join(", ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => { int eq = line.IndexOf('='); return $"{line[..eq]}:{(line.Length - eq - 1) / 2}b"; }));

    /// <summary>The content rule of <see cref="CrashGuarantees.WritesAtomic"/> for model file <paramref name="ino"/>.</summary>
    private bool ContentLegal(ulong ino, FileContent data, out string? why)
    {
        why = null;
        var h = _contents[ino];
        if (h.Any(c => c.Equals(data))) return true;
        if (_g.WritesAtomic)
        {
            why = $"{data.Length} bytes match none of the {h.Count} contents it had (sizes {string.Join(", ", h.Select(c => c.Length))})";
            return false;
        }
        if (!h.Any(c => c.Length == data.Length))
        {
            why = $"size {data.Length} is none it had ({string.Join(", ", h.Select(c => c.Length).Distinct())})";
            return false;
        }
        // Only chunks where the observed or the durable content holds data can break the rule: elsewhere the observed
        // byte is zero and so is the durable one, legal whether the byte is settled or not.
        var durable = h[0];
        var touched = _touched.GetValueOrDefault(ino) ?? [];
        var chunks = new SortedSet<long>();
        foreach (long k in data.DataChunks) chunks.Add(k);
        foreach (long k in durable.DataChunks) chunks.Add(k);
        var versions = new (long Length, byte[] Bytes)[h.Count];
        foreach (long k in chunks)
        {
            long first = k * FileContent.ChunkSize;
            if (first >= data.Length) break;
            int count = (int)Math.Min(FileContent.ChunkSize, data.Length - first);
            var seen = data.Chunk(k);
            var old = durable.Chunk(k);
            for (int v = 0; v < h.Count; v++) versions[v] = (h[v].Length, h[v].Chunk(k).ToArray());
            for (int j = 0; j < count; j++)
            {
                long i = first + j;
                bool isTouched = false;
                foreach (var (start, stop) in touched)
                    if (i >= start && i < stop) { isTouched = true; break; }
                bool settled = !isTouched;
                for (int v = 0; v < versions.Length && settled; v++)
                    settled = i < versions[v].Length && versions[v].Bytes[j] == old[j];
                byte b = seen[j];
                bool ok;
                if (settled) ok = b == old[j];
                else
                {
                    ok = b == 0;
                    for (int v = 0; v < versions.Length && !ok; v++) ok = i < versions[v].Length && versions[v].Bytes[j] == b;
                }
                if (!ok)
                {
                    why = string.Create(CultureInfo.InvariantCulture,
                        $"byte {i} is 0x{b:x2}, {(settled ? $"durable value is 0x{old[j]:x2}" : "which no write put there")}");
                    return false;
                }
            }
        }
        return true;
    }

    private bool IsReserved(string path) =>
        _g.ReservedRootNames.Any(r => path == "/" + r || path.StartsWith("/" + r + "/", StringComparison.Ordinal));

    private static SnapshotEntry Bare(SnapshotEntry e) => e with { Nlink = 0 };

    private static string? ParentOf(string path)
    {
        int i = path.LastIndexOf('/');
        return i <= 0 ? null : path[..i];
    }

    private static Dictionary<ulong, int> NameCounts(FsSnapshot s) =>
        s.Paths.GroupBy(p => p.Value.Ino).ToDictionary(g => g.Key, g => g.Count());

    private string ModelName(ulong ino) => $"inode first named {_firstPath.GetValueOrDefault(ino, "?")}";

    private string DescribeModel(SnapshotEntry? b)
    {
        if (b is not { } e) return "absent";
        string ino = _realIno.TryGetValue(e.Ino, out var r) ? r.ToString(CultureInfo.InvariantCulture) : "new";
        if (e.IsDir) return $"dir ino {ino}";
        var sizes = _contents.TryGetValue(e.Ino, out var h) ? string.Join("/", h.Select(c => c.Length).Distinct()) : "?";
        return $"file ino {ino} size {sizes}";
    }

    private static string Describe(SnapshotEntry e) =>
        e.IsDir ? $"dir ino {e.Ino}" : $"file ino {e.Ino} nlink {e.Nlink}";
}
