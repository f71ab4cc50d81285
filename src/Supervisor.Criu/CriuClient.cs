using Google.Protobuf;
using Microsoft.Win32.SafeHandles;
using Supervisor.Criu.Rpc;
using Supervisor.Linux;
using Supervisor.Linux.Criu;

namespace Supervisor.Criu;

/// <summary>CRIU's version as its VERSION request reports it.</summary>
public sealed record CriuVersion(int Major, int Minor, int Sublevel, string? GitId)
{
    /// <summary>major*10000 + minor*100 + sublevel, the form runc compares against.</summary>
    public int Number => Major * 10000 + Minor * 100 + Sublevel;
    public override string ToString() => GitId is { Length: > 0 } g ? $"{Major}.{Minor}.{Sublevel} ({g})" : $"{Major}.{Minor}.{Sublevel}";
}

/// <summary>What FEATURE_CHECK found available on this kernel.</summary>
public sealed record CriuFeatures(bool MemTrack, bool LazyPages, bool PidfdStore);

/// <summary>One CRIU notification ("action script" in RPC mode): its name, the pid it concerns, and the
/// fd that came with it (orphan-pts-master carries the pty master). The handler owns the fd.</summary>
public sealed record CriuNotification(string Script, int Pid, SafeFileHandle? Fd);

/// <summary>Reacts to CRIU's notifications during a dump or restore; an exception fails the request.</summary>
public interface ICriuNotifyHandler
{
    void OnNotify(CriuNotification notification);
}

/// <summary>The fds CRIU gets as its stdio; a restored task inherits them through inherit_fd.</summary>
public sealed record CriuStdio(int Stdin = 0, int Stdout = 1, int Stderr = 2);

/// <summary>
/// The client of CRIU's RPC service: each request runs one <c>criu swrk</c> child and exchanges
/// protobuf messages with it, one per SOCK_SEQPACKET record, answering its notifications until the
/// final response.
/// </summary>
public sealed class CriuClient
{
    /// <summary>3.15: pid namespaces and the notifications runc relies on.</summary>
    public const int MinimumVersion = 31500;

    public CriuClient(string criuPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(criuPath);
        CriuPath = criuPath;
    }

    public string CriuPath { get; }

    public CriuVersion GetVersion()
    {
        var resp = Call(new criu_req { Type = criu_req_type.Version }, "version", null, null, null, null);
        if (resp.Version is not { } v)
            throw new CriuException("version", $"{CriuPath} answered VERSION without a version");
        return new CriuVersion(v.MajorNumber, v.MinorNumber, v.HasSublevel ? v.Sublevel : 0, v.HasGitid ? v.Gitid : null);
    }

    /// <summary>Fails with a clear message when criu is too old (or broken: no answer at all).</summary>
    public CriuVersion RequireVersion(int minimum = MinimumVersion)
    {
        var v = GetVersion();
        if (v.Number < minimum)
            throw new CriuException("version", $"{CriuPath} is version {v}; {minimum / 10000}.{minimum / 100 % 100} or newer is required");
        return v;
    }

    public CriuFeatures CheckFeatures()
    {
        var req = new criu_req
        {
            Type = criu_req_type.FeatureCheck,
            Features = new criu_features { MemTrack = true, LazyPages = true, PidfdStore = true },
        };
        var resp = Call(req, "feature check", null, null, null, null);
        var f = resp.Features;
        return new CriuFeatures(f?.MemTrack ?? false, f?.LazyPages ?? false, f?.PidfdStore ?? false);
    }

