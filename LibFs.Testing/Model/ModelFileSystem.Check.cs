namespace ExoFS.LibFs.Testing.Model;

public sealed partial class ModelFileSystem
{
    /// <summary>
    /// The model's own consistency check (its "fsck"): every entry names a live inode, link counts match the
    /// entries (directories: 2 + subdirectories), each directory is named exactly once and its ".." is where
    /// it is named, every inode is reachable from the root or is an orphan kept alive by a lookup or an open
    /// handle, no file data lies beyond the file size, and the chunk count matches the capacity accounting.
    /// </summary>
    /// <returns>One line per problem; empty when consistent.</returns>
    public IReadOnlyList<string> Check()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            var errors = new List<string>();
            var names = new Dictionary<ulong, int>();
            var subdirs = new Dictionary<ulong, int>();
            var namedIn = new Dictionary<ulong, ulong>();
            foreach (var node in _nodes.Values.Where(n => n.IsDir && n.Nlink != 0))
                foreach (var (name, child) in node.Dir!.All())
                {
                    if (CheckName(name) != Errno.OK || name is "." or "..")
                        errors.Add($"directory {node.Ino} has an invalid entry name '{name}'");
                    if (!_nodes.TryGetValue(child, out var c))
                    {
                        errors.Add($"directory {node.Ino} entry '{name}' names missing inode {child}");
                        continue;
                    }
                    names[child] = names.GetValueOrDefault(child) + 1;
                    if (c.IsDir)
                    {
                        subdirs[node.Ino] = subdirs.GetValueOrDefault(node.Ino) + 1;
                        namedIn[child] = node.Ino;
                    }
                }
            long chunks = 0;
            foreach (var n in _nodes.Values)
            {
                int linked = names.GetValueOrDefault(n.Ino);
                if (n.IsDir)
                {
                    bool alive = n.Nlink != 0;
                    if (n.Ino == 1 && linked != 0) errors.Add("the root is named in a directory");
                    if (n.Ino != 1 && alive && linked != 1) errors.Add($"directory {n.Ino} is named {linked} times");
                    if (!alive && linked != 0) errors.Add($"removed directory {n.Ino} is still named");
                    uint want = alive ? 2u + (uint)subdirs.GetValueOrDefault(n.Ino) : 0u;
                    if (n.Nlink != want) errors.Add($"directory {n.Ino} nlink {n.Nlink}, expected {want}");
                    if (alive && n.Ino != 1 && namedIn.TryGetValue(n.Ino, out var p) && n.Dir!.Parent != p)
                        errors.Add($"directory {n.Ino} has '..' = {n.Dir.Parent} but is named in {p}");
                    if (!alive && n.Dir!.Count != 0) errors.Add($"removed directory {n.Ino} has entries");
                }
                else if (n.Nlink != linked)
                    errors.Add($"inode {n.Ino} nlink {n.Nlink}, but {linked} entries name it");
                if (n.Nlink == 0 && n.LookupCount == 0 && n.OpenCount == 0 && n.Ino != 1)
                    errors.Add($"orphan inode {n.Ino} has no lookups or handles but was not freed");
                if (n.Chunks is not null)
                {
                    chunks += n.Chunks.Count;
                    long limit = (long)((n.Size + ChunkSize - 1) / ChunkSize);
                    if (!n.PastEof && n.Chunks.Keys.Any(c => c >= limit)) errors.Add($"file {n.Ino} has data beyond its size {n.Size}");
                }
                if ((n.Chunks is not null) != n.IsRegular || (n.Dir is not null) != n.IsDir
                    || (n.Target is not null) != FileMode.IsSymlink(n.Mode))
                    errors.Add($"inode {n.Ino} content does not match its type {n.Type:X}");
            }
            if (chunks != _usedChunks) errors.Add($"{chunks} chunks in files but {_usedChunks} accounted as used");
            if (_usedChunks > _capacityChunks) errors.Add($"{_usedChunks} chunks used of capacity {_capacityChunks}");
            if (!_nodes.ContainsKey(1)) errors.Add("no root inode");
            return errors;
        }
    }

    /// <summary>
    /// Simulates unmount and mount of the same storage: returns a new instance holding a deep copy of this
    /// one's durable state (everything: the model has no volatile cache), without handles, lookup counts or
    /// orphans, then disposes this instance.
    /// </summary>
    public ModelFileSystem Remount()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            var copy = new ModelFileSystem(_capacityChunks * ChunkSize, _maxInodes) { _nextIno = _nextIno };
            copy._nodes.Clear();
            foreach (var n in _nodes.Values.Where(n => n.Nlink != 0 || n.Ino == 1))
            {
                var c = CopyNode(n);
                if (c.Chunks is not null) copy._usedChunks += c.Chunks.Count;
                copy._nodes[c.Ino] = c;
            }
            Dispose();
            return copy;
        }
    }

    /// <summary>
    /// An independent deep copy of this instance exactly as it is (orphans, open handles and lookup counts
    /// included); this one stays usable. The crash explorer forks the model after a workload's setup once
    /// instead of replaying the setup for every workload.
    /// </summary>
    public ModelFileSystem Fork()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            var copy = new ModelFileSystem(_capacityChunks * ChunkSize, _maxInodes)
            {
                _nextIno = _nextIno, _nextHandle = _nextHandle, _usedChunks = _usedChunks,
            };
            copy._nodes.Clear();
            foreach (var n in _nodes.Values)
            {
                var c = CopyNode(n);
                c.LookupCount = n.LookupCount;
                c.OpenCount = n.OpenCount;
                copy._nodes[c.Ino] = c;
            }
            foreach (var (h, open) in _handles) copy._handles[h] = open;
            return copy;
        }
    }

    private static ModelNode CopyNode(ModelNode n)
    {
        var c = new ModelNode
        {
            Ino = n.Ino, Mode = n.Mode, Nlink = n.Nlink, Uid = n.Uid, Gid = n.Gid, Rdev = n.Rdev, Size = n.Size,
            Atime = n.Atime, Mtime = n.Mtime, Ctime = n.Ctime, Target = n.Target, Dir = n.Dir?.Clone(),
            Chunks = n.Chunks?.ToDictionary(kv => kv.Key, kv => (byte[])kv.Value.Clone()), PastEof = n.PastEof,
        };
        foreach (var kv in n.Xattrs) c.Xattrs[kv.Key] = (byte[])kv.Value.Clone();
        return c;
    }
}
