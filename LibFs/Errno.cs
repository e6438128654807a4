namespace ExoFS.LibFs;

/// <summary>POSIX error numbers with Linux's values (a FUSE reply sends them unchanged).</summary>
public enum Errno
{
    OK = 0,
    EPERM = 1, ENOENT = 2, EIO = 5, ENXIO = 6, E2BIG = 7, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
    EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EMFILE = 24,
    EFBIG = 27, ENOSPC = 28, ESPIPE = 29, EROFS = 30, EMLINK = 31, ERANGE = 34, ENAMETOOLONG = 36,
    ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EOVERFLOW = 75, EUCLEAN = 117, ENOTSUP = 95,
}

/// <summary>
/// The outcome of a libFS call: a value, or an errno. Expected failures travel as results, never as
/// exceptions (an exception means a bug or a broken disk).
/// </summary>
public readonly struct Result<T>
{
    private readonly T? _value;

    public Result(T value) { _value = value; Error = Errno.OK; }
    private Result(Errno error) { _value = default; Error = error; }

    public Errno Error { get; }
    public bool Ok => Error == Errno.OK;

    /// <summary>The value; throws if this result is an error (a caller bug).</summary>
    public T Value => Ok ? _value! : throw new InvalidOperationException($"result is {Error}, not a value");

    public static Result<T> Fail(Errno error) =>
        error == Errno.OK ? throw new ArgumentException("a failure needs an errno", nameof(error)) : new(error);

    public static implicit operator Result<T>(T value) => new(value);
    public static implicit operator Result<T>(Errno error) => Fail(error);

    public override string ToString() => Ok ? $"Ok({_value})" : Error.ToString();
}
