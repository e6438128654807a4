using ExoFS.Kernel.Udf;

namespace ExoFS.Cli.Commands;

/// <summary><c>exofs udf verify FILE</c>: runs the kernel's UDF verifier on a text file.</summary>
public sealed class UdfCommand : ICommand
{
    private const int MaxFileBytes = 1 << 20;

    public string Name => "udf";

    public string Usage => "udf verify FILE      check a UDF text file: prints 'accepted' or 'rejected: REASON'";

    /// <summary>Exit 0 accepted, 1 rejected, 2 bad arguments or an unreadable file.</summary>
    public int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length != 2 || args[0] != "verify")
        {
            stderr.WriteLine("exofs udf: usage: exofs udf verify FILE");
            return 2;
        }
        string text;
        try
        {
            // Bounded read: a UDF has at most 1024 instructions, and a path like /dev/zero must not hang us.
            using var file = File.OpenRead(args[1]);
            var buffer = new byte[MaxFileBytes + 1];
            int total = 0, got;
            while (total < buffer.Length && (got = file.Read(buffer, total, buffer.Length - total)) > 0)
                total += got;
            if (total > MaxFileBytes)
            {
                stderr.WriteLine($"exofs udf: {args[1]} is larger than {MaxFileBytes} bytes, too large for a UDF");
                return 2;
            }
            text = new System.Text.UTF8Encoding(false).GetString(buffer, 0, total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            stderr.WriteLine($"exofs udf: cannot read {args[1]}: {e.Message}");
            return 2;
        }
        var verdict = UdfVerifier.Verify(text);
        if (verdict.Accepted)
        {
            stdout.WriteLine("accepted");
            return 0;
        }
        stdout.WriteLine($"rejected: {verdict.Reason}");
        return 1;
    }
}
