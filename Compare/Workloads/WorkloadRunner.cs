using System.Diagnostics;
using ExoFS.Compare.Designs;
using ExoFS.Compare.Disks;
using ExoFS.LibFs;

namespace ExoFS.Compare.Workloads;

/// <summary>How a run is parameterized beyond the workload, the libFS and the disk.</summary>
public sealed record RunOptions
{
    /// <summary>Seeds every random choice of the run.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>For file sets sized by utilization: the fraction of the file system's blocks their data fills.</summary>
    public double Utilization { get; init; } = 0.75;

    /// <summary>Wraps each file system the design formats or mounts (tests count calls through it); null: none.</summary>
    public Func<IFileSystem, IFileSystem>? Wrap { get; init; }

    /// <summary>Called after each phase with its result (progress displays).</summary>
    public Action<PhaseResult>? OnPhase { get; init; }
}

/// <summary>The phases a run measured, and, if it stopped early, why (one line).</summary>
public sealed record RunOutcome(IReadOnlyList<PhaseResult> Results, string? Error);

/// <summary>
/// Runs a <see cref="WorkloadSpec"/> on a fresh file system of one design on one fresh disk, and measures each
/// phase. Single-threaded: the spec's threads are interleaved round-robin, one operation per turn, which is
/// what makes a run a pure function of its inputs (and the only scheduler the host offers a libFS today).
/// <para>
/// Every operation goes through <see cref="IFileSystem"/> the way a mount's requests would: a file is found by
/// Lookup in its directory and Forgotten after, opened and released around its reads and writes, so a remount
/// between phases (a cold cache) costs what it would cost a real client.
/// </para>
/// </summary>
public static class WorkloadRunner
{
    /// <summary>Runs <paramref name="spec"/>; an operation that fails (ENOSPC on a too-small device, say) ends the run with an error line.</summary>
    public static RunOutcome Run(WorkloadSpec spec, DesignConfig config, DiskKind disk, RunOptions options)
    {
        var run = new RunState(spec, config, disk, options);
        try
        {
            run.Execute();
            return new RunOutcome(run.Results, null);
        }
        catch (WorkloadFailure e)
        {
            return new RunOutcome(run.Results, $"workload '{spec.Name}' on {config.Label} @ {disk.Name}: {e.Message}");
        }
        finally
        {
            run.Dispose();
        }
    }

    /// <summary>A workload operation failed; the message names the phase and the call.</summary>
    private sealed class WorkloadFailure(string message) : Exception(message);

    private sealed class FileEntry(SetState set, int index, InodeNo dir)
    {
        public SetState Set { get; } = set;
        public InodeNo Dir { get; } = dir;
        public string Name { get; } = $"f{index:D7}";
        public long Size;
        public long Cursor;
        public int Holders; // threads whose current file this is: other threads' deletes do not pick it
    }

    private sealed class SetState(FileSetSpec spec)
    {
        public FileSetSpec Spec { get; } = spec;
        public List<FileEntry> Live { get; } = [];
        public InodeNo[] Dirs = [];
        public int NextIndex;
        public int SeqCursor;
    }

    private sealed class ThreadState
    {
        public FileEntry? Current;
        public int ItersLeft, OpIndex, RepeatDone;
    }

    private sealed class RunState : IDisposable
    {
        private const uint FileMode = 0x81A4, DirMode = 0x41ED; // rw-r--r-- file, rwxr-xr-x directory
        private readonly WorkloadSpec _spec;
        private readonly DesignConfig _config;
        private readonly RunOptions _options;
        private readonly MeasuredDisk _disk;
        private readonly Random _rng;
        private readonly byte[] _data, _readBuffer;
        private readonly Dictionary<string, SetState> _sets = new(StringComparer.Ordinal);
        private readonly double? _utilization;
        private IFileSystem? _raw, _fs;
        private string _phase = "format";
        private long _ops, _skipped, _bytesRead, _bytesWritten;

        public List<PhaseResult> Results { get; } = [];

