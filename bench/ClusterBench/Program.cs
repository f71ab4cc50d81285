using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Configuration;
using Supervisor.Cluster;

namespace Supervisor.ClusterBench;

/// <summary>
/// Starts N supervisor-daemon processes on loopback (own state roots and ports, one seed) and a client
/// member, then measures: placing and starting C containers at once across the nodes, removing them, and
/// M live migrations of a counter container split into their phases. Needs root, `make build` and `make rootfs`.
/// </summary>
public static class Program
{
    private static string Bin => Environment.GetEnvironmentVariable("SUPERVISOR_BIN") is { Length: > 0 } b ? b : Path.Combine(RepoRoot(), "artifacts", "bin");
    private static string Rootfs => Environment.GetEnvironmentVariable("SUPERVISOR_ROOTFS") is { Length: > 0 } r ? r : Path.Combine(RepoRoot(), "artifacts", "rootfs");
    private static string Criu => Environment.GetEnvironmentVariable("SUPERVISOR_CRIU") is { Length: > 0 } c ? c : "/opt/supervisor/criu/bin/criu";

    public static async Task<int> Main(string[] args)
    {
        int nodes = Arg(args, "--nodes", 3), containers = Arg(args, "--containers", 100), migrations = Arg(args, "--migrations", 5);
        var run = Guid.NewGuid().ToString("N")[..6];
        var ports = Enumerable.Range(0, nodes).Select(_ => FreePort()).ToList();
        var seed = $"akka.tcp://supervisor@127.0.0.1:{ports[0]}";
        var work = Path.Combine(Path.GetTempPath(), "sv-clusterbench-" + run);
        Directory.CreateDirectory(work);
        var roots = ports.Select((_, i) => $"/run/sv-clusterbench-{run}-n{i + 1}").ToList();
        var daemons = new List<Process>();
        ActorSystem? client = null;
        try
        {
            for (int i = 0; i < nodes; i++)
            {
                var conf = Path.Combine(work, $"n{i + 1}.conf");
                File.WriteAllText(conf, $$"""
                    supervisor {
                      state-root = "{{roots[i]}}"
                      criu-path = "{{Criu}}"
                      stats.interval = 60s
                      cluster {
                        enabled = on
                        port = {{ports[i]}}
                        seed-nodes = ["{{seed}}"]
                        labels { node = "n{{i + 1}}" }
                        load-interval = 500ms
                      }
                    }
                    """);
                daemons.Add(Sh($"exec {Q(Path.Combine(Bin, "supervisor-daemon"))} --config {Q(conf)} </dev/null >{Q(Path.Combine(work, $"n{i + 1}.out"))} 2>&1"));
            }
            client = ActorSystem.Create(ClusterSettings.SystemName, SupervisorClusterConfig.ForClient([seed])
                .WithFallback(ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.cluster.log-info = off\nakka.remote.log-remote-lifecycle-events = off")));
            var workloads = SupervisorClusterConfig.StartWorkloadProxy(client);
            var cluster = Akka.Cluster.Cluster.Get(client);
            var sw = Stopwatch.StartNew();
            while (cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up && m.HasRole(ClusterSettings.NodeRole)) < nodes)
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(180))
                    throw new TimeoutException("the daemons did not form a cluster");
                await Task.Delay(100);
            }
            // The placement decider (named by the seed's agent) must hold a load report from every node.
            while (true)
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(180))
                    throw new TimeoutException("the placement decider never heard from every daemon");
                var view = await NodeAgent.At(client, seed).Ask<PlacementView>(GetPlacementView.Instance, TimeSpan.FromSeconds(10));
                if (view.Decider is { } decider
                    && (await NodeAgent.At(client, decider).Ask<PlacementView>(GetPlacementView.Instance, TimeSpan.FromSeconds(10))).Nodes.Count == nodes)
                    break;
                await Task.Delay(100);
            }
            Console.WriteLine($"cluster of {nodes} daemons up after {sw.Elapsed.TotalSeconds:F1} s");

            var sleeper = Bundle(work, "sleeper", "/bin/sleep", "100000");
            var ids = Enumerable.Range(1, containers).Select(i => $"b{run}-{i}").ToList();
            sw.Restart();
            var placed = await Task.WhenAll(ids.Select(id => workloads.Ask<object>(
                new RunWorkload(new WorkloadSpec(id, sleeper, "always", PlacementConstraints.None)), TimeSpan.FromSeconds(300))));
            var placeTime = sw.Elapsed;
            var ok = placed.OfType<WorkloadStatus>().Where(s => s.Phase == WorkloadPhases.Placed).ToList();
            var spread = string.Join(", ", ok.GroupBy(s => s.Node).OrderBy(g => g.Key).Select(g => $"{g.Key![^5..]}: {g.Count()}"));
            Console.WriteLine($"place+start {containers} containers: {placeTime.TotalSeconds:F2} s ({placeTime.TotalMilliseconds / containers:F1} ms each, {ok.Count} placed; per node port {spread})");

            var list = await NodeAgent.At(client, seed).Ask<ClusterContainerList>(ListClusterContainers.Instance, TimeSpan.FromSeconds(30));
            Console.WriteLine($"cluster list: {list.Containers.Count(c => c.Status == "running")} running" +
                (list.Unanswered.Count > 0 ? $" ({list.Unanswered.Count} nodes did not answer in time)" : ""));

            sw.Restart();
            await Task.WhenAll(ids.Select(id => workloads.Ask<object>(new RemoveWorkload(id), TimeSpan.FromSeconds(300))));
            Console.WriteLine($"remove {containers} containers: {sw.Elapsed.TotalSeconds:F2} s");

            var counter = Bundle(work, "counter", "/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.05; done");
            var addresses = ports.Select(p => $"akka.tcp://supervisor@127.0.0.1:{p}").ToList();
            var first = await workloads.Ask<object>(new RunWorkload(new WorkloadSpec($"m{run}", counter, "on-failure",
                new PlacementConstraints(null, new Dictionary<string, string> { ["node"] = "n1" }))), TimeSpan.FromSeconds(60));
            if (first is not WorkloadStatus { Phase: WorkloadPhases.Placed })
                throw new InvalidOperationException("counter: " + first);
            await Task.Delay(1000);
            var reports = new List<MigrationReport>();
            for (int i = 0; i < migrations; i++)
            {
                var to = addresses[(i + 1) % Math.Min(2, nodes)];
                var r = await workloads.Ask<MigrationReport>(new MigrateWorkload($"m{run}", to), TimeSpan.FromSeconds(180));
                if (!r.Succeeded)
                    throw new InvalidOperationException("migration failed: " + r.Error);
                reports.Add(r);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"migration {i + 1}: checkpoint {r.CheckpointMs:F0} ms, transfer {r.TransferMs:F0} ms ({r.ImageBytes / 1024} KiB), restore {r.RestoreMs:F0} ms, cleanup {r.CleanupMs:F0} ms, total {r.TotalMs:F0} ms"));
                await Task.Delay(500);
            }
            if (reports.Count > 0)
            {
                static double Median(IEnumerable<double> v) { var s = v.Order().ToList(); return s[s.Count / 2]; }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"migration median of {reports.Count}: checkpoint {Median(reports.Select(r => r.CheckpointMs)):F0} ms, transfer {Median(reports.Select(r => r.TransferMs)):F0} ms, restore {Median(reports.Select(r => r.RestoreMs)):F0} ms, cleanup {Median(reports.Select(r => r.CleanupMs)):F0} ms, total {Median(reports.Select(r => r.TotalMs)):F0} ms"));
            }
            await workloads.Ask<object>(new RemoveWorkload($"m{run}"), TimeSpan.FromSeconds(60));
            return 0;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or AskTimeoutException)
        {
            Console.Error.WriteLine("clusterbench: " + e.Message);
            foreach (var f in Directory.GetFiles(work, "*.out").Order())
                Console.Error.WriteLine($"---- {Path.GetFileName(f)} ----\n{string.Join('\n', File.ReadAllLines(f).TakeLast(30))}");
            return 1;
        }
        finally
        {
            if (client is not null)
                await client.Terminate().WaitAsync(TimeSpan.FromSeconds(20)).ContinueWith(_ => { });
            foreach (var d in daemons)
            {
                if (!d.HasExited)
                    d.Kill();
            }
            foreach (var root in roots)
                Sh($"for d in {Q(root)}/*/; do [ -d \"$d\" ] && {Q(Path.Combine(Bin, "supervisor"))} --root {Q(root)} delete --force $(basename $d); done 2>/dev/null; rm -rf {Q(root)}").WaitForExit();
            Sh($"rm -rf {Q(work)}").WaitForExit();
        }
    }

    private static string Bundle(string work, string name, params string[] args)
    {
        var dir = Path.Combine(work, name);
        Directory.CreateDirectory(dir);
        var p = Sh($"cp -a {Q(Rootfs)} {Q(Path.Combine(dir, "rootfs"))} && cd {Q(dir)} && {Q(Path.Combine(Bin, "supervisor"))} --root /tmp spec");
        p.WaitForExit();
        var path = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config["process"]!["terminal"] = false;
        config["root"]!["readonly"] = false;
        config["process"]!["args"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
        File.WriteAllText(path, config.ToJsonString());
        return dir;
    }

    private static Process Sh(string command)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        return Process.Start(psi)!;
    }

    private static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Supervisor.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Supervisor.sln) not found");
    }
}
