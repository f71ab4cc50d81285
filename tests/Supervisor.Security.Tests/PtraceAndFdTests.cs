using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 2, CVE-2016-9962: the process entering the container was dumpable, so the container's root could
/// ptrace it or read its /proc/PID/fd and reach host files through them. Defence: the shim sets
/// PR_SET_DUMPABLE 0 first thing (native/src/shim_main.c, main), its children inherit that until their
/// final execve, and they close every inherited fd they were not asked to pass (shim_child.c,
/// close_inherited) before they join anything.
/// </summary>
public sealed class PtraceAndFdTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    [RootFact]
    public void The_entering_process_is_not_dumpable_until_its_execve()
    {
        // A created container's init is the shim's child stopped just before execve: pid 1 inside. An exec'd
        // attacker with the container's default root privileges tries every way in.
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var attack = Attacker.InstallInto(b.RootfsPath);
        var snapshot = HostSnapshot.Take();
        var id = StateRoot.NewId("dump");
        var c = Containers.Create(_root.Path, b, id);
        Assert.True(c.ExitCode == 0, c.ToString());

        var probe = Cli.Run(_root.Path, "exec", id, attack, "probe-pid", "1");
        Assert.True(probe.ExitCode == 0, probe.ToString());
        var v = Attacker.Values(probe.Stdout);
        foreach (var key in new[] { "fd", "fdopen", "environ", "exe", "root", "cwd", "ptrace" })
            Assert.True(v[key] is "EACCES" or "EPERM", $"{key} of the entering process: {v[key]}\n{probe.Stdout}");
        Assert.Empty(Attacker.Tagged(probe.Stdout, "FD"));

        // Once it has exec'd, pid 1 is an ordinary container process again: the same probes now work, which
        // shows the refusals above came from the non-dumpable state, not from the attacker's setup.
        Assert.Equal(0, Cli.Run(_root.Path, "start", id).ExitCode);
        var after = Cli.Run(_root.Path, "exec", id, attack, "probe-pid", "1");
        Assert.Equal("OK", Attacker.Values(after.Stdout)["fd"]);
        Cli.Run(_root.Path, "delete", "-f", id);
        snapshot.AssertUnchanged();
    }

    [RootFact]
    public void A_container_watching_proc_during_many_execs_never_reaches_a_host_fd()
    {
        using var b = new Bundle(_root.Path);
        var attack = Attacker.InstallInto(b.RootfsPath);
        b.Process["args"] = Containers.Args(attack, "fd-loop", "120", "/stop");
        b.Save();
        var output = Path.Combine(b.Dir, "attack.out");
        var snapshot = HostSnapshot.Take();
        var id = StateRoot.NewId("fdloop");
        var r = Containers.RunDetached(_root.Path, b, id, output);
        Assert.True(r.ExitCode == 0, r.ToString());
        for (int i = 0; i < 150; i++)
        {
            var e = Cli.Run(_root.Path, "exec", id, "/bin/sleep", "0.01");
            Assert.True(e.ExitCode == 0, e.ToString());
        }
        File.WriteAllText(Path.Combine(b.RootfsPath, "stop"), "");
        Assert.True(Containers.WaitFor(output, "SCANS", TimeSpan.FromSeconds(30)), File.ReadAllText(output));
        Cli.Run(_root.Path, "delete", "-f", id);

        var report = File.ReadAllText(output);
        Assert.True(Attacker.Tagged(report, "PTRACE-OK").Count == 0, report);
        Assert.DoesNotContain("ENV-OF-HIDDEN-EXE", report);
        Assert.DoesNotContain(Attacker.Tagged(report, "EXE"), exe => exe.Contains("memfd", StringComparison.Ordinal));
        // What an exec'd process legitimately holds: the caller's stdio (pipes here) and nothing else.
        var outside = Attacker.Tagged(report, "FD").Where(t => !IsContainerSafe(t)).ToList();
        Assert.True(outside.Count == 0, "fds reaching outside the container:\n" + string.Join('\n', outside) + "\n" + report);
        snapshot.AssertUnchanged();
    }

    internal static bool IsContainerSafe(string target) =>
        target.StartsWith("pipe:[", StringComparison.Ordinal) || target.StartsWith("socket:[", StringComparison.Ordinal) ||
        target.StartsWith("anon_inode:", StringComparison.Ordinal) || target == "/dev/null" ||
        target.StartsWith("/dev/pts/", StringComparison.Ordinal);
}
