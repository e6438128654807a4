using ExoFS.Kernel;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Runtime;
using ExoFS.Xn;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs.Tests;

/// <summary>The libOS runtime pieces FFS uses (LibFs/Runtime).</summary>
public class RuntimeTests
{
    [Theory]
    [InlineData(XnError.None, Errno.OK)]
    [InlineData(XnError.NoSpace, Errno.ENOSPC)]
    [InlineData(XnError.ReadOnly, Errno.EROFS)]
    [InlineData(XnError.BadCapability, Errno.EACCES)]
    [InlineData(XnError.NotFree, Errno.EBUSY)]
    [InlineData(XnError.DiffMismatch, Errno.EIO)]
    public void Xn_refusals_map_to_errnos(XnError error, Errno expected) => Assert.Equal(expected, XnClient.ToErrno(error));

    [Fact]
    public void Mounting_a_root_needs_a_capability_in_the_wallet_and_refusals_are_explained()
    {
        var kernel = new ExoKernel();
        using var vol = XnVolume.Format(new MemoryDevice(4096), kernel).Value;
        var owner = new XnClient(vol.Attach(kernel.CreateEnvironment("owner")));
        var root = owner.InstallRoot("r", XnTypes.Data);
        Assert.True(root.Ok);
        Assert.NotNull(owner.Wallet.Get("r"));

        var stranger = new XnClient(vol.Attach(kernel.CreateEnvironment("stranger")));
        Assert.Equal(Errno.EACCES, stranger.MountRoot("r").Error);
        Assert.Contains("no capability", stranger.LastRefusal);
        // Someone else's capability is refused by the kernel, and XN says why.
        stranger.Wallet.Put("r", owner.Wallet.Get("r")!);
        Assert.Equal(Errno.EACCES, stranger.MountRoot("r").Error);
        Assert.Contains("BadCapability", stranger.LastRefusal);
        var granted = vol.GrantRoot("r", stranger.Session.Environment);
        stranger.Wallet.Put("r", granted.Value);
        Assert.True(stranger.MountRoot("r").Ok);
    }

    [Fact]
    public void An_image_of_another_ffs_format_is_refused_before_any_new_type_is_added_to_it()
    {
        // An image whose ffs.inodes is not this format's (as a format-2 image's is): the refusal adds nothing.
        var kernel = new ExoKernel();
        using var vol = XnVolume.Format(new MemoryDevice(4096), kernel).Value;
        var xn = new XnClient(vol.Attach(kernel.CreateEnvironment("ffs")));
        Assert.True(xn.RegisterType(XnFfsDisk.Specs[0] with { Name = "ffs.inodes" }).Ok);
        var before = vol.TypeTable.Count;
        var disk = XnFfsDisk.Create(xn, vol.BlockCount);
        Assert.False(disk.Ok);
        Assert.Contains("older format", XnFfsDisk.TypesRefused(xn));
        Assert.Equal(before, vol.TypeTable.Count);
        Assert.False(xn.FindType("ffs.dir").Ok);
    }

    [Fact]
    public void A_format_3_image_whose_super_udf_emits_block_bitmaps_is_refused_as_an_older_format()
    {
        // Format 3's ffs.super emitted each group's block bitmap (ffs.bitmap) from bytes 0-7 of its entry.
        string format3Super = $"""
            .udf ffs.super.owns
            .partitions {FfsLayout.MaxGroups}
            .types ffs.bitmap ffs.inodes ffs.ibitmap
            .read {Superblock.GroupTableOffset} {GroupEntry.PointerBytes} {GroupEntry.Size}
            .fuel 3200
              li   r2, {GroupEntry.Size}
              mul  r2, r1, r2
              add  r2, r2, {Superblock.GroupTableOffset}
              ld64 r3, [r2+0]
              beq  r3, 0, nobb
              emit 0, r3, 1
            nobb:
              ld64 r3, [r2+{GroupEntry.InodeBitmapOffset}]
              beq  r3, 0, noib
              emit 2, r3, 1
            noib:
              ld64 r3, [r2+{GroupEntry.InodeTableOffset}]
              ld32 r4, [r2+{GroupEntry.InodeTableBlocksOffset}]
              beq  r3, 0, done
              beq  r4, 0, done
              bgeu r4, {FfsLayout.MaxInodeTableBlocks + 1}, done
            next:
              emit 1, r3, 1
              add  r3, r3, 1
              loop r4, next
            done:
              ret  0
            """;
        var kernel = new ExoKernel();
        using var vol = XnVolume.Format(new MemoryDevice(4096), kernel).Value;
        var xn = new XnClient(vol.Attach(kernel.CreateEnvironment("ffs")));
        Assert.True(xn.RegisterType(XnFfsDisk.Specs[0] with { Name = "ffs.bitmap", OwnsUdf = FfsUdfs.LeafOwns("ffs.bitmap") }).Ok);
        foreach (var spec in XnFfsDisk.Specs.Take(XnFfsDisk.Specs.Count - 1)) Assert.True(xn.RegisterType(spec).Ok, xn.LastRefusal);
        var super = XnFfsDisk.Specs[^1];
        Assert.Equal(FfsUdfs.SuperType, super.Name);
        Assert.True(xn.RegisterType(super with { OwnsUdf = format3Super }).Ok, xn.LastRefusal);
        var disk = XnFfsDisk.Create(xn, vol.BlockCount);
        Assert.False(disk.Ok);
        Assert.Contains("older format", XnFfsDisk.TypesRefused(xn));
        Assert.Contains($"format {Superblock.CurrentVersion}", XnFfsDisk.TypesRefused(xn));
    }
}
