using System.Diagnostics;
using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Integration.Tests;

/// <summary>
/// An unprivileged user, created for these tests, that owns a copy of the busybox rootfs and runs the
/// real CLI (copied where it may execute it) with no --root and no --rootless flag: auto-detection,
/// the XDG state root, the caller's id mapping, bind-mounted devices and the absence of cgroups are
/// all exercised exactly as a user's shell would.
/// </summary>
public sealed class RootlessFixture : IDisposable
{
    public const string UserName = "svrootless";

    public RootlessFixture()
    {
        if (!Environment.IsPrivilegedProcess)
            return;
        SkipReason = UserNamespacesForbidden();
        if (SkipReason is not null)
            return;
        if (Shell.Run($"id -u {UserName}").ExitCode != 0)
        {
            var add = Shell.Run($"useradd --system -M -d /nonexistent -s /usr/sbin/nologin {UserName}");
            if (add.ExitCode != 0)
                throw new InvalidOperationException("useradd failed: " + add);
            CreatedUser = true;
        }
        Uid = uint.Parse(Shell.Run($"id -u {UserName}").Stdout.Trim());
        Gid = uint.Parse(Shell.Run($"id -g {UserName}").Stdout.Trim());

        Dir = Path.Combine("/tmp", "sv-rootless-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path.Combine(Dir, "bin"));
        File.SetUnixFileMode(Dir, (UnixFileMode)0b111_101_101);
        foreach (var f in new[] { "supervisor", "supervisor-shim" })
            File.Copy(Path.Combine(TestPaths.BinDir, f), Path.Combine(Dir, "bin", f));
        Directory.CreateDirectory(Xdg);
        Chown(Xdg);
        File.SetUnixFileMode(Xdg, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public string? SkipReason { get; }
    public bool CreatedUser { get; }
    public uint Uid { get; }
    public uint Gid { get; }
    public string Dir { get; } = "";
    public string Xdg => Path.Combine(Dir, "xdg");
    public string StateRoot => Path.Combine(Xdg, "supervisor");

    public void Chown(string path)
    {
        var r = Shell.Run($"chown -R {Uid}:{Gid} {Shell.Quote(path)}");
        if (r.ExitCode != 0)
            throw new InvalidOperationException("chown failed: " + r);
    }

    /// <summary>Runs the copied CLI as the unprivileged user with a minimal environment.</summary>
    public CliResult Run(string? workingDir, params string[] args) =>
        ProcessRunner.Run("setpriv",
            [
                $"--reuid={Uid}", $"--regid={Gid}", "--clear-groups", "env", "-i", "PATH=/usr/bin:/bin",
                "HOME=/nonexistent", $"XDG_RUNTIME_DIR={Xdg}", Path.Combine(Dir, "bin", "supervisor"), .. args,
            ],
            workingDir ?? Dir, "supervisor " + string.Join(' ', args));

    /// <summary>
    /// Every live process the test user has on the host. Zombies are left out: this machine's PID 1 does
    /// not reap, so an exited shim that was reparented to it stays a zombie with the user's uid.
    /// </summary>
    public IReadOnlyList<int> UserProcesses()
    {
        var r = Shell.Run($"ps -u {Uid} -o pid=,stat= || true");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 2 && !f[1].StartsWith('Z'))
            .Select(f => int.Parse(f[0]))
            .ToList();
    }

    /// <summary>
    /// Runs a command that leaves a container behind (create): the container keeps the stdio it was
    /// given, so it gets /dev/null and files instead of the test's pipes.
    /// </summary>
    public CliResult RunDetached(string? workingDir, params string[] args)
    {
        var outFile = Path.Combine(Dir, "detached.out");
        var errFile = Path.Combine(Dir, "detached.err");
        var cmd = $"cd {Shell.Quote(workingDir ?? Dir)} && setpriv --reuid={Uid} --regid={Gid} --clear-groups env -i PATH=/usr/bin:/bin " +
                  $"HOME=/nonexistent XDG_RUNTIME_DIR={Shell.Quote(Xdg)} {Shell.Quote(Path.Combine(Dir, "bin", "supervisor"))} " +
                  string.Join(' ', args.Select(Shell.Quote)) + $" </dev/null >{Shell.Quote(outFile)} 2>{Shell.Quote(errFile)}";
        var r = Shell.Run(cmd);
        return new CliResult(r.ExitCode, File.ReadAllText(outFile), File.ReadAllText(errFile));
    }

    /// <summary>
    /// Debian gates unprivileged user namespaces with kernel.unprivileged_userns_clone (when the sysctl
    /// exists); user.max_user_namespaces = 0 forbids them everywhere.
    /// </summary>
    internal static string? UserNamespacesForbidden()
    {
        const string debian = "/proc/sys/kernel/unprivileged_userns_clone";
        if (File.Exists(debian) && File.ReadAllText(debian).Trim() == "0")
            return "the kernel forbids unprivileged user namespaces (kernel.unprivileged_userns_clone = 0)";
        const string max = "/proc/sys/user/max_user_namespaces";
        if (File.Exists(max) && File.ReadAllText(max).Trim() == "0")
            return "the kernel forbids user namespaces (user.max_user_namespaces = 0)";
        return null;
    }

    public void Dispose()
    {
        if (Dir.Length > 0)
        {
            foreach (var pid in UserProcesses())
                Shell.Run($"kill -9 {pid}");
            Shell.Run($"rm -rf {Shell.Quote(Dir)}");
        }
        if (CreatedUser)
            Shell.Run($"userdel -f {UserName}");
    }
}

/// <summary>Root (to create the user) and a kernel that lets unprivileged users create user namespaces.</summary>
public sealed class RootlessFactAttribute : FactAttribute
{
    public RootlessFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: creates an unprivileged test user";
        else if (RootlessFixture.UserNamespacesForbidden() is { } reason)
            Skip = reason;
    }
}

public sealed class RootlessTests : IClassFixture<RootlessFixture>, IDisposable
{
    private readonly RootlessFixture _f;
    private readonly string _bundle;

