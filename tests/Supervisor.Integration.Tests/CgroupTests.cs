using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Integration.Tests;

/// <summary>Resource limits land in the kernel's cgroup files and are enforced; delete removes them.</summary>
public sealed class CgroupTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private static string CgroupPath(string id) => "/sv-itest/" + id;

    private static Bundle WithResources(StateRoot root, string id, JsonObject resources, string[] args) =>
        new(root.Path, edit: c =>
        {
            c["linux"]!["cgroupsPath"] = CgroupPath(id);
            var res = c["linux"]!["resources"]!.AsObject();
            foreach (var (k, v) in resources.ToList())
            {
                resources.Remove(k);
                res[k] = v;
            }
        }, args: args);

    private void Detached(Bundle b, string id)
    {
        var r = Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} run -d -b {b.Dir} {id} </dev/null >/dev/null 2>{b.Dir}/err");
        Assert.True(r.ExitCode == 0, r + File.ReadAllText($"{b.Dir}/err"));
    }

    [RootFact]
    public void Cpu_cpuset_memory_and_pids_values_land_in_the_cgroup_files()
    {
        var id = StateRoot.NewId("limits");
        using var b = WithResources(_root, id, new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = 64L << 20, ["reservation"] = 32L << 20 },
            ["cpu"] = new JsonObject { ["shares"] = 512, ["quota"] = 50000, ["period"] = 100000, ["cpus"] = "0", ["mems"] = "0" },
            ["pids"] = new JsonObject { ["limit"] = 50 },
        }, ["/bin/sleep", "300"]);
        Detached(b, id);
        var p = CgroupPath(id);
        Assert.Equal((64L << 20).ToString(), Read($"memory{p}/memory.limit_in_bytes"));
        Assert.Equal((32L << 20).ToString(), Read($"memory{p}/memory.soft_limit_in_bytes"));
        Assert.Equal("512", Read($"cpu{p}/cpu.shares"));
        Assert.Equal("50000", Read($"cpu{p}/cpu.cfs_quota_us"));
        Assert.Equal("100000", Read($"cpu{p}/cpu.cfs_period_us"));
        Assert.Equal("0", Read($"cpuset{p}/cpuset.cpus"));
        Assert.Equal("50", Read($"pids{p}/pids.max"));
        int pid = (int)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["pid"]!;
        Assert.Contains(pid.ToString(), Read($"memory{p}/cgroup.procs").Split('\n'));
        // The device cgroup is default-deny: only the allowed devices are listed.
        var devices = Read($"devices{p}/devices.list");
        Assert.DoesNotContain("a *:* rwm", devices);
        Assert.Contains("c 1:3 rwm", devices);

        Assert.Equal(0, Cli.Run(_root.Path, "delete", "-f", id).ExitCode);
        foreach (var ctrl in new[] { "memory", "cpu", "cpuset", "pids", "devices", "freezer", "blkio", "cpuacct" })
            Assert.False(Directory.Exists($"/sys/fs/cgroup/{ctrl}{p}"), $"{ctrl} cgroup left behind");
    }

    [RootFact]
    public void A_memory_limit_oom_kills_an_allocator_over_it()
    {
        var id = StateRoot.NewId("oom");
        using var b = WithResources(_root, id, new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = 32L << 20, ["swap"] = 32L << 20 },
        }, ["/bin/sh", "-c", "x=$(head -c 134217728 /dev/zero | tr '\\0' a); echo survived"]);
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, id);
        Assert.Equal(137, r.ExitCode);
        Assert.DoesNotContain("survived", r.Stdout);
    }

    [RootFact]
    public void A_pids_limit_stops_a_fork_loop()
    {
        var id = StateRoot.NewId("pids");
        // The fork loop runs in a subshell: ash gives up when fork fails, and the outer shell must live on
        // to report what the cgroup counted.
        using var b = WithResources(_root, id, new JsonObject
        {
            ["pids"] = new JsonObject { ["limit"] = 8 },
        }, ["/bin/sh", "-c", "(i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done) 2>/tmp/err; " +
            "cat /sys/fs/cgroup/pids/pids.current; grep -c \"can't fork\" /tmp/err"]);
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(int.Parse(lines[0]), 2, 8);
        Assert.Equal("1", lines[1]);
        Assert.False(Directory.Exists($"/sys/fs/cgroup/pids{CgroupPath(id)}"));
    }

    [RootFact]
    public void Processes_are_frozen_by_pause_and_continue_after_resume()
    {
        var id = StateRoot.NewId("pause");
        using var b = WithResources(_root, id, new JsonObject(),
            ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.02; done"]);
        Detached(b, id);
        var counter = Path.Combine(b.RootfsPath, "tmp", "count");
        int Count() => int.TryParse(File.Exists(counter) ? File.ReadAllText(counter).Trim() : "", out var n) ? n : 0;
        RunLifecycleTests.WaitFor(() => Count() > 3);
        Assert.Equal(0, Cli.Run(_root.Path, "pause", id).ExitCode);
        Assert.Equal("paused", (string?)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["status"]);
        Assert.Equal("FROZEN", Read($"freezer{CgroupPath(id)}/freezer.state"));
        // Frozen: the counter stands still.
        var frozenAt = Count();
        Thread.Sleep(400);
        Assert.Equal(frozenAt, Count());
        Assert.Equal(0, Cli.Run(_root.Path, "resume", id).ExitCode);
        Assert.Equal("running", (string?)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["status"]);
        Assert.Equal("THAWED", Read($"freezer{CgroupPath(id)}/freezer.state"));
        RunLifecycleTests.WaitFor(() => Count() > frozenAt);
        Assert.Equal(0, Cli.Run(_root.Path, "delete", "-f", id).ExitCode);
    }

    private static string Read(string relative) => File.ReadAllText("/sys/fs/cgroup/" + relative).Trim();
}
