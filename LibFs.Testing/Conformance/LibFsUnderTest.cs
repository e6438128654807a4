namespace ExoFS.LibFs.Testing.Conformance;

/// <summary>
/// A libFS as the shared conformance suite and the model-equivalence property see it: how to make a fresh,
/// empty instance, how to check one, and (optionally) how to remount one and how to make a small one.
/// </summary>
/// <param name="Name">The name tests are reported under ("model", "ffs", ...).</param>
/// <param name="CreateFresh">A new, empty file system on its own storage (memory disk is fine), with room for
/// a few hundred MiB of data and a sparse file with a byte at 5 GiB.</param>
/// <param name="Fsck">The libFS's consistency check on a live instance (it may sync first); one line per
/// problem, empty when clean. The suite calls it at the end of every case.</param>
public sealed record LibFsUnderTest(
    string Name,
    Func<IFileSystem> CreateFresh,
    Func<IFileSystem, IReadOnlyList<string>> Fsck)
{
    /// <summary>
    /// Syncs and disposes the given instance and opens the same storage again; null when the libFS has no
    /// storage to reopen (the persistence cases then leave it out).
    /// </summary>
    public Func<IFileSystem, IFileSystem>? Remount { get; init; }

    /// <summary>
    /// A new, empty instance whose data capacity is small (a few MiB), for the ENOSPC cases; null leaves
    /// them out. Metadata may or may not count against the capacity.
    /// </summary>
    public Func<IFileSystem>? CreateSmall { get; init; }

    /// <summary>
    /// Whether the libFS implements fallocate and SEEK_DATA/SEEK_HOLE (rather than the contract's defaults:
    /// ENOTSUP, and the whole file as data); the fallocate cases run only where it does.
    /// </summary>
    public bool SupportsFallocate { get; init; } = true;

    /// <summary>
    /// Runs one test case on a fresh instance: the body, then the fsck (which must be clean), then disposal.
    /// An fsck failure throws <see cref="FsckFailedException"/>; if the body throws, that exception wins and
    /// the instance is only disposed.
    /// </summary>
    public void RunCase(Action<FsCase> body, bool small = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        var create = small ? CreateSmall ?? throw new InvalidOperationException($"{Name} has no small configuration") : CreateFresh;
        using var c = new FsCase(this, create());
        body(c);
        c.AssertClean();
    }

    /// <summary><see cref="RunCase(Action{FsCase}, bool)"/> for a body that needs only the file system.</summary>
    public void RunCase(Action<IFileSystem> body) => RunCase(c => body(c.Fs));

    public override string ToString() => Name;
}

/// <summary>One running conformance case: the current instance (which <see cref="Remount"/> replaces).</summary>
public sealed class FsCase : IDisposable
{
    private readonly LibFsUnderTest _under;

    internal FsCase(LibFsUnderTest under, IFileSystem fs)
    {
        _under = under;
        Fs = fs;
    }

    public IFileSystem Fs { get; private set; }

    /// <summary>Unmounts and remounts the same storage (fsck must be clean before); throws if the libFS cannot.</summary>
    public IFileSystem Remount()
    {
        var remount = _under.Remount ?? throw new InvalidOperationException($"{_under.Name} cannot remount");
        AssertClean();
        Fs = remount(Fs);
        return Fs;
    }

    /// <summary>Throws <see cref="FsckFailedException"/> if the libFS's fsck reports anything.</summary>
    public void AssertClean()
    {
        var errors = _under.Fsck(Fs);
        if (errors.Count != 0) throw new FsckFailedException(_under.Name, errors);
    }

    public void Dispose() => Fs.Dispose();
}

/// <summary>The libFS's fsck found problems at the end of a case (or before a remount).</summary>
public sealed class FsckFailedException(string libfs, IReadOnlyList<string> errors)
    : Exception($"{libfs} fsck found {errors.Count} problem(s):\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
