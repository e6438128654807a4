using System.Security.Cryptography;

namespace ExoFS.Kernel.Capabilities;

/// <summary>
/// Holds one boot's HMAC key and seals/verifies capabilities. The seal covers a canonical encoding of
/// (magic, boot, holder, rights, resource), so changing any field — including the boot id — invalidates it.
/// Stateless apart from the key, hence thread-safe.
/// </summary>
internal sealed class CapabilityAuthority
{
    private static readonly byte[] Magic = "EXOCAP1\0"u8.ToArray();
    private readonly byte[] _key;

    public CapabilityAuthority()
    {
        _key = RandomNumberGenerator.GetBytes(32);
        Boot = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    }

    /// <summary>This boot's public id, stamped into every capability it mints.</summary>
    public ulong Boot { get; }

    public Capability Mint(Resource resource, Rights rights, EnvId holder) =>
        new(resource, rights, holder, Boot, Seal(resource, rights, holder, Boot));

    /// <summary>Boot and seal checks only; holder, rights and resource are the caller's business.</summary>
    public CapabilityCheck Verify(Capability cap)
    {
        if (cap.Boot != Boot) return CapabilityCheck.WrongBoot;
        Span<byte> expected = stackalloc byte[CapabilitySeal.Size], presented = stackalloc byte[CapabilitySeal.Size];
        Seal(cap.Resource, cap.Rights, cap.Holder, cap.Boot).WriteTo(expected);
        cap.Seal.WriteTo(presented);
        return CryptographicOperations.FixedTimeEquals(expected, presented) ? CapabilityCheck.Ok : CapabilityCheck.Forged;
    }

    private CapabilitySeal Seal(Resource resource, Rights rights, EnvId holder, ulong boot)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var data = new List<byte>(64);
        data.AddRange(Magic);
        Resource.PutU64(data, boot);
        Resource.PutU32(data, unchecked((uint)holder.Value));
        Resource.PutU32(data, (uint)rights);
        resource.Encode(data);
        Span<byte> mac = stackalloc byte[CapabilitySeal.Size];
        HMACSHA256.HashData(_key, data.ToArray(), mac);
        return CapabilitySeal.FromBytes(mac);
    }
}
