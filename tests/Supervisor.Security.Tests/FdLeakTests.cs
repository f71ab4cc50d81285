using System.Globalization;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 3, CVE-2024-21626: a host directory fd leaked into the container's init became its cwd
/// (process.cwd = /proc/self/fd/N) or the start of its exec path. Defences: the shim's child closes every
/// fd it was not asked to pass before any setup step (native/src/shim_child.c, close_inherited), marks the
/// rest close-on-exec right before execve (close_range), and after chdir checks with getcwd that the cwd is
/// reachable from the container's root (change_dir).
/// </summary>
public sealed class FdLeakTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    [RootFact]
    public void A_created_init_holds_only_its_stdio_and_the_socket_to_the_shim()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StateRoot.NewId("census");
        var c = Shell.Run($"{Containers.CliPath} --root {_root.Path} create -b {Shell.Quote(b.Dir)} {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(c.ExitCode == 0, c.ToString());
        int pid = Containers.InitPid(_root.Path, id);

        var fds = Census(pid);
        foreach (var (fd, target) in fds)
        {
            if (fd <= 2)
                Assert.True(target == "/dev/null", $"fd {fd}: {target}");
            else
                Assert.True(target.StartsWith("socket:[", StringComparison.Ordinal), $"fd {fd} leaked into the init: {target}");
        }
        Assert.True(fds.Count(f => f.Fd > 2) <= 1, string.Join('\n', fds));

        // After execve only stdio is left: the socket was close-on-exec.
        Assert.Equal(0, Cli.Run(_root.Path, "start", id).ExitCode);
        Assert.True(Containers.WaitStatus(_root.Path, id, "running", TimeSpan.FromSeconds(10)));
        var running = Census(pid);
        Assert.True(running.All(f => f.Fd <= 2), string.Join('\n', running));
        Cli.Run(_root.Path, "delete", "-f", id);
    }

    [RootFact]
    public void A_cwd_or_exec_path_through_proc_self_fd_never_reaches_the_host()
    {
        using var canary = new Canary("svsec-fdcwd");
        var marker = Path.Combine(canary.Dir, "host-only-binary");
        File.Copy(Attacker.HostPath, marker);
        var secret = Path.GetFileName(canary.Dir);
        using var b = new Bundle(_root.Path);
        var snapshot = HostSnapshot.Take([canary.Dir]);
        for (int n = 3; n <= 64; n++)
        {
            var fdDir = "/proc/self/fd/" + n.ToString(CultureInfo.InvariantCulture);
            b.Process["cwd"] = fdDir;
            b.Process["args"] = Containers.Args("/bin/sh", "-c", "pwd -P; ls -a . ..");
            b.Save();
            var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("cwd"));
            if (r.ExitCode == 0)
            {
                Assert.DoesNotContain("unreachable", r.Stdout);
                Assert.DoesNotContain(secret, r.Stdout);
                Assert.StartsWith("/", r.Stdout);
            }

            // A leaked directory fd as the start of the program path: "/.." of a host directory climbs to
            // the host's root, where the host-only binary would be found.
            b.Process["cwd"] = "/";
            b.Process["args"] = Containers.Args(fdDir + string.Concat(Enumerable.Repeat("/..", 12)) + marker, "ids");
            b.Save();
            var x = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("argv"));
            Assert.NotEqual(0, x.ExitCode);
            Assert.DoesNotContain("ruid=", x.Stdout);
        }
        snapshot.AssertUnchanged();
    }

    [RootFact]
    public void Exec_with_a_cwd_through_a_container_made_symlink_to_proc_self_fd_fails()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "for n in $(seq 3 20); do ln -s /proc/self/fd/$n /wd$n; done; sleep 300"]);
        var id = StateRoot.NewId("execcwd");
        var r = Containers.RunDetached(_root.Path, b, id, "/dev/null");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(SpinUntil(() => File.Exists(Path.Combine(b.RootfsPath, "wd20")) || new FileInfo(Path.Combine(b.RootfsPath, "wd20")).LinkTarget is not null));
        for (int n = 3; n <= 20; n++)
        {
            foreach (var cwd in new[] { "/wd" + n, "/proc/self/fd/" + n })
            {
                var e = Cli.Run(_root.Path, "exec", "--cwd", cwd, id, "/bin/sh", "-c", "pwd -P; ls /");
                if (e.ExitCode == 0)
                {
                    Assert.DoesNotContain("unreachable", e.Stdout);
                    Assert.Contains("bin", e.Stdout);
                    Assert.DoesNotContain(Path.GetFileName(b.Dir), e.Stdout);
                }
            }
        }
        Cli.Run(_root.Path, "delete", "-f", id);
    }

    private static bool SpinUntil(Func<bool> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < until)
        {
            if (condition())
                return true;
            Thread.Sleep(50);
        }
        return false;
    }

    private static List<(int Fd, string Target)> Census(int pid)
    {
        var list = new List<(int, string)>();
        foreach (var entry in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            var target = new FileInfo(entry).LinkTarget ?? "?";
            list.Add((int.Parse(Path.GetFileName(entry), CultureInfo.InvariantCulture), target));
        }
        return list;
    }
}
