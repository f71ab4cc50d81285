using System.Diagnostics;
using System.Text.Json;

namespace Supervisor.Cluster.Tests.Infrastructure;

/// <summary>
/// One supervisor-daemon as a separate process: its own state root, its own loopback port, a generated
/// HOCON file, and its output in a log file (shown when a test fails).
/// </summary>
public sealed class DaemonNode : IDisposable
{
    private Process? _process;

    public DaemonNode(string name, int port, string seed, string extraHocon = "")
    {
        Name = name;
        Port = port;
        StateRoot = "/run/sv-cluster-" + name + "-" + Guid.NewGuid().ToString("N")[..8];
        WorkDir = Path.Combine(Path.GetTempPath(), "sv-cluster-node-" + name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(WorkDir);
        ConfigPath = Path.Combine(WorkDir, "node.conf");
        LogPath = Path.Combine(WorkDir, "daemon.out");
        File.WriteAllText(ConfigPath, $$"""
            supervisor {
              state-root = "{{StateRoot}}"
              criu-path = "{{TestPaths.Criu}}"
              stats.interval = 60s
              cluster {
                enabled = on
                port = {{port}}
                seed-nodes = ["{{seed}}"]
                labels { node = "{{name}}" }
                load-interval = 500ms
                place-timeout = 30s
                split-brain-resolver.stable-after = 4s
                # The test machine is shared and often loaded: a short pause would mark healthy daemons unreachable.
                failure-detector.acceptable-heartbeat-pause = 6s
              }
            }
            {{extraHocon}}
            """);
    }

    public string Name { get; }
    public int Port { get; }
    public string StateRoot { get; }
    public string WorkDir { get; }
    public string ConfigPath { get; }
    public string LogPath { get; }
    public string Address => $"akka.tcp://supervisor@127.0.0.1:{Port}";
    public int Pid => _process?.Id ?? 0;

    public void Start()
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec {Shell.Quote(TestPaths.Daemon)} --config {Shell.Quote(ConfigPath)} </dev/null >{Shell.Quote(LogPath)} 2>&1");
        _process = Process.Start(psi)!;
    }

    public string Output()
    {
        try
        {
            return File.ReadAllText(LogPath);
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>SIGTERM: the daemon leaves the cluster and shuts down gracefully.</summary>
    public void Terminate()
    {
        if (_process is not { HasExited: false })
            return;
        Shell.Run($"kill -TERM {_process.Id}");
        _process.WaitForExit(60000);
    }

    /// <summary>
    /// A node loss: SIGKILL to the daemon, then to every container of its state root (the shim, and every
    /// task of the container's cgroups, which also catches restored inits that have no shim).
    /// </summary>
    public void KillHard()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit(10000);
        }
        foreach (var dir in Directory.Exists(StateRoot) ? Directory.GetDirectories(StateRoot) : [])
        {
            var statePath = Path.Combine(dir, "state.json");
            if (!File.Exists(statePath))
                continue;
            using var doc = JsonDocument.Parse(File.ReadAllText(statePath));
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name.Equals("shimPid", StringComparison.OrdinalIgnoreCase) && p.Value.TryGetInt32(out var shim) && shim > 0)
                    Shell.Run($"kill -9 {shim} 2>/dev/null");
                if (p.Name.Equals("cgroupPaths", StringComparison.OrdinalIgnoreCase) && p.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var cg in p.Value.EnumerateObject())
                    {
                        var procs = Path.Combine(cg.Value.GetString() ?? "", "cgroup.procs");
                        if (cg.Name == "pids" && File.Exists(procs))
                            Shell.Run($"for i in 1 2 3 4 5; do for p in $(cat {Shell.Quote(procs)}); do kill -9 $p 2>/dev/null; done; sleep 0.1; done");
                    }
                }
            }
        }
    }

    /// <summary>The containers of this node's state root (the CLI's list, which reads the state root).</summary>
    public IReadOnlyList<string> ListedIds()
    {
        var r = Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {Shell.Quote(StateRoot)} list -q");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public void Dispose()
    {
        KillHard();
        foreach (var id in Directory.Exists(StateRoot) ? Directory.GetDirectories(StateRoot).Select(Path.GetFileName) : [])
        {
            if (!id!.StartsWith('.'))
                Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {Shell.Quote(StateRoot)} delete --force {Shell.Quote(id)}");
        }
        // SV_KEEP_LOGS=1 keeps each daemon's output in its work dir for a post-mortem.
        Shell.Run(Environment.GetEnvironmentVariable("SV_KEEP_LOGS") == "1"
            ? $"rm -rf {Shell.Quote(StateRoot)}"
            : $"rm -rf {Shell.Quote(StateRoot)} {Shell.Quote(WorkDir)}");
    }
}
