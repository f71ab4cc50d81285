using System.IO.Pipes;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;
using Supervisor.Criu.Rpc;
using Supervisor.Linux.Criu;

namespace Supervisor.Criu.Tests;

/// <summary>
/// The request/notify loop against a fake `criu swrk` peer on a real SOCK_SEQPACKET socketpair: the
/// test plays CRIU, the code under test plays the runtime.
/// </summary>
public sealed class SwrkExchangeTests : IDisposable
{
    private readonly SeqPacketSocket _runtime;
    private readonly SeqPacketSocket _criu;

    public SwrkExchangeTests() => (_runtime, _criu) = SeqPacketSocket.CreatePair();

    public void Dispose()
    {
        _runtime.Dispose();
        _criu.Dispose();
    }

    private sealed class Recorder : ICriuNotifyHandler
    {
        public List<(string Script, int Pid)> Seen { get; } = [];
        public SafeFileHandle? Fd { get; private set; }
        public string? FailOn { get; init; }

        public void OnNotify(CriuNotification n)
        {
            Seen.Add((n.Script, n.Pid));
            if (n.Fd is not null)
                Fd = n.Fd;
            if (n.Script == FailOn)
                throw new InvalidOperationException($"hook for {n.Script} failed");
        }
    }

    private criu_req ReadRequest()
    {
        var p = _criu.Receive() ?? throw new InvalidOperationException("runtime closed the socket");
        return criu_req.Parser.ParseFrom(p.Data);
    }

    private void Notify(string script, int pid, int fd = -1) =>
        _criu.Send(new criu_resp
        {
            Type = criu_req_type.Notify,
            Success = true,
            Notify = new criu_notify { Script = script, Pid = pid },
        }.ToByteArray(), fd);

    [Fact]
    public async Task Every_notification_reaches_the_handler_in_order_and_is_acknowledged()
    {
        var handler = new Recorder();
        var request = new criu_req { Type = criu_req_type.Dump, Opts = new criu_opts { ImagesDirFd = 3, Pid = 42 } };
        var peer = Task.Run(() =>
        {
            var req = ReadRequest();
            Assert.Equal(criu_req_type.Dump, req.Type);
            Assert.Equal(42, req.Opts.Pid);
            var acks = new List<bool>();
            foreach (var script in new[] { "pre-dump", "network-lock", "post-dump", "network-unlock" })
            {
                Notify(script, 42);
                var ack = ReadRequest();
                Assert.Equal(criu_req_type.Notify, ack.Type);
                acks.Add(ack.NotifySuccess);
            }
            _criu.Send(new criu_resp { Type = criu_req_type.Dump, Success = true, Dump = new criu_dump_resp() }.ToByteArray());
            return acks;
        });

        var resp = CriuClient.Exchange(_runtime, request, "dump", handler, null, out var error);

        Assert.Null(error);
        Assert.NotNull(resp);
        Assert.Equal(criu_req_type.Dump, resp!.Type);
        Assert.True(resp.Success);
        Assert.Equal([true, true, true, true], await peer);
        Assert.Equal([("pre-dump", 42), ("network-lock", 42), ("post-dump", 42), ("network-unlock", 42)], handler.Seen);
    }

    [Fact]
    public async Task Orphan_pts_master_hands_the_fd_to_the_handler_and_restore_reports_the_pid()
    {
        var handler = new Recorder();
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.None);
        var readEnd = pipe.ClientSafePipeHandle;
        var peer = Task.Run(() =>
        {
            ReadRequest();
            Notify("setup-namespaces", 77);
            ReadRequest();
            Notify("orphan-pts-master", 0, (int)readEnd.DangerousGetHandle());
            ReadRequest();
            Notify("post-restore", 77);
            ReadRequest();
            _criu.Send(new criu_resp { Type = criu_req_type.Restore, Success = true, Restore = new criu_restore_resp { Pid = 77 } }.ToByteArray());
        });

        var resp = CriuClient.Exchange(_runtime, new criu_req { Type = criu_req_type.Restore }, "restore", handler, null, out var error);
        await peer;

