using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Criu;

/// <summary>
/// <c>criu swrk 3</c> run by a supervisor-shim in restore mode: the shim is criu's parent and child
/// subreaper, so the tree criu restores becomes the shim's (rst_sibling puts the restored init next to
/// criu), and the shim then monitors the init exactly as one it started itself. The caller drives the
/// RPC over <see cref="Socket"/>, then hands the init's pid to <see cref="Session"/> (Adopt). The
/// session belongs to the caller; disposing this object only closes the RPC socket.
/// </summary>
public sealed class ShimHostedCriu : ICriuSwrk
{
    private WaitStatus? _status;

    private ShimHostedCriu(ShimSession session, int pid, SeqPacketSocket socket)
    {
        Session = session;
        Pid = pid;
        Socket = socket;
    }

    public ShimSession Session { get; }

    public int Pid { get; }

    public SeqPacketSocket Socket { get; }

    /// <summary>
    /// Starts the shim in restore mode with <paramref name="stdio"/> as criu's stdio (a restored task
    /// inherits it through inherit_fd) and waits until criu runs. The shim writes exit.json into
    /// <paramref name="stateDir"/> once the adopted init exits.
    /// </summary>
    public static ShimHostedCriu Spawn(string shimPath, string criuPath, string stateDir, ShimStdio stdio)
    {
        ArgumentException.ThrowIfNullOrEmpty(shimPath);
        ArgumentException.ThrowIfNullOrEmpty(criuPath);
        ArgumentNullException.ThrowIfNull(stdio);
        var request = new ShimRequest
        {
            Mode = ShimMode.Restore,
            StateDir = stateDir,
            PreserveFds = 1,
        };
        request.Args.AddRange(CriuSwrkProcess.Args(criuPath));
        request.Env.AddRange(ProcessSpawner.CurrentEnvironment());
        var (ours, theirs) = SeqPacketSocket.CreatePair();
        ShimSession? session = null;
        try
        {
            session = ShimSession.Spawn(shimPath, request, stdio with { Preserved = [theirs.Fd] });
            // Only criu holds the other end from now on, so its exit shows up as EOF on ours.
            theirs.Dispose();
            int pid = session.WaitChild(TimeSpan.FromSeconds(30));
            return new ShimHostedCriu(session, pid, ours);
        }
        catch
        {
            theirs.Dispose();
            ours.Dispose();
            if (session is not null)
            {
                try { session.WaitShimExit(); } catch (SyscallException) { }
                session.Dispose();
            }
            throw;
        }
    }

    /// <summary>Closes the RPC socket (criu exits after its one request anyway, or at EOF) and waits
    /// for the shim to report criu's end.</summary>
    public WaitStatus WaitExit()
    {
        if (_status is { } s)
            return s;
        Socket.Dispose();
        var exit = Session.WaitHelperExit();
        _status = exit.Status;
        return exit.Status;
    }

    /// <summary>ABORT: the shim kills criu and every child of its own (what criu restored so far) and
    /// exits; it is reaped here.</summary>
    public void Kill()
    {
        Socket.Dispose();
        try
        {
            Session.Abort();
        }
        catch (Exception e) when (e is SyscallException or ObjectDisposedException)
        {
            // The shim is gone already.
        }
        try { Session.WaitShimExit(); } catch (SyscallException) { }
    }

    public void Dispose() => Socket.Dispose();
}
