using Google.Protobuf;
using Supervisor.Criu.Rpc;
using Supervisor.Linux;
using Supervisor.Linux.Criu;

namespace Supervisor.Criu.Tests;

/// <summary>
/// CriuClient.Call with criu started elsewhere (a restore runs it under a supervisor-shim): the client
/// must use the given process for the whole exchange, wait for its end on success and stop it on
/// failure, never start a criu of its own.
/// </summary>
public sealed class CriuCallTests
{
    private sealed class FakeSwrk(SeqPacketSocket socket) : ICriuSwrk
    {
        public int Pid => 4242;
        public SeqPacketSocket Socket { get; } = socket;
        public int Waits { get; private set; }
        public int Kills { get; private set; }
        public WaitStatus WaitExit()
        {
            Waits++;
            return new WaitStatus(0);
        }
        public void Kill() => Kills++;
        public void Dispose() => Socket.Dispose();
    }

    private static Task Answer(SeqPacketSocket criu, bool success) => Task.Run(() =>
    {
        var p = criu.Receive() ?? throw new InvalidOperationException("no request");
        var req = criu_req.Parser.ParseFrom(p.Data);
        Assert.Equal(criu_req_type.Restore, req.Type);
        // What beforeSend added reaches criu.
        Assert.Equal("/sv/c1", Assert.Single(req.Opts.CgRoot).Path);
        criu.Send(new criu_resp
        {
            Type = criu_req_type.Restore,
            Success = success,
            Restore = new criu_restore_resp { Pid = 99 },
            CrErrmsg = success ? "" : "Restoring FAILED",
        }.ToByteArray());
    });

    [Fact]
    public async Task A_given_criu_runs_the_request_and_is_waited_for()
    {
        var (runtime, criu) = SeqPacketSocket.CreatePair();
        using var _ = criu;
        var fake = new FakeSwrk(runtime);
        var stdio = new CriuStdio(5, 6, 7);
        (string Path, CriuStdio Stdio)? spawned = null;
        int? sawPid = null;
        var peer = Answer(criu, success: true);

        var resp = new CriuClient("/opt/criu/bin/criu").Call(new criu_req { Type = criu_req_type.Restore, Opts = new criu_opts() },
            "restore", null, stdio,
            (pid, req) =>
            {
                sawPid = pid;
                req.Opts.CgRoot.Add(new cgroup_root { Path = "/sv/c1" });
            },
            null,
            (path, io) =>
            {
                spawned = (path, io);
                return fake;
            });
        await peer;

        Assert.Equal(99, resp.Restore.Pid);
        Assert.Equal(("/opt/criu/bin/criu", stdio), spawned);
        Assert.Equal(4242, sawPid);
        Assert.Equal(1, fake.Waits);
        Assert.Equal(0, fake.Kills);
    }

    [Fact]
    public async Task A_failed_request_stops_the_given_criu_and_names_the_step()
    {
        var (runtime, criu) = SeqPacketSocket.CreatePair();
        using var _ = criu;
        var fake = new FakeSwrk(runtime);
        var peer = Answer(criu, success: false);

        var e = Assert.Throws<CriuException>(() => new CriuClient("/opt/criu/bin/criu").Call(
            new criu_req { Type = criu_req_type.Restore, Opts = new criu_opts() }, "restore", null, null,
            (_, req) => req.Opts.CgRoot.Add(new cgroup_root { Path = "/sv/c1" }), null, (_, _) => fake));
        await peer;

        Assert.Equal("criu restore failed: Restoring FAILED", e.Message);
        Assert.Equal(1, fake.Kills);
    }

    [Fact]
    public void A_criu_that_cannot_start_is_a_criu_error_naming_the_binary()
    {
        var e = Assert.Throws<CriuException>(() => new CriuClient("/opt/criu/bin/criu").Call(
            new criu_req { Type = criu_req_type.Restore }, "restore", null, null, null, null,
            (_, _) => throw new SyscallException("posix_spawn", "/sv/supervisor-shim", Errno.ENOENT)));
        Assert.StartsWith("criu restore failed: cannot start /opt/criu/bin/criu:", e.Message);
    }
}
