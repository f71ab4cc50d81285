using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Shim;

namespace Supervisor.Runtime;

/// <summary>
/// A process started in a container (its init, or one started with exec), watched through the shim that
/// is its parent. Wait returns the exit code the shim reports: the code, or 128+signal when killed.
/// </summary>
public sealed class ContainerProcess : IDisposable
{
    private readonly ShimSession _session;

    internal ContainerProcess(ShimSession session, int pid)
    {
        _session = session;
        Pid = pid;
    }

    public int Pid { get; }

    /// <summary>The pty master when the process has a terminal (process.terminal = true).</summary>
    public SafeHandle? PtyMaster => _session.PtyMaster;

    public int ShimPid => _session.ShimPid;

    /// <summary>Blocks until the process exits; returns its exit code (128+signal when a signal killed it).</summary>
    public int Wait() => _session.WaitExit().ExitCode;

    public void Signal(int signal) => Syscalls.Kill(Pid, signal);

    /// <summary>Lets the shim live on without us (detached run, create): closes our end of its control socket.</summary>
    public void Detach() => _session.Detach();

    /// <summary>Reaps the shim once it has exited (it exits after the last process of the container).</summary>
    public int WaitShim() => _session.WaitShimExit();

    public void Dispose() => _session.Dispose();
}
