using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

// Checksums as the file system sees them: the damage met while mounted, and fsck's scrub of data checksums.
public sealed partial class FfsFileSystem
{
    /// <summary>Blocks that failed a checksum (XN's or a data checksum) during this mount, in the order met.</summary>
    public IReadOnlyList<ulong> DamagedBlocks => (_disk as XnFfsDisk)?.DamagedBlocks ?? [];

    /// <summary>True once a checksum failure turned this mount read-only (errors=remount-ro, the default).</summary>
    public bool RemountedReadOnly => (_disk as XnFfsDisk)?.RemountedReadOnly ?? false;

    /// <summary>
    /// With data checksums, reads every mapped block of every regular file and checks it against its slot: one
    /// line per mismatch, naming the inode, the file block and the disk block. Empty without data checksums.
    /// Reads only. Caller holds the lock or has not shared the file system yet.
    /// </summary>
    internal List<string> ScrubData()
    {
        var problems = new List<string>();
        if (Sums is not { } sums) return problems;
        var table = new byte[FfsLayout.BlockSize];
        for (int g = 0; g < _alloc.GroupCount; g++)
            for (int slot = 0; slot < _alloc.InodesInGroup(g); slot++)
            {
                ulong ino = (ulong)g * _alloc.InodesPerGroup + (ulong)slot + 1;
                int inBlock = slot % FfsLayout.InodesPerBlock;
                if (inBlock == 0 && _disk.Read(_alloc.Locate(ino).Block, 0, table) != Errno.OK)
                {
                    slot += FfsLayout.InodesPerBlock - 1;   // fsck and XN's check report the table block
                    continue;
                }
                var inode = DiskInode.ReadFrom(table.AsSpan(inBlock * FfsLayout.InodeSize, FfsLayout.InodeSize));
                if (inode.IsFree || !FileMode.IsRegular(inode.Mode)) continue;
                ulong blocks = (inode.Size + FfsLayout.BlockSize - 1) / FfsLayout.BlockSize;
                for (ulong fb = 0; fb < blocks && fb < BlockMap.MaxFileBlocks; fb++)
                {
                    ulong b = _map.Lookup(inode, fb);
                    if (b != 0 && sums.Scrub(b) == Errno.EIO)
                        problems.Add($"inode {ino}: data block {b} (file block {fb}): checksum mismatch");
                }
            }
        return problems;
    }
}
