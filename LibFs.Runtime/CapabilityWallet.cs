using ExoFS.Kernel.Capabilities;

namespace ExoFS.LibFs.Runtime;

/// <summary>
/// The capabilities a libOS holds, by the name of what they guard (an XN root name). Capabilities are
/// unforgeable kernel values that die with the boot, so a wallet lives only as long as its environment.
/// Thread-safe.
/// </summary>
public sealed class CapabilityWallet
{
    private readonly Dictionary<string, Capability> _caps = new(StringComparer.Ordinal);

    /// <summary>Keeps <paramref name="cap"/> under <paramref name="name"/>, replacing any earlier one.</summary>
    public void Put(string name, Capability cap)
    {
        ArgumentNullException.ThrowIfNull(cap);
        lock (_caps) _caps[name] = cap;
    }

    /// <summary>The capability held for <paramref name="name"/>, or null.</summary>
    public Capability? Get(string name)
    {
        lock (_caps) return _caps.GetValueOrDefault(name);
    }

    /// <summary>Drops the capability for <paramref name="name"/> (after revocation, say).</summary>
    public bool Remove(string name)
    {
        lock (_caps) return _caps.Remove(name);
    }
}
