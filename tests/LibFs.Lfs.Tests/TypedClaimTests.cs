using System.Buffers.Binary;
using ExoFS.Host;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Lfs.Format;
using ExoFS.LibFs.Testing;
using ExoFS.Xn;

namespace ExoFS.LibFs.Lfs.Tests;

/// <summary>
/// Each partial segment is claimed by its segment's head as typed extents: XN knows which log blocks hold tree nodes
/// (lfs.nodes), inode records (lfs.inodes) and the inode map (lfs.imap). A claim that lies — about a block's type,
/// with typed counts its run cannot hold, or naming a block outside the claiming head's own segment — is refused
/// by XN and changes nothing; fsck and roll-forward check the claims against the summaries.
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

    private static Edit ClaimEntry(int e, ulong start, uint count, ushort inodes, ushort imap, ushort nodes = 0)
    {
        var b = new byte[Format.ClaimEntry.Size];
        new Format.ClaimEntry(start, count, new TypedCounts(nodes, inodes, imap)).WriteTo(b);
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

    [Fact]
    public void Tree_nodes_are_typed_lfs_nodes_and_every_partial_ends_nodes_inodes_imap()
    {
        var dev = new MemoryDevice(16384);
        var fs = LfsImage.FormatDevice(dev, out _).Value;
        // 700 blocks: the direct blocks, the single-indirect tree (1 node) and the double-indirect one (2 nodes).
        var big = fs.WriteFile(Root, "big", new byte[700 * LfsLayout.BlockSize]);
        var small = fs.WriteFile(Root, "small", new byte[20 * LfsLayout.BlockSize]);
        fs.Dispose();
        fs = LfsImage.MountDevice(dev, out _).Value;
        var nodes = new List<ulong>();
        var data = new List<ulong>();
        lock (fs.Lock)
        {
            foreach (var ino in new[] { big.Ino.Value, small.Ino.Value })
                Assert.Equal(Errno.OK, fs.Tree.Walk(fs.GetInode(ino).Value, (kind, _, addr) => (kind == LogKind.Node ? nodes : data).Add(addr)));
            // Every partial XN holds is laid out [contents, nodes, inodes, imap] and its claim says so.
            var disk = (XnLfsDisk)fs.RawDisk;
            var block = new byte[LfsLayout.BlockSize];
            int partials = 0;
            foreach (int slot in fs.Usage.AllocatedSlots)
                foreach (var c in disk.Claims(slot)!)
                {
                    Assert.Equal(Errno.OK, disk.Read(c.Start, block));
                    var sum = Summary.ReadFrom(block);
                    Assert.NotNull(sum);
                    Assert.True(TypedCounts.InOrder(sum), $"partial at {c.Start}: {string.Join(",", sum.Entries.Select(x => x.Kind))}");
                    Assert.Null(c.Disagreement(sum));
                    partials++;
                }
            Assert.True(partials >= 4, $"{partials} partials");
        }
        Assert.Equal(4, nodes.Count); // 1 single-indirect node, the double-indirect root and its 1 child; small's 1 node
        LfsTestKit.AssertClean(fs);
        fs.Dispose();

        var host = ExoHost.Load(dev, out string? error, new HostOptions { ReadOnly = true });
        Assert.True(host.Ok, error);
        try
        {
            foreach (ulong n in nodes) Assert.Equal(LfsUdfs.NodesType, host.Value.InspectBlock(n)!.Type);
            foreach (ulong d in data) Assert.Equal(XnTypes.DataName, host.Value.InspectBlock(d)!.Type);
            Assert.Empty(host.Value.Check().Findings);
        }
        finally { host.Value.Dispose(); }
    }

    /// <summary>Two LFS roots on one volume, each its own guest (environment, session, capability).</summary>
    private sealed class TwoLfs : IDisposable
    {
        public MemoryDevice Dev { get; } = new(16384);
        public ExoHost Host { get; }
        public LfsFileSystem A { get; }
        public LfsFileSystem B { get; }

        public TwoLfs()
        {
            var host = ExoHost.Format(Dev, [new RootRequest("lfs", "a"), new RootRequest("lfs", "b")], out string? error,
                libFses: [new LfsLibFs(new LfsFormatOptions(), new LfsMountOptions())]);
            Assert.True(host.Ok, error);
            Host = host.Value;
            A = Attach("a");
            B = Attach("b");
            A.WriteFile(Root, "f", new byte[300 * LfsLayout.BlockSize]); // more than one 1 MiB segment
            B.WriteFile(Root, "g", new byte[30 * LfsLayout.BlockSize]);
            Assert.Equal(Errno.OK, A.Sync());
            Assert.Equal(Errno.OK, B.Sync());
        }

        private LfsFileSystem Attach(string root)
        {
            var g = Host.Attach(root, out string? error, libFs: new LfsLibFs(new LfsFormatOptions(), new LfsMountOptions()));
            Assert.True(g.Ok, error);
            return (LfsFileSystem)g.Value.FileSystem;
        }

        /// <summary>Runs <paramref name="attempt"/> and proves it was refused with <paramref name="error"/> and changed nothing: device bytes, XN's state.</summary>
        public void Refused(XnError? error, Func<XnResult> attempt)
        {
            string state = Host.Volume.StateFingerprint();
            byte[] bytes = Dev.Snapshot();
            var r = attempt();
            Assert.False(r.Ok, "the claim was accepted");
            if (error is { } e) Assert.Equal(e, r.Error);
            Assert.Equal(state, Host.Volume.StateFingerprint());
            Assert.True(bytes.AsSpan().SequenceEqual(Dev.Snapshot()), "the device changed");
        }

        public void Dispose()
        {
            A.Dispose();
            B.Dispose();
            Host.Dispose();
        }
    }

    /// <summary>The claiming side of an LFS: its session, its current head segment, unwritten body blocks at its end, its types.</summary>
    private static (XnSession Session, ulong Head, ulong Free, (TypeId Head, TypeId SegTab, TypeId Super, TypeId Nodes, TypeId Inodes, TypeId Imap) Types, XnLfsDisk Disk) Claimer(LfsFileSystem fs)
    {
        var disk = (XnLfsDisk)fs.RawDisk;
        ulong head = disk.SegmentStart(fs.Log.HeadSlot);
        Assert.True(fs.Log.HeadOffset + 8 < disk.Super.SegmentBlocks);
        return (disk.Client.Session, head, head + disk.Super.SegmentBlocks - 4, XnLfsDisk.XTypes(disk.Client, lookupOnly: true).Value, disk);
    }

    [Fact]
    public void A_claim_that_types_a_data_block_as_a_node_or_a_node_as_data_is_refused()
    {
        using var w = new TwoLfs();
        lock (w.A.Lock)
        {
            var (session, head, free, types, _) = Claimer(w.A);
            int e = SegHead.Entries - 1;
            var hd = new BlockNo(head);
            // The entry says [1 data, 1 node]; the claims swap them, or call both data, or both nodes.
            var entry = ClaimEntry(e, free, 2, 0, 0, nodes: 1);
            w.Refused(null, () => session.Claim(hd, e, [entry], [(types.Nodes, new Extent(new BlockNo(free), 1)), (XnTypes.Data, new Extent(new BlockNo(free + 1), 1))]));
            w.Refused(null, () => session.Claim(hd, e, [entry], [(XnTypes.Data, new Extent(new BlockNo(free), 2))]));
            w.Refused(null, () => session.Claim(hd, e, [entry], [(types.Nodes, new Extent(new BlockNo(free), 2))]));
            // The entry says 2 data blocks; the claim types the second as a node.
            w.Refused(null, () => session.Claim(hd, e, [ClaimEntry(e, free, 2, 0, 0)], [(XnTypes.Data, new Extent(new BlockNo(free), 1)), (types.Nodes, new Extent(new BlockNo(free + 1), 1))]));
            // The entry says [1 data, 1 node] and the claim agrees: accepted, and XN holds the node as lfs.nodes.
            var honest = session.Claim(hd, e, [entry], [(XnTypes.Data, new Extent(new BlockNo(free), 1)), (types.Nodes, new Extent(new BlockNo(free + 1), 1))]);
            Assert.True(honest.Ok, honest.ToString());
            Assert.Equal(LfsUdfs.NodesType, w.Host.InspectBlock(free + 1)!.Type);
        }
    }

    [Fact]
    public void A_claim_whose_typed_counts_exceed_its_run_types_nothing()
    {
        using var w = new TwoLfs();
        lock (w.A.Lock)
        {
            var (session, head, free, types, _) = Claimer(w.A);
            int e = SegHead.Entries - 1;
            var hd = new BlockNo(head);
            // 2 blocks, but 1 node + 1 inode + 1 imap block: the head's owns-UDF emits nothing for the entry, so any
            // typed extent the claim names is one the entry does not.
            var over = ClaimEntry(e, free, 2, 1, 1, nodes: 1);
            w.Refused(null, () => session.Claim(hd, e, [over], [(types.Nodes, new Extent(new BlockNo(free), 1)), (types.Inodes, new Extent(new BlockNo(free + 1), 1))]));
            w.Refused(null, () => session.Claim(hd, e, [over], [(XnTypes.Data, new Extent(new BlockNo(free), 2))]));
            // Counts that wrap past u16 in one field are no way round it: 0xFFFF nodes in a 2-block run.
            w.Refused(null, () => session.Claim(hd, e, [ClaimEntry(e, free, 2, 0, 0, nodes: ushort.MaxValue)], [(types.Nodes, new Extent(new BlockNo(free), 2))]));
            // The blocks stay untyped body: the honest claim of them still goes through.
            var honest = session.Claim(hd, e, [ClaimEntry(e, free, 2, 1, 0, nodes: 1)], [(types.Nodes, new Extent(new BlockNo(free), 1)), (types.Inodes, new Extent(new BlockNo(free + 1), 1))]);
            Assert.True(honest.Ok, honest.ToString());
        }
    }

    [Fact]
    public void A_libfs_cannot_type_or_claim_a_block_outside_its_own_segments()
    {
        using var w = new TwoLfs();
        lock (w.A.Lock)
        lock (w.B.Lock)
        {
            var (session, head, free, types, disk) = Claimer(w.A);
            var (_, headB, freeB, _, diskB) = Claimer(w.B);
            int e = SegHead.Entries - 1;
            var hd = new BlockNo(head);
            // B's unwritten body blocks, and B's tree node (a block XN holds as lfs.nodes for B), named by A's head.
            w.Refused(XnError.OutsideSegment, () => session.Claim(hd, e, [ClaimEntry(e, freeB, 1, 0, 0, nodes: 1)], [(types.Nodes, new Extent(new BlockNo(freeB), 1))]));
            ulong nodeB = w.B.GetInode(w.B.Get(Root, "g").Ino.Value).Value.Rec.Roots[0]; // g's single-indirect node
            Assert.Equal(LfsUdfs.NodesType, w.Host.InspectBlock(nodeB)!.Type);
            w.Refused(XnError.OutsideSegment, () => session.Claim(hd, e, [ClaimEntry(e, nodeB, 1, 0, 0)], [(XnTypes.Data, new Extent(new BlockNo(nodeB), 1))]));
            // B's head itself, claimed through with A's session: A holds no capability for it.
            w.Refused(XnError.BadCapability, () => session.Claim(new BlockNo(headB), e, [ClaimEntry(e, freeB, 1, 0, 0, nodes: 1)], [(types.Nodes, new Extent(new BlockNo(freeB), 1))]));
            // Another of A's own segments (an older one, full), named by the head segment's claim.
            int other = w.A.Usage.AllocatedSlots.First(s => s != w.A.Log.HeadSlot && disk.SegmentStart(s) != head);
            ulong inOther = disk.SegmentStart(other) + 1;
            w.Refused(XnError.OutsideSegment, () => session.Claim(hd, e, [ClaimEntry(e, inOther, 1, 0, 0, nodes: 1)], [(types.Nodes, new Extent(new BlockNo(inOther), 1))]));
            // A's checkpoint region (A's, but outside every segment).
            ulong cp = disk.CheckpointStart(0);
            w.Refused(XnError.OutsideSegment, () => session.Claim(hd, e, [ClaimEntry(e, cp, 1, 0, 0, nodes: 1)], [(types.Nodes, new Extent(new BlockNo(cp), 1))]));
        }
        Assert.Empty(w.Host.Check().Findings);
    }

    [Fact]
    public void Fsck_reports_a_claim_that_disagrees_with_its_partials_summary()
    {
        var dev = new MemoryDevice(8192);
        var fs = LfsImage.FormatDevice(dev, out _).Value;
        fs.WriteFile(Root, "f", "x");
        Assert.Equal(Errno.OK, fs.Sync());
        lock (fs.Lock)
        {
            var (session, head, free, types, disk) = Claimer(fs);
            int slot = fs.Log.HeadSlot;
            int e = disk.Claims(slot)!.Count; // the next unused entry, as the LFS would use it
            // A partial at the segment's end whose summary says [node, inode block], claimed as [data, inode]: XN
            // accepts it (the entry and the claim agree), but the node is held as xn.data.
            var sum = new Summary(1UL << 40, (uint)slot, (uint)(free - head), 0, Summary.NoSlot, 0, 0,
                [new SummaryEntry(LogKind.Node, 2, 0), new SummaryEntry(LogKind.Inodes, 0, 0)]);
            var block = new byte[LfsLayout.BlockSize];
            sum.WriteTo(block);
            Assert.Equal(Errno.OK, disk.Client.WriteRaw(new BlockNo(free), 0, block));
            var lie = session.Claim(new BlockNo(head), e, [ClaimEntry(e, free, 3, 1, 0)],
                [(XnTypes.Data, new Extent(new BlockNo(free), 2)), (types.Inodes, new Extent(new BlockNo(free + 2), 1))]);
            Assert.True(lie.Ok, lie.ToString());
        }
        var report = LfsFsck.Check(fs);
        Assert.Contains(report.Problems, p => p.Contains("types 0 node, 1 inode, 0 imap blocks, its summary's entries say 1 node, 1 inode, 0 imap"));
        fs.Dispose();
    }
}
