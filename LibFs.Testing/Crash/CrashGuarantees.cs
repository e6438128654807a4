namespace ExoFS.LibFs.Testing.Crash;

/// <summary>
/// What a libFS promises about the state a crash leaves, stated in one place. The oracle
/// (<see cref="CrashOracle"/>) checks exactly these promises and nothing stronger; a promise left false is
/// not checked. Whatever the flags, these always hold: recovery succeeds and the target's own checks
/// (XN invariants, libFS fsck) are clean; every name binds an inode it bound at some step boundary since
/// that name last became durable; every file's bytes obey the content rule below; every inode's
/// <see cref="Attributes"/> each hold a value the inode had at a step boundary since they last became
/// durable; a file's link count equals the names found for it; and a clean unmount makes everything durable.
/// </summary>
public sealed record CrashGuarantees
{
    /// <summary>After sync(2) returns, the whole namespace and every file's content are durable.</summary>
    public bool SyncPersistsAll { get; init; } = true;

    /// <summary>After fsync of a regular file returns, its content and size are durable.</summary>
    public bool FsyncPersistsFile { get; init; }

    /// <summary>
    /// After fsync of a regular file returns, every name it has at that moment, and the names of the
    /// directories on those paths, are durable too (what ext4, XFS and btrfs do for a new file; POSIX asks
    /// for an fsync of the directory).
    /// </summary>
    public bool FsyncPersistsNames { get; init; }

    /// <summary>After fsync of a directory returns, its entries (which names exist and what they bind) are durable.</summary>
    public bool FsyncDirPersistsEntries { get; init; }

    /// <summary>
    /// After fsync of a file or directory returns, its attributes (those of <see cref="Attributes"/>: mode,
    /// owner and group, mtime, xattrs) are durable, as Linux's fsync(2) writes the inode with the data.
    /// </summary>
    public bool FsyncPersistsAttributes { get; init; }

    /// <summary>
    /// The attributes the libFS keeps, which the oracle judges (all by default): after a crash each one of an
    /// inode holds a value the inode had at a step boundary since its attributes last became durable (each
    /// attribute on its own: a crash may keep one step's chmod and lose the next one's setxattr). A libFS
    /// that does not keep one (a toy without owners or times) leaves it out.
    /// </summary>
    public CrashAttributes Attributes { get; init; } = CrashAttributes.All;

    /// <summary>
    /// Every namespace step (create, link, unlink, rename, mkdir, rmdir) is all or nothing. Checked as: an
    /// inode that was durably linked and has not since lost its last name is still found under a name it had
    /// (a rename cannot lose the file), and no inode has more names than it ever had at once (a rename
    /// cannot leave the file under both names).
    /// </summary>
    public bool NamespaceOpsAtomic { get; init; }

    /// <summary>
    /// Every namespace step is all or nothing, except that a rename may leave the file under both its old and its
    /// new name (soft updates' rename between two directory blocks: rule 3 makes the new name durable before the
    /// old one goes). Checked as <see cref="NamespaceOpsAtomic"/>'s "no inode has more names than it ever had at
    /// once", not counting names the inode was renamed away from since they were last durable. Implied by
    /// <see cref="NamespaceOpsAtomic"/>, which counts every name.
    /// </summary>
    public bool RenameMayLeaveBothNames { get; init; }

    /// <summary>
    /// A RENAME_EXCHANGE may leave one of its two inodes under both names (under one, if its own name was not durable
    /// yet) and the other under none (a leak), as soft updates' exchange between two directory blocks does: each of
    /// the two entry writes takes a name from one inode, and a crash may fall between them. Checked as: an inode
    /// that was durably linked and never lost its last name may be missing only when an exchange it took part in
    /// since its names were durable shows the name it had before naming its partner (the partner's extra name is
    /// one it was renamed away from, so <see cref="RenameMayLeaveBothNames"/>' count accepts it).
    /// </summary>
    public bool ExchangeMayOrphanOne { get; init; }

    /// <summary>
    /// Soft updates' guarantee (McKusick &amp; Ganger): recovery of a crashed image, before it repairs anything,
    /// finds at most leaks — blocks or inodes allocated but unreachable, link counts too high — never a link count
    /// too low, a directory linked twice, or an entry naming a freed or uninitialized inode. Checked as: the
    /// target's check of the crashed, unrepaired image reports no damage-class finding
    /// (<see cref="CrashRecovery.Damage"/>), and no leaked inode is one the workload durably linked and never
    /// unlinked (an inode that was durably linked and has not since lost its last name is still found under a
    /// name it had: rule 3, a rename cannot turn a live file into a leak).
    /// </summary>
    public bool LeaksOnly { get; init; }

    /// <summary>
    /// A write or truncate is all or nothing: after a crash a file's content is exactly one it had at a step
    /// boundary. When false, the weaker byte rule applies: the size is one the file had at a boundary; a byte no
    /// write or truncate touched and that every boundary state has must hold its durable value; any other
    /// byte is zero or a value some boundary state had at that offset (so no garbage and no other file's
    /// data). States and touched ranges count since the file's content was last durable.
    /// </summary>
    public bool WritesAtomic { get; init; }

    /// <summary>
    /// Prefix semantics (a log-structured file system's promise): after a crash the whole state equals the
    /// state after some prefix of the steps, and that prefix includes every step before the last fsync,
    /// fsyncdir or sync that returned. Checked, on top of the per-path rules, as: the recovered namespace and
    /// every file's content equal one whole step-boundary state since the last persistence step.
    /// </summary>
    public bool PrefixSemantics { get; init; }

    /// <summary>Names in the root directory that belong to the libFS itself (e.g. "lost+found") and are ignored.</summary>
    public IReadOnlyList<string> ReservedRootNames { get; init; } = [];

    /// <summary>The POSIX minimum: only sync persists anything; no atomicity promised.</summary>
    public static CrashGuarantees PosixMinimum { get; } = new();

    /// <summary>One line per promise, for reports.</summary>
    public override string ToString() =>
        $"sync={SyncPersistsAll} fsync-file={FsyncPersistsFile} fsync-names={FsyncPersistsNames} " +
        $"fsyncdir={FsyncDirPersistsEntries} fsync-attrs={FsyncPersistsAttributes} attrs={Attributes} ns-atomic={NamespaceOpsAtomic} rename-both={RenameMayLeaveBothNames} exchange-orphan={ExchangeMayOrphanOne} leaks-only={LeaksOnly} writes-atomic={WritesAtomic}" +
        (PrefixSemantics ? " prefix=True" : "");
}

/// <summary>The attributes of an inode the crash oracle can judge (<see cref="CrashGuarantees.Attributes"/>).</summary>
[Flags]
public enum CrashAttributes
{
    None = 0,
    /// <summary>The mode's permission bits (set-id and sticky bits included).</summary>
    Mode = 1,
    /// <summary>Owner and group.</summary>
    Owner = 2,
    /// <summary>
    /// The modification time. Comparable because workloads run under a <see cref="LogicalClock"/> that the
    /// model and the target read alike; atime and ctime are never judged (reads move atime under relatime;
    /// recovery's repairs stamp ctime).
    /// </summary>
    Mtime = 4,
    /// <summary>The extended attributes: the set of names and each value.</summary>
    Xattrs = 8,
    All = Mode | Owner | Mtime | Xattrs,
}
