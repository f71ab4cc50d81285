using System.Globalization;

namespace Supervisor.Linux.Criu;

/// <summary>
/// A running <c>criu swrk 3</c>: CRIU's RPC service, one request per process. Two kinds exist: a child
/// of ours (<see cref="CriuSwrkProcess"/>, for version checks and dumps) and a child of a
/// supervisor-shim in restore mode (<see cref="ShimHostedCriu"/>), whose restored tree the shim adopts.
/// </summary>
public interface ICriuSwrk : IDisposable
{
    /// <summary>criu's host pid (a restore moves it into the container's cgroups before the request).</summary>
    int Pid { get; }

    /// <summary>Our end of the RPC socket.</summary>
    SeqPacketSocket Socket { get; }

    /// <summary>Waits for criu to exit (blocking) and returns its status.</summary>
    WaitStatus WaitExit();

    /// <summary>Stops criu (SIGKILL) if it still runs, and waits for it.</summary>
    void Kill();
}

/// <summary>
/// A <c>criu swrk 3</c> child of ours: CRIU's RPC service on fd 3, one end of a SOCK_SEQPACKET
/// socketpair, with the given fds as its stdio. It is reaped only by its own pid.
/// </summary>
public sealed class CriuSwrkProcess : ICriuSwrk
{
    /// <summary>The fd number of the RPC socket in criu (its argument to swrk).</summary>
    public const int SwrkFd = 3;
    private bool _reaped;
    private WaitStatus _status;

    private CriuSwrkProcess(int pid, SeqPacketSocket socket)
    {
        Pid = pid;
        Socket = socket;
    }

    public int Pid { get; }

    public SeqPacketSocket Socket { get; }

    /// <summary>criu's argv for the RPC service on <see cref="SwrkFd"/>.</summary>
    public static IReadOnlyList<string> Args(string criuPath) => [criuPath, "swrk", SwrkFd.ToString(CultureInfo.InvariantCulture)];

    public static CriuSwrkProcess Spawn(string criuPath, int stdin = 0, int stdout = 1, int stderr = 2)
    {
        ArgumentException.ThrowIfNullOrEmpty(criuPath);
        var (ours, theirs) = SeqPacketSocket.CreatePair();
        int pid;
        try
        {
            // A restored task inherits criu's stdio (inherit_fd), so criu gets the caller's fds as 0-2.
            pid = ProcessSpawner.Spawn(criuPath, Args(criuPath), ProcessSpawner.CurrentEnvironment(),
                [new(stdin, 0), new(stdout, 1), new(stderr, 2), new(theirs.Fd, SwrkFd)]);
        }
        catch
        {
            ours.Dispose();
            throw;
        }
        finally
        {
            // Only criu holds the other end now, so its exit shows up as EOF on ours.
            theirs.Dispose();
        }
        return new CriuSwrkProcess(pid, ours);
    }

    public WaitStatus WaitExit()
    {
        if (!_reaped)
        {
            _status = Syscalls.WaitPid(Pid).Status;
            _reaped = true;
        }
        return _status;
    }

    public void Kill()
    {
        if (_reaped)
            return;
        try
        {
            Syscalls.Kill(Pid, Syscalls.SIGKILL);
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
        }
        WaitExit();
    }

    /// <summary>Closes our socket end (criu exits on EOF) and reaps criu.</summary>
    public void Dispose()
    {
        Socket.Dispose();
        if (!_reaped)
        {
            try
            {
                WaitExit();
            }
            catch (SyscallException)
            {
                _reaped = true;
            }
        }
    }
}
