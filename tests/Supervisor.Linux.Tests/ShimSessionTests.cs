using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Interop;
using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Tests;

/// <summary>A fact that needs root (namespaces, mounts); it is skipped with that reason otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: creates namespaces and mounts";
    }
}

/// <summary>A pipe whose write end becomes a container's stdout.</summary>
internal sealed unsafe class TestPipe : IDisposable
{
    public TestPipe()
    {
        int* fds = stackalloc int[2];
        if (LibcIo.Pipe2(fds, LibcIo.O_CLOEXEC) < 0)
            throw new SyscallException("pipe2", null, Syscalls.LastErrno());
        Read = fds[0];
        Write = fds[1];
    }

    public int Read { get; private set; } = -1;
    public int Write { get; private set; } = -1;

    public void CloseWrite()
    {
        if (Write >= 0)
            LibcIo.Close(Write);
        Write = -1;
    }

    /// <summary>Everything until EOF (every writer closed).</summary>
    public string ReadToEnd()
    {
        CloseWrite();
        using var fs = new FileStream(new SafeFileHandle(Read, ownsHandle: true), FileAccess.Read, 1);
        Read = -1;
        using var reader = new StreamReader(fs, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public void Dispose()
    {
        CloseWrite();
        if (Read >= 0)
            LibcIo.Close(Read);
        Read = -1;
    }
}

public class ShimSessionTests
{
    private static readonly TimeSpan T = TimeSpan.FromSeconds(20);

    internal static ShimRequest Exec(params string[] args)
    {
        var r = new ShimRequest { Mode = ShimMode.Exec };
        r.Args.AddRange(args);
        r.Env.Add("PATH=/usr/bin:/bin");
        return r;
    }

    /// <summary>Runs a request through the whole exec-mode protocol; returns the exit and the output.</summary>
    private static (ShimExit Exit, string Output, int ShimCode) RunToEnd(ShimRequest r)
    {
        using var pipe = new TestPipe();
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r, new ShimStdio(0, pipe.Write, pipe.Write));
        pipe.CloseWrite();
        int child = s.WaitChild(T);
        s.Go();
        Assert.Equal(child, s.WaitExeced(T));
        var exit = s.WaitExit(timeout: T);
        Assert.Equal(child, exit.Pid);
        var output = pipe.ReadToEnd();
        return (exit, output, s.WaitShimExit());
    }

    [Fact]
    public void Exec_mode_runs_a_binary_and_reports_execed_then_exited()
    {
        var (exit, output, shimCode) = RunToEnd(Exec("echo", "hello", "from the shim"));
        Assert.Equal("hello from the shim\n", output);
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(0, exit.Signal);
        Assert.Equal(0, shimCode);
    }

    [Fact]
    public void Exit_code_propagates_to_the_exit_message_and_the_shim()
    {
        var (exit, _, shimCode) = RunToEnd(Exec("/bin/sh", "-c", "exit 7"));
        Assert.Equal(7, exit.ExitCode);
        Assert.Equal(7, shimCode);
    }

    [Fact]
    public void A_killed_process_reports_its_signal()
    {
        var (exit, _, shimCode) = RunToEnd(Exec("/bin/sh", "-c", "kill -9 $$"));
        Assert.Equal(9, exit.Signal);
        Assert.Equal(137, exit.ExitCode);
        Assert.Equal(137, shimCode);
    }

    [Fact]
    public void Environment_cwd_and_umask_are_applied()
    {
        var r = Exec("/bin/sh", "-c", "echo $FOO; pwd; umask");
        r.Env.Add("FOO=bar baz");
        r.Cwd = "/tmp";
        r.User = new ShimUser(0, 0, Convert.ToUInt32("027", 8), []);
        var (exit, output, _) = RunToEnd(r);
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal("bar baz\n/tmp\n0027\n", output);
    }

    [Fact]
    public void A_missing_binary_fails_at_lookup_with_runc_style_message()
    {
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Exec("no-such-binary-xyz"));
        s.WaitChild(T);
        s.Go();
        var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
        Assert.Equal(ShimStep.ExecLookup, e.Step);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal("no-such-binary-xyz", e.Detail);
        Assert.Equal("exec: \"no-such-binary-xyz\": executable file not found in $PATH", e.Message);
        Assert.Equal(255, s.WaitShimExit());
    }