    public RootlessTests(RootlessFixture fixture)
    {
        _f = fixture;
        _bundle = "";
        if (!Environment.IsPrivilegedProcess || _f.SkipReason is not null)
            return;
        _bundle = Path.Combine(_f.Dir, "bundle-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_bundle);
        var cp = Shell.Run($"cp -a {Shell.Quote(TestPaths.Rootfs)} {Shell.Quote(Path.Combine(_bundle, "rootfs"))}");
        if (cp.ExitCode != 0)
            throw new InvalidOperationException("copying the rootfs failed: " + cp);
        _f.Chown(_bundle);
    }

    public void Dispose()
    {
        if (_bundle.Length > 0)
            Shell.Run($"rm -rf {Shell.Quote(_bundle)}");
    }

    private string ConfigPath => Path.Combine(_bundle, "config.json");

    /// <summary>`spec --rootless` as the user, then the test's edits (no terminal, writable rootfs).</summary>
    private JsonObject Spec(string[] args, Action<JsonObject>? edit = null)
    {
        var spec = _f.Run(_bundle, "spec", "--rootless");
        Assert.True(spec.ExitCode == 0, spec.ToString());
        var c = JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();
        c["process"]!["terminal"] = false;
        c["root"]!["readonly"] = false;
        c["process"]!["args"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
        edit?.Invoke(c);
        File.WriteAllText(ConfigPath, c.ToJsonString());
        return c;
    }

    [RootlessFact]
    public void Spec_rootless_maps_the_caller_and_asks_for_nothing_privileged()
    {
        var c = Spec(["true"]);
        var linux = c["linux"]!.AsObject();
        var uidMap = linux["uidMappings"]!.AsArray().Single()!;
        var gidMap = linux["gidMappings"]!.AsArray().Single()!;
        Assert.Equal((0u, _f.Uid, 1u), ((uint)uidMap["containerID"]!, (uint)uidMap["hostID"]!, (uint)uidMap["size"]!));
        Assert.Equal((0u, _f.Gid, 1u), ((uint)gidMap["containerID"]!, (uint)gidMap["hostID"]!, (uint)gidMap["size"]!));
        var nsTypes = linux["namespaces"]!.AsArray().Select(n => (string)n!["type"]!).ToList();
        Assert.Contains("user", nsTypes);
        Assert.DoesNotContain("network", nsTypes);
        Assert.Null(linux["resources"]);
        var mounts = c["mounts"]!.AsArray();
        var sys = mounts.Single(m => (string)m!["destination"]! == "/sys")!;
        Assert.Equal("/sys", (string)sys["source"]!);
        Assert.Contains("rbind", sys["options"]!.AsArray().Select(o => (string)o!));
        Assert.Contains("ro", sys["options"]!.AsArray().Select(o => (string)o!));
        Assert.DoesNotContain(mounts, m => (string)m!["type"]! == "cgroup");
    }

    [RootlessFact]
    public void Run_as_an_unprivileged_user_is_root_inside_with_host_devices_and_leaves_nothing()
    {
        var mountsBefore = File.ReadAllLines("/proc/self/mountinfo").Length;
        Spec(["sh", "-c", "id -u; id -g; cat /proc/self/uid_map; stat -c '%t:%T %F' /dev/null; echo x > /dev/null && echo null-ok"]);
        var r = _f.Run(_bundle, "run", "rl-run");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();
        Assert.Equal("0", lines[0]);
        Assert.Equal("0", lines[1]);
        Assert.Equal($"0 {_f.Uid} 1", string.Join(' ', lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        // /dev/null is the host's node, bind-mounted (a user namespace cannot mknod a working one).
        Assert.Equal("1:3 character special file", lines[3]);
        Assert.Equal("null-ok", lines[4]);

        // The XDG state root was used and holds no container once run has returned.
        Assert.True(Directory.Exists(_f.StateRoot), "state root under $XDG_RUNTIME_DIR");
        Assert.False(Directory.Exists(Path.Combine(_f.StateRoot, "rl-run")));
        Assert.False(Directory.Exists("/run/supervisor/rl-run"));
        Assert.Empty(_f.UserProcesses());
        Assert.Equal(mountsBefore, File.ReadAllLines("/proc/self/mountinfo").Length);
    }

    [RootlessFact]
    public void Create_start_state_exec_kill_delete_as_an_unprivileged_user()
    {
        Spec(["sleep", "1000"]);
        const string id = "rl-life";
        var create = _f.RunDetached(_bundle, "create", id);
        Assert.True(create.ExitCode == 0, create.ToString());
        var state = JsonNode.Parse(_f.Run(null, "state", id).Stdout)!;
        Assert.Equal("created", (string)state["status"]!);
        int pid = (int)state["pid"]!;

        var start = _f.Run(null, "start", id);
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Equal("running", (string)JsonNode.Parse(_f.Run(null, "state", id).Stdout)!["status"]!);

        // On the host the container runs as the caller; inside it is root.
        var status = File.ReadAllLines($"/proc/{pid}/status");
        Assert.Equal($"Uid:\t{_f.Uid}\t{_f.Uid}\t{_f.Uid}\t{_f.Uid}", status.Single(l => l.StartsWith("Uid:")));
        Assert.Equal($"Gid:\t{_f.Gid}\t{_f.Gid}\t{_f.Gid}\t{_f.Gid}", status.Single(l => l.StartsWith("Gid:")));
        Assert.NotEqual(new FileInfo("/proc/self/ns/user").LinkTarget, new FileInfo($"/proc/{pid}/ns/user").LinkTarget);
        var exec = _f.Run(null, "exec", id, "id", "-u");
        Assert.True(exec.ExitCode == 0, exec.ToString());
        Assert.Equal("0", exec.Stdout.Trim());
        // No cgroup was delegated, so ps lists the members of the container's pid namespace.
        var ps = _f.Run(null, "ps", "--format", "json", id);
        Assert.True(ps.ExitCode == 0, ps.ToString());
        Assert.Contains(pid, JsonNode.Parse(ps.Stdout)!.AsArray().Select(n => (int)n!));

        var kill = _f.Run(null, "kill", id, "KILL");
        Assert.True(kill.ExitCode == 0, kill.ToString());
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((string)JsonNode.Parse(_f.Run(null, "state", id).Stdout)!["status"]! != "stopped" && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.Equal("stopped", (string)JsonNode.Parse(_f.Run(null, "state", id).Stdout)!["status"]!);
        var del = _f.Run(null, "delete", id);
        Assert.True(del.ExitCode == 0, del.ToString());

        Assert.False(Directory.Exists(Path.Combine(_f.StateRoot, id)));
        Assert.NotEqual(0, _f.Run(null, "state", id).ExitCode);
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (_f.UserProcesses().Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.Empty(_f.UserProcesses());
        // Nothing was created in any host cgroup hierarchy for it.
        Assert.Empty(Shell.Run($"find /sys/fs/cgroup -maxdepth 3 -name {id}").Stdout.Trim());
    }

    [RootlessFact]
    public void A_memory_limit_without_a_delegated_cgroup_is_refused_clearly()
    {
        Spec(["true"], c => c["linux"]!["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 64L << 20 } });
        var r = _f.Run(_bundle, "run", "rl-mem");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("rootless container", r.Stderr);
        Assert.Contains("memory", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_f.StateRoot, "rl-mem")));
        Assert.Empty(_f.UserProcesses());
    }

    [RootlessFact]
    public void Mapping_ids_other_than_the_callers_is_refused()
    {
        Spec(["true"], c =>
        {
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 0, ["size"] = 1 });
        });
        var r = _f.Run(_bundle, "run", "rl-map");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"may only map the caller's uid {_f.Uid}", r.Stderr);
        Assert.Empty(_f.UserProcesses());
    }

    [RootlessFact]
    public void Rootless_false_as_an_unprivileged_user_fails_on_cgroups_not_silently()
    {
        Spec(["true"]);
        var r = _f.Run(_bundle, "--rootless", "false", "--root", Path.Combine(_f.Xdg, "explicit"), "run", "rl-false");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Empty(_f.UserProcesses());
    }
}
