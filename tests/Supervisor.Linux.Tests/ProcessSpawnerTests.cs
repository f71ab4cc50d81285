namespace Supervisor.Linux.Tests;

public class ProcessSpawnerTests
{
    /// <summary>Two targets whose sources are each other's numbers: no dup2 may clobber the other.</summary>
    [Fact]
    public void Fds_land_on_their_targets_even_when_sources_and_targets_cross()
    {
        using var a = new TestPipe();
        using var b = new TestPipe();
        // The pipes' write ends become fd 4 and fd 5 in the child, in crossed order.
        int pid = ProcessSpawner.Spawn("/bin/sh", ["/bin/sh", "-c", "echo to-a >&5; echo to-b >&4; echo $GREETING >&5"],
            ["GREETING=hello"], [new(b.Write, 4), new(a.Write, 5), new(a.Write, 1)]);
        Assert.Equal(0, Syscalls.WaitPid(pid).Status.ExitCode);
        Assert.Equal("to-a\nhello\n", a.ReadToEnd());
        Assert.Equal("to-b\n", b.ReadToEnd());
    }

    /// <summary>.NET ignores SIGPIPE; the child must not inherit that (glibc's own real-time signals 32
    /// and 33 are out of posix_spawn's reach and reset by the shim itself).</summary>
    [Fact]
    public void The_child_starts_with_no_blocked_signals_and_sigpipe_not_ignored()
    {
        using var p = new TestPipe();
        int pid = ProcessSpawner.Spawn("/bin/grep", ["/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"], [],
            [new(p.Write, 1)]);
        Assert.Equal(0, Syscalls.WaitPid(pid).Status.ExitCode);
        var fields = p.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':', 2)).ToDictionary(f => f[0], f => Convert.ToUInt64(f[1].Trim(), 16));
        Assert.Equal(0ul, fields["SigBlk"]);
        const ulong sigpipe = 1ul << (13 - 1);
        Assert.Equal(0ul, fields["SigIgn"] & sigpipe);
    }

    [Fact]
    public void A_missing_program_is_a_syscall_error_naming_it()
    {
        var e = Assert.Throws<SyscallException>(() => ProcessSpawner.Spawn("/no/such/program", ["x"], [], []));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("/no/such/program", e.Message);
    }
}
