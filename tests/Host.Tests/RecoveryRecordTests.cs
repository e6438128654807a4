using ExoFS.Host;

namespace ExoFS.Host.Tests;

public class RecoveryRecordTests
{
    private static readonly string[] Lines =
    [
        "xn: free map settled from the in-flight record (3 entries, 5 block(s) in flight): 5 freed, 0 allocated",
        "ffs root 'ffs': leak: inode 12 is allocated but unreachable",
        "ffs root 'home': leak: link count of inode 7 is 3, should be 2",
        "ffs root 'home': leak: block 4711 is marked used but not claimed",
    ];

    [Fact]
    public void A_record_round_trips_with_its_counts_per_source()
    {
        var when = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_123);
        var record = RecoveryRecord.From(RecoveryRecord.AfterCrash, 7, Lines, when);
        var back = RecoveryRecord.Decode(record.Encode(3068), out string? why);
        Assert.Null(why);
        Assert.NotNull(back);
        Assert.Equal(when, back!.When);
        Assert.Equal(7UL, back.MountCount);
        Assert.Equal(RecoveryRecord.AfterCrash, back.Kind);
        Assert.Equal([("xn", 1), ("ffs root 'ffs'", 1), ("ffs root 'home'", 2)], back.Sources);
        Assert.Equal(Lines, back.Lines);
    }

    [Fact]
    public void Lines_past_the_area_are_dropped_and_the_counts_stay_whole()
    {
        var many = Enumerable.Range(0, 500).Select(i => $"ffs root 'ffs': leak: inode {i} is allocated but unreachable").ToList();
        var bytes = RecoveryRecord.From(RecoveryRecord.AfterCrash, 1, many).Encode(3068);
        Assert.True(bytes.Length <= 3068);
        var back = RecoveryRecord.Decode(bytes, out _)!;
        Assert.Equal(500, back.Sources.Single().Lines);
        Assert.InRange(back.Lines.Count, 10, 499);
        Assert.Equal(many.Take(back.Lines.Count), back.Lines);
    }

    [Fact]
    public void A_damaged_record_or_an_empty_area_decodes_to_none()
    {
        Assert.Null(RecoveryRecord.Decode(new byte[3068], out string? why));
        Assert.Null(why);
        var bytes = RecoveryRecord.From(RecoveryRecord.Repair, 2, Lines).Encode(3068);
        bytes[40] ^= 0x10;
        Assert.Null(RecoveryRecord.Decode(bytes, out why));
        Assert.Equal("record checksum mismatch", why);
    }
}
