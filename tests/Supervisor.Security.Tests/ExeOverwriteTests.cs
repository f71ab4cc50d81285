using System.Diagnostics;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 1, CVE-2019-5736: a container process opens /proc/PID/exe of the process that entered the
/// container and overwrites the host binary through it. Defence: the shim re-executes itself from a sealed
/// memfd copy (native/src/shim_main.c, ensure_sealed) and is non-dumpable before it forks into the
/// container, so what the container can reach is an anonymous, write-sealed copy.
/// </summary>
public sealed class ExeOverwriteTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    [RootFact]
    public void A_created_init_runs_from_a_sealed_memfd_that_cannot_be_written_even_after_the_runtime_exits()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sh"]);
        var snapshot = HostSnapshot.Take();
        var id = StateRoot.NewId("exe");
        var c = Containers.Create(_root.Path, b, id);
        Assert.True(c.ExitCode == 0, c.ToString());
        int pid = Containers.InitPid(_root.Path, id);
        var exe = new FileInfo($"/proc/{pid}/exe").LinkTarget!;
        Assert.StartsWith("/memfd:supervisor-shim", exe);

        // The exploit's sequence, run as host root (stronger than the container's root): take an O_PATH
        // handle on the exe, let every runtime process exit, then reopen the handle for writing.
        var psi = new ProcessStartInfo(Attacker.HostPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("reopen-exe");
        psi.ArgumentList.Add(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var attacker = Process.Start(psi)!;
        var lines = new List<string>();
        string? line;
        while ((line = attacker.StandardOutput.ReadLine()) is not null)
        {
            lines.Add(line);
            if (line.StartsWith("held=", StringComparison.Ordinal))
                break;
        }
        var early = Attacker.Values(string.Join('\n', lines));
        Assert.NotEqual("OK", early["direct"]);
        Assert.StartsWith("/memfd:supervisor-shim", early["held"]);

        Assert.Equal(0, Cli.Run(_root.Path, "delete", "-f", id).ExitCode);
        attacker.StandardInput.WriteLine("go");
        attacker.StandardInput.Close();
        var rest = attacker.StandardOutput.ReadToEnd();
        Assert.True(attacker.WaitForExit(TimeSpan.FromSeconds(30)));
        var late = Attacker.Values(rest);
        Assert.True(late["reopen"] is "EPERM" or "EACCES", rest);
        snapshot.AssertUnchanged();
    }

    [RootFact]
    public void A_container_process_hunting_exe_links_during_many_execs_changes_no_host_binary()
    {
        using var b = new Bundle(_root.Path);
        var attack = Attacker.InstallInto(b.RootfsPath);
        // Without CAP_DAC_OVERRIDE the container's root cannot open a 0555 file for writing, so the loop
        // cannot hold the container's own busybox open for writing and make the test's execs fail with
        // ETXTBSY: every target it can still reach is something else.
        File.SetUnixFileMode(Path.Combine(b.RootfsPath, "bin", "busybox"), (UnixFileMode)Convert.ToInt32("555", 8));
        File.SetUnixFileMode(Path.Combine(b.RootfsPath, "svattack"), (UnixFileMode)Convert.ToInt32("555", 8));
        b.Process["args"] = Containers.Args(attack, "exe-loop", "120", "/stop");
        b.Save();
        var fifo = Path.Combine(b.Dir, "fifo");
        Assert.Equal(0, Shell.Run($"mkfifo {Shell.Quote(fifo)}").ExitCode);
        var output = Path.Combine(b.Dir, "attack.out");
        var snapshot = HostSnapshot.Take();
        var id = StateRoot.NewId("exeloop");
        var r = Containers.RunDetached(_root.Path, b, id, output);
        Assert.True(r.ExitCode == 0, r.ToString());

        // The entrypoint trick of the CVE: the container execs /proc/self/exe of the entering process, so a
        // copy of the runtime keeps running inside the container (blocked reading a fifo given as fd 3).
        var self = Shell.Run($"{Containers.CliPath} --root {_root.Path} exec -d --preserve-fds 1 {id} /proc/self/exe 3 " +
                             $"3<>{Shell.Quote(fifo)} </dev/null >/dev/null 2>&1");
        Assert.True(self.ExitCode == 0, self.ToString());
        for (int i = 0; i < 150; i++)
        {
            var e = Cli.Run(_root.Path, "exec", id, "/bin/true");
            Assert.True(e.ExitCode == 0, e.ToString());
        }
        File.WriteAllText(Path.Combine(b.RootfsPath, "stop"), "");
        Assert.True(Containers.WaitFor(output, "SCANS", TimeSpan.FromSeconds(30)), File.ReadAllText(output));
        Cli.Run(_root.Path, "delete", "-f", id);

        var report = File.ReadAllText(output);
        Assert.True(Attacker.Tagged(report, "HIT-DIRECT").Count == 0, report);
        Assert.True(Attacker.Tagged(report, "HIT-REOPEN").Count == 0, report);
        Assert.True(long.Parse(Attacker.Tagged(report, "SCANS")[0]) > 0, report);
        snapshot.AssertUnchanged();
    }
}
