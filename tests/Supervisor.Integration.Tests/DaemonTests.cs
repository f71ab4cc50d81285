using System.Diagnostics;
using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Integration.Tests;

/// <summary>
/// The daemon (artifacts/bin/supervisor-daemon) with real containers: restart on a kill -9 of the init,
/// re-adoption after a kill -9 of the daemon itself, and a graceful stop that leaves containers running.
/// Observed from outside, through the CLI on the same --root and the persisted restart records.
/// </summary>
public sealed class DaemonTests : IDisposable
{
    private readonly StateRoot _root = new();
    private readonly List<Bundle> _bundles = [];
    private readonly List<Process> _daemons = [];
    private readonly System.Text.StringBuilder _log = new();

    public void Dispose()
    {
        foreach (var d in _daemons)
        {
            if (!d.HasExited)
                d.Kill();
            d.WaitForExit();
            d.Dispose();
        }
        _root.Dispose();
        foreach (var b in _bundles)
            b.Dispose();
    }

    private Bundle NewBundle(params string[] args)
    {
        var b = new Bundle(_root.Path, args: args);
        _bundles.Add(b);
        return b;
    }

    private Process StartDaemon(string configFile)
    {
        var psi = new ProcessStartInfo(Path.Combine(TestPaths.BinDir, "supervisor-daemon"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(configFile);
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(_root.Path);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _daemons.Add(p);
        return p;
    }

    private (string Status, int Pid, int? ExitCode) State(string id)
    {
        var r = Cli.Run(_root.Path, "state", id);
        if (r.ExitCode != 0)
            return ("missing", 0, null);
        var o = JsonNode.Parse(r.Stdout)!.AsObject();
        return (o["status"]!.GetValue<string>(), o["pid"]?.GetValue<int>() ?? 0, o["exitCode"]?.GetValue<int>());
    }

    private int RestartCount(string id)
    {
        var path = Path.Combine(_root.Path, ".supervisor", id + ".json");
        return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))!["restartCount"]?.GetValue<int>() ?? 0 : -1;
    }

    private T WaitFor<T>(Func<T> probe, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        T last = probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > deadline)
            {
                lock (_log)
                    throw new TimeoutException($"timed out waiting for {what}; last seen: {last}\ndaemon output:\n{_log}");
            }
            Thread.Sleep(100);
            last = probe();
        }
        return last;
    }

    private string WriteConfig(string containers)
    {
        var path = Path.Combine(_bundles[0].Dir, "daemon.conf");
        File.WriteAllText(path, $$"""
            supervisor {
              stop-timeout = 2s
              containers = [ {{containers}} ]
            }
            """);
        return path;
    }

    [RootFact]
    public void Kill_9_of_an_init_restarts_it_and_the_daemon_readopts_after_its_own_kill_9()
    {
        var svc = NewBundle("/bin/sh", "-c", "while true; do sleep 1; done");
        var keeper = NewBundle("/bin/sleep", "1000");
        var config = WriteConfig($$"""
            { id = "svc", bundle = "{{svc.Dir}}", restart { policy = "on-failure", max-retries = 5 } }
            { id = "keeper", bundle = "{{keeper.Dir}}", restart.policy = "no" }
            """);
        var daemon = StartDaemon(config);

        var first = WaitFor(() => State("svc"), s => s.Status == "running", "svc running");
        var keeperPid = WaitFor(() => State("keeper"), s => s.Status == "running", "keeper running").Pid;

        // A kill -9 of the init is a failure: on-failure runs the container again (a new init).
        Shell.Run($"kill -9 {first.Pid}");
        var second = WaitFor(() => State("svc"), s => s.Status == "running" && s.Pid != first.Pid, "svc restarted");
        Assert.Equal(1, WaitFor(() => RestartCount("svc"), c => c == 1, "restart count 1"));

        // The daemon dies hard; its containers keep running under their shims.
        daemon.Kill();
        daemon.WaitForExit();
        Assert.Equal(("running", second.Pid), (State("svc").Status, State("svc").Pid));

        // While no daemon runs, the service's init is killed: the shim records 137 (exit.json is written just
        // after the init is reaped, so a state read in between shows stopped without a code yet).
        Shell.Run($"kill -9 {second.Pid}");
        var down = WaitFor(() => State("svc"), s => s.Status == "stopped" && s.ExitCode is not null, "svc stopped while the daemon is down");
        Assert.Equal(137, down.ExitCode);

        // The next daemon adopts the live container as it is, handles the missed exit once, and keeps counting.
        StartDaemon(config);
        var third = WaitFor(() => State("svc"), s => s.Status == "running", "svc running again");
        Assert.NotEqual(second.Pid, third.Pid);
        Assert.Equal(2, WaitFor(() => RestartCount("svc"), c => c == 2, "restart count 2"));
        Assert.Equal(("running", keeperPid), (State("keeper").Status, State("keeper").Pid));
        var list = Cli.Run(_root.Path, "list", "-q");
        Assert.Equal(["keeper", "svc"], list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToArray());
        Thread.Sleep(500);
        Assert.Equal(2, RestartCount("svc"));
    }

    [RootFact]
    public void Sigterm_stops_the_daemon_gracefully_and_leaves_the_containers_running()
    {
        var svc = NewBundle("/bin/sleep", "1000");
        var config = WriteConfig($$"""{ id = "svc", bundle = "{{svc.Dir}}", restart.policy = always }""");
        var daemon = StartDaemon(config);
        var running = WaitFor(() => State("svc"), s => s.Status == "running", "svc running");

        Shell.Run($"kill -TERM {daemon.Id}");
        Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(30)), "the daemon did not stop on SIGTERM");
        Assert.Equal(0, daemon.ExitCode);
        Assert.Equal(("running", running.Pid), (State("svc").Status, State("svc").Pid));
    }
}
