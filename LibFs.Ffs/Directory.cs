using System.Text;
using ExoFS.Kernel.Disk;
using ExoFS.LibFs.Ffs.Format;

namespace ExoFS.LibFs.Ffs;

/// <summary>
/// Directories: entries packed in the directory's data blocks (<see cref="DirBlock"/>), "." and ".." stored
/// as the first two entries of block 0. Each directory used recently has an in-memory name index
/// (name → block, offset, inode) built by one scan, so lookups and inserts do not rescan the blocks; the
/// blocks stay the only persistent truth. Caller must hold the file system lock and write the directory
/// inode's attributes after a change (Size grows when a block is added).
/// </summary>
internal sealed class Directory
{
    public readonly record struct Entry(ulong Block, int Offset, ulong Ino, byte FileType);

    private sealed class Index
    {
        public readonly Dictionary<string, Entry> ByName = new(StringComparer.Ordinal);
        public ulong InsertHint;
    }

    private const int MaxCachedDirectories = 4096;

    private readonly IFfsDisk _disk;
    private readonly BlockMap _map;
    private readonly Dictionary<ulong, Index> _cache = new();

    private readonly Func<ulong, BlockNo?> _tableOf;

    /// <param name="tableOf">
    /// The inode-table block an entry naming an inode must be written after, or null for no ordering (the
    /// crash tests' broken variant). XN orders pointers, not inode numbers in entries: without this a crash
    /// could leave a durable name bound to an inode whose table block never reached the disk.
    /// </param>
    public Directory(IFfsDisk disk, BlockMap map, Func<ulong, BlockNo?> tableOf)
    {
        _disk = disk;
        _map = map;
        _tableOf = tableOf;
    }

    /// <summary>
    /// Writes entry bytes naming <paramref name="ino"/>, ordered after the inode's table block (soft updates'
    /// rule 1: the inode, and the link count that pays for this name, are on disk before the name) and, with
    /// <paramref name="alsoAfter"/>, after that block too (mkdir: the parent's table block, whose link count
    /// pays for the new directory's ".."). Writing the same bytes again with another block adds that edge.
    /// </summary>
    private Errno WriteEntry(ulong block, int offset, ReadOnlySpan<byte> bytes, ulong ino, BlockNo? alsoAfter = null)
    {
        bytes = Records(offset, bytes);
        if (Malformed) bytes = Malform(bytes);
        if (_tableOf(ino) is not { } table) return _disk.WriteRaw(new BlockNo(block), offset, bytes);
        var err = _disk.WriteRaw(new BlockNo(block), offset, bytes, table);
        if (err == Errno.OK && alsoAfter is { } also && also != table) err = _disk.WriteRaw(new BlockNo(block), offset, bytes, also);
        return err;
    }

    /// <summary>Tests only: every entry write is malformed (<see cref="FfsFileSystem.MalformedDirectoryEntries"/>).</summary>
    internal bool Malformed { get; set; }

    /// <summary>
    /// Blocks directories grew by (a new directory's first block, or one appended) since the owner last cleared
    /// the set at a sync: a name in one is reachable on disk only once the directory's size and pointer (and an
    /// indirect block past the twelfth) are, so writing the block alone does not make it durable.
    /// </summary>
    public HashSet<ulong> GrownSinceSync { get; } = new();