        public RunState(WorkloadSpec spec, DesignConfig config, DiskKind disk, RunOptions options)
        {
            _spec = spec;
            _config = config;
            _options = options;
            _rng = new Random(options.Seed);
            int maxIo = Math.Clamp(MaxIo(spec), 4096, 1 << 20);
            _data = new byte[maxIo];
            new Random(unchecked(options.Seed * 31 + 7)).NextBytes(_data); // content is arbitrary, but fixed by the seed
            _readBuffer = new byte[maxIo];
            _utilization = spec.FileSets.Any(s => s.CountFromUtilization) ? options.Utilization : null;
            _disk = disk.Create((ulong)spec.DeviceMib * 256);
            foreach (var s in spec.FileSets) _sets[s.Name] = new SetState(s);
        }

        private IFileSystem Fs => _fs!;

        public void Execute()
        {
            var formatted = _config.Design.Format(_disk.Device, _config.Settings, out string? error);
            if (!formatted.Ok) throw new WorkloadFailure($"format failed: {error ?? formatted.Error.ToString()}");
            Attach(formatted.Value);

            _phase = "setup";
            bool prealloc = _spec.FileSets.Any(s => s.Count > 0 || s.CountFromUtilization);
            Measure("setup", prealloc, () =>
            {
                foreach (var set in _sets.Values) MakeDirs(set);
                foreach (var set in _sets.Values)
                {
                    long count = set.Spec.CountFromUtilization ? CountForUtilization(set.Spec) : set.Spec.Count;
                    for (long i = 0; i < count; i++)
                    {
                        CreateFile(set, SizeFrom(set.Spec.SizeMin, set.Spec.SizeMax), 64 * 1024, fsync: false);
                        _ops++;
                    }
                }
            });

            foreach (var phase in _spec.Phases)
            {
                _phase = phase.Name;
                if (phase.Remount) Remount();
                Measure(phase.Name, report: true, () => RunPhase(phase));
            }
        }

        private void Attach(IFileSystem raw)
        {
            _raw = raw;
            _fs = _options.Wrap is { } wrap ? wrap(raw) : raw;
        }

        // Unmount and mount again: the next phase starts with nothing cached. Not measured.
        private void Remount()
        {
            _fs!.Dispose();
            _fs = _raw = null;
            var mounted = _config.Design.Mount(_disk.Device, _config.Settings, out string? error);
            if (!mounted.Ok) throw new WorkloadFailure($"remount before phase '{_phase}' failed: {error ?? mounted.Error.ToString()}");
            Attach(mounted.Value);
        }

        private void Measure(string name, bool report, Action body)
        {
            var disk0 = _disk.Read();
            var cleaner0 = _config.Design.ReadCleaner(_raw!);
            int cleaned0 = _config.Design.CleanedSegmentUtilizations(_raw!)?.Count ?? 0;
            long ops0 = _ops, skipped0 = _skipped, read0 = _bytesRead, written0 = _bytesWritten;
            var wall = Stopwatch.StartNew();
            body();
            Check(Fs.Sync(), "sync");
            wall.Stop();
            if (!report) return;

            var d = _disk.Read() - disk0;
            var cleaner1 = _config.Design.ReadCleaner(_raw!);
            var cleaned = _config.Design.CleanedSegmentUtilizations(_raw!)?.Skip(cleaned0).ToList();
            long ops = _ops - ops0, read = _bytesRead - read0, written = _bytesWritten - written0;
            double? modeled = d.Modeled?.TotalSeconds;
            bool timed = modeled is > 0;
            var result = new PhaseResult
            {
                Workload = _spec.Name, Phase = name, Libfs = _config.Label, Disk = _disk.Kind.Name,
                Seed = _options.Seed, Utilization = _utilization,
                Ops = ops, Skipped = _skipped - skipped0,
                ModeledSeconds = modeled,
                OpsPerSecond = timed ? ops / modeled : null,
                MbPerSecond = timed ? (read + written) / modeled / 1e6 : null,
                DeviceReads = d.Io.Reads, DeviceWrites = d.Io.Writes,
                DeviceBytesRead = d.Io.BytesRead, DeviceBytesWritten = d.Io.BytesWritten, DeviceFlushes = d.Io.Flushes,
                Seeks = d.Seeks,
                WorkloadBytesRead = read, WorkloadBytesWritten = written,
                WriteAmplification = written > 0 ? (double)d.Io.BytesWritten / written : null,
                FtlWriteAmplification = d.FtlHostPages is > 0 ? (double)d.FtlPagesProgrammed!.Value / d.FtlHostPages.Value : null,
                CleanerWriteCost = cleaner0 is { } c0 && cleaner1 is { } c1 ? (c1 - c0).WriteCost : null,
                WallSeconds = wall.Elapsed.TotalSeconds,
                CleanedSegmentUtilizations = cleaned,
            };
            Results.Add(result);
            _options.OnPhase?.Invoke(result);
        }

