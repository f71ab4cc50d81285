using System.Globalization;
using System.Text.Json.Nodes;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 8: namespaces and visibility (and CVE-2020-15257 for the control socket). Defences: a new pid and
/// mount namespace per container (src/Supervisor.Runtime/Oci/DefaultSpec.cs), a state root outside every
/// rootfs created 0700, and the shim's control socket bound as a path in the state directory with mode
/// 0600 and an SO_PEERCRED check, never as an abstract socket a container in the host network namespace
/// could reach (native/src/shim_main.c, open_listener and accept_peer).
/// </summary>
public sealed class VisibilityTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    [RootFact]
    public void Host_processes_are_invisible_and_cannot_be_signalled()
    {
        var me = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c",
            $"kill -0 {me} 2>/dev/null && echo KILL-OK; kill -0 1 && echo pid1-is-ours; " +
            "ps -o pid,args | grep -v -e 'ps -o' -e grep; echo count=$(ls -d /proc/[0-9]* | wc -l)"]);
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("pid"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("KILL-OK", r.Stdout);
        Assert.Contains("pid1-is-ours", r.Stdout);
        Assert.DoesNotContain("dotnet", r.Stdout);
        Assert.DoesNotContain("supervisor", r.Stdout);
        Assert.True(int.Parse(r.Stdout.Split("count=")[1].Trim(), CultureInfo.InvariantCulture) <= 6, r.Stdout);
    }

    [RootFact]
    public void The_state_root_and_the_shim_socket_are_unreachable_even_from_the_host_network_namespace()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var attack = Attacker.InstallInto(b.RootfsPath);
        // Sharing the host's network namespace is what made containerd-shim's abstract socket reachable.
        var namespaces = b.Linux["namespaces"]!.AsArray();
        foreach (var n in namespaces.ToList())
            if ((string?)n!["type"] == "network")
                namespaces.Remove(n);
        b.Save();
        var id = StateRoot.NewId("sock");
        var c = Containers.Create(_root.Path, b, id);
        Assert.True(c.ExitCode == 0, c.ToString());
        var stateDir = Path.Combine(_root.Path, id);
        var sock = Path.Combine(stateDir, "shim.sock");
        Assert.True(File.Exists(sock), "no shim.sock while the container is created");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_root.Path));

        var e = Cli.Run(_root.Path, "exec", id, "/bin/sh", "-c",
            $"{attack} connect {sock}; ls /run; grep -c shim.sock /proc/net/unix; test -e {_root.Path} && echo STATE-VISIBLE; echo done");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal("ENOENT", Attacker.Values(e.Stdout)["connect"]);
        Assert.DoesNotContain(Path.GetFileName(_root.Path), e.Stdout.Replace(sock, ""));
        Assert.DoesNotContain("STATE-VISIBLE", e.Stdout);

        // Host side: every unix socket the shim holds is path-based (no "@name" abstract socket).
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(stateDir, "state.json")))!;
        int shimPid = (int)state["shimPid"]!;
        var inodes = Directory.GetFileSystemEntries($"/proc/{shimPid}/fd")
            .Select(f => new FileInfo(f).LinkTarget ?? "")
            .Where(t => t.StartsWith("socket:[", StringComparison.Ordinal))
            .Select(t => t["socket:[".Length..^1]).ToHashSet();
        Assert.NotEmpty(inodes);
        var abstractOwned = File.ReadAllLines("/proc/net/unix").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 8 && inodes.Contains(f[6]) && f[7].StartsWith('@')).ToList();
        Assert.Empty(abstractOwned);
        Cli.Run(_root.Path, "delete", "-f", id);
    }
}
