using System.Buffers.Binary;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Testing;
using ExoFS.Xn;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// Each partial segment is claimed by its segment's head as typed extents: XN knows which log blocks hold inode
/// records (lfs.inodes) and the inode map (lfs.imap). A claim that lies — about a block's type, or naming a block
/// outside the claiming head's own segment — is refused by XN.
/// </summary>
public sealed class TypedClaimTests
{
    private static readonly InodeNo Root = InodeNo.Root;

    [Fact]
    public void Inode_and_inode_map_blocks_are_typed_in_XN_and_data_stays_xn_data()
    {
        var dev = new MemoryDevice(8192);
        var fs = LfsImage.FormatDevice(dev, out _).Value;
        var f = fs.WriteFile(Root, "f", new byte[10_000]);
        fs.MakeDir(Root, "d");
        ulong imap, inodes, data;
        fs.Dispose();
        fs = LfsImage.MountDevice(dev, out _).Value;
        lock (fs.Lock)
        {
            imap = fs.Imap.BlockAddrs[0];
            inodes = fs.Imap.LiveInodeBlocks.First();
            data = fs.Tree.Lookup(fs.GetInode(f.Ino.Value).Value, 1).Value;
        }
        LfsTestKit.AssertClean(fs);
        fs.Dispose();

        var host = ExoHost.Load(dev, out string? error, new HostOptions { ReadOnly = true });
        Assert.True(host.Ok, error);
        try
        {
            Assert.Equal(LfsUdfs.ImapType, host.Value.InspectBlock(imap)!.Type);
            Assert.Equal(LfsUdfs.InodesType, host.Value.InspectBlock(inodes)!.Type);
            Assert.Equal(XnTypes.DataName, host.Value.InspectBlock(data)!.Type);
        }
        finally { host.Value.Dispose(); }
    }

    private static Edit ClaimEntry(int e, ulong start, uint count, ushort inodes, ushort imap)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, start);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), count);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(12), inodes);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(14), imap);
        return new Edit(SegHead.EntryOffset(e), b);
    }

    [Fact]
    public void A_lying_claim_is_refused_wrong_type_or_outside_its_segment()
    {
        var dev = new MemoryDevice(8192);
        var fs = LfsImage.FormatDevice(dev, out _).Value;
        fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.OK, fs.Sync());
        lock (fs.Lock)
        {
            var disk = (XnLfsDisk)fs.RawDisk;
            var session = disk.Client.Session;
            int slot = fs.Log.HeadSlot;
            ulong head = disk.SegmentStart(slot);
            Assert.True(fs.Log.HeadOffset + 8 < disk.Super.SegmentBlocks);
            ulong free = head + disk.Super.SegmentBlocks - 4; // unwritten, unclaimed body blocks at the end of the head segment
            var types = XnLfsDisk.XTypes(disk.Client, lookupOnly: true).Value;
            int e = SegHead.Entries - 1; // an unused claim entry

            // The entry says "2 inode blocks" but the claim calls them map blocks: XN's diff check refuses it.
            var wrongType = session.Claim(new BlockNo(head), e, [ClaimEntry(e, free, 2, 2, 0)], [(types.Imap, new Extent(new BlockNo(free), 2))]);
            Assert.False(wrongType.Ok);
            // The entry says xn.data but the claim types the blocks as inode blocks.
            var dataAsInodes = session.Claim(new BlockNo(head), e, [ClaimEntry(e, free, 2, 0, 0)], [(types.Inodes, new Extent(new BlockNo(free), 2))]);
            Assert.False(dataAsInodes.Ok);
            // A block the LFS owns outside its segments (a checkpoint region), or a free one past the segment: the
            // head may claim only its own segment's body.
            ulong other = disk.CheckpointStart(0);
            var outside = session.Claim(new BlockNo(head), e, [ClaimEntry(e, other, 1, 1, 0)], [(types.Inodes, new Extent(new BlockNo(other), 1))]);
            Assert.False(outside.Ok);
            Assert.Equal(XnError.OutsideSegment, outside.Error);
            ulong beyond = head + disk.Super.SegmentBlocks + 3;
            var past = session.Claim(new BlockNo(head), e, [ClaimEntry(e, beyond, 1, 0, 1)], [(types.Imap, new Extent(new BlockNo(beyond), 1))]);
            Assert.False(past.Ok);
            // The honest claim of the same blocks goes through (so the refusals above were about the lie).
            var honest = session.Claim(new BlockNo(head), e, [ClaimEntry(e, free, 2, 2, 0)], [(types.Inodes, new Extent(new BlockNo(free), 2))]);
            Assert.True(honest.Ok, honest.ToString());
        }
        fs.Dispose();
    }
}
