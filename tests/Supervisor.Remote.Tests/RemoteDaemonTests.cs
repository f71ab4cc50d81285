using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Remote;
using Supervisor.Integration.Tests.Infrastructure;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Client;
using Supervisor.Remote.Tests.Infrastructure;

namespace Supervisor.Remote.Tests;

/// <summary>
/// A real daemon (separate process, own state root and loopback port) driven through `supervisor remote`
/// and through hostile clients: the security tests of the remote control plane (security-anchors §6, R1-R8).
/// Each test starts its own daemon, so that one attack cannot leave state another test would see.
/// </summary>
public sealed class RemoteDaemonTests
{
    private static JsonObject Json(string text) => JsonNode.Parse(text)!.AsObject();

    private static void AssertNothingRan(RemoteDaemon d, string id)
    {
        Assert.False(Directory.Exists(Path.Combine(d.StateRoot, id)), $"state dir of {id} exists");
        Assert.False(Directory.Exists(Path.Combine(d.StateRoot + "-bundles", id)), $"gateway bundle of {id} exists");
        foreach (var ctrl in new[] { "memory", "pids", "cpu", "devices", "freezer" })
        {
            var hits = Directory.Exists($"/sys/fs/cgroup/{ctrl}")
                ? Directory.EnumerateDirectories($"/sys/fs/cgroup/{ctrl}", id, SearchOption.AllDirectories).ToList()
                : [];
            Assert.True(hits.Count == 0, $"cgroup of {id} exists: {string.Join(", ", hits)}");
        }
        Assert.True(d.Alive, "the daemon died:\n" + d.Log);
    }

    private static string RunningPid(RemoteDaemon d, string id)
    {
        var state = d.Remote(d.Admin, "state", id);
        Assert.True(state.ExitCode == 0, state.ToString());
        var o = Json(state.Stdout);
        Assert.Equal("running", o["status"]!.GetValue<string>());
        return o["pid"]!.GetValue<int>().ToString(CultureInfo.InvariantCulture);
    }