    /// <summary>
    /// Runs one request to its final response. <paramref name="beforeSend"/> sees criu's pid before the
    /// request leaves (a restore puts criu into the container's cgroups there, so that the restored tasks
    /// inherit them). A failure names <paramref name="step"/> and includes the end of <paramref name="logFile"/>.
    /// <paramref name="spawn"/> starts criu some other way than as our child (a restore runs it under a
    /// supervisor-shim, which then adopts the restored tree); it gets the criu path and the stdio.
    /// </summary>
    internal criu_resp Call(criu_req request, string step, ICriuNotifyHandler? handler, CriuStdio? stdio,
        Action<int, criu_req>? beforeSend, string? logFile, Func<string, CriuStdio, ICriuSwrk>? spawn = null)
    {
        stdio ??= new CriuStdio();
        ICriuSwrk criu;
        try
        {
            criu = spawn is not null
                ? spawn(CriuPath, stdio)
                : CriuSwrkProcess.Spawn(CriuPath, stdio.Stdin, stdio.Stdout, stdio.Stderr);
        }
        catch (Exception e) when (e is SyscallException or Supervisor.Linux.Shim.ShimException or TimeoutException)
        {
            throw new CriuException(step, $"cannot start {CriuPath}: {e.Message}", null, e);
        }
        try
        {
            beforeSend?.Invoke(criu.Pid, request);
            var resp = Exchange(criu.Socket, request, step, handler, logFile, out var handlerError);
            var status = criu.WaitExit();
            if (handlerError is not null)
                throw new CriuException(step, $"{handlerError.Message}", logFile, handlerError);
            if (resp is null)
                throw new CriuException(step, $"criu exited without an answer ({Describe(status)})", logFile);
            if (!resp.Success)
                throw new CriuException(step, FailureDetail(resp), logFile);
            if (resp.Type != request.Type)
                throw new CriuException(step, $"unexpected {resp.Type} response to {request.Type}", logFile);
            return resp;
        }
        catch
        {
            criu.Kill();
            throw;
        }
        finally
        {
            criu.Dispose();
        }
    }

    /// <summary>
    /// The request/notify loop over an open swrk socket: send the request, then answer every NOTIFY
    /// until a response of another type arrives (returned) or criu closes the socket (null). A handler
    /// failure is answered with notify_success=false, which makes CRIU abort (and, on a dump, thaw the
    /// tasks) before it sends its final response.
    /// </summary>
    internal static criu_resp? Exchange(SeqPacketSocket socket, criu_req request, string step,
        ICriuNotifyHandler? handler, string? logFile, out Exception? handlerError)
    {
        handlerError = null;
        try
        {
            socket.Send(request.ToByteArray());
        }
        catch (SyscallException e)
        {
            throw new CriuException(step, $"sending the request: {e.Message}", logFile, e);
        }
        while (true)
        {
            SeqPacket? packet;
            try
            {
                packet = socket.Receive();
            }
            catch (SyscallException e)
            {
                throw new CriuException(step, $"reading criu's answer: {e.Message}", logFile, e);
            }
            if (packet is null)
                return null;
            criu_resp resp;
            try
            {
                resp = criu_resp.Parser.ParseFrom(packet.Data);
            }
            catch (InvalidProtocolBufferException e)
            {
                packet.Fd?.Dispose();
                throw new CriuException(step, $"malformed answer from criu: {e.Message}", logFile, e);
            }
            if (resp.Type != criu_req_type.Notify)
            {
                packet.Fd?.Dispose();
                return resp;
            }
            bool ok = true;
            var n = new CriuNotification(resp.Notify?.Script ?? "", resp.Notify?.Pid ?? 0, packet.Fd);
            if (handlerError is null && handler is not null)
            {
                try
                {
                    handler.OnNotify(n);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    handlerError = e;
                    ok = false;
                }
            }
            else
            {
                // Nobody takes the fd (or a handler already failed): do not leak it.
                packet.Fd?.Dispose();
                ok = handlerError is null;
            }
            try
            {
                socket.Send(new criu_req { Type = criu_req_type.Notify, NotifySuccess = ok }.ToByteArray());
            }
            catch (SyscallException e) when (e.Errno is Errno.EPIPE or Errno.ECONNRESET)
            {
                // criu gave up already; its final answer (or EOF) still follows.
            }
        }
    }

    private static string FailureDetail(criu_resp resp)
    {
        var parts = new List<string>();
        if (resp.HasCrErrmsg && resp.CrErrmsg.Length > 0 && !CriuLog.IsHarmless(resp.CrErrmsg))
            parts.Add(resp.CrErrmsg.Trim());
        if (resp.HasCrErrno && resp.CrErrno != 0)
            parts.Add($"errno {resp.CrErrno} ({SyscallException.Describe((Errno)resp.CrErrno)})");
        return parts.Count > 0 ? string.Join(", ", parts) : $"{resp.Type} was not successful";
    }

    private static string Describe(WaitStatus s) => s.Signaled ? $"killed by signal {s.Signal}" : $"exit status {s.Code}";
}