        private long CountForUtilization(FileSetSpec set)
        {
            var stats = Fs.StatFs();
            if (!stats.Ok) throw new WorkloadFailure($"statfs failed: {stats.Error}");
            long blockSize = stats.Value.BlockSize;
            long mean = (set.SizeMin + set.SizeMax) / 2;
            long blocksPerFile = Math.Max(1, (mean + blockSize - 1) / blockSize);
            return (long)(_options.Utilization * stats.Value.Blocks / blocksPerFile);
        }

        private void MakeDirs(SetState set)
        {
            var top = Fs.MkDir(InodeNo.Root, set.Spec.Name, DirMode, Caller.Root);
            if (!top.Ok) throw new WorkloadFailure($"mkdir {set.Spec.Name} failed: {top.Error}");
            Fs.Forget(top.Value.Ino, 1);
            if (set.Spec.Dirs == 1) { set.Dirs = [top.Value.Ino]; return; }
            set.Dirs = new InodeNo[set.Spec.Dirs];
            for (int d = 0; d < set.Dirs.Length; d++)
            {
                var sub = Fs.MkDir(top.Value.Ino, $"d{d:D4}", DirMode, Caller.Root);
                if (!sub.Ok) throw new WorkloadFailure($"mkdir {set.Spec.Name}/d{d:D4} failed: {sub.Error}");
                Fs.Forget(sub.Value.Ino, 1);
                set.Dirs[d] = sub.Value.Ino;
            }
        }

        private void RunPhase(PhaseSpec phase)
        {
            var threads = new ThreadState[phase.Threads];
            long total = phase.EachFile is { } each ? _sets[each].Live.Count : (long)phase.Iterations * phase.Threads;
            int active = 0;
            for (int t = 0; t < threads.Length; t++)
            {
                long iters = phase.EachFile is null ? phase.Iterations : total / threads.Length + (t < total % threads.Length ? 1 : 0);
                threads[t] = new ThreadState { ItersLeft = (int)iters };
                if (iters > 0) active++;
            }
            // Round-robin, one operation per turn: deterministic, and close to how concurrent clients interleave.
            while (active > 0)
            {
                foreach (var thread in threads)
                {
                    if (thread.ItersLeft == 0) continue;
                    var op = phase.Ops[thread.OpIndex];
                    Execute(op, thread);
                    if (++thread.RepeatDone < op.Repeat) continue;
                    thread.RepeatDone = 0;
                    if (++thread.OpIndex < phase.Ops.Count) continue;
                    thread.OpIndex = 0;
                    if (--thread.ItersLeft == 0) active--;
                }
            }
            foreach (var thread in threads) Hold(thread, null);
        }

