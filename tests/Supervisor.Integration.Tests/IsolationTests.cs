using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Integration.Tests;

/// <summary>What the process inside sees: namespaces, identity, limits, filesystem.</summary>
public sealed class IsolationTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private CliResult Run(Bundle b, string prefix = "iso") =>
        Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId(prefix));

    private static void AddNamespace(Bundle b, string type, string? path = null)
    {
        var ns = new JsonObject { ["type"] = type };
        if (path is not null)
            ns["path"] = path;
        b.Linux["namespaces"]!.AsArray().Add(ns);
    }

    private static string HostNs(string file) => new FileInfo($"/proc/self/ns/{file}").LinkTarget!;

    [RootFact]
    public void Every_namespace_is_new_when_listed_without_a_path()
    {
        var files = new[] { "mnt", "uts", "ipc", "pid", "net", "user", "cgroup" };
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
            c["linux"]!["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
        }, args: ["/bin/sh", "-c", string.Join("; ", files.Select(f => $"echo {f}=$(readlink /proc/self/ns/{f})"))]);
        AddNamespace(b, "user");
        b.Save();
        var r = Run(b, "ns");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var f in files)
        {
            var line = r.Stdout.Split('\n').Single(l => l.StartsWith(f + "="));
            var inside = line[(f.Length + 1)..];
            Assert.StartsWith(f + ":[", inside);
            Assert.NotEqual(HostNs(f), inside);
        }
    }

    [RootFact]
    public void A_namespace_given_by_path_is_joined()
    {
        using var first = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StateRoot.NewId("netowner");
        Assert.Equal(0, Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} run -d -b {first.Dir} {id} </dev/null >/dev/null 2>&1").ExitCode);
        int pid = (int)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["pid"]!;
        var netns = new FileInfo($"/proc/{pid}/ns/net").LinkTarget!;
        var utsns = new FileInfo($"/proc/{pid}/ns/uts").LinkTarget!;

        using var second = new Bundle(_root.Path, args: ["/bin/sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts"]);
        var namespaces = second.Linux["namespaces"]!.AsArray();
        foreach (var n in namespaces.ToList())
            if ((string?)n!["type"] == "network")
                namespaces.Remove(n);
        AddNamespace(second, "network", $"/proc/{pid}/ns/net");
        second.Save();
        var r = Run(second, "joiner");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(netns, lines[0]);
        Assert.NotEqual(utsns, lines[1]);
        Cli.Run(_root.Path, "delete", "-f", id);
    }

    [RootFact]
    public void Loopback_is_up_in_a_new_network_namespace()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "cat /sys/class/net/lo/operstate; cat /proc/net/dev | grep -c :"]);
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("unknown", lines[0]); // lo reports "unknown" when up (it has no carrier), "down" otherwise
        Assert.Equal("1", lines[1]);       // only lo exists
    }

    [RootFact]
    public void Hostname_env_home_and_cwd_are_set()
    {
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["hostname"] = "box-one";
            c["process"]!["env"]!.AsArray().Add("FOO=bar");
            c["process"]!["env"]!.AsArray().Add("FOO=baz");
            c["process"]!["cwd"] = "/tmp";
        }, args: ["/bin/sh", "-c", "hostname; echo FOO=$FOO; echo HOME=$HOME; pwd"]);
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("box-one\nFOO=baz\nHOME=/root\n/tmp\n", r.Stdout);
    }

    [RootFact]
    public void A_named_user_gets_its_uid_groups_and_home()
    {
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["process"]!["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0, ["username"] = "user1", ["additionalGids"] = new JsonArray(3000) };
        }, args: ["/bin/sh", "-c", "id -u; id -g; echo HOME=$HOME; grep ^Groups: /proc/self/status"]);
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("1000", lines[0]);
        Assert.Equal("1000", lines[1]);
        Assert.Equal("HOME=/home/user1", lines[2]);
        var groups = lines[3]["Groups:".Length..].Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet();
        Assert.Contains(29, groups);   // audio lists user1
        Assert.Contains(2000, groups); // extra lists user1
        Assert.Contains(3000, groups); // additionalGids
    }

    [RootFact]
    public void Rlimits_apply_to_the_process()
    {
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["process"]!["rlimits"] = new JsonArray(
                new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 512, ["hard"] = 768 },
                new JsonObject { ["type"] = "RLIMIT_NPROC", ["soft"] = 333, ["hard"] = 444 });
        }, args: ["/bin/sh", "-c", "grep -E 'Max (open files|processes)' /proc/self/limits"]);
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"Max processes\s+333\s+444", r.Stdout);
        Assert.Matches(@"Max open files\s+512\s+768", r.Stdout);
    }

    [RootFact]
    public void Capabilities_are_exactly_the_configured_sets()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs' /proc/self/status"]);
        // runc spec's default: AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10) => 0x20000420.
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"CapInh:\s+0000000000000000", r.Stdout);
        Assert.Matches(@"CapPrm:\s+0000000020000420", r.Stdout);
        Assert.Matches(@"CapEff:\s+0000000020000420", r.Stdout);
        Assert.Matches(@"CapBnd:\s+0000000020000420", r.Stdout);
        Assert.Matches(@"CapAmb:\s+0000000000000000", r.Stdout);
        Assert.Matches(@"NoNewPrivs:\s+1", r.Stdout);

        // A capability that is not granted is really absent: without CAP_SYS_ADMIN mounting fails.
        using var denied = new Bundle(_root.Path, args: ["/bin/sh", "-c", "mount -t tmpfs none /mnt"]);
        var d = Run(denied);
        Assert.NotEqual(0, d.ExitCode);

        // ...and a granted one works: CAP_SYS_ADMIN in all sets lets the same mount succeed (without the
        // default seccomp profile, which refuses mount to everyone, as Docker's does without SYS_ADMIN).
        using var granted = new Bundle(_root.Path, edit: c =>
        {
            c["linux"]!.AsObject().Remove("seccomp");
            foreach (var set in new[] { "bounding", "effective", "permitted" })
                c["process"]!["capabilities"]![set]!.AsArray().Add("CAP_SYS_ADMIN");
        }, args: ["/bin/sh", "-c", "mount -t tmpfs none /mnt && grep -c ' /mnt ' /proc/self/mountinfo"]);
        var g = Run(granted);
        Assert.True(g.ExitCode == 0, g.ToString());
        Assert.Equal("1\n", g.Stdout);
    }

    [RootFact]
    public void Dev_holds_only_the_default_devices_and_links()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "ls -1 /dev; ls -l /dev/null /dev/ptmx /dev/fd"]);
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        var names = r.Stdout.Split('\n').TakeWhile(l => !l.StartsWith("crw") && !l.StartsWith("lrw")).Where(l => l.Length > 0).ToHashSet();
        foreach (var expected in new[] { "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd", "stdin", "stdout", "stderr" })
            Assert.Contains(expected, names);
        Assert.DoesNotContain("mem", names);
        Assert.DoesNotContain("kmsg", names);
        Assert.DoesNotContain(names, n => n.StartsWith("sd") || n.StartsWith("vd") || n.StartsWith("nvme"));
        Assert.Matches(@"crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .* /dev/null", r.Stdout);
        Assert.Contains("/dev/ptmx -> pts/ptmx", r.Stdout);
        Assert.Contains("/dev/fd -> /proc/self/fd", r.Stdout);
    }

    [RootFact]
    public void Readonly_rootfs_masked_and_readonly_paths_hold()
    {
        using var b = new Bundle(_root.Path, edit: c => c["root"]!["readonly"] = true, args: ["/bin/sh", "-c",
            "touch /newfile 2>/dev/null && echo rootfs-writable; " +
            "echo timer_list=$(wc -c < /proc/timer_list); " +
            "ls /sys/firmware | wc -l; " +
            "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo procsys-writable; " +
            "echo x > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable; " +
            "touch /tmp/ok 2>/dev/null || echo tmp-readonly; echo done"]);
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("rootfs-writable", r.Stdout);
        Assert.Contains("timer_list=0", r.Stdout); // masked: /dev/null is bound over it
        Assert.DoesNotContain("procsys-writable", r.Stdout);
        Assert.DoesNotContain("sysrq-writable", r.Stdout);
        Assert.Contains("done", r.Stdout);
        Assert.Equal("0", r.Stdout.Split('\n')[1]);
    }

    [RootFact]
    public void Pivot_root_leaves_no_way_back_to_the_host_root()
    {
        var marker = "sv-host-marker-" + Guid.NewGuid().ToString("N")[..8];
        File.WriteAllText(Path.Combine("/run", marker), "host");
        try
        {
            using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c",
                $"find / -xdev -name {marker} 2>/dev/null; find /run /tmp /mnt -name {marker} 2>/dev/null; " +
                "awk '$5 == \"/\"' /proc/self/mountinfo | wc -l; ls -a / | grep -c pivot"]);
            var r = Run(b);
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.DoesNotContain(lines, l => l.Contains(marker));
            Assert.Equal("1", lines[^2]); // exactly one mount at "/": the rootfs; the old root is gone
            Assert.Equal("0", lines[^1]);
        }
        finally
        {
            File.Delete(Path.Combine("/run", marker));
        }
    }

    [RootFact]
    public void A_user_namespace_maps_root_to_an_unprivileged_host_uid()
    {
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 200000, ["size"] = 65536 });
            c["linux"]!["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 200000, ["size"] = 65536 });
        }, args: ["/bin/sh", "-c", "id -u; cat /proc/self/uid_map; ls -l /dev/null"]);
        AddNamespace(b, "user");
        b.Save();
        var r = Run(b, "userns");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("0", lines[0]);
        Assert.Matches(@"^\s*0\s+200000\s+65536$", lines[1]);
        // Devices cannot be created in a user namespace: /dev/null is the host's node bind-mounted in.
        Assert.Matches(@"1,\s+3", lines[2]);
    }

    [RootFact]
    public void Sysctls_are_set_inside_the_namespaces_only()
    {
        var hostValue = File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim();
        using var b = new Bundle(_root.Path, edit: c =>
        {
            c["linux"]!["sysctl"] = new JsonObject { ["net.ipv4.ip_forward"] = hostValue == "1" ? "0" : "1" };
        }, args: ["/bin/cat", "/proc/sys/net/ipv4/ip_forward"]);
        var r = Run(b);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(hostValue == "1" ? "0" : "1", r.Stdout.Trim());
        Assert.Equal(hostValue, File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim());
    }
}
