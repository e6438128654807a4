using System.Reflection;

namespace ExoFS.Bench;

/// <summary>One benchmark: a name, a line of help, and a run that prints its figures.</summary>
public interface IBenchmark
{
    string Name { get; }
    string Help { get; }
    int Run(string[] args);
}

/// <summary>Benchmarks: <c>dotnet run -c Release --project bench/ExoFS.Bench -- NAME [options]</c>.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var all = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
            .OrderBy(b => b.Name, StringComparer.Ordinal)
            .ToList();
        var chosen = args.Length > 0 ? all.FirstOrDefault(b => b.Name == args[0]) : null;
        if (chosen is null)
        {
            Console.Error.WriteLine("usage: ExoFS.Bench NAME [options]; benchmarks:");
            foreach (var b in all) Console.Error.WriteLine($"  {b.Name,-20} {b.Help}");
            return 2;
        }
        return chosen.Run(args[1..]);
    }
}
