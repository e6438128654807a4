using System.Text;

namespace ExoFS.Cli.Tests;

/// <summary>
/// Data checksums end to end through a real mount: a byte flipped in a file's data block of an image made with
/// <c>mkfs --data-checksums</c> makes <c>cat</c> fail with EIO, turns the mount read-only (errors=remount-ro),
/// and <c>exofs fsck</c> reports the block (exit 4).
/// </summary>
public sealed class ChecksumMountTests : IDisposable
{
    private readonly MountCliHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [FuseFact]
    public void A_flipped_data_byte_is_EIO_then_EROFS_and_fsck_exits_4()
    {
        string image = Path.Combine(_h.Dir, "sum.img");
        var mk = _h.Exofs("mkfs", image, "--size", "64M", "--data-checksums");
        Assert.True(mk.Exit == 0, mk.ToString());
        string mnt = _h.NewMountPoint();
        _h.Mount(image, mnt);
        // One block whose bytes are a marker found nowhere else in the image.
        var marker = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("exofs-csum-marker-", 228))[..4096]);
        File.WriteAllBytes(Path.Combine(_h.Dir, "marker"), marker);
        _h.Ok($"cp {Q(Path.Combine(_h.Dir, "marker"))} {Q(mnt)}/f && cat {Q(mnt)}/f > /dev/null");
        var um = _h.Exofs("umount", mnt);
        Assert.True(um.Exit == 0, um.ToString());
        Assert.Equal(0, _h.Exofs("fsck", image).Exit);

        long block = -1;
        using (var img = new FileStream(image, FileMode.Open, FileAccess.ReadWrite))
        {
            var buf = new byte[4096];
            for (long b = 0; b * 4096 < img.Length; b++)
            {
                img.Position = b * 4096;
                img.ReadExactly(buf);
                if (buf.AsSpan().SequenceEqual(marker)) { block = b; break; }
            }
            Assert.True(block > 0, "the file's data block was not found in the image");
            img.Position = block * 4096 + 123;
            int x = img.ReadByte();
            img.Position = block * 4096 + 123;
            img.WriteByte((byte)(x ^ 0x01));
        }
        var inspect = _h.Exofs("inspect", image, "block", block.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(inspect.Exit == 0 && inspect.Out.Contains("xn.data"), inspect.ToString());

        _h.Mount(image, mnt);
        var cat = _h.Sh($"cat {Q(mnt)}/f > /dev/null");
        Assert.NotEqual(0, cat.Exit);
        Assert.Contains("Input/output error", cat.Err);
        var write = _h.Sh($"echo more > {Q(mnt)}/g");
        Assert.NotEqual(0, write.Exit);
        Assert.Contains("Read-only file system", write.Err);
        _h.Exofs("umount", mnt);

        var fsck = _h.Exofs("fsck", image);
        Assert.True(fsck.Exit == 4, fsck.ToString());
        Assert.Contains($"data block {block}", fsck.Out + fsck.Err);
    }
}
