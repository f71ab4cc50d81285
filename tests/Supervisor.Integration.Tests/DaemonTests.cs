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
              reconcile-interval = 1s
              containers = [ {{containers}} ]
            }
            """);
        return path;
    }

    private JsonObject StateJson(string id)
    {
        var r = Cli.Run(_root.Path, "state", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonNode.Parse(r.Stdout)!.AsObject();
    }

    private int LogCount(string text)
    {
        lock (_log)
        {
            var all = _log.ToString();
            int n = 0;
            for (int i = all.IndexOf(text, StringComparison.Ordinal); i >= 0; i = all.IndexOf(text, i + 1, StringComparison.Ordinal))
                n++;
            return n;
        }
    }

    /// <summary>A container made with the CLI (`create`): its init is held before execve by its shim.</summary>
    private int CliCreate(Bundle b, string id)
    {
        var r = Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} create -b {b.Dir} {id} </dev/null >/dev/null 2>&1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var st = State(id);
        Assert.Equal("created", st.Status);
        return st.Pid;
    }

    private static ulong StartTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return ulong.Parse(fields[19]);
    }

    private void ForgeInit(string id, int pid, ulong startTime)
    {
        var path = Path.Combine(_root.Path, id, "state.json");
        var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.True(o.ContainsKey("initPid") && o.ContainsKey("initStartTime"), "state.json has no initPid/initStartTime: " + o.ToJsonString());
        o["initPid"] = pid;
        o["initStartTime"] = startTime;
        File.WriteAllText(path, o.ToJsonString());
    }

    [RootFact]
    public void Paused_and_created_containers_keep_their_state_across_a_kill_9_of_the_daemon()
    {
        var svc = NewBundle("/bin/sleep", "1000");
        var made = NewBundle("/bin/sleep", "1000");
        var config = WriteConfig($$"""{ id = "svc", bundle = "{{svc.Dir}}", restart.policy = always }""");
        var madePid = CliCreate(made, "made");

        var daemon = StartDaemon(config);
        var running = WaitFor(() => State("svc"), s => s.Status == "running", "svc running");
        WaitFor(() => LogCount("container made: adopted (created"), n => n == 1, "made adopted");
        Assert.Equal(0, Cli.Run(_root.Path, "pause", "svc").ExitCode);
        // The pause happened behind the daemon's back; it notices on its reconcile tick, publishes it and
        // keeps it paused.
        WaitFor(() => LogCount("container svc: paused outside the supervisor"), n => n == 1, "the CLI pause noticed");
        WaitFor(() => LogCount("ContainerPaused svc"), n => n == 1, "ContainerPaused published");
        Assert.Equal(("paused", running.Pid), (State("svc").Status, State("svc").Pid));

        daemon.Kill();
        daemon.WaitForExit();
        StartDaemon(config);
        WaitFor(() => LogCount("container svc: adopted (paused"), n => n == 1, "svc re-adopted as paused");
        WaitFor(() => LogCount("container made: adopted (created"), n => n == 2, "made re-adopted as created");
        Thread.Sleep(1500);
        Assert.Equal(("paused", running.Pid), (State("svc").Status, State("svc").Pid));
        Assert.Equal(("created", madePid), (State("made").Status, State("made").Pid));
        Assert.Equal(0, RestartCount("svc"));

        // Both still work as what they are.
        Assert.Equal(0, Cli.Run(_root.Path, "resume", "svc").ExitCode);
        Assert.Equal(("running", running.Pid), (State("svc").Status, State("svc").Pid));
        Assert.Equal(0, Cli.Run(_root.Path, "start", "made").ExitCode);
        Assert.Equal(("running", madePid), (State("made").Status, State("made").Pid));
    }

    [RootFact]
    public void A_kill_of_the_daemon_between_create_and_start_does_not_start_the_container_twice()
    {
        // The state a daemon leaves when it dies between creating a configured container and starting it:
        // the init is held before execve. Each real start of the workload appends a line to /starts.
        var once = NewBundle("/bin/sh", "-c", "echo started >> /starts; exec sleep 1000");
        var heldPid = CliCreate(once, "svc");
        var config = WriteConfig($$"""{ id = "svc", bundle = "{{once.Dir}}", restart.policy = always }""");
        var starts = Path.Combine(once.RootfsPath, "starts");

        var daemon = StartDaemon(config);
        var running = WaitFor(() => State("svc"), s => s.Status == "running", "svc started");
        Assert.Equal(heldPid, running.Pid);
        WaitFor(() => File.Exists(starts) ? File.ReadAllLines(starts).Length : 0, n => n == 1, "the workload started");
        WaitFor(() => LogCount("container svc: was created but not started; started"), n => n == 1, "the start logged");

        daemon.Kill();
        daemon.WaitForExit();
        StartDaemon(config);
        WaitFor(() => LogCount("container svc: adopted (running"), n => n == 1, "svc re-adopted");
        Thread.Sleep(1500);
        Assert.Equal(("running", heldPid), (State("svc").Status, State("svc").Pid));
        Assert.Single(File.ReadAllLines(starts));
        Assert.Equal(0, RestartCount("svc"));
    }

    [RootFact]
    public void A_forged_state_naming_an_unrelated_process_is_not_adopted_and_that_process_is_never_signalled()
    {
        using var bystander = Process.Start(new ProcessStartInfo("/bin/sleep", "1000"))!;
        try
        {
            var realStart = StartTime(bystander.Id);
            // "forged": the pid and start time of the bystander, which lives outside the container's cgroup.
            // "stale": the bystander's pid with a start time that is not its own.
            var forged = NewBundle("/bin/sleep", "1000");
            var stale = NewBundle("/bin/sleep", "1000");
            CliCreate(forged, "forged");
            CliCreate(stale, "stale");
            ForgeInit("forged", bystander.Id, realStart);
            ForgeInit("stale", bystander.Id, realStart + 4242);
            var config = WriteConfig($$"""{ id = "stale", bundle = "{{stale.Dir}}", restart.policy = always }""");

            StartDaemon(config);
            // The configured one is not adopted as running; "always" runs it again as a new container.
            var restarted = WaitFor(() => State("stale"), s => s.Status == "running", "stale run again");
            Assert.NotEqual(bystander.Id, restarted.Pid);
            WaitFor(() => LogCount("container forged: adopted (stopped"), n => n == 1, "forged adopted as stopped");
            Assert.Equal(1, LogCount($"its state names pid {bystander.Id}, a live process outside the container's cgroup"));
            Assert.Equal("stopped", State("forged").Status);

            // The CLI's delete -f of the disowned container kills what is in its cgroup (the held init), not the bystander.
            Assert.Equal(0, Cli.Run(_root.Path, "delete", "--force", "forged").ExitCode);
            Thread.Sleep(500);
            Assert.False(bystander.HasExited, "the unrelated process was killed");
            var state = File.ReadAllLines($"/proc/{bystander.Id}/status").First(l => l.StartsWith("State:", StringComparison.Ordinal));
            Assert.Contains("sleeping", state);
            Assert.Equal("0000000000000000", File.ReadAllLines($"/proc/{bystander.Id}/status").First(l => l.StartsWith("ShdPnd:", StringComparison.Ordinal)).Split('\t')[1].Trim());
        }
        finally
        {
            if (!bystander.HasExited)
                bystander.Kill();
            bystander.WaitForExit();
        }
    }

    [RootFact]
    public void A_read_only_state_root_is_reported_and_the_restart_record_is_written_once_it_is_writable()
    {
        var svc = NewBundle("/bin/sleep", "1000");
        var config = WriteConfig($$"""{ id = "svc", bundle = "{{svc.Dir}}", restart { policy = "on-failure", max-retries = 5 } }""");
        StartDaemon(config);
        var first = WaitFor(() => State("svc"), s => s.Status == "running", "svc running");
        WaitFor(() => RestartCount("svc"), c => c == 0, "the restart record");

        var records = Path.Combine(_root.Path, ".supervisor");
        Assert.Equal(0, Shell.Run($"mount --bind {records} {records} && mount -o remount,bind,ro {records}").ExitCode);
        try
        {
            Shell.Run($"kill -9 {first.Pid}");
            var second = WaitFor(() => State("svc"), s => s.Status == "running" && s.Pid != first.Pid, "svc restarted");
            WaitFor(() => LogCount("container svc: cannot save its restart record"), n => n == 1, "the failure reported");
            Assert.Equal(0, RestartCount("svc"));
            Assert.Equal(("running", second.Pid), (State("svc").Status, State("svc").Pid));
        }
        finally
        {
            Shell.Run($"umount {records}");
        }
        // Nothing was lost: the next tick writes the count the daemon kept in memory.
        Assert.Equal(1, WaitFor(() => RestartCount("svc"), c => c == 1, "the record written after the remount"));
        WaitFor(() => LogCount("container svc: restart record saved again"), n => n == 1, "the recovery logged");
    }

    [RootFact]
    public void A_kill_or_delete_with_the_cli_behind_the_daemons_back_is_noticed_and_state_shows_the_restart_record()
    {
        var svc = NewBundle("/bin/sleep", "1000");
        var config = WriteConfig($$"""{ id = "svc", bundle = "{{svc.Dir}}", restart.policy = always }""");
        StartDaemon(config);
        var first = WaitFor(() => State("svc"), s => s.Status == "running", "svc running");

        Assert.Equal(0, Cli.Run(_root.Path, "kill", "svc", "KILL").ExitCode);
        var second = WaitFor(() => State("svc"), s => s.Status == "running" && s.Pid != first.Pid, "svc back after a CLI kill");
        WaitFor(() => RestartCount("svc"), c => c == 1, "restart count 1");
        var st = StateJson("svc");
        Assert.Equal(1, st["restartCount"]!.GetValue<int>());
        Assert.Equal("always", st["restartPolicy"]!.GetValue<string>());
        Assert.Equal(137, st["lastExitCode"]!.GetValue<int>());
        Assert.Equal("running", st["status"]!.GetValue<string>());

        Assert.Equal(0, Cli.Run(_root.Path, "delete", "--force", "svc").ExitCode);
        WaitFor(() => State("svc"), s => s.Status == "running" && s.Pid != second.Pid, "svc back after a CLI delete");
        Assert.Equal(2, WaitFor(() => RestartCount("svc"), c => c == 2, "restart count 2"));
        Assert.True(StateJson("svc").ContainsKey("lastExitCode"));
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
    public void An_oom_kill_is_restarted_per_policy_and_reported_and_a_fork_bomb_under_a_pids_limit_is_contained()
    {
        var hog = NewBundle("/bin/sh", "-c", "sleep 1; x=$(head -c 67108864 /dev/zero | tr '\\0' a)");
        hog.Linux["resources"]!["memory"] = new JsonObject { ["limit"] = 16L << 20, ["swap"] = 16L << 20 };
        hog.Save();
        // The bomb forks in a subshell until fork fails (ash then gives up); its children stay, filling the
        // limit, and the init lives on.
        var bomb = NewBundle("/bin/sh", "-c", "(while true; do sleep 1000 & done) 2>/dev/null; exec sleep 1000");
        bomb.Linux["resources"]!["pids"] = new JsonObject { ["limit"] = 16 };
        bomb.Save();
        var config = WriteConfig($$"""
            { id = "hog", bundle = "{{hog.Dir}}", restart { policy = "on-failure", max-retries = 1 } }
            { id = "bomb", bundle = "{{bomb.Dir}}", restart.policy = always }
            """);
        StartDaemon(config);

        // The hog is OOM-killed, restarted once (on-failure:1), OOM-killed again and left stopped.
        WaitFor(() => LogCount("container hog: not restarted: on-failure:1 exhausted"), n => n == 1, "hog given up");
        // One OOM event per kill (the kernel's repeated notifications are coalesced), and two OOM exits.
        Assert.InRange(LogCount("ContainerOomKilled hog"), 2, 10);
        Assert.Equal(2, LogCount("(signal 9, oom True)"));
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(_root.Path, ".supervisor", "hog.json")))!;
        Assert.True(record["lastOomKilled"]!.GetValue<bool>());
        Assert.Equal(1, record["restartCount"]!.GetValue<int>());
        Assert.Equal(137, StateJson("hog")["lastExitCode"]!.GetValue<int>());

        // The fork bomb fills its pids limit and no more; it runs on, and so does the daemon.
        var running = WaitFor(() => State("bomb"), s => s.Status == "running", "bomb running");
        var pidsDir = JsonNode.Parse(File.ReadAllText(Path.Combine(_root.Path, "bomb", "state.json")))!["cgroupPaths"]!["pids"]!.GetValue<string>();
        // At the limit the subshell gives up and exits, so one slot frees again.
        WaitFor(() => int.Parse(File.ReadAllText(Path.Combine(pidsDir, "pids.current")).Trim()), n => n >= 15, "the pids limit reached");
        Thread.Sleep(1000);
        Assert.InRange(int.Parse(File.ReadAllText(Path.Combine(pidsDir, "pids.current")).Trim()), 1, 16);
        Assert.True(int.Parse(File.ReadAllText(Path.Combine(pidsDir, "pids.events")).Split(' ')[1].Trim()) > 0, "no fork was refused");
        Assert.Equal(("running", running.Pid), (State("bomb").Status, State("bomb").Pid));
        Assert.False(_daemons[0].HasExited);
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
