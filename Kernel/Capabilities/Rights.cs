namespace ExoFS.Kernel.Capabilities;

/// <summary>
/// What a capability lets its holder do with its resource. The kernel only checks that the rights
/// needed for a binding are a subset of the rights sealed into the capability; what each right means for
/// a resource is up to the layer that binds it (XN reads Alloc/Free as "may change what this root owns").
/// </summary>
[Flags]
public enum Rights : uint
{
    None = 0,
    Read = 1 << 0,
    Write = 1 << 1,
    Alloc = 1 << 2,
    Free = 1 << 3,
    /// <summary>Administrative operations on the resource (e.g. removing an XN root).</summary>
    Admin = 1 << 4,
    All = Read | Write | Alloc | Free | Admin,
}

internal static class RightsExtensions
{
    /// <summary>True when every right in <paramref name="needed"/> is present in <paramref name="held"/>.</summary>
    public static bool Includes(this Rights held, Rights needed) => (held & needed) == needed;
}