        private void Execute(OpSpec op, ThreadState thread)
        {
            if (op.Op == OpKind.Choose)
            {
                var choice = Choose(op.OneOf!);
                for (int r = 0; r < choice.Repeat; r++) Execute(choice, thread);
                return;
            }
            var set = _sets[op.Set ?? _spec.FileSets[0].Name];
            if (op.Op == OpKind.Create)
            {
                int size = op.Size > 0 ? SizeFrom(op.Size, op.SizeMax) : SizeFrom(set.Spec.SizeMin, set.Spec.SizeMax);
                Hold(thread, CreateFile(set, size, op.Io, op.Fsync));
                _ops++;
                return;
            }
            var file = PickFile(set, op, thread);
            if (file is null) { _skipped++; return; }
            Hold(thread, file);
            switch (op.Op)
            {
                case OpKind.Delete:
                    Check(Fs.Unlink(file.Dir, file.Name), $"unlink {file.Name}");
                    Hold(thread, null);
                    RemoveLive(file);
                    break;
                case OpKind.Stat:
                {
                    var ino = Lookup(file);
                    var attr = Fs.GetAttr(ino);
                    if (!attr.Ok) throw Failure($"getattr {file.Name}", attr.Error);
                    Fs.Forget(ino, 1);
                    break;
                }
                case OpKind.Fsync:
                    WithOpen(file, OpenFlags.WriteOnly, (ino, fh) => Check(Fs.Fsync(ino, fh, dataOnly: false), $"fsync {file.Name}"));
                    break;
                case OpKind.Read:
                    ReadFile(file, op);
                    break;
                case OpKind.Write:
                    if (!WriteFile(file, op)) { _skipped++; return; }
                    break;
                case OpKind.Append:
                {
                    int size = op.Size > 0 ? SizeFrom(op.Size, op.SizeMax) : SizeFrom(set.Spec.SizeMin, set.Spec.SizeMax);
                    WithOpen(file, OpenFlags.WriteOnly, (ino, fh) =>
                    {
                        WriteRange(ino, fh, file, file.Size, size, op.Io);
                        file.Size += size;
                        if (op.Fsync) Check(Fs.Fsync(ino, fh, dataOnly: false), $"fsync {file.Name}");
                    });
                    break;
                }
                default:
                    throw new InvalidOperationException($"unhandled op {op.Op}");
            }
            _ops++;
        }

        private FileEntry CreateFile(SetState set, int size, int io, bool fsync)
        {
            int index = set.NextIndex++;
            var file = new FileEntry(set, index, set.Dirs[index % set.Dirs.Length]);
            var created = Fs.Create(file.Dir, file.Name, FileMode, OpenFlags.WriteOnly, Caller.Root);
            if (!created.Ok) throw Failure($"create {set.Spec.Name}/{file.Name}", created.Error);
            var (attr, fh) = created.Value;
            WriteRange(attr.Ino, fh, file, 0, size, io);
            file.Size = size;
            if (fsync) Check(Fs.Fsync(attr.Ino, fh, dataOnly: false), $"fsync {file.Name}");
            Check(Fs.Release(attr.Ino, fh), $"release {file.Name}");
            Fs.Forget(attr.Ino, 1);
            set.Live.Add(file);
            return file;
        }

        private void ReadFile(FileEntry file, OpSpec op)
        {
            var (offset, length) = op.Offset == OffsetMode.Whole ? (0L, file.Size) : Range(file, op);
            WithOpen(file, OpenFlags.ReadOnly, (ino, fh) =>
            {
                for (long done = 0; done < length;)
                {
                    int n = (int)Math.Min(Math.Min(op.Io, _readBuffer.Length), length - done);
                    var got = Fs.Read(ino, fh, offset + done, _readBuffer.AsSpan(0, n));
                    if (!got.Ok) throw Failure($"read {file.Name}", got.Error);
                    // The runner knows every file's size, so a short read is data the libFS lost.
                    if (got.Value != n) throw new WorkloadFailure($"phase '{_phase}': read {file.Name} at {offset + done} returned {got.Value} of {n} bytes");
                    done += n;
                    _bytesRead += n;
                }
            });
        }

        private bool WriteFile(FileEntry file, OpSpec op)
        {
            var (offset, length) = op.Offset == OffsetMode.Whole ? (0L, file.Size) : Range(file, op);
            if (length == 0) return false; // an empty file has nothing to overwrite
            WithOpen(file, OpenFlags.WriteOnly, (ino, fh) =>
            {
                WriteRange(ino, fh, file, offset, length, op.Io);
                if (op.Fsync) Check(Fs.Fsync(ino, fh, dataOnly: false), $"fsync {file.Name}");
            });
            return true;
        }

        // Where a sequential or random access of op.Size bytes goes, clipped to the file (writes never extend it).
        private (long Offset, long Length) Range(FileEntry file, OpSpec op)
        {
            long size = op.Size, length = Math.Min(size, file.Size);
            if (length == 0) return (0, 0);
            if (op.Offset == OffsetMode.Random)
                return (file.Size < size ? 0 : _rng.NextInt64(file.Size / size) * size, length);
            if (file.Cursor + length > file.Size) file.Cursor = 0;
            long at = file.Cursor;
            file.Cursor += length;
            return (at, length);
        }

