namespace ExoFS.Kernel.Capabilities;

/// <summary>
/// A capability: <see cref="Resource"/>, <see cref="Rights"/> and <see cref="Holder"/>, sealed by the kernel
/// of boot <see cref="Boot"/> with an HMAC-SHA256 under that boot's secret key.
/// </summary>
/// <remarks>
/// Capabilities are plain immutable values a libOS may store anywhere (in its own metadata, in memory).
/// Anyone can construct one, or change a field with <c>with</c>, but only the kernel knows the key, so only
/// a kernel-minted capability carries a seal that <see cref="ExoKernel.Check"/> accepts. A capability is
/// bound to its holder: another environment presenting it is refused; to share, the holder asks the kernel
/// to <see cref="ExoKernel.Delegate"/> a copy. The key is per boot, so capabilities do not survive a reboot
/// (XN re-mints root capabilities when a volume is loaded).
/// </remarks>
public sealed record Capability(Resource Resource, Rights Rights, EnvId Holder, ulong Boot, CapabilitySeal Seal)
{
    public override string ToString() => $"cap({Resource}, {Rights}, {Holder}, boot {Boot:x16})";
}

/// <summary>The 32-byte HMAC-SHA256 seal of a capability, held as four words so it is a value.</summary>
public readonly record struct CapabilitySeal(ulong W0, ulong W1, ulong W2, ulong W3)
{
    public const int Size = 32;

    internal static CapabilitySeal FromBytes(ReadOnlySpan<byte> b) => new(
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b),
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b[16..]),
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b[24..]));

    internal void WriteTo(Span<byte> b)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b, W0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b[8..], W1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b[16..], W2);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b[24..], W3);
    }

    public override string ToString() => $"{W0:x16}…";
}

/// <summary>The outcome of presenting a capability at bind time; only <see cref="Ok"/> grants access.</summary>
public enum CapabilityCheck
{
    Ok,
    /// <summary>Minted by another kernel instance (an earlier boot, another simulated machine).</summary>
    WrongBoot,
    /// <summary>
    /// The seal does not match the fields. A forged seal and a genuine capability whose resource, rights or
    /// holder were changed after sealing look the same to an HMAC, so both are reported as this one reason.
    /// </summary>
    Forged,
    /// <summary>Genuine, but sealed for another environment.</summary>
    NotHolder,
    /// <summary>The presenting (or receiving) environment belongs to another kernel instance.</summary>
    ForeignEnvironment,
    /// <summary>The presenting (or receiving) environment has been destroyed.</summary>
    EnvironmentGone,
    /// <summary>Genuine and held, but the rights needed are not all sealed into it.</summary>
    InsufficientRights,
    /// <summary>Genuine and held, but its resource does not cover the one wanted.</summary>
    WrongResource,
}

/// <summary>A capability-producing call's result: <see cref="Capability"/> is set exactly when <see cref="Ok"/>.</summary>
public readonly record struct CapabilityResult(CapabilityCheck Status, Capability? Capability)
{
    public bool Ok => Status == CapabilityCheck.Ok;
}
