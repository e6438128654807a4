using ExoFS.Kernel.Udf;

namespace ExoFS.Kernel.Tests.Udf;

/// <summary>
/// Every file in Udf/corpus/ starts with "; expect: REASON" (a substring of the rejection reason) or
/// "; expect: accepted". Malicious and malformed programs must be rejected for exactly that reason.
/// </summary>
public class UdfCorpusTests
{
    private static string CorpusDir => Path.Combine(AppContext.BaseDirectory, "Udf", "corpus");

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(CorpusDir, "*.udf").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Corpus_file_gets_its_expected_verdict(string file)
    {
        string text = File.ReadAllText(Path.Combine(CorpusDir, file));
        const string marker = "; expect: ";
        string first = text.Split('\n')[0].TrimEnd('\r');
        Assert.StartsWith(marker, first);
        string expected = first[marker.Length..];
        var v = UdfVerifier.Verify(text);
        if (expected == "accepted")
            Assert.True(v.Accepted, $"{file}: rejected: {v.Reason}");
        else
        {
            Assert.False(v.Accepted, $"{file}: accepted but expected '{expected}'");
            Assert.Contains(expected, v.Reason);
        }
    }

    [Fact]
    public void Corpus_holds_at_least_fifteen_rejections_and_some_accepted_programs()
    {
        var texts = Directory.GetFiles(CorpusDir, "*.udf").Select(File.ReadAllText).ToList();
        Assert.True(texts.Count(t => !t.StartsWith("; expect: accepted")) >= 15);
        Assert.True(texts.Count(t => t.StartsWith("; expect: accepted")) >= 3);
    }
}
