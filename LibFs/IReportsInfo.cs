namespace ExoFS.LibFs;

/// <summary>
/// A file system with figures of its own for <c>exofs info</c> beside XN's (an LFS: its segments, checkpoint
/// and cleaner): one line each, a short name and its value, read under the file system's lock.
/// </summary>
public interface IReportsInfo
{
    IReadOnlyList<(string Name, string Value)> InfoLines();
}
