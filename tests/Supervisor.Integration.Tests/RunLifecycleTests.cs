using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Integration.Tests;

/// <summary>create/start/run/kill/delete/state/list through the real CLI, on a busybox rootfs.</summary>
public sealed class RunLifecycleTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private CliResult RunContainer(Bundle bundle, string id, params string[] extra)
    {
        var args = new List<string> { "run", "-b", bundle.Dir };
        args.AddRange(extra);
        args.Add(id);
        return Cli.Run(_root.Path, [.. args]);
    }

    [RootFact]
    public void Run_prints_output_and_pid_1_is_the_process()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "echo pid=$$; echo hello"]);
        var r = RunContainer(b, StateRoot.NewId("echo"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("pid=1\n", r.Stdout);
        Assert.Contains("hello\n", r.Stdout);
        Assert.Equal("", r.Stderr);
    }

    [RootFact]
    public void Run_exits_with_the_container_exit_code()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "exit 3"]);
        Assert.Equal(3, RunContainer(b, StateRoot.NewId("exit")).ExitCode);
    }

    [RootFact]
    public void Run_reports_128_plus_signal_when_the_init_is_killed()
    {
        // PID 1 of a pid namespace cannot be killed from inside it, so the signal comes from the host.
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StateRoot.NewId("sig");
        var run = Task.Run(() => RunContainer(b, id));
        WaitFor(() => Cli.Run(_root.Path, "state", id) is { ExitCode: 0 } s && s.Stdout.Contains("\"running\""));
        Assert.Equal(0, Cli.Run(_root.Path, "kill", id, "9").ExitCode);
        Assert.True(run.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal(137, run.Result.ExitCode);
    }

    [RootFact]
    public void Run_removes_the_container_afterwards_unless_keep()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/true"]);
        var gone = StateRoot.NewId("gone");
        Assert.Equal(0, RunContainer(b, gone).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, gone)));

        var kept = StateRoot.NewId("kept");
        Assert.Equal(0, RunContainer(b, kept, "--keep").ExitCode);
        var state = Cli.Run(_root.Path, "state", kept);
        Assert.Equal(0, state.ExitCode);
        var json = JsonNode.Parse(state.Stdout)!;
        Assert.Equal("stopped", (string?)json["status"]);
        Assert.Equal(0, (int?)json["pid"]);
        Assert.Equal(0, Cli.Run(_root.Path, "delete", kept).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, kept)));
    }

    [RootFact]
    public void Create_start_kill_delete_follow_the_oci_lifecycle()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StateRoot.NewId("life");
        var pidFile = Path.Combine(b.Dir, "pid");
        var create = Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} create -b {b.Dir} --pid-file {pidFile} {id} </dev/null >/dev/null 2>{b.Dir}/err");
        Assert.True(create.ExitCode == 0, create + File.ReadAllText($"{b.Dir}/err"));

        var state = JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!;
        Assert.Equal("created", (string?)state["status"]);
        int pid = int.Parse(File.ReadAllText(pidFile));
        Assert.Equal(pid, (int?)state["pid"]);
        Assert.Equal(b.Dir, (string?)state["bundle"]);
        // Until start, the init is still the runtime's code, blocked before execve.
        Assert.DoesNotContain("sleep", File.ReadAllText($"/proc/{pid}/cmdline"));

        Assert.Equal(0, Cli.Run(_root.Path, "start", id).ExitCode);
        Assert.Equal("running", (string?)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["status"]);
        Assert.Contains("sleep", File.ReadAllText($"/proc/{pid}/cmdline"));

        var list = Cli.Run(_root.Path, "list");
        Assert.Contains(id, list.Stdout);
        Assert.StartsWith("ID", list.Stdout);
        var listJson = JsonNode.Parse(Cli.Run(_root.Path, "list", "--format", "json").Stdout)!.AsArray();
        Assert.Contains(listJson, n => (string?)n!["id"] == id && (string?)n["status"] == "running");

        var ps = Cli.Run(_root.Path, "ps", "--format", "json", id);
        Assert.Contains(pid.ToString(), ps.Stdout);

        var refused = Cli.Run(_root.Path, "delete", id);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("not stopped", refused.Stderr);

        // PID 1 of a pid namespace ignores signals it has no handler for: TERM does nothing to sleep.
        Assert.Equal(0, Cli.Run(_root.Path, "kill", id, "KILL").ExitCode);
        WaitFor(() => (string?)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["status"] == "stopped");
        Assert.Equal(0, Cli.Run(_root.Path, "delete", id).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, id)));
        Assert.Equal(1, Cli.Run(_root.Path, "state", id).ExitCode);
    }

    [RootFact]
    public void Delete_force_kills_a_running_container()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StateRoot.NewId("force");
        var run = Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} run -d -b {b.Dir} {id} </dev/null >/dev/null 2>&1");
        Assert.Equal(0, run.ExitCode);
        int pid = (int)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["pid"]!;
        Assert.True(Directory.Exists($"/proc/{pid}"));
        Assert.Equal(0, Cli.Run(_root.Path, "delete", "--force", id).ExitCode);
        WaitFor(() => !File.Exists($"/proc/{pid}/stat") || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z "));
        Assert.False(Directory.Exists(Path.Combine(_root.Path, id)));
        // Deleting a missing container with --force succeeds; without it, it is an error.
        Assert.Equal(0, Cli.Run(_root.Path, "delete", "--force", id).ExitCode);
        Assert.Equal(1, Cli.Run(_root.Path, "delete", id).ExitCode);
    }

    [RootFact]
    public void Kill_accepts_names_with_and_without_SIG_and_numbers()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done"]);
        var id = StateRoot.NewId("usr1");
        Assert.Equal(0, Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} run -d --keep -b {b.Dir} {id} </dev/null >/dev/null 2>&1").ExitCode);
        Assert.Equal(0, Cli.Run(_root.Path, "kill", id, "USR1").ExitCode);
        WaitFor(() => (string?)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["status"] == "stopped");
        Assert.Equal(42, (int?)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["exitCode"]);
        var bad = Cli.Run(_root.Path, "kill", id, "NOPE");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("invalid signal", bad.Stderr);
    }

    internal static void WaitFor(Func<bool> condition, int timeoutMs = 10000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("condition not met in time");
            Thread.Sleep(20);
        }
    }
}
