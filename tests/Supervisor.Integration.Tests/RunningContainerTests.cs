using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Integration.Tests;

/// <summary>exec, stats/events, update and hooks on running busybox containers.</summary>
public sealed class RunningContainerTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private string StartDetached(Bundle b, string prefix)
    {
        var id = StateRoot.NewId(prefix);
        var r = Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} run -d -b {b.Dir} {id} </dev/null >/dev/null 2>{b.Dir}/err");
        Assert.True(r.ExitCode == 0, r + File.ReadAllText($"{b.Dir}/err"));
        return id;
    }

    private int InitPid(string id) => (int)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["pid"]!;

    [RootFact]
    public void Exec_joins_the_init_namespaces_and_returns_its_exit_code()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "exec");
        int pid = InitPid(id);
        var r = Cli.Run(_root.Path, "exec", id, "/bin/sh", "-c", "for n in pid ipc uts net mnt cgroup; do readlink /proc/self/ns/$n; done; echo pid=$$");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var expected = new[] { "pid", "ipc", "uts", "net", "mnt", "cgroup" }.Select(n => new FileInfo($"/proc/{pid}/ns/{n}").LinkTarget).ToArray();
        Assert.Equal(expected, lines[..6]);
        Assert.NotEqual("pid=1", lines[6]);

        Assert.Equal(7, Cli.Run(_root.Path, "exec", id, "/bin/sh", "-c", "exit 7").ExitCode);

        var env = Cli.Run(_root.Path, "exec", "-e", "FOO=exec", "--cwd", "/tmp", id, "/bin/sh", "-c", "echo $FOO; pwd; ls -l /proc/self/fd/0 | grep -c null");
        Assert.Equal("exec\n/tmp\n", string.Join("\n", env.Stdout.Split('\n').Take(2)) + "\n");
    }

    [RootFact]
    public void An_exec_process_shows_up_in_ps_and_is_in_the_container_cgroup()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "execps");
        var pidFile = Path.Combine(b.Dir, "exec.pid");
        var r = Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} exec -d --pid-file {pidFile} {id} /bin/sleep 200 </dev/null >/dev/null 2>&1");
        Assert.Equal(0, r.ExitCode);
        int execPid = int.Parse(File.ReadAllText(pidFile));
        var ps = JsonNode.Parse(Cli.Run(_root.Path, "ps", "--format", "json", id).Stdout)!.AsArray().Select(n => (int)n!).ToList();
        Assert.Contains(execPid, ps);
        Assert.Contains(InitPid(id), ps);
    }

    [RootFact]
    public void Exec_user_and_missing_binary()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "execuser");
        var r = Cli.Run(_root.Path, "exec", "--user", "1000:2000", id, "/bin/sh", "-c", "id -u; id -g");
        Assert.Equal("1000\n2000\n", r.Stdout);
        var missing = Cli.Run(_root.Path, "exec", id, "/bin/nonexistent");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("/bin/nonexistent", missing.Stderr);
        Assert.Single(missing.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [RootFact]
    public void Repeated_failing_execs_leak_nothing()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "leak");
        int init = InitPid(id);
        int Children() => Shell.Run($"ps -o ppid= -e | grep -c '^ *{init}$' || true").Stdout.Trim() is var s && int.TryParse(s, out var n) ? n : 0;
        int fdsBefore = Directory.GetFiles($"/proc/{init}/fd").Length;
        for (int i = 0; i < 50; i++)
            Assert.NotEqual(0, Cli.Run(_root.Path, "exec", id, "/no/such/binary").ExitCode);
        Assert.Equal(fdsBefore, Directory.GetFiles($"/proc/{init}/fd").Length);
        Assert.Equal(0, Children());
        var pids = JsonNode.Parse(Cli.Run(_root.Path, "ps", "--format", "json", id).Stdout)!.AsArray();
        Assert.Single(pids);
        var zombies = Shell.Run("ps -eo stat,comm | awk '$1 ~ /^Z/' | grep -c shim || true").Stdout.Trim();
        Assert.Equal("0", zombies);
    }

    [RootFact]
    public void A_pty_exec_prints_through_the_console()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "ptyexec");
        // script(1) gives the CLI a terminal of its own, as a user's shell would.
        var cmd = $"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} exec -t {id} /bin/sh -c 'tty; stty size; echo via-pty; exit 4'";
        var r = Shell.Run($"script -q -e -c {Shell.Quote("stty rows 33 cols 99; " + cmd)} /dev/null </dev/null");
        Assert.Equal(4, r.ExitCode);
        Assert.Matches(@"/dev/pts/\d+", r.Stdout);
        Assert.Contains("33 99", r.Stdout);
        Assert.Contains("via-pty", r.Stdout);
    }

    [RootFact]
    public void A_terminal_container_hands_its_pty_to_the_console_socket()
    {
        using var b = new Bundle(_root.Path, edit: c => c["process"]!["terminal"] = true, args: ["/bin/sh", "-c", "tty > /tmp/tty; sleep 300"]);
        var id = StateRoot.NewId("console");
        var sock = Path.Combine(b.Dir, "console.sock");
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(sock));
        listener.Listen(1);
        var accepted = listener.AcceptAsync();
        var create = Cli.Run(_root.Path, "create", "-b", b.Dir, "--console-socket", sock, id);
        Assert.True(create.ExitCode == 0, create.ToString());
        using var conn = accepted.Result;
        // The pty master arrives as SCM_RIGHTS; holding it keeps the container's terminal open (closing
        // the last master fd hangs the terminal up and the shell would get SIGHUP).
        using var master = Supervisor.Linux.Terminal.Tty.ReceiveFromConsoleSocket(conn.SafeHandle);
        Assert.False(master.IsInvalid);
        Assert.Equal(0, Cli.Run(_root.Path, "start", id).ExitCode);
        RunLifecycleTests.WaitFor(() => File.Exists(Path.Combine(b.RootfsPath, "tmp", "tty")) && File.ReadAllText(Path.Combine(b.RootfsPath, "tmp", "tty")).Length > 0);
        Assert.StartsWith("/dev/pts/", File.ReadAllText(Path.Combine(b.RootfsPath, "tmp", "tty")));
        var refused = Cli.Run(_root.Path, "run", "-d", "-b", b.Dir, StateRoot.NewId("noconsole"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("console socket", refused.Stderr);
    }

    [RootFact]
    public void Exec_inherits_the_container_rlimits_and_a_process_json_overrides_them_and_the_env()
    {
        using var b = new Bundle(_root.Path, edit: c => c["process"]!["rlimits"] = new JsonArray(
            new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 512, ["hard"] = 768 }), args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "execrl");
        var inherited = Cli.Run(_root.Path, "exec", id, "/bin/sh", "-c", "grep 'Max open files' /proc/self/limits");
        Assert.Matches(@"Max open files\s+512\s+768", inherited.Stdout);

        var processJson = Path.Combine(b.Dir, "process.json");
        File.WriteAllText(processJson, new JsonObject
        {
            ["args"] = new JsonArray("/bin/sh", "-c", "grep 'Max open files' /proc/self/limits; echo FOO=$FOO"),
            ["env"] = new JsonArray("PATH=/bin", "FOO=from-process-json"),
            ["cwd"] = "/",
            ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
            ["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 256, ["hard"] = 300 }),
        }.ToJsonString());
        var r = Cli.Run(_root.Path, "exec", "-p", processJson, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"Max open files\s+256\s+300", r.Stdout);
        Assert.Contains("FOO=from-process-json", r.Stdout);
    }

    [RootFact]
    public void Exec_into_a_user_namespace_container_joins_it()
    {
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 300000, ["size"] = 65536 });
            c["linux"]!["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 300000, ["size"] = 65536 });
            c["linux"]!["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "user" });
        }, args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "execuserns");
        int pid = InitPid(id);
        var r = Cli.Run(_root.Path, "exec", id, "/bin/sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user; echo pid=$$");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("0", lines[0]);
        Assert.Matches(@"^\s*0\s+300000\s+65536$", lines[1]);
        Assert.Equal(new FileInfo($"/proc/{pid}/ns/user").LinkTarget, lines[2]);
        // Seen from the host, the exec'd shell runs as the mapped uid, not as root.
        var shPid = int.Parse(lines[3]["pid=".Length..]);
        Assert.NotEqual(1, shPid);
    }

    [RootFact]
    public void Exec_into_a_paused_container_is_refused()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "pausedexec");
        Assert.Equal(0, Cli.Run(_root.Path, "pause", id).ExitCode);
        var r = Cli.Run(_root.Path, "exec", id, "/bin/true");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("paused", r.Stderr);
        Assert.Equal(0, Cli.Run(_root.Path, "resume", id).ExitCode);
    }

    [RootFact]
    public void Stats_move_when_the_container_allocates_and_burns_cpu()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "x=$(head -c 20000000 /dev/zero | tr '\\0' a); i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; touch /tmp/done; sleep 300"]);
        var id = StartDetached(b, "stats");
        // The workload says when it has allocated and burnt its CPU; no guess at how long that takes.
        RunLifecycleTests.WaitFor(() => File.Exists(Path.Combine(b.RootfsPath, "tmp", "done")), timeoutMs: 60000);
        var ev = Cli.Run(_root.Path, "events", "--stats", id);
        Assert.True(ev.ExitCode == 0, ev.ToString());
        var json = JsonNode.Parse(ev.Stdout)!;
        Assert.Equal("stats", (string?)json["type"]);
        Assert.Equal(id, (string?)json["id"]);
        var data = json["data"]!;
        Assert.True((ulong)data["cpu"]!["usage"]!["total"]! > 100_000_000UL, "cpu usage should exceed 0.1 s");
        Assert.True((ulong)data["memory"]!["usage"]!["max"]! > 20_000_000UL, "max memory usage should exceed 20 MB");
        Assert.True((ulong)data["pids"]!["current"]! >= 1UL);
        Assert.NotNull(data["memory"]!["raw"]);
    }

    [RootFact]
    public void Update_changes_a_live_memory_limit_which_is_then_enforced()
    {
        using var b = new Bundle(_root.Path, edit: c => c["linux"]!["cgroupsPath"] = "/sv-itest/upd-" + Guid.NewGuid().ToString("N")[..6],
            args: ["/bin/sleep", "300"]);
        var id = StartDetached(b, "update");
        var cg = "/sys/fs/cgroup/memory" + (string)b.Config["linux"]!["cgroupsPath"]!;
        Assert.Equal(0, Cli.Run(_root.Path, "update", "--memory", "48m", "--memory-swap", "48m", "--pids-limit", "20", id).ExitCode);
        Assert.Equal((48L << 20).ToString(), File.ReadAllText(cg + "/memory.limit_in_bytes").Trim());
        var bad = Cli.Run(_root.Path, "update", "--blkio-weight", "5", id);
        Assert.Equal(1, bad.ExitCode);
        var alloc = Cli.Run(_root.Path, "exec", id, "/bin/sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived");
        Assert.Equal(137, alloc.ExitCode);
        Assert.DoesNotContain("survived", alloc.Stdout);
        Assert.Equal(0, Cli.Run(_root.Path, "update", "--memory", "256m", "--memory-swap", "256m", id).ExitCode);
        var ok = Cli.Run(_root.Path, "exec", id, "/bin/sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived");
        Assert.Contains("survived", ok.Stdout);
    }

    [RootFact]
    public void An_oom_event_is_reported_by_events()
    {
        using var b = new Bundle(_root.Path, edit: c =>
            c["linux"]!["resources"]!["memory"] = new JsonObject { ["limit"] = 32L << 20, ["swap"] = 32L << 20 },
            args: ["/bin/sh", "-c", "sleep 1; while true; do sh -c 'x=$(head -c 100000000 /dev/zero | tr \"\\0\" a)'; sleep 0.5; done"]);
        var id = StartDetached(b, "oomev");
        var events = Shell.Run($"timeout 8 {Shell.Quote(TestPaths.Cli)} --root {_root.Path} events --interval 1s {id} || true", timeoutSeconds: 30);
        Assert.Contains("\"type\":\"oom\"", events.Stdout);
        Assert.Contains("\"type\":\"stats\"", events.Stdout);
    }

    [RootFact]
    public void Hooks_run_in_order_with_the_state_on_stdin()
    {
        var log = Path.Combine(Path.GetTempPath(), "sv-hooks-" + Guid.NewGuid().ToString("N")[..8]);
        JsonObject Hook(string name) => new()
        {
            ["path"] = "/bin/sh",
            ["args"] = new JsonArray("sh", "-c", $"echo {name} $(cat | tr -d '\\n') >> {log}"),
        };
        // createContainer and startContainer run inside the container: they write into its /tmp, which
        // is the bundle's rootfs/tmp on the host, and see the container's hostname.
        JsonObject Inside(string name) => new()
        {
            ["path"] = "/bin/sh",
            ["args"] = new JsonArray("sh", "-c", $"echo {name} $(hostname) $(cat | tr -d '\\n') >> /tmp/hooks.log"),
        };
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["hostname"] = "hooked";
            c["hooks"] = new JsonObject
            {
                ["prestart"] = new JsonArray(Hook("prestart")),
                ["createRuntime"] = new JsonArray(Hook("createRuntime")),
                ["createContainer"] = new JsonArray(Inside("createContainer")),
                ["startContainer"] = new JsonArray(Inside("startContainer")),
                ["poststart"] = new JsonArray(Hook("poststart")),
                ["poststop"] = new JsonArray(Hook("poststop")),
            };
        }, args: ["/bin/sh", "-c", "echo process $(hostname) >> /tmp/hooks.log"]);
        var id = StateRoot.NewId("hooks");
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = File.ReadAllLines(log);
        File.Delete(log);
        Assert.Equal(["prestart", "createRuntime", "poststart", "poststop"], lines.Select(l => l.Split(' ')[0]));
        var inside = File.ReadAllLines(Path.Combine(b.RootfsPath, "tmp", "hooks.log"));
        Assert.Equal(["createContainer hooked", "startContainer hooked", "process hooked"],
            inside.Select(l => string.Join(' ', l.Split(' ').Take(2))));
        Assert.Equal(id, (string?)JsonNode.Parse(inside[1][(inside[1].IndexOf('{'))..])!["id"]);
        var state = JsonNode.Parse(lines[0][(lines[0].IndexOf(' ') + 1)..])!;
        Assert.Equal(id, (string?)state["id"]);
        Assert.Equal(b.Dir, (string?)state["bundle"]);
        Assert.True((int)state["pid"]! > 0);
    }

    [RootFact]
    public void A_failing_prestart_hook_aborts_and_cleans_up()
    {
        using var b = new Bundle(_root.Path, edit: c => c["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/bin/false" }),
        }, args: ["/bin/true"]);
        var id = StateRoot.NewId("hookfail");
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, id);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error running prestart hook #0", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, id)));
    }
}
