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

    /// <summary>
    /// The libFS whose roots have XN type <paramref name="rootType"/>, or null — also when two registered libFSes
    /// claim that type: the host would otherwise hand one's roots to whichever sorts first.
    /// </summary>
    public static ILibFs? ForRootType(string rootType)
    {
        var claims = All.Where(l => l.RootType == rootType).Take(2).ToList();
        return claims.Count == 1 ? claims[0] : null;
    }

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
        var ambiguous = new HashSet<string>(StringComparer.Ordinal);
        foreach (var asm in assemblies)
        {
            foreach (var reg in asm.GetCustomAttributes<LibFsRegistrationAttribute>())
            {
                if (!typeof(ILibFs).IsAssignableFrom(reg.LibFs) || reg.LibFs.GetConstructor(Type.EmptyTypes) is null)
                    throw new InvalidOperationException($"{asm.GetName().Name}: {reg.LibFs} is not an ILibFs with a public parameterless constructor");
                var libFs = (ILibFs)Activator.CreateInstance(reg.LibFs)!;
                // Two registrations under one name: neither is trusted with it.
                if (!found.TryAdd(libFs.Name, libFs) && found[libFs.Name].GetType() != libFs.GetType()) ambiguous.Add(libFs.Name);
            }
        }
        return found.Values.Where(l => !ambiguous.Contains(l.Name)).OrderBy(l => l.Name, StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<string> SafeFiles(string dir, string pattern)
    {
        try { return Directory.GetFiles(dir, pattern); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
