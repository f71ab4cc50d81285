using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Client;
using Supervisor.Remote.Tests.Infrastructure;

namespace Supervisor.Remote.Tests;

/// <summary>
/// A real daemon with remote control on, under the remaining attacks of security-anchors §6 (R6's oversized
/// frame, R9 containers reaching for the control port, R10 a partition between client and daemon), and the
/// remote event stream as a user sees it through `supervisor remote events`.
/// </summary>
public sealed class ControlPlaneExposureTests
{
    private static RemoteControlClient Client(RemoteDaemon d, int port, TimeSpan timeout) =>
        RemoteControlClient.Connect(new RemoteClientOptions("127.0.0.1", port, d.Admin.Cert, d.Admin.Key, d.Pki.CaPath) { Timeout = timeout });

    private static JsonObject StateOf(RemoteDaemon d, string id)
    {
        // The local CLI on the daemon's state root: it does not go through the control plane.
        var r = Cli.Run(d.StateRoot, "state", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonNode.Parse(r.Stdout)!.AsObject();
    }

    private static void AssertRunning(RemoteDaemon d, string id, int pid)
    {
        var s = StateOf(d, id);
        Assert.Equal("running", s["status"]!.GetValue<string>());
        Assert.Equal(pid, s["pid"]!.GetValue<int>());
        Assert.True(File.Exists($"/proc/{pid}/status"), $"the init of {id} is gone");
    }

    [RootFact]
    public async Task An_oversized_frame_is_dropped_and_the_daemon_answers_the_next_request()
    {
        using var d = new RemoteDaemon("maximum-frame-size = 128000b");
        await using (var client = Client(d, d.Port, TimeSpan.FromSeconds(10)))
        {
            // The session works for ordinary frames first.
            Assert.Null((await client.Send(new Command { List = new ListContainers() })).Error);

            // A signed request whose frame is above the daemon's 128000-byte limit (the client allows 4 MB).
            var big = new Command { GetState = new GetState { Id = new string('x', 200_000) } };
            var e = await Assert.ThrowsAsync<RemoteControlException>(() => client.Send(big));
            Assert.True(e.Message.Contains("no reply", StringComparison.Ordinal) || e.Message.Contains("cannot reach", StringComparison.Ordinal), e.Message);
        }

        Assert.True(d.Alive, "the daemon died:\n" + d.Log);
        var list = d.Remote(d.Admin, "list");
        Assert.True(list.ExitCode == 0, list + "\n" + d.Log);
        var state = d.Remote(d.Admin, "state", "nothing-here");
        Assert.Contains("does not exist", state.Stderr);
    }

    [RootFact]
    public async Task Remote_events_prints_a_remotely_started_and_killed_container_as_json_lines()
    {
        using var d = new RemoteDaemon();
        var first = d.NewBundle("/bin/sleep", "1000");
        var second = d.NewBundle("/bin/sleep", "1000");
        var lines = new ConcurrentQueue<string>();
        var psi = new ProcessStartInfo(TestPaths.Cli) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--root", d.StateRoot, "remote", "--address", $"127.0.0.1:{d.Port}", "--cert", d.Admin.Cert, "--key", d.Admin.Key, "--ca", d.Pki.CaPath, "events" })
            psi.ArgumentList.Add(a);
        using var events = Process.Start(psi)!;
        var stderr = new ConcurrentQueue<string>();
        events.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lines.Enqueue(e.Data);
        };
        events.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                stderr.Enqueue(e.Data);
        };
        events.BeginOutputReadLine();
        events.BeginErrorReadLine();
        try
        {
            JsonObject? Find(string type, string id) => lines
                .Select(l => JsonNode.Parse(l)!.AsObject())
                .FirstOrDefault(o => o["type"]!.GetValue<string>() == type && o["id"]!.GetValue<string>() == id);
            string Output() => string.Join('\n', lines) + "\nstderr: " + string.Join('\n', stderr) + "\ndaemon:\n" + d.Log;

            var a = "ev-a-" + Guid.NewGuid().ToString("N")[..6];
            var runA = d.Remote(d.Admin, "run", a, "--bundle", first.Dir);
            Assert.True(runA.ExitCode == 0, runA + "\n" + d.Log);

            // The subscription is made asynchronously by the events process: pause and resume the first
            // container until its pause shows up, which proves the stream is live.
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (Find("paused", a) is null)
            {
                Assert.True(DateTime.UtcNow < deadline, "no paused event arrived:\n" + Output());
                Assert.False(events.HasExited, "the events client exited:\n" + Output());
                Assert.Equal(0, d.Remote(d.Admin, "pause", a).ExitCode);
                Assert.Equal(0, d.Remote(d.Admin, "resume", a).ExitCode);
                Thread.Sleep(300);
            }

            var b = "ev-b-" + Guid.NewGuid().ToString("N")[..6];
            var runB = d.Remote(d.Admin, "run", b, "--bundle", second.Dir);
            Assert.True(runB.ExitCode == 0, runB + "\n" + d.Log);
            var pid = int.Parse(runB.Stdout.Trim(), CultureInfo.InvariantCulture);
            Assert.Equal(0, d.Remote(d.Admin, "kill", b, "KILL").ExitCode);

            deadline = DateTime.UtcNow.AddSeconds(60);
            while (Find("exited", b) is null)
            {
                Assert.True(DateTime.UtcNow < deadline, "no exited event for the killed container:\n" + Output());
                Thread.Sleep(200);
            }
            var started = Find("started", b);
            Assert.True(started is not null, "no started event:\n" + Output());
            Assert.Equal(pid, started!["data"]!["pid"]!.GetValue<int>());
            Assert.Equal("test-node", started["node"]!.GetValue<string>());
            var exited = Find("exited", b)!;
            Assert.Equal(pid, exited["data"]!["pid"]!.GetValue<int>());
            Assert.True(exited["data"]!["signal"]!.GetValue<int>() == 9 || exited["data"]!["exitCode"]!.GetValue<int>() == 137, exited.ToJsonString());
            // Events come in order: the start before the exit, and the resume after the pause.
            var order = lines.ToList();
            Assert.True(order.FindIndex(l => l.Contains("\"started\"") && l.Contains(b)) < order.FindIndex(l => l.Contains("\"exited\"") && l.Contains(b)));
        }
        finally
        {
            if (!events.HasExited)
                events.Kill();
            events.WaitForExit(10_000);
        }
    }

    [RootFact]
    public async Task A_partition_longer_than_the_failure_detector_leaves_containers_running_and_a_retried_request_runs_once()
    {
        using var relay = new TcpRelay();
        // The daemon advertises the relay's port, so clients address it through the relay.
        using var d = new RemoteDaemon($"public-port = {relay.Port}");
        relay.Target = d.Port;
        var first = d.NewBundle("/bin/sleep", "1000");
        var second = d.NewBundle("/bin/sleep", "1000");
        var a = "part-a-" + Guid.NewGuid().ToString("N")[..6];
        var b = "part-b-" + Guid.NewGuid().ToString("N")[..6];

        await using var client = Client(d, relay.Port, TimeSpan.FromSeconds(10));
        var runA = (RunContainerReply)await client.Send(new Command { Run = new RunContainer { Id = a, Bundle = first.Dir } });
        Assert.True(runA.Error is null, runA.Error?.Message + "\n" + d.Log);
        Assert.True(relay.Accepted > 0, "the client did not go through the relay");

        // The link goes silent both ways, as in a partition (nothing is refused, nothing arrives).
        relay.Stall();
        var partitionStart = DateTime.UtcNow;
        var envelope = client.Sign(new Command { Run = new RunContainer { Id = b, Bundle = second.Dir } }, "partition-run-" + b);
        var failure = await Assert.ThrowsAsync<RemoteControlException>(() => client.Send(envelope));
        Assert.Contains("no reply", failure.Message);
        AssertRunning(d, a, runA.Pid);

        // Longer than the watch failure detector's acceptable pause (10 s) and the client's timeout.
        var remaining = TimeSpan.FromSeconds(25) - (DateTime.UtcNow - partitionStart);
        if (remaining > TimeSpan.Zero)
            await Task.Delay(remaining);
        AssertRunning(d, a, runA.Pid);
        Assert.True(d.Alive, d.Log);

        // The link comes back; the client retries the very same signed request.
        relay.Resume();
        var retried = await client.Send(envelope);
        Assert.True(retried.Error is null, retried.Error?.Message + "\n" + d.Log);
        var pidB = ((RunContainerReply)retried).Pid;
        Assert.True(pidB > 0);
        AssertRunning(d, b, pidB);
        AssertRunning(d, a, runA.Pid);

        // Executed once: one container b, started once, the gateway logged the request once and replayed it
        // (or answered the waiting retry) instead of running it again.
        var list = await client.Send(new Command { List = new ListContainers() });
        var ids = ((ListContainersReply)list).Containers.Select(c => c.Id).ToList();
        Assert.Equal(1, ids.Count(i => i == b));
        Assert.Equal(0, StateOf(d, b)["restartCount"]?.GetValue<int>() ?? 0);
        var executions = d.Log.Split('\n').Count(l => l.Contains("request " + envelope.RequestId + " from", StringComparison.Ordinal));
        Assert.True(executions == 1, $"request {envelope.RequestId} was executed {executions} times:\n{d.Log}");
        // Retrying again later is answered from the gateway's memory, with the same reply.
        var again = await client.Send(envelope);
        Assert.Equal(pidB, ((RunContainerReply)again).Pid);
        Assert.Contains("was already answered; replaying the reply", d.Log);
    }

    [RootFact]
    public void A_container_cannot_reach_the_control_port_from_its_own_netns_and_gets_nothing_done_from_the_hosts()
    {
        using var d = new RemoteDaemon();
        using var root = new StateRoot();
        var port = d.Port.ToString(CultureInfo.InvariantCulture);

        // Its own network namespace: 127.0.0.1 there is the container's own loopback, where nothing listens.
        using (var own = new Bundle(root.Path, args: ["/bin/sh", "-c", $"timeout 10 nc 127.0.0.1 {port} </dev/null; echo rc=$?"]))
        {
            var r = Cli.Run(root.Path, "run", "-b", own.Dir, StateRoot.NewId("r9-own"));
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("rc=1", r.Stdout);
            Assert.Contains("can't connect", r.Stderr + r.Stdout);
        }

        // The host's network namespace (only an admin could ask for it remotely): TCP reaches the port,
        // but plain HTTP, random bytes and a TLS client without a certificate get nothing done.
        // Each probe prints what came back, in hex: [] for nothing.
        string Probe(string name, string send) =>
            $"echo \"{name}:[$({send} | timeout 10 nc 127.0.0.1 {port} 2>&1 | od -An -tx1 | tr -d ' \\n' | head -c 40)]\"";
        var script = string.Join("; ",
            Probe("http", "printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'"),
            Probe("random", "head -c 65536 /dev/urandom"),
            // A TLS ClientHello record announcing 512 bytes, cut after eleven.
            Probe("hello", "printf '\\026\\003\\001\\002\\000\\001\\000\\001\\374\\003\\003'"),
            Probe("json", "printf '{\"run\":{\"id\":\"r9-pwn\",\"bundle\":\"/\"}}'"));
        using (var host = new Bundle(root.Path, edit: c =>
            {
                var ns = c["linux"]!["namespaces"]!.AsArray();
                foreach (var n in ns.Where(n => n!["type"]!.GetValue<string>() == "network").ToList())
                    ns.Remove(n);
            }, args: ["/bin/sh", "-c", script]))
        {
            var r = Cli.Run(root.Path, "run", "-b", host.Dir, StateRoot.NewId("r9-host"));
            Assert.True(r.ExitCode == 0, r.ToString());
            foreach (var name in new[] { "http", "random", "hello", "json" })
            {
                var line = r.Stdout.Split('\n').Single(l => l.StartsWith(name + ":[", StringComparison.Ordinal));
                var answer = line[(name.Length + 2)..^1];
                // It did connect (nc reported no refused connection; that text would show up in hex) and got
                // nothing back but, at most, a TLS alert record (content type 0x15).
                Assert.True(answer.Length == 0 || answer.StartsWith("15", StringComparison.Ordinal), $"{name}: the daemon answered {answer}\n{r}");
            }
        }

        Assert.True(d.Alive, "the daemon died:\n" + d.Log);
        Assert.False(Directory.Exists(Path.Combine(d.StateRoot, "r9-pwn")));
        var list = d.Remote(d.Admin, "list", "--format", "json");
        Assert.True(list.ExitCode == 0, list + "\n" + d.Log);
        Assert.Equal("[]", list.Stdout.Trim().Replace(" ", "").Replace("\n", ""));
    }
}
