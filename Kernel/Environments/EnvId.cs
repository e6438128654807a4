namespace ExoFS.Kernel;

/// <summary>
/// The kernel's name for an environment (a libOS instance). Ids are assigned by one
/// <see cref="ExoKernel"/> in creation order and never reused within a boot.
/// </summary>
public readonly record struct EnvId(int Value)
{
    public override string ToString() => $"env{Value}";
}
