using System.Reflection;

namespace ExoFS.LibFs.Runtime;

/// <summary>
/// The libFSes this process can run: every <see cref="LibFsRegistrationAttribute"/> in the assemblies already
/// loaded and in the <c>LibFs.*.dll</c> files beside the program (so a program or test that ships a libFS's
/// assembly gets it without naming it). Found once, in name order. Thread-safe.
/// </summary>
public static class LibFsCatalog
{
    private static readonly Lazy<IReadOnlyList<ILibFs>> Found = new(Discover);

    /// <summary>Every registered libFS, by name.</summary>
    public static IReadOnlyList<ILibFs> All => Found.Value;

    /// <summary>The libFS called <paramref name="name"/>, or null.</summary>
    public static ILibFs? Find(string name) => All.FirstOrDefault(l => l.Name == name);

    /// <summary>The libFS whose roots have XN type <paramref name="rootType"/>, or null.</summary>
    public static ILibFs? ForRootType(string rootType) => All.FirstOrDefault(l => l.RootType == rootType);

    /// <summary>"ffs, lfs": for error messages.</summary>
    public static string Names => All.Count == 0 ? "none" : string.Join(", ", All.Select(l => l.Name));

    private static IReadOnlyList<ILibFs> Discover()
    {
        var assemblies = AppDomain.CurrentDomain.GetAssemblies().ToList();
        foreach (string file in SafeFiles(AppContext.BaseDirectory, "LibFs.*.dll"))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            if (assemblies.Any(a => a.GetName().Name == name)) continue;
            try { assemblies.Add(Assembly.Load(new AssemblyName(name))); }
            catch (Exception e) when (e is IOException or BadImageFormatException) { /* not a loadable assembly: no libFS */ }
        }
        var found = new Dictionary<string, ILibFs>(StringComparer.Ordinal);
        foreach (var asm in assemblies)
        {
            foreach (var reg in asm.GetCustomAttributes<LibFsRegistrationAttribute>())
            {
                if (!typeof(ILibFs).IsAssignableFrom(reg.LibFs) || reg.LibFs.GetConstructor(Type.EmptyTypes) is null)
                    throw new InvalidOperationException($"{asm.GetName().Name}: {reg.LibFs} is not an ILibFs with a public parameterless constructor");
                var libFs = (ILibFs)Activator.CreateInstance(reg.LibFs)!;
                found.TryAdd(libFs.Name, libFs);
            }
        }
        return found.Values.OrderBy(l => l.Name, StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<string> SafeFiles(string dir, string pattern)
    {
        try { return Directory.GetFiles(dir, pattern); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
