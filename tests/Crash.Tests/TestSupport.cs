using ExoFS.LibFs.Testing.Crash;
using FsCheck;
using Xunit.Abstractions;

namespace ExoFS.Crash.Tests;

/// <summary>Sends FsCheck's report to xUnit's output and throws on failure (xUnit 2 hides Console output).</summary>
internal sealed class XunitRunner(ITestOutputHelper output) : IRunner
{
    public void OnStartFixture(Type t) { }
    public void OnArguments(int ntest, Microsoft.FSharp.Collections.FSharpList<object> args, Microsoft.FSharp.Core.FSharpFunc<int, Microsoft.FSharp.Core.FSharpFunc<Microsoft.FSharp.Collections.FSharpList<object>, string>> every) { }
    public void OnShrink(Microsoft.FSharp.Collections.FSharpList<object> args, Microsoft.FSharp.Core.FSharpFunc<Microsoft.FSharp.Collections.FSharpList<object>, string> everyShrink) { }
    public void OnFinished(string name, TestResult result)
    {
        string text = Runner.onFinishedToString(name, result);
        output.WriteLine(text);
        if (!result.IsPassed) throw new PropertyFailedException(text);
    }
}

/// <summary>An FsCheck property failed; the message is FsCheck's report (original and shrunk workload).</summary>
internal sealed class PropertyFailedException(string report) : Exception(report);

internal static class Explore
{
    /// <summary>Small per-point bound: the toy's points have few states anyway.</summary>
    public static readonly CrashExplorerOptions Options = new() { MaxStatesPerPoint = 256 };

    public static CrashRunResult Run(ICrashTarget target, params CrashOp[] ops) =>
        CrashExplorer.Run(target, new Workload(CrashWorkloads.StandardSetup, ops), Options);
}