        private void WriteRange(InodeNo ino, FileHandle fh, FileEntry file, long offset, long length, int io)
        {
            for (long done = 0; done < length;)
            {
                int n = (int)Math.Min(Math.Min(io, _data.Length), length - done);
                var wrote = Fs.Write(ino, fh, offset + done, _data.AsSpan(0, n));
                if (!wrote.Ok) throw Failure($"write {file.Name}", wrote.Error);
                if (wrote.Value != n) throw new WorkloadFailure($"phase '{_phase}': write {file.Name} wrote {wrote.Value} of {n} bytes");
                done += n;
                _bytesWritten += n;
            }
        }

        private void WithOpen(FileEntry file, OpenFlags flags, Action<InodeNo, FileHandle> body)
        {
            var ino = Lookup(file);
            var fh = Fs.Open(ino, flags);
            if (!fh.Ok) throw Failure($"open {file.Name}", fh.Error);
            body(ino, fh.Value);
            Check(Fs.Release(ino, fh.Value), $"release {file.Name}");
            Fs.Forget(ino, 1);
        }

        private InodeNo Lookup(FileEntry file)
        {
            var found = Fs.Lookup(file.Dir, file.Name);
            if (!found.Ok) throw Failure($"lookup {file.Name}", found.Error);
            return found.Value.Ino;
        }

        private FileEntry? PickFile(SetState set, OpSpec op, ThreadState thread)
        {
            var live = set.Live;
            int n = live.Count;
            if (op.Pick == Pick.Same) return thread.Current is { } c && c.Set == set ? c : null;
            if (n == 0) return null;
            int start;
            switch (op.Pick)
            {
                case Pick.Sequential:
                    if (set.SeqCursor >= n) set.SeqCursor = 0;
                    start = set.SeqCursor;
                    break;
                case Pick.HotCold:
                    int hot = Math.Max(1, (int)(n * op.HotFraction));
                    start = _rng.NextDouble() < op.HotShare || hot == n ? _rng.Next(hot) : hot + _rng.Next(n - hot);
                    break;
                default:
                    start = _rng.Next(n);
                    break;
            }
            // A delete skips files another thread is working on, so that thread's next "same" op still finds its
            // file (filebench keeps a busy file out of other threads' picks too); reads and writes may share a file.
            bool exclusive = op.Op == OpKind.Delete;
            for (int k = 0; k < n; k++)
            {
                int i = (start + k) % n;
                var f = live[i];
                if (!exclusive || f.Holders == 0 || f == thread.Current)
                {
                    if (op.Pick == Pick.Sequential) set.SeqCursor = i + 1;
                    return f;
                }
            }
            return null;
        }

        private void RemoveLive(FileEntry file)
        {
            var live = file.Set.Live;
            int i = live.IndexOf(file);
            live.RemoveAt(i);
            if (i < file.Set.SeqCursor) file.Set.SeqCursor--;
        }

        private static void Hold(ThreadState thread, FileEntry? file)
        {
            if (thread.Current == file) return;
            if (thread.Current is { } old) old.Holders--;
            thread.Current = file;
            if (file is not null) file.Holders++;
        }

        private OpSpec Choose(IReadOnlyList<OpSpec> choices)
        {
            double total = 0;
            foreach (var c in choices) total += c.Weight;
            double x = _rng.NextDouble() * total;
            foreach (var c in choices)
            {
                if (x < c.Weight) return c;
                x -= c.Weight;
            }
            return choices[^1];
        }

        private int SizeFrom(int min, int max) => max > min ? _rng.Next(min, max + 1) : min;

        private static int MaxIo(WorkloadSpec spec)
        {
            static IEnumerable<OpSpec> Flatten(OpSpec op) => op.OneOf is null ? [op] : [op, .. op.OneOf.SelectMany(Flatten)];
            return spec.Phases.SelectMany(p => p.Ops).SelectMany(Flatten).Select(o => o.Io).DefaultIfEmpty(64 * 1024).Max();
        }

        private void Check(Errno e, string what)
        {
            if (e != Errno.OK) throw Failure(what, e);
        }

        private WorkloadFailure Failure(string what, Errno e) => new($"phase '{_phase}': {what} failed: {e}");

        public void Dispose()
        {
            _fs?.Dispose();
            _disk.Dispose();
        }
    }
}
