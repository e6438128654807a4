namespace ExoFS.Mount.Tests;

public class SmokeTests
{
    [FuseFact]
    public async Task Smoke()
    {
        await Task.Run(() =>
        {
            using var m = TestMount.Start();
            File.WriteAllText(m.P("hello.txt"), "hi there");
            Assert.Equal("hi there", File.ReadAllText(m.P("hello.txt")));
            Assert.Contains("hello.txt", Shell.Ok($"ls -la {m.Dir}"));
        });
    }
}
