namespace ExoFS.Mount;

/// <summary>A mount or unmount could not be done; <see cref="Exception.Message"/> is one line fit for a user.</summary>
public sealed class MountException : Exception
{
    public MountException(string message) : base(message) { }
    public MountException(string message, Exception inner) : base(message, inner) { }
}