    /// <summary>A copy of entry bytes whose first record's length is off the 8-byte grain (so the records no longer tile the block).</summary>
    private static byte[] Malform(ReadOnlySpan<byte> bytes)
    {
        var bad = bytes.ToArray();
        if (bad.Length < DirBlock.HeaderSize) return bad;
        var len = bad.AsSpan(8, 2);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(len) + 4));
        return bad;
    }

    /// <summary>
    /// The part of a write at <paramref name="offset"/> that lies in the records: a whole block's last 8 bytes are a
    /// spare word and XN's checksum (ffs.dir's raw-write range stops before the checksum).
    /// </summary>
    private static ReadOnlySpan<byte> Records(int offset, ReadOnlySpan<byte> bytes) =>
        offset + bytes.Length > DirBlock.RecordsEnd ? bytes[..Math.Max(0, DirBlock.RecordsEnd - offset)] : bytes;

    /// <summary>The most blocks a directory may span (4 GiB of entries); a damaged size is never walked past it.</summary>
    public const ulong MaxDirBlocks = 1UL << 20;

    /// <summary>
    /// The blocks a directory's entries span: its size in blocks, but never more than the blocks it owns (a
    /// directory has no holes) or <see cref="MaxDirBlocks"/>, so a damaged size cannot send a walk through 2^52
    /// lookups. <see cref="SizeAgreesWithBlocks"/> says whether the size is one a directory can have.
    /// </summary>
    public static ulong BlockCount(DiskInode dir) => Math.Min(dir.Size / FfsLayout.BlockSize, Math.Min(dir.Blocks, MaxDirBlocks));

    /// <summary>Whether a directory's size is a whole number of blocks it can own.</summary>
    public static bool SizeAgreesWithBlocks(DiskInode dir) =>
        dir.Size % FfsLayout.BlockSize == 0 && dir.Size / FfsLayout.BlockSize <= Math.Min(dir.Blocks, MaxDirBlocks);

    private Result<Index> IndexOf(ulong dirIno, DiskInode dir)
    {
        if (_cache.TryGetValue(dirIno, out var idx)) return idx;
        idx = new Index();
        var buf = new byte[FfsLayout.BlockSize];
        for (ulong lb = 0; lb < BlockCount(dir); lb++)
        {
            ulong b = _map.Lookup(dir, lb);
            if (b == 0) return Errno.EIO;
            var err = _disk.Read(new BlockNo(b), 0, buf);
            if (err != Errno.OK) return err;
            var records = DirBlock.Parse(buf);
            if (records is null) return Errno.EIO;
            foreach (var r in records)
                if (r.Ino != 0) idx.ByName[r.Name] = new Entry(lb, r.Offset, r.Ino, r.FileType);
        }
        if (_cache.Count >= MaxCachedDirectories) _cache.Clear();
        _cache[dirIno] = idx;
        return idx;
    }

    /// <summary>Forgets the in-memory index of a directory (after it is freed, or by fsck).</summary>
    public void Drop(ulong dirIno) => _cache.Remove(dirIno);
    public void DropAll() => _cache.Clear();

    /// <summary>The entry for <paramref name="name"/>, ENOENT if none.</summary>
    public Result<Entry> Find(ulong dirIno, DiskInode dir, string name)
    {
        var idx = IndexOf(dirIno, dir);
        if (!idx.Ok) return idx.Error;
        return idx.Value.ByName.TryGetValue(name, out var e) ? e : Errno.ENOENT;
    }

    /// <summary>
    /// Sets the inode and file type of the live record at <paramref name="offset"/> of <paramref name="dir"/>'s logical
    /// block <paramref name="block"/> (a <see cref="NameIntent"/> applied at mount); EUCLEAN when no live record starts
    /// there (the intent does not describe this directory).
    /// </summary>
    public Errno SetEntry(ulong dirIno, DiskInode dir, ulong block, int offset, ulong ino, byte fileType)
    {
        if (block >= BlockCount(dir)) return Errno.EUCLEAN;
        var rb = ReadBlock(dir, block, _scratch);
        if (!rb.Ok) return rb.Error;
        var records = DirBlock.Parse(rb.Value.Buf);
        if (records is null || !records.Exists(r => r.Offset == offset && r.Ino != 0)) return Errno.EUCLEAN;
        var header = rb.Value.Buf.AsSpan(offset, DirBlock.HeaderSize).ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header, ino);
        header[11] = fileType;
        var err = _disk.WriteRaw(new BlockNo(rb.Value.Disk), offset, header);
        _cache.Remove(dirIno);
        return err;
    }

    /// <summary>Number of entries other than "." and "..".</summary>
    public Result<int> CountEntries(ulong dirIno, DiskInode dir)
    {
        var idx = IndexOf(dirIno, dir);
        if (!idx.Ok) return idx.Error;
        int n = idx.Value.ByName.Count;
        if (idx.Value.ByName.ContainsKey(".")) n--;
        if (idx.Value.ByName.ContainsKey("..")) n--;
        return n;
    }

    /// <summary>
    /// One block's bytes for the call in progress (every call holds the file system lock, so one buffer
    /// serves them all); a caller that needs two blocks at once reads the second into a new array.
    /// </summary>
    private readonly byte[] _scratch = new byte[FfsLayout.BlockSize];

    /// <summary>Reads logical block <paramref name="lb"/> of the directory into <paramref name="into"/> (a new array if null).</summary>
    private Result<(byte[] Buf, ulong Disk)> ReadBlock(DiskInode dir, ulong lb, byte[]? into = null)
    {
        ulong b = _map.Lookup(dir, lb);
        if (b == 0) return Errno.EIO;
        var buf = into ?? new byte[FfsLayout.BlockSize];
        var err = _disk.Read(new BlockNo(b), 0, buf);
        return err != Errno.OK ? err : (buf, b);
    }

    /// <summary>Adds an entry (the caller has checked the name is absent). May grow the directory by a block.</summary>
    public Errno Add(ulong dirIno, DiskInode dir, string name, ulong ino, byte fileType, BlockNo hint, BlockNo? alsoAfter = null) =>
        Add(dirIno, dir, name, ino, fileType, hint, out _, alsoAfter);

    /// <summary><see cref="Add(ulong, DiskInode, string, ulong, byte, BlockNo, BlockNo?)"/>, also naming the disk block that now holds the entry.</summary>
    public Errno Add(ulong dirIno, DiskInode dir, string name, ulong ino, byte fileType, BlockNo hint, out BlockNo changed, BlockNo? alsoAfter = null)
    {
        changed = BlockNo.Zero;
        var idxr = IndexOf(dirIno, dir);
        if (!idxr.Ok) return idxr.Error;
        var idx = idxr.Value;
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        ulong blocks = BlockCount(dir);
        // Most inserts land in the block that last had room (or the last block): try those before a full scan.
        var candidates = new List<ulong>();
        if (idx.InsertHint < blocks) candidates.Add(idx.InsertHint);
        if (blocks > 0 && idx.InsertHint != blocks - 1) candidates.Add(blocks - 1);
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (ulong lb in candidates)
            {
                var rb = ReadBlock(dir, lb, _scratch);
                if (!rb.Ok) return rb.Error;
                var (buf, disk) = rb.Value;
                int room = DirBlock.FindRoom(buf, nameBytes.Length);
                if (room < 0) continue;
                int at = DirBlock.Insert(buf, room, ino, fileType, nameBytes);
                var err = WriteEntry(disk, room, buf.AsSpan(room, at - room + DirBlock.RecordSize(nameBytes.Length)), ino, alsoAfter);
                if (err != Errno.OK) return err;
                idx.ByName[name] = new Entry(lb, at, ino, fileType);
                idx.InsertHint = lb;
                changed = new BlockNo(disk);
                return Errno.OK;
            }
            if (pass == 0)
            {
                var seen = new HashSet<ulong>(candidates);
                candidates = new List<ulong>();
                for (ulong lb = 0; lb < blocks; lb++)
                    if (!seen.Contains(lb)) candidates.Add(lb);
            }
        }
        // No room anywhere: append a block.
        var nb = _map.Ensure(dirIno, dir, blocks, hint);
        if (!nb.Ok) return nb.Error;
        var block = new byte[FfsLayout.BlockSize];
        DirBlock.InitEmpty(block);
        int pos = DirBlock.Insert(block, 0, ino, fileType, nameBytes);
        GrownSinceSync.Add(nb.Value);
        var werr = WriteEntry(nb.Value, 0, block, ino, alsoAfter);
        if (werr != Errno.OK) return werr;
        dir.Size = (blocks + 1) * FfsLayout.BlockSize;
        idx.ByName[name] = new Entry(blocks, pos, ino, fileType);
        idx.InsertHint = blocks;
        changed = new BlockNo(nb.Value);
        return Errno.OK;
    }

    /// <summary>Removes the entry <paramref name="name"/> (ENOENT if absent).</summary>
    public Errno Remove(ulong dirIno, DiskInode dir, string name)
    {
        var idxr = IndexOf(dirIno, dir);
        if (!idxr.Ok) return idxr.Error;
        if (!idxr.Value.ByName.TryGetValue(name, out var e)) return Errno.ENOENT;
        var rb = ReadBlock(dir, e.Block, _scratch);
        if (!rb.Ok) return rb.Error;
        var (buf, disk) = rb.Value;
        DirBlock.Remove(buf, e.Offset);
        ReadOnlySpan<byte> removal = buf.AsSpan(0, e.Offset + DirBlock.HeaderSize);
        var err = _disk.WriteRaw(new BlockNo(disk), 0, Malformed ? Malform(removal) : removal);
        if (err != Errno.OK) return err;
        idxr.Value.ByName.Remove(name);
        idxr.Value.InsertHint = e.Block;
        return ShrinkIfTailEmpty(dirIno, dir, e.Block, buf, idxr.Value);
    }

    /// <summary>
    /// Gives back trailing blocks that hold no entries (never block 0), so a directory emptied of many
    /// entries returns its space. Entries never move, so only the tail can go.
    /// </summary>
    private Errno ShrinkIfTailEmpty(ulong dirIno, DiskInode dir, ulong changed, byte[] changedBlock, Index idx)
    {
        ulong blocks = BlockCount(dir);
        if (changed == 0 || changed != blocks - 1 || !IsEmptyBlock(changedBlock)) return Errno.OK;
        ulong keep = changed;
        while (keep > 1)
        {
            var rb = ReadBlock(dir, keep - 1);
            if (!rb.Ok) return rb.Error;
            if (!IsEmptyBlock(rb.Value.Buf)) break;
            keep--;
        }
        var err = _map.Truncate(dirIno, dir, keep);
        if (err != Errno.OK) return err;
        dir.Size = keep * FfsLayout.BlockSize;
        if (idx.InsertHint >= keep) idx.InsertHint = keep - 1;
        return Errno.OK;
    }

    private static bool IsEmptyBlock(byte[] block) => DirBlock.Parse(block) is { } records && records.All(r => r.Ino == 0);

    /// <summary>Points an existing entry at another inode (rename over a target, "..").</summary>
    public Errno Retarget(ulong dirIno, DiskInode dir, string name, ulong ino, byte fileType, BlockNo? alsoAfter = null) =>
        Retarget(dirIno, dir, name, ino, fileType, out _, alsoAfter);

    /// <summary><see cref="Retarget(ulong, DiskInode, string, ulong, byte, BlockNo?)"/>, also naming the disk block changed.</summary>
    public Errno Retarget(ulong dirIno, DiskInode dir, string name, ulong ino, byte fileType, out BlockNo changed, BlockNo? alsoAfter = null)
    {
        changed = BlockNo.Zero;
        var idxr = IndexOf(dirIno, dir);
        if (!idxr.Ok) return idxr.Error;
        if (!idxr.Value.ByName.TryGetValue(name, out var e)) return Errno.ENOENT;
        ulong b = _map.Lookup(dir, e.Block);
        if (b == 0) return Errno.EIO;
        var bytes = new byte[DirBlock.HeaderSize];
        var err = _disk.Read(new BlockNo(b), e.Offset, bytes);
        if (err != Errno.OK) return err;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, ino);
        bytes[11] = fileType;
        err = WriteEntry(b, e.Offset, bytes, ino, alsoAfter);
        if (err != Errno.OK) return err;
        idxr.Value.ByName[name] = e with { Ino = ino, FileType = fileType };
        changed = new BlockNo(b);
        return Errno.OK;
    }

    /// <summary>
    /// Renames within one directory in one block write, so that no crash sees both names or neither: the entry
    /// <paramref name="from"/> goes and <paramref name="to"/> names <paramref name="ino"/> (retargeted if it exists,
    /// else inserted), both in <paramref name="from"/>'s block. EXDEV when they cannot share that block (the
    /// target lives in another block, or the block has no room for the new name): the caller renames in two
    /// writes. The caller has checked both names.
    /// </summary>
    public Errno RenameInBlock(ulong dirIno, DiskInode dir, string from, string to, ulong ino, byte fileType)
    {
        var idxr = IndexOf(dirIno, dir);
        if (!idxr.Ok) return idxr.Error;
        var idx = idxr.Value;
        if (!idx.ByName.TryGetValue(from, out var src)) return Errno.ENOENT;
        bool replace = idx.ByName.TryGetValue(to, out var dst);
        if (replace && dst.Block != src.Block) return Errno.EXDEV;
        var rb = ReadBlock(dir, src.Block, _scratch);
        if (!rb.Ok) return rb.Error;
        var (buf, disk) = rb.Value;
        var edited = (byte[])buf.Clone();
        DirBlock.Remove(edited, src.Offset);
        int at;
        if (replace)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(edited.AsSpan(dst.Offset), ino);
            edited[dst.Offset + 11] = fileType;
            at = dst.Offset;
        }
        else
        {
            byte[] nameBytes = Encoding.UTF8.GetBytes(to);
            int room = DirBlock.FindRoom(edited, nameBytes.Length);
            if (room < 0) return Errno.EXDEV;
            at = DirBlock.Insert(edited, room, ino, fileType, nameBytes);
        }
        var err = WriteEntry(disk, 0, edited, ino);
        if (err != Errno.OK) return err;
        idx.ByName.Remove(from);
        idx.ByName[to] = new Entry(src.Block, at, ino, fileType);
        return Errno.OK;
    }

    /// <summary>
    /// Swaps the inodes two entries of one directory name, in one block write when both lie in one block (atomic);
    /// EXDEV when they do not (the caller retargets each).
    /// </summary>
    public Errno ExchangeInBlock(ulong dirIno, DiskInode dir, string a, string b)
    {
        var idxr = IndexOf(dirIno, dir);
        if (!idxr.Ok) return idxr.Error;
        var idx = idxr.Value;
        if (!idx.ByName.TryGetValue(a, out var ea) || !idx.ByName.TryGetValue(b, out var eb)) return Errno.ENOENT;
        if (ea.Block != eb.Block) return Errno.EXDEV;
        var rb = ReadBlock(dir, ea.Block, _scratch);
        if (!rb.Ok) return rb.Error;
        var (buf, disk) = rb.Value;
        var edited = (byte[])buf.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(edited.AsSpan(ea.Offset), eb.Ino);
        edited[ea.Offset + 11] = eb.FileType;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(edited.AsSpan(eb.Offset), ea.Ino);
        edited[eb.Offset + 11] = ea.FileType;
        // Ordered after both inodes' table blocks (their raised counts).
        var err = WriteEntry(disk, 0, edited, eb.Ino, _tableOf(ea.Ino));
        if (err != Errno.OK) return err;
        idx.ByName[a] = ea with { Ino = eb.Ino, FileType = eb.FileType };
        idx.ByName[b] = eb with { Ino = ea.Ino, FileType = ea.FileType };
        return Errno.OK;
    }

    /// <summary>Writes block 0 of a new directory: "." → itself, ".." → <paramref name="parentIno"/>.</summary>
    public Errno Init(ulong dirIno, DiskInode dir, ulong parentIno, BlockNo hint)
    {
        var nb = _map.Ensure(dirIno, dir, 0, hint);
        if (!nb.Ok) return nb.Error;
        GrownSinceSync.Add(nb.Value);
        var block = new byte[FfsLayout.BlockSize];
        DirBlock.InitEmpty(block);
        int dot = DirBlock.Insert(block, 0, dirIno, DirBlock.FileTypeOf(FileMode.Directory), "."u8);
        DirBlock.Insert(block, dot, parentIno, DirBlock.FileTypeOf(FileMode.Directory), ".."u8);
        var err = _disk.WriteRaw(new BlockNo(nb.Value), 0, Records(0, block));
        if (err != Errno.OK) return err;
        dir.Size = FfsLayout.BlockSize;
        _cache.Remove(dirIno);
        return Errno.OK;
    }

    /// <summary>
    /// Sends entries whose position (block·4096 + offset) is at or after <paramref name="cookie"/> to
    /// <paramref name="sink"/> until it returns false. Positions never move, so a cookie stays valid.
    /// </summary>
    public Errno Enumerate(DiskInode dir, long cookie, Func<DirBlock.Record, long, bool> sink)
    {
        if (cookie < 0) return Errno.EINVAL;
        ulong blocks = BlockCount(dir);
        for (ulong lb = (ulong)cookie / FfsLayout.BlockSize; lb < blocks; lb++)
        {
            var rb = ReadBlock(dir, lb, _scratch);
            if (!rb.Ok) return rb.Error;
            var records = DirBlock.Parse(rb.Value.Buf);
            if (records is null) return Errno.EIO;
            long basePos = (long)lb * FfsLayout.BlockSize;
            foreach (var r in records)
            {
                long pos = basePos + r.Offset;
                if (r.Ino == 0 || pos < cookie) continue;
                if (!sink(r, pos + r.RecLen)) return Errno.OK;
            }
        }
        return Errno.OK;
    }
}
