using System.Text;
using System.Text.Json;
using Supervisor.Linux.Criu;
using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Tests;

/// <summary>
/// The shim's restore mode without CRIU: a stand-in "criu" script leaves an orphan behind (as CRIU
/// leaves the restored tree), reports its pid over the swrk socket and exits. The shim must adopt that
/// orphan when told to and then monitor it exactly like an init it started itself.
/// </summary>
public sealed class ShimRestoreModeTests : IDisposable
{
    private static readonly TimeSpan T = TimeSpan.FromSeconds(20);
    private readonly string _dir = ShimTestEnvironment.TempDir("shim-restore");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A fake criu: checks it was started as `criu swrk 3`, runs <paramref name="orphan"/> in
    /// the background, writes its pid as one record to fd 3 and exits.</summary>
    private string FakeCriu(string orphan)
    {
        var path = Path.Combine(_dir, "criu");
        File.WriteAllText(path, $"#!/bin/sh\n[ \"$1\" = swrk ] && [ \"$2\" = 3 ] || exit 9\n{orphan} &\necho $! >&3\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static int ReadPid(ShimHostedCriu criu)
    {
        var packet = criu.Socket.Receive() ?? throw new InvalidOperationException("the fake criu sent nothing");
        return int.Parse(Encoding.ASCII.GetString(packet.Data).Trim());
    }

    private JsonElement ExitRecord() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, ShimAbi.ExitFile))).RootElement;

    private static void WaitReaped(int pid)
    {
        // Only the shim can reap its orphan: once /proc/<pid> is gone, the shim has its status.
        var deadline = DateTime.UtcNow + T;
        while (Directory.Exists($"/proc/{pid}") && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
        Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} was never reaped");
    }

    [Fact]
    public void The_adopted_orphan_is_monitored_like_a_fresh_init()
    {
        using var criu = ShimHostedCriu.Spawn(ShimTestEnvironment.ShimPath, FakeCriu("sleep 60"), _dir, ShimStdio.Inherit);
        var session = criu.Session;
        int orphan = ReadPid(criu);
        var helper = criu.WaitExit();
        Assert.Equal(0, helper.ExitCode);
        Assert.Equal(orphan, session.Adopt(orphan, T));
        Assert.Contains($"PPid:\t{session.ShimPid}\n", File.ReadAllText($"/proc/{orphan}/status"));

        Syscalls.Kill(orphan, 15);
        var exit = session.WaitExit(timeout: T);
        Assert.Equal(orphan, exit.Pid);
        Assert.Equal(143, exit.ExitCode);
        Assert.Equal(143, session.WaitShimExit());
        var record = ExitRecord();
        Assert.Equal(orphan, record.GetProperty("pid").GetInt32());
        Assert.Equal(143, record.GetProperty("exitCode").GetInt32());
        Assert.Equal(15, record.GetProperty("signal").GetInt32());
        session.Dispose();
    }

    [Fact]
    public void An_orphan_that_ends_before_adopt_is_still_reported_with_its_code()
    {
        using var criu = ShimHostedCriu.Spawn(ShimTestEnvironment.ShimPath, FakeCriu("sh -c 'exit 7'"), _dir, ShimStdio.Inherit);
        var session = criu.Session;
        int orphan = ReadPid(criu);
        criu.WaitExit();
        WaitReaped(orphan);

        Assert.Equal(orphan, session.Adopt(orphan, T));
        Assert.Equal(7, session.WaitExit(timeout: T).ExitCode);
        Assert.Equal(7, session.WaitShimExit());
        Assert.Equal(7, ExitRecord().GetProperty("exitCode").GetInt32());
        session.Dispose();
    }

    [Fact]
    public void A_pid_that_is_not_the_shims_child_is_refused_and_abort_kills_the_orphan()
    {
        using var criu = ShimHostedCriu.Spawn(ShimTestEnvironment.ShimPath, FakeCriu("sleep 60"), _dir, ShimStdio.Inherit);
        var session = criu.Session;
        int orphan = ReadPid(criu);
        criu.WaitExit();

        var e = Assert.Throws<ShimException>(() => session.Adopt(Environment.ProcessId, T));
        Assert.Contains("not a child of supervisor-shim", e.Message);
        criu.Kill();
        Assert.Equal(255, session.WaitShimExit());
        WaitReaped(orphan);
        Assert.False(File.Exists(Path.Combine(_dir, ShimAbi.ExitFile)));
        session.Dispose();
    }

    [Fact]
    public void Closing_the_control_socket_before_adopt_leaves_nothing_running()
    {
        var criu = ShimHostedCriu.Spawn(ShimTestEnvironment.ShimPath, FakeCriu("sleep 60"), _dir, ShimStdio.Inherit);
        int orphan = ReadPid(criu);
        criu.WaitExit();
        criu.Dispose();
        criu.Session.Detach();
        Assert.Equal(255, criu.Session.WaitShimExit());
        WaitReaped(orphan);
        criu.Session.Dispose();
    }

    [Fact]
    public void Detaching_after_adopt_leaves_the_shim_monitoring()
    {
        var criu = ShimHostedCriu.Spawn(ShimTestEnvironment.ShimPath, FakeCriu("sleep 60"), _dir, ShimStdio.Inherit);
        var session = criu.Session;
        int orphan = ReadPid(criu);
        criu.WaitExit();
        session.Adopt(orphan, T);
        criu.Dispose();
        session.Detach();
        Assert.True(Directory.Exists($"/proc/{session.ShimPid}"));
        Syscalls.Kill(orphan, 9);
        Assert.Equal(137, session.WaitShimExit());
        Assert.Equal(137, ExitRecord().GetProperty("exitCode").GetInt32());
        session.Dispose();
    }

    [Fact]
    public void A_criu_that_cannot_be_executed_fails_the_spawn()
    {
        var e = Assert.Throws<ShimException>(() =>
            ShimHostedCriu.Spawn(ShimTestEnvironment.ShimPath, Path.Combine(_dir, "no-such-criu"), _dir, ShimStdio.Inherit));
        Assert.Equal(ShimStep.Exec, e.Step);
        Assert.Equal(Errno.ENOENT, e.Errno);
    }
}
