using System.Text.Json.Nodes;

namespace Supervisor.Integration.Tests.Infrastructure;

/// <summary>
/// An OCI bundle in a temp dir: a private copy of the busybox rootfs and the config.json that
/// `supervisor spec` writes, adjusted by the test through JSON edits.
/// </summary>
public sealed class Bundle : IDisposable
{
    public Bundle(string stateRoot, Action<JsonObject>? edit = null, string[]? args = null)
    {
        Dir = Path.Combine(Path.GetTempPath(), "sv-bundle-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
        var cp = Shell.Run($"cp -a {Shell.Quote(TestPaths.Rootfs)} {Shell.Quote(RootfsPath)}");
        if (cp.ExitCode != 0)
            throw new InvalidOperationException("copying the rootfs failed: " + cp);
        var spec = Cli.RunIn(Dir, stateRoot, "spec");
        if (spec.ExitCode != 0)
            throw new InvalidOperationException("supervisor spec failed: " + spec);
        Config = JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();
        // Tests read the container's output through pipes, so no terminal; a writable rootfs unless asked.
        Config["process"]!["terminal"] = false;
        Config["root"]!["readonly"] = false;
        if (args is not null)
            Config["process"]!["args"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
        edit?.Invoke(Config);
        Save();
    }

    public string Dir { get; }
    public string RootfsPath => Path.Combine(Dir, "rootfs");
    public string ConfigPath => Path.Combine(Dir, "config.json");
    public JsonObject Config { get; }

    public JsonObject Process => Config["process"]!.AsObject();
    public JsonObject Linux => Config["linux"]!.AsObject();

    public void Save() => File.WriteAllText(ConfigPath, Config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>A private state root per test class, with every container force-deleted at the end.</summary>
public sealed class StateRoot : IDisposable
{
    public StateRoot()
    {
        Path = System.IO.Path.Combine("/run", "sv-itest-" + Guid.NewGuid().ToString("N")[..10]);
    }

    public string Path { get; }

    public static string NewId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose()
    {
        if (!Directory.Exists(Path))
            return;
        foreach (var dir in Directory.GetDirectories(Path))
            Cli.Run(Path, "delete", "--force", System.IO.Path.GetFileName(dir));
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
