using System.Globalization;
using System.Text;

namespace ExoFS.LibFs.Testing.Crash;

/// <summary>What a workload step does. Paths are absolute ("/A/foo") inside the crash namespace.</summary>
public enum CrashOpKind { Create, Write, Truncate, Rename, Link, Unlink, Mkdir, Rmdir, Fsync, Sync, Symlink, SetXattr, RemoveXattr, Chmod, Chown, Utimes, Exchange }

/// <summary>
/// One step of a crash workload. <see cref="Path"/> is the operand (unused by Sync), <see cref="Target"/> the
/// second path of Rename, Link and Exchange. Write puts <see cref="Length"/> bytes of <see cref="Pattern"/> at
/// <see cref="Offset"/>; Truncate sets the size to <see cref="Offset"/>. Fsync on a directory is fsyncdir.
/// Symlink makes <see cref="Path"/> a symlink whose text is <see cref="Target"/>; SetXattr sets attribute
/// <see cref="Target"/> to <see cref="Length"/> pattern bytes, RemoveXattr removes it; Chmod sets the permission
/// bits to <see cref="Offset"/>, Chown the owner to <see cref="Offset"/> and group to <see cref="Length"/>,
/// Utimes atime and mtime to <see cref="Offset"/> seconds.
/// </summary>
public sealed record CrashOp(CrashOpKind Kind, string Path = "", string Target = "", long Offset = 0, int Length = 0, int Seed = 0)
{
    public static CrashOp Create(string path) => new(CrashOpKind.Create, path);
    public static CrashOp Write(string path, long offset, int length, int seed) => new(CrashOpKind.Write, path, "", offset, length, seed);
    public static CrashOp Truncate(string path, long size) => new(CrashOpKind.Truncate, path, "", size);
    public static CrashOp Rename(string from, string to) => new(CrashOpKind.Rename, from, to);
    public static CrashOp Link(string from, string to) => new(CrashOpKind.Link, from, to);
    /// <summary>rename(2) with RENAME_EXCHANGE: <paramref name="a"/> and <paramref name="b"/> swap the inodes they name.</summary>
    public static CrashOp Exchange(string a, string b) => new(CrashOpKind.Exchange, a, b);
    public static CrashOp Unlink(string path) => new(CrashOpKind.Unlink, path);
    public static CrashOp Mkdir(string path) => new(CrashOpKind.Mkdir, path);
    public static CrashOp Rmdir(string path) => new(CrashOpKind.Rmdir, path);
    public static CrashOp Fsync(string path) => new(CrashOpKind.Fsync, path);
    public static CrashOp Sync() => new(CrashOpKind.Sync);
    public static CrashOp Symlink(string path, string text) => new(CrashOpKind.Symlink, path, text);
    public static CrashOp SetXattr(string path, string name, int length, int seed) => new(CrashOpKind.SetXattr, path, name, 0, length, seed);
    public static CrashOp RemoveXattr(string path, string name) => new(CrashOpKind.RemoveXattr, path, name);
    public static CrashOp Chmod(string path, uint mode) => new(CrashOpKind.Chmod, path, "", mode);
    public static CrashOp Chown(string path, uint uid, uint gid) => new(CrashOpKind.Chown, path, "", uid, (int)gid);
    public static CrashOp Utimes(string path, long seconds) => new(CrashOpKind.Utimes, path, "", seconds);

    /// <summary>A persistence operation: the oracle may tighten what must survive once it returns.</summary>
    public bool IsPersistence => Kind is CrashOpKind.Fsync or CrashOpKind.Sync;

    // The bytes of each step, made once: the model and the target both write them, in every workload that has the step.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<CrashOp, byte[]> Bytes = new();

    /// <summary>The bytes a Write puts (see <see cref="Data"/>), shared and read-only.</summary>
    internal ReadOnlyMemory<byte> SharedData() => Bytes.GetValue(this, op => op.Data());

    /// <summary>The bytes a Write puts: see <see cref="Patterns.Byte"/>.</summary>
    public byte[] Data()
    {
        var data = new byte[Length];
        for (int i = 0; i < data.Length; i++) data[i] = Patterns.Byte(Seed, Offset + i);
        return data;
    }

    /// <summary>Text form, one line, e.g. <c>write /A/foo 4096 100 seed=7</c>.</summary>
    public override string ToString() => Kind switch
    {
        CrashOpKind.Write => string.Create(CultureInfo.InvariantCulture, $"write {Path} {Offset} {Length} seed={Seed}"),
        CrashOpKind.Truncate => string.Create(CultureInfo.InvariantCulture, $"truncate {Path} {Offset}"),
        CrashOpKind.Rename or CrashOpKind.Link or CrashOpKind.Exchange or CrashOpKind.Symlink or CrashOpKind.RemoveXattr => $"{Kind.ToString().ToLowerInvariant()} {Path} {Target}",
        CrashOpKind.SetXattr => string.Create(CultureInfo.InvariantCulture, $"setxattr {Path} {Target} {Length} seed={Seed}"),
        CrashOpKind.Chmod => $"chmod {Path} {Convert.ToString(Offset, 8)}",
        CrashOpKind.Chown => string.Create(CultureInfo.InvariantCulture, $"chown {Path} {Offset}:{Length}"),
        CrashOpKind.Utimes => string.Create(CultureInfo.InvariantCulture, $"utimes {Path} {Offset}"),
        CrashOpKind.Sync => "sync",
        _ => $"{Kind.ToString().ToLowerInvariant()} {Path}",
    };
}

/// <summary>
/// A crash workload: <see cref="Setup"/> runs first and ends in a sync with no crash checks (it builds the
/// starting state); every step of <see cref="Ops"/> is then run under the crash explorer.
/// </summary>
public sealed record Workload(IReadOnlyList<CrashOp> Setup, IReadOnlyList<CrashOp> Ops)
{
    /// <summary>The seed that generated this workload (<see cref="CrashWorkloads.Random"/>); null once shrunk or built by hand.</summary>
    public int? Seed { get; init; }

    public bool Equals(Workload? other) => other is not null && Setup.SequenceEqual(other.Setup) && Ops.SequenceEqual(other.Ops);

    public override int GetHashCode() => HashCode.Combine(Setup.Count, Ops.Count, Ops.Count > 0 ? Ops[0] : null);

    /// <summary>Multi-line text: the setup (if any) on one line, then one numbered line per step.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Seed is { } seed) sb.Append(CultureInfo.InvariantCulture, $"seed {seed}\n");
        if (Setup.Count > 0) sb.Append("setup: ").AppendJoin("; ", Setup).Append('\n');
        for (int i = 0; i < Ops.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"  {i + 1}. {Ops[i]}\n");
        return sb.ToString().TrimEnd('\n');
    }
}

/// <summary>The byte patterns writes use, so that any byte found after a crash names the write it came from.</summary>
public static class Patterns
{
    /// <summary>
    /// The byte a write with pattern <paramref name="seed"/> puts at file offset <paramref name="offset"/>:
    /// a hash of both, never zero (so zero fill is never mistaken for data), and dependent on the absolute
    /// offset (so a block landing at the wrong place shows).
    /// </summary>
    public static byte Byte(int seed, long offset)
    {
        ulong x = (ulong)offset * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)seed * 0xC2B2AE3D27D4EB4FUL;
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 32;
        byte b = (byte)x;
        return b == 0 ? (byte)0x5A : b;
    }
}