        Assert.Null(error);
        Assert.Equal(77, resp!.Restore.Pid);
        Assert.Equal([("setup-namespaces", 77), ("orphan-pts-master", 0), ("post-restore", 77)], handler.Seen);
        // The fd that came with the message is a new descriptor for the same pipe: bytes written into
        // the pipe's other end come out of it.
        Assert.NotNull(handler.Fd);
        Assert.NotEqual(readEnd.DangerousGetHandle(), handler.Fd!.DangerousGetHandle());
        pipe.Write("Hello!"u8);
        pipe.Flush();
        readEnd.Dispose();
        using var received = new FileStream(handler.Fd, FileAccess.Read, 1);
        var buf = new byte[6];
        received.ReadExactly(buf);
        Assert.Equal("Hello!"u8.ToArray(), buf);
    }

    [Fact]
    public async Task A_failing_handler_is_answered_with_notify_success_false()
    {
        var handler = new Recorder { FailOn = "post-dump" };
        var peer = Task.Run(() =>
        {
            ReadRequest();
            Notify("post-dump", 9);
            var ack = ReadRequest();
            _criu.Send(new criu_resp { Type = criu_req_type.Dump, Success = false, CrErrno = 5 }.ToByteArray());
            return ack.NotifySuccess;
        });

        var resp = CriuClient.Exchange(_runtime, new criu_req { Type = criu_req_type.Dump }, "dump", handler, null, out var error);

        Assert.False(await peer);
        Assert.False(resp!.Success);
        Assert.IsType<InvalidOperationException>(error);
        Assert.Equal("hook for post-dump failed", error!.Message);
    }

    [Fact]
    public async Task A_peer_that_closes_before_answering_yields_no_response()
    {
        var peer = Task.Run(() =>
        {
            ReadRequest();
            _criu.Dispose();
        });

        var resp = CriuClient.Exchange(_runtime, new criu_req { Type = criu_req_type.Version }, "version", null, null, out var error);
        await peer;

        Assert.Null(resp);
        Assert.Null(error);
    }

    [Fact]
    public async Task A_malformed_answer_is_a_criu_error_naming_the_step()
    {
        var peer = Task.Run(() =>
        {
            ReadRequest();
            _criu.Send([0xff, 0xff, 0xff]);
        });

        var e = Assert.Throws<CriuException>(() =>
            CriuClient.Exchange(_runtime, new criu_req { Type = criu_req_type.Dump }, "dump", null, null, out _));
        await peer;
        Assert.Equal("dump", e.Step);
        Assert.StartsWith("criu dump failed: malformed answer from criu", e.Message);
    }

    [Fact]
    public void A_criu_error_message_carries_the_log_files_error_lines()
    {
        var log = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(log,
            [
                "(00.071042) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted",
                "(00.097200) Error (criu/files-reg.c:1790): Can't lookup mount=24 for fd=0 path=/dev/null",
                "(00.100000) Unfreezing tasks into 1",
                "(00.112884) Error (criu/cr-dump.c:2111): Dumping FAILED.",
            ]);
            var e = new CriuException("dump", "errno 2", log);
            Assert.Equal(
                $"criu dump failed: errno 2 (log file: {log}) | (00.097200) Error (criu/files-reg.c:1790): Can't lookup mount=24 for fd=0 path=/dev/null | (00.112884) Error (criu/cr-dump.c:2111): Dumping FAILED.",
                e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public void The_locator_prefers_the_flag_and_reports_a_missing_binary()
    {
        var e = Assert.Throws<CriuException>(() => CriuLocator.Resolve("/nonexistent/criu", "/also/missing"));
        Assert.Equal("criu lookup failed: /nonexistent/criu does not exist", e.Message);
        var fake = Path.GetTempFileName();
        try
        {
            Assert.Equal(fake, CriuLocator.Resolve(null, fake));
            Assert.Equal(fake, CriuLocator.Resolve(fake, "/also/missing"));
        }
        finally
        {
            File.Delete(fake);
        }
    }
}