    [Fact]
    public void A_missing_absolute_path_and_a_non_executable_file_are_distinguished()
    {
        using (var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Exec("/nonexistent/tool")))
        {
            s.WaitChild(T);
            s.Go();
            var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal("exec: \"/nonexistent/tool\": stat /nonexistent/tool: no such file or directory", e.Message);
            s.WaitShimExit();
        }
        using (var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Exec("/etc/passwd")))
        {
            s.WaitChild(T);
            s.Go();
            var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal(ShimStep.ExecLookup, e.Step);
            Assert.Equal(Errno.EACCES, e.Errno);
            s.WaitShimExit();
        }
    }

    [Fact]
    public void A_missing_shim_binary_is_a_syscall_error()
    {
        var e = Assert.Throws<SyscallException>(() => ShimSession.Spawn("/nonexistent/supervisor-shim", Exec("true")));
        Assert.Equal("posix_spawn", e.Operation);
        Assert.Equal(Errno.ENOENT, e.Errno);
    }

    [Fact]
    public void A_bad_namespace_path_fails_before_anything_forks()
    {
        var r = Exec("true");
        r.Namespaces.Add(new ShimNamespace(0x20000, "/proc/self/ns/does-not-exist"));
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
        var e = Assert.Throws<ShimException>(() => s.WaitChild(T));
        Assert.Equal(ShimStep.Setns, e.Step);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal("/proc/self/ns/does-not-exist", e.Detail);
        Assert.Equal(255, s.WaitShimExit());
    }

    [Fact]
    public void Eof_before_go_kills_the_child_and_the_shim_exits_255()
    {
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Exec("sleep", "100"));
        int child = s.WaitChild(T);
        Assert.True(Directory.Exists($"/proc/{child}"));
        s.Detach();
        Assert.Equal(255, s.WaitShimExit());
        Assert.False(Directory.Exists($"/proc/{child}"));
    }

    [Fact]
    public void Wait_exit_is_interruptible_by_cancellation()
    {
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Exec("sleep", "100"));
        int child = s.WaitChild(T);
        s.Go();
        s.WaitExeced(T);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        Assert.Throws<OperationCanceledException>(() => s.WaitExit(cts.Token));
        // The session stays usable: forward a signal, then wait again.
        Syscalls.Kill(child, Syscalls.SIGTERM);
        var exit = s.WaitExit(timeout: T);
        Assert.Equal(15, exit.Signal);
        Assert.Equal(128 + 15, s.WaitShimExit());
    }

    [Fact]
    public void Wait_exit_is_interrupted_by_disposing_from_another_thread()
    {
        var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Exec("sleep", "100"));
        int child = s.WaitChild(T);
        s.Go();
        s.WaitExeced(T);
        using var started = new ManualResetEventSlim();
        var waiter = Task.Run(() =>
        {
            started.Set();
            return s.WaitExit();
        });
        started.Wait();
        Thread.Sleep(100);
        s.Dispose();
        var e = Assert.Throws<AggregateException>(() => waiter.Wait(T));
        Assert.IsType<ObjectDisposedException>(e.InnerException);
        // Disposing detaches: the container keeps running under its shim until it ends.
        Assert.True(Directory.Exists($"/proc/{child}"));
        Syscalls.Kill(child, Syscalls.SIGKILL);
        Assert.Equal(137, s.WaitShimExit());
    }

    [Fact]
    public void Terminal_mode_hands_over_a_pty_master()
    {
        var r = Exec("/bin/sh", "-c", "tty; echo on-the-pty");
        r.Flags = ShimFlags.Terminal;
        r.ConsoleSize = (33, 101);
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
        s.WaitChild(T);
        s.Go();
        s.WaitExeced(T);
        Assert.NotNull(s.PtyMaster);
        var exit = s.WaitExit(timeout: T);
        Assert.Equal(0, exit.ExitCode);
        // The slave is closed now; the master still holds the output (then reads fail with EIO).
        var text = new StringBuilder();
        var buf = new byte[4096];
        using var fs = new FileStream(s.PtyMaster!, FileAccess.Read, 1);
        try
        {
            int n;
            while ((n = fs.Read(buf)) > 0)
                text.Append(Encoding.UTF8.GetString(buf, 0, n));
        }
        catch (IOException)
        {
        }
        Assert.Matches(@"^/dev/pts/\d+\r\non-the-pty\r\n$", text.ToString());
        s.WaitShimExit();
    }

    [Fact]
    public void The_container_process_runs_from_a_sealed_memfd_until_execve()
    {
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Exec("true"));
        int child = s.WaitChild(T);
        // CVE-2019-5736: the image of the process that crosses into the container is the sealed copy.
        var exe = new FileInfo($"/proc/{child}/exe").LinkTarget;
        Assert.StartsWith("/memfd:supervisor-shim", exe);
        var shimExe = new FileInfo($"/proc/{s.ShimPid}/exe").LinkTarget;
        Assert.StartsWith("/memfd:supervisor-shim", shimExe);
        s.Go();
        s.WaitExeced(T);
        Assert.Equal(0, s.WaitExit(timeout: T).ExitCode);
        s.WaitShimExit();
    }
}

/// <summary>Counts this process's fds, so nothing else may run at the same time.</summary>
[CollectionDefinition("fd-count", DisableParallelization = true)]
public sealed class FdCountCollection
{
}

[Collection("fd-count")]
public class ShimLeakTests
{
    private static readonly TimeSpan T = TimeSpan.FromSeconds(20);

    [Fact]
    public void Failing_spawns_leak_no_fds_and_leave_no_processes()
    {
        // Warm up once so lazily opened runtime fds do not count.
        using (var w = ShimSession.Spawn(ShimTestEnvironment.ShimPath, ShimSessionTests.Exec("no-such-binary-xyz")))
        {
            w.WaitChild(T);
            w.Go();
            Assert.Throws<ShimException>(() => w.WaitExeced(T));
            w.WaitShimExit();
        }
        int before = Directory.GetFiles("/proc/self/fd").Length;
        var pids = new List<int>();
        for (int i = 0; i < 20; i++)
        {
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, ShimSessionTests.Exec("no-such-binary-xyz"));
            pids.Add(s.ShimPid);
            pids.Add(s.WaitChild(T));
            s.Go();
            Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal(255, s.WaitShimExit());
        }
        Assert.Equal(before, Directory.GetFiles("/proc/self/fd").Length);
        // Reaped processes are gone from /proc entirely (a zombie would still have its directory).
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still exists"));
    }
}
