using ExoFS.Compare.Workloads;

namespace ExoFS.Compare.Tests;

/// <summary>The workload file format: every built-in round-trips, and a broken file is refused with one line.</summary>
public sealed class WorkloadFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("compare-wl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Every_builtin_round_trips_through_the_file_format()
    {
        foreach (var spec in BuiltinWorkloads.All)
        {
            string json = WorkloadFile.Save(spec);
            var back = WorkloadFile.Parse(json, out string? error);
            Assert.True(back is not null, $"{spec.Name}: {error}");
            Assert.Equal(json, WorkloadFile.Save(back!));
            Assert.Equal(spec.Phases.Count, back!.Phases.Count);
        }
    }

    [Fact]
    public void A_loaded_file_runs_exactly_as_the_builtin_it_was_saved_from()
    {
        var spec = BuiltinWorkloads.Postmark(files: 20, transactions: 30);
        string path = Path.Combine(_dir, "postmark.json");
        File.WriteAllText(path, WorkloadFile.Save(spec));
        var loaded = WorkloadFile.Load(path, out string? error);
        Assert.Null(error);
        var a = Comparison.Run(new ComparePlan([spec], [Runs.Ffs], [Runs.Disk("hdd")], Seed: 4)).Results.Select(r => r with { WallSeconds = 0 });
        var b = Comparison.Run(new ComparePlan([loaded!], [Runs.Ffs], [Runs.Disk("hdd")], Seed: 4)).Results.Select(r => r with { WallSeconds = 0 });
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_hand_written_file_with_defaults_omitted_parses()
    {
        const string json = """
            {
              // comments are allowed
              "name": "tiny",
              "device_mib": 64,
              "file_sets": [ { "name": "logs", "count": 2, "size_min": 100, "size_max": 200 } ],
              "phases": [
                { "name": "append", "threads": 2, "iterations": 3,
                  "ops": [ { "op": "append", "size": 512, "fsync": true }, { "op": "choose", "one_of": [ { "op": "stat", "weight": 3 }, { "op": "read" } ] } ] }
              ]
            }
            """;
        var spec = WorkloadFile.Parse(json, out string? error);
        Assert.Null(error);
        Assert.Equal(Pick.Random, spec!.Phases[0].Ops[0].Pick);
        Assert.Equal(3, spec.Phases[0].Ops[1].OneOf![0].Weight);
        var (results, calls, _) = Runs.Counted(spec);
        Assert.Equal(6, calls["append"].Get("fsync"));
        Assert.Equal(12, results.Single(r => r.Phase == "append").Ops);
    }

    [Theory]
    [InlineData("""{"name":"x","file_sets":[{"name":"a"}],"phases":[{"name":"p","ops":[{"op":"teleport"}]}]}""", "")]
    [InlineData("""{"name":"x","file_sets":[{"name":"a"}],"phases":[{"name":"p","opz":[]}]}""", "")]
    [InlineData("""{"name":"x","file_sets":[{"name":"a"}],"phases":[{"name":"p","ops":[{"op":"read","set":"b"}]}]}""", "unknown file set 'b'")]
    [InlineData("""{"name":"x","file_sets":[{"name":"a"}],"phases":[{"name":"p","ops":[{"op":"read","offset":"random"}]}]}""", "needs a size")]
    [InlineData("""{"name":"x","file_sets":[{"name":"a"}],"phases":[{"name":"setup","ops":[{"op":"read"}]}]}""", "reserved")]
    [InlineData("""{"name":"x","file_sets":[{"name":"a"}],"phases":[{"name":"p","ops":[{"op":"choose"}]}]}""", "choose needs one_of")]
    [InlineData("""{"name":"x","file_sets":[],"phases":[{"name":"p","ops":[{"op":"read"}]}]}""", "no file sets")]
    [InlineData("""{"name":"x","file_sets":[{"name":"a","size_min":5,"size_max":1}],"phases":[{"name":"p","ops":[{"op":"read"}]}]}""", "size_min <= size_max")]
    [InlineData("""not json""", "")]
    public void A_broken_file_is_refused_with_one_line(string json, string expected)
    {
        Assert.Null(WorkloadFile.Parse(json, out string? error));
        Assert.NotNull(error);
        Assert.Contains(expected, error);
        Assert.DoesNotContain('\n', error);
    }
}
