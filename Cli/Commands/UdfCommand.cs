using System.CommandLine;
using ExoFS.Kernel.Udf;

namespace ExoFS.Cli.Commands;

/// <summary><c>exofs udf verify FILE</c>: runs the kernel's UDF verifier on a text file.</summary>
public sealed class UdfCommand : ICommand
{
    private const int MaxFileBytes = 1 << 20;

    public string Name => "udf";

    public Command Build()
    {
        var file = Cli.Argument<string>("FILE", "A UDF text file (.udf header, .types, .read, then instructions)");
        var verify = new Command("verify", "Check a UDF text file: prints 'accepted' or 'rejected: REASON' (exit 0 accepted, 1 rejected, 2 unreadable)") { file };
        verify.SetAction(r => Verify(r.GetValue(file)!, Cli.Out(r), Cli.Err(r)));
        return new Command(Name, "UDF programs: 'udf verify FILE' runs the kernel's verifier on one") { verify };
    }

    /// <summary>Exit 0 accepted, 1 rejected, 2 an unreadable file.</summary>
    private static int Verify(string path, TextWriter stdout, TextWriter stderr)
    {
        string text;
        try
        {
            // Bounded read: a UDF has at most 1024 instructions, and a path like /dev/zero must not hang us.
            using var file = File.OpenRead(path);
            var buffer = new byte[MaxFileBytes + 1];
            int total = 0, got;
            while (total < buffer.Length && (got = file.Read(buffer, total, buffer.Length - total)) > 0)
                total += got;
            if (total > MaxFileBytes)
            {
                stderr.WriteLine($"exofs udf: {path} is larger than {MaxFileBytes} bytes, too large for a UDF");
                return 2;
            }
            text = new System.Text.UTF8Encoding(false).GetString(buffer, 0, total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            stderr.WriteLine($"exofs udf: cannot read {path}: {e.Message}");
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
