using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Supervisor.Cluster.Tests.Infrastructure;

/// <summary>Where the built artifacts are: $SUPERVISOR_BIN / $SUPERVISOR_ROOTFS / $SUPERVISOR_CRIU, or the repo's artifacts/.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> RepoRootLazy = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Supervisor.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Supervisor.sln) not found");
    });

    public static string BinDir => Env("SUPERVISOR_BIN") ?? Path.Combine(RepoRootLazy.Value, "artifacts", "bin");
    public static string Cli => Path.Combine(BinDir, "supervisor");
    public static string Daemon => Path.Combine(BinDir, "supervisor-daemon");
    public static string Rootfs => Env("SUPERVISOR_ROOTFS") ?? Path.Combine(RepoRootLazy.Value, "artifacts", "rootfs");
    public static string Criu => Env("SUPERVISOR_CRIU") ?? "/opt/supervisor/criu/bin/criu";

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
}

/// <summary>Multi-node tests start real daemons and containers: root, the built binaries and a working CRIU.</summary>
public sealed class ClusterFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Problem = new(Check);

    public ClusterFactAttribute()
    {
        if (Problem.Value is { } reason)
            Skip = reason;
    }

    private static string? Check()
    {
        if (!Environment.IsPrivilegedProcess)
            return "needs root: the daemons create namespaces and cgroups";
        if (!File.Exists(TestPaths.Daemon) || !File.Exists(TestPaths.Cli))
            return $"{TestPaths.BinDir} lacks supervisor-daemon or supervisor (run `make build`)";
        if (!Directory.Exists(TestPaths.Rootfs))
            return $"{TestPaths.Rootfs} does not exist (run `make rootfs`)";
        var r = Shell.Run($"{Shell.Quote(TestPaths.Criu)} check 2>&1");
        return r.ExitCode == 0 && r.Stdout.Contains("Looks good", StringComparison.Ordinal)
            ? null
            : $"criu check failed on this kernel: {r.Stdout.Trim().Split('\n').LastOrDefault()}";
    }
}

public sealed record ShellResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

public static class Shell
{
    public static ShellResult Run(string command, int timeoutSeconds = 120)
    {
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            p.Kill(true);
            throw new TimeoutException($"sh -c {command} did not finish");
        }
        return new ShellResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>A loopback TCP port that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>An OCI bundle in a temp dir: a private copy of the busybox rootfs and the config.json of `supervisor spec`.</summary>
public sealed class TestBundle : IDisposable
{
    public TestBundle(params string[] args)
    {
        Dir = Path.Combine(Path.GetTempPath(), "sv-cluster-bundle-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Dir);
        var r = Shell.Run($"cp -a {Shell.Quote(TestPaths.Rootfs)} {Shell.Quote(Path.Combine(Dir, "rootfs"))} && cd {Shell.Quote(Dir)} && {Shell.Quote(TestPaths.Cli)} --root /tmp spec");
        if (r.ExitCode != 0)
            throw new InvalidOperationException("bundle: " + r);
        var path = Path.Combine(Dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config["process"]!["terminal"] = false;
        config["root"]!["readonly"] = false;
        config["process"]!["args"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
        File.WriteAllText(path, config.ToJsonString());
    }

    public string Dir { get; }

    public string RootfsFile(string relative) => Path.Combine(Dir, "rootfs", relative);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