    [RootFact]
    public void An_admin_certificate_runs_a_busybox_container_remotely_and_reads_its_state()
    {
        using var d = new RemoteDaemon();
        var bundle = d.NewBundle("/bin/sleep", "1000");
        var id = "web-" + Guid.NewGuid().ToString("N")[..6];

        var run = d.Remote(d.Admin, "run", id, "--bundle", bundle.Dir);
        Assert.True(run.ExitCode == 0, run + "\n" + d.Log);
        var pid = int.Parse(run.Stdout.Trim(), CultureInfo.InvariantCulture);
        Assert.True(pid > 0);
        Assert.True(File.Exists($"/proc/{pid}/status"), "the container's init is not running on the host");

        var state = Json(d.Remote(d.Admin, "state", id).Stdout);
        Assert.Equal(id, state["id"]!.GetValue<string>());
        Assert.Equal("running", state["status"]!.GetValue<string>());
        Assert.Equal(pid, state["pid"]!.GetValue<int>());
        Assert.Equal(Path.Combine(d.StateRoot + "-bundles", id), state["bundle"]!.GetValue<string>());

        // The local CLI on the same root sees the same container; list prints the local table's header.
        var local = Json(Cli.Run(d.StateRoot, "state", id).Stdout);
        Assert.Equal(pid, local["pid"]!.GetValue<int>());
        var list = d.Remote(d.Admin, "list");
        Assert.StartsWith("ID", list.Stdout);
        Assert.Contains(id, list.Stdout);
        var json = JsonNode.Parse(d.Remote(d.Admin, "list", "--format", "json").Stdout)!.AsArray();
        Assert.Contains(json, n => n!["id"]!.GetValue<string>() == id);

        var kill = d.Remote(d.Admin, "kill", id, "KILL");
        Assert.True(kill.ExitCode == 0, kill.ToString());
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Json(d.Remote(d.Admin, "state", id).Stdout)["status"]!.GetValue<string>() != "stopped")
        {
            Assert.True(DateTime.UtcNow < deadline, "the container did not stop");
            Thread.Sleep(200);
        }
        var delete = d.Remote(d.Admin, "delete", id);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.False(Directory.Exists(Path.Combine(d.StateRoot, id)));
    }

    [RootFact]
    public void The_policy_gate_refuses_an_operators_privileged_run_before_any_side_effect()
    {
        using var d = new RemoteDaemon();
        var bundle = d.NewBundle("/bin/sleep", "1000");
        var caps = bundle.Process["capabilities"]!["bounding"]!.AsArray();
        caps.Add("CAP_SYS_ADMIN");
        bundle.Save();
        var id = "priv-" + Guid.NewGuid().ToString("N")[..6];

        var r = d.Remote(d.Operator, "run", id, "--bundle", bundle.Dir);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("permission denied: operator certificate: capability CAP_SYS_ADMIN is beyond the default set", r.Stderr.Replace("permissiondenied", "permission denied"));
        AssertNothingRan(d, id);

        // Host namespaces and a bind of / are refused the same way.
        bundle.Linux["namespaces"]!.AsArray().Clear();
        caps.RemoveAt(caps.Count - 1);
        bundle.Save();
        r = d.Remote(d.Operator, "run", id, "--bundle", bundle.Dir);
        Assert.Contains("host's pid namespace", r.Stderr);
        AssertNothingRan(d, id);

        // The admin may (same bundle, privileged): the gate is by role, not a blanket refusal.
        var fine = d.NewBundle("/bin/sleep", "1000");
        var ok = d.Remote(d.Operator, "run", id, "--bundle", fine.Dir);
        Assert.True(ok.ExitCode == 0, ok + "\n" + d.Log);
    }

    [RootFact]
    public void Clients_without_a_certificate_of_the_ca_or_with_a_wrong_subject_are_refused_and_nothing_runs()
    {
        using var d = new RemoteDaemon();
        var bundle = d.NewBundle("/bin/sleep", "1000");

        // Another CA, same subject as the admin.
        using var otherCa = new TestPki("Rogue CA");
        using var foreign = otherCa.Issue("admin", "admin");
        var foreignFiles = otherCa.Write("admin", foreign);
        var r1 = d.Remote(foreignFiles, "run", "rogue1", "--bundle", bundle.Dir);
        Assert.Equal(1, r1.ExitCode);
        AssertNothingRan(d, "rogue1");

        // The right CA, a subject that is not allowlisted.
        using var intruder = d.Pki.Issue("intruder", "admin");
        var intruderFiles = d.Pki.Write("intruder", intruder);
        var r2 = d.Remote(intruderFiles, "run", "rogue2", "--bundle", bundle.Dir);
        Assert.Equal(1, r2.ExitCode);
        AssertNothingRan(d, "rogue2");

        // No client certificate at all: the TLS handshake is refused by the daemon.
        using (var tcp = new TcpClient("127.0.0.1", d.Port))
        using (var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true))
        {
            var refused = false;
            try
            {
                tls.AuthenticateAsClient(new SslClientAuthenticationOptions { TargetHost = "localhost" });
                // TLS 1.3 reports the server's refusal of a missing client certificate on the first read.
                var buf = new byte[16];
                tls.ReadTimeout = 10_000;
                refused = tls.Read(buf, 0, buf.Length) == 0;
            }
            catch (Exception e) when (e is IOException or AuthenticationException or SocketException)
            {
                refused = true;
            }
            Assert.True(refused, "the daemon accepted a TLS client without a certificate");
        }
        Assert.True(d.Alive, d.Log);

        // The valid admin still works afterwards.
        var ok = d.Remote(d.Admin, "list");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.DoesNotContain("rogue", ok.Stdout);
    }

    [RootFact]
    public async Task Untrusted_mode_drops_poison_pill_kill_and_remote_deploy_and_the_gateway_and_containers_survive()
    {
        using var d = new RemoteDaemon();
        var bundle = d.NewBundle("/bin/sleep", "1000");
        var run = d.Remote(d.Admin, "run", "survivor", "--bundle", bundle.Dir);
        Assert.True(run.ExitCode == 0, run + "\n" + d.Log);
        var pid = RunningPid(d, "survivor");

        await using (var client = RemoteControlClient.Connect(new RemoteClientOptions("127.0.0.1", d.Port, d.Admin.Cert, d.Admin.Key, d.Pki.CaPath)))
        {
            // An authenticated peer: the TLS session works (a real command succeeds first).
            var list = await client.Send(new Command { List = new ListContainers() });
            Assert.Null(list.Error);

            var address = $"akka.ssl.tcp://supervisor-control@127.0.0.1:{d.Port}";
            var provider = ((ExtendedActorSystem)client.System).Provider;
            foreach (var path in new[] { "/user/control-gateway", "/user/containers", "/system/remote-watcher", "/user" })
            {
                var target = provider.ResolveActorRef(address + path);
                target.Tell(PoisonPill.Instance);
                target.Tell(Kill.Instance);
                client.System.ActorSelection(address + path).Tell(PoisonPill.Instance);
                client.System.ActorSelection(address + path).Tell(Kill.Instance);
            }
            // Remote deployment of an actor into the daemon (DaemonMsgCreate).
            var deployed = client.System.ActorOf(Props.Create(() => new Canary())
                .WithDeploy(new Deploy(new RemoteScope(Address.Parse(address)))), "canary");
            deployed.Tell("hello");
            await Task.Delay(2000);

            // The gateway is alive and answers; the container runs with the same init.
            IControlReplyOrLog state;
            try
            {
                state = new(await client.Send(new Command { GetState = new GetState { Id = "survivor" } }));
            }
            catch (RemoteControlException e)
            {
                throw new Xunit.Sdk.XunitException($"{e.Message}\ndaemon log:\n{d.Log}");
            }
            Assert.Null(state.Reply.Error);
            Assert.Equal("running", ((GetStateReply)state.Reply).State.Status);
        }
        Assert.True(d.Alive, d.Log);
        Assert.Equal(pid, RunningPid(d, "survivor"));
        Assert.Contains("survivor", d.Remote(d.Admin, "list").Stdout);
    }

    private sealed record IControlReplyOrLog(Supervisor.Protocol.IControlReply Reply);

    /// <summary>What the rogue client tries to deploy into the daemon.</summary>
    private sealed class Canary : ReceiveActor
    {
        public Canary()
        {
            ReceiveAny(_ => { });
        }
    }

    [RootFact]
    public async Task Http_random_bytes_and_a_truncated_tls_hello_neither_crash_nor_stall_the_daemon()
    {
        using var d = new RemoteDaemon();
        async Task Send(byte[] bytes)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", d.Port);
            var s = tcp.GetStream();
            await s.WriteAsync(bytes);
            await s.FlushAsync();
            // Read until the daemon closes the connection (or give up after 5 s and hang up ourselves).
            var buf = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                while (await s.ReadAsync(buf, cts.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }
        }

        await Send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"u8.ToArray());
        await Send(RandomNumberGenerator.GetBytes(64 * 1024));
        // A TLS 1.2 ClientHello record header announcing 512 bytes, then only the first few of them.
        await Send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x11, 0x22]);
        // A burst of connections that say nothing and hang up.
        for (int i = 0; i < 20; i++)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", d.Port);
        }

        Assert.True(d.Alive, "the daemon died:\n" + d.Log);
        var ok = d.Remote(d.Admin, "list");
        Assert.True(ok.ExitCode == 0, ok + "\n" + d.Log);
    }

    [RootFact]
    public void The_daemon_listens_only_on_the_configured_address()
    {
        using var d = new RemoteDaemon();
        var sockets = ListeningSockets(d.Pid);
        Assert.Contains(("127.0.0.1", d.Port), sockets);
        Assert.All(sockets, s => Assert.Equal("127.0.0.1", s.Address));
    }

    /// <summary>The (address, port) of every listening TCP socket the process holds, from /proc/net/tcp{,6} and its fds.</summary>
    private static List<(string Address, int Port)> ListeningSockets(int pid)
    {
        var inodes = new HashSet<string>();
        foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                    inodes.Add(target[8..^1]);
            }
            catch (IOException)
            {
            }
        }
        var result = new List<(string, int)>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadAllLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // f[1] local address:port (hex), f[3] state (0A = LISTEN), f[9] inode.
                if (f[3] != "0A" || !inodes.Contains(f[9]))
                    continue;
                var parts = f[1].Split(':');
                var port = int.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                result.Add((DecodeAddress(parts[0]), port));
            }
        }
        return result;
    }

    private static string DecodeAddress(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        // /proc prints each 32-bit word in host (little-endian) order.
        for (int i = 0; i < bytes.Length; i += 4)
            Array.Reverse(bytes, i, 4);
        var address = new System.Net.IPAddress(bytes);
        // DotNetty binds a dual-stack socket to ::ffff:127.0.0.1, which accepts only IPv4 connections to 127.0.0.1.
        return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }
}
