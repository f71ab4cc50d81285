using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Tests;

public class SyscallsTests
{
    [Fact]
    public void Start_time_is_parsed_after_the_last_parenthesis()
    {
        // comm "(a) b) c" contains spaces and parentheses; starttime (field 22) is 4242.
        var stat = "123 ((a) b) c) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10";
        Assert.Equal(4242ul, Syscalls.ParseStartTime(stat, "/proc/123/stat"));
        Assert.Throws<SyscallException>(() => Syscalls.ParseStartTime("garbage", "/proc/1/stat"));
    }

    [Fact]
    public void Start_time_of_this_process_is_stable_and_a_missing_pid_is_enoent()
    {
        int self = Environment.ProcessId;
        ulong a = Syscalls.ReadProcStartTime(self);
        Assert.True(a > 0);
        Assert.Equal(a, Syscalls.ReadProcStartTime(self));
        var e = Assert.Throws<SyscallException>(() => Syscalls.ReadProcStartTime(int.MaxValue - 1));
        Assert.Equal(Errno.ENOENT, e.Errno);
    }

    [Fact]
    public void Wait_status_decodes_exit_and_signal()
    {
        Assert.Equal(7, new WaitStatus(7 << 8).ExitCode);
        Assert.True(new WaitStatus(7 << 8).Exited);
        Assert.Equal(9, new WaitStatus(9).Signal);
        Assert.Equal(137, new WaitStatus(9).ExitCode);
        Assert.Equal(0, new WaitStatus(0).ExitCode);
    }

    [Fact]
    public void Kill_and_pidfd_of_a_missing_process_fail_with_esrch()
    {
        Assert.Equal(Errno.ESRCH, Assert.Throws<SyscallException>(() => Syscalls.Kill(int.MaxValue - 1, 0)).Errno);
        Assert.Equal(Errno.ESRCH, Assert.Throws<SyscallException>(() => Syscalls.PidfdOpen(int.MaxValue - 1)).Errno);
        using var own = Syscalls.PidfdOpen(Environment.ProcessId);
        Assert.False(own.IsInvalid);
    }

    [Fact]
    public void Shim_errors_read_like_runc()
    {
        Assert.Equal("mount /proc: no such device", new ShimException(ShimStep.Mount, Errno.ENODEV, "/proc").Message);
        Assert.Equal("write sysctl net/ipv4/ip_forward: read-only file system",
            new ShimException(ShimStep.Sysctl, Errno.EROFS, "net/ipv4/ip_forward").Message);
        Assert.Equal("exec: \"x\": permission denied", new ShimException(ShimStep.ExecLookup, Errno.EACCES, "x").Message);
    }
}
