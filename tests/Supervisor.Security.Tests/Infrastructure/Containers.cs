using System.Text.Json.Nodes;

namespace Supervisor.Security.Tests.Infrastructure;

/// <summary>Detached containers driven through the CLI, with their stdio away from the test's pipes.</summary>
public static class Containers
{
    public static string CliPath => Shell.Quote(TestPaths.Cli);

    /// <summary>`create` (init blocked before execve) with stdio on /dev/null; returns the CLI result.</summary>
    public static CliResult Create(string root, Bundle b, string id) =>
        Shell.Run($"{CliPath} --root {Shell.Quote(root)} create -b {Shell.Quote(b.Dir)} {id} </dev/null >/dev/null 2>{Shell.Quote(b.Dir + "/create.err")}; " +
                  $"rc=$?; cat {Shell.Quote(b.Dir + "/create.err")} >&2; exit $rc");

    /// <summary>`run -d` with the container's stdout and stderr going to <paramref name="output"/>.</summary>
    public static CliResult RunDetached(string root, Bundle b, string id, string output) =>
        Shell.Run($"{CliPath} --root {Shell.Quote(root)} run -d -b {Shell.Quote(b.Dir)} {id} </dev/null >{Shell.Quote(output)} 2>&1");

    public static int InitPid(string root, string id)
    {
        var st = Cli.Run(root, "state", id);
        Assert.True(st.ExitCode == 0, st.ToString());
        return (int)JsonNode.Parse(st.Stdout)!["pid"]!;
    }

    public static string Status(string root, string id) =>
        (string)JsonNode.Parse(Cli.Run(root, "state", id).Stdout)!["status"]!;

    /// <summary>Waits (bounded) until <paramref name="file"/> contains <paramref name="text"/>.</summary>
    public static bool WaitFor(string file, string text, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            if (File.Exists(file) && File.ReadAllText(file).Contains(text, StringComparison.Ordinal))
                return true;
            Thread.Sleep(50);
        }
        return false;
    }

    /// <summary>Waits (bounded) until the container's status is <paramref name="status"/>.</summary>
    public static bool WaitStatus(string root, string id, string status, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            if (Status(root, id) == status)
                return true;
            Thread.Sleep(50);
        }
        return false;
    }

    public static void AddCaps(Bundle b, params string[] caps)
    {
        foreach (var set in new[] { "bounding", "effective", "permitted" })
        {
            var arr = b.Process["capabilities"]![set]!.AsArray();
            foreach (var c in caps)
                arr.Add(c);
        }
    }

    public static JsonArray Args(params string[] args) => new(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
}
