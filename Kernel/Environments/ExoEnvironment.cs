namespace ExoFS.Kernel;

/// <summary>
/// An environment: one library OS instance (a mounted libFS, XN itself, a test). The object is the
/// environment's identity in this simulation: whoever holds the reference acts as the environment, so a
/// libOS must not hand its <see cref="ExoEnvironment"/> to code it does not trust. Created only by
/// <see cref="ExoKernel.CreateEnvironment"/>.
/// </summary>
public sealed class ExoEnvironment
{
    private volatile bool _alive = true;

    internal ExoEnvironment(ExoKernel kernel, EnvId id, string name)
    {
        Kernel = kernel;
        Id = id;
        Name = name;
    }

    /// <summary>The kernel instance (boot) this environment belongs to.</summary>
    public ExoKernel Kernel { get; }

    /// <summary>The kernel-assigned id; capabilities name their holder by it.</summary>
    public EnvId Id { get; }

    /// <summary>A human-readable name (diagnostics only; not unique, not an identity).</summary>
    public string Name { get; }

    /// <summary>False once <see cref="ExoKernel.DestroyEnvironment"/> has run: its capabilities stop binding.</summary>
    public bool IsAlive => _alive;

    internal void MarkDead() => _alive = false;

    public override string ToString() => $"{Id}({Name})";
}
