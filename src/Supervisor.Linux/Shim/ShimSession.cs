using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Interop;

namespace Supervisor.Linux.Shim;

/// <summary>The fds that become the container's stdin, stdout and stderr (default: ours).</summary>
public sealed record ShimStdio(int Stdin = 0, int Stdout = 1, int Stderr = 2)
{
    public static ShimStdio Inherit { get; } = new();

    /// <summary>
    /// Fds of ours that become the preserved fds 3, 4, ... (one per <see cref="ShimRequest.PreserveFds"/>).
    /// Null: the preserved fds are our own fds 3..3+N-1, inherited as they are (--preserve-fds).
    /// </summary>
    public IReadOnlyList<int>? Preserved { get; init; }
}

/// <summary>The end of the container process, as the shim reported it.</summary>
public readonly record struct ShimExit(int Pid, int RawStatus)
{
    public WaitStatus Status => new(RawStatus);
    /// <summary>The exit code, or 128 + signal when the process was killed.</summary>
    public int ExitCode => Status.ExitCode;
    /// <summary>The signal that killed the process, 0 when it exited.</summary>
    public int Signal => Status.Signal;
}

/// <summary>
/// One supervisor-shim process and the conversation with it over its control socket:
/// <c>Spawn → WaitChild → (parent-side work) → Go → WaitReady → Start → WaitExeced → WaitExit</c>
/// in init mode, <c>Spawn → WaitChild → Go → WaitExeced → WaitExit</c> in exec mode, and
/// <c>Spawn → WaitChild (criu) → (the CRIU RPC) → WaitHelperExit → Adopt → WaitExit</c> in restore mode.
/// <para>The shim is our child. Only <see cref="WaitShimExit"/> reaps it, by its pid: a .NET process must
/// never call waitpid(-1), which would steal the runtime's own children.</para>
/// </summary>
public sealed unsafe class ShimSession : IDisposable
{
    private readonly ShimChannel _channel;
    private bool _shimReaped;
    private int _shimExitCode;

    private ShimSession(int shimPid, int socketFd)
    {
        ShimPid = shimPid;
        _channel = new ShimChannel(socketFd);
    }

    public int ShimPid { get; }

    /// <summary>Host pid of the container process, known after <see cref="WaitChild"/>.</summary>
    public int ChildPid { get; private set; }

    /// <summary>The pty master (SHIM_F_TERMINAL), received before READY/EXECED. Owned by the caller: it
    /// stays open after the session is disposed.</summary>
    public SafeFileHandle? PtyMaster { get; private set; }

    /// <summary>Starts <paramref name="shimPath"/> with the container's stdio on fds 0-2, the preserved
    /// fds 3..3+N-1 (inherited as they are, or placed from <see cref="ShimStdio.Preserved"/>), and the
    /// control socket right after them, then sends the request.</summary>
    public static ShimSession Spawn(string shimPath, ShimRequest request) => Spawn(shimPath, request, ShimStdio.Inherit);

    public static ShimSession Spawn(string shimPath, ShimRequest request, ShimStdio stdio)
    {
        ArgumentNullException.ThrowIfNull(shimPath);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(stdio);
        byte[] blob = ShimRequestEncoder.Encode(request);
        if (stdio.Preserved is { } preserved && preserved.Count != request.PreserveFds)
            throw new ArgumentException($"{preserved.Count} fds given for {request.PreserveFds} preserved fds", nameof(stdio));

        int* sv = stackalloc int[2];
        // Close-on-exec on both ends: the shim's end reaches it through the dup2 of the spawn, which
        // clears the flag on the copy only. Nothing else we spawn ever inherits either end.
        if (LibcSocket.SocketPair(LibcSocket.AF_UNIX, LibcSocket.SOCK_STREAM | LibcSocket.SOCK_CLOEXEC, 0, sv) < 0)
            throw new SyscallException("socketpair", null, Syscalls.LastErrno());
        int ours = sv[0], theirs = sv[1];
        int controlFd = 3 + checked((int)request.PreserveFds);
        var fds = new List<SpawnFd> { new(stdio.Stdin, 0), new(stdio.Stdout, 1), new(stdio.Stderr, 2) };
        for (int i = 0; i < (stdio.Preserved?.Count ?? 0); i++)
            fds.Add(new(stdio.Preserved![i], 3 + i));
        fds.Add(new(theirs, controlFd));
        int pid;
        try
        {
            pid = ProcessSpawner.Spawn(shimPath, [shimPath, controlFd.ToString(CultureInfo.InvariantCulture)], [], fds);
        }
        catch
        {
            LibcIo.Close(ours);
            throw;
        }
        finally
        {
            LibcIo.Close(theirs);
        }

        var session = new ShimSession(pid, ours);
        try
        {
            session._channel.Send(ShimMessage.Request, blob);
        }
        catch (SyscallException)
        {
            // The shim died before reading the request (it may have left an error record first).
            session.ThrowFromSocket();
        }
        return session;
    }

    private void ThrowFromSocket()
    {
        try
        {
            Expect(ShimMessage.Child, TimeSpan.FromSeconds(5), default);
        }
        catch
        {
            Dispose();
            throw;
        }
        Dispose();
        throw new ShimException(ShimStep.ReadRequest, Errno.EPIPE, "control socket");
    }

    /// <summary>CHILD: the container process exists and waits for <see cref="Go"/>. Returns its pid.</summary>
    public int WaitChild(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ChildPid = ShimChannel.DecodePid(Expect(ShimMessage.Child, timeout, cancellationToken));
        return ChildPid;
    }

    /// <summary>Parent-side work is done: the child may set itself up.</summary>
    public void Go() => _channel.Send(ShimMessage.Go, default);

    /// <summary>READY (init mode with WaitStart): set up and blocked before execve.</summary>
    public int WaitReady(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ShimChannel.DecodePid(Expect(ShimMessage.Ready, timeout, cancellationToken));

    /// <summary>Let a READY init call execve.</summary>
    public void Start() => _channel.Send(ShimMessage.Start, default);

    /// <summary>EXECED: execve succeeded.</summary>
    public int WaitExeced(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ShimChannel.DecodePid(Expect(ShimMessage.Execed, timeout, cancellationToken));

    /// <summary>EXITED: the container process ended. Interruptible through the token or by disposing
    /// the session from another thread (ObjectDisposedException), so a caller can forward signals while
    /// it waits.</summary>
    public ShimExit WaitExit(CancellationToken cancellationToken = default, TimeSpan? timeout = null)
    {
        var f = Expect(ShimMessage.Exited, timeout, cancellationToken);
        if (f.Payload.Length < ShimAbi.ExitMsgSize)
            throw new ShimException(ShimStep.Sync, Errno.EINVAL, "short EXITED message from the shim");
        return new ShimExit(BinaryPrimitives.ReadInt32LittleEndian(f.Payload),
            BinaryPrimitives.ReadInt32LittleEndian(f.Payload.AsSpan(4)));
    }

    /// <summary>
    /// Restore mode: names the restored init (the pid CRIU reported) for the shim to monitor. The shim
    /// accepts only its own child, and answers EXECED; from then on it writes exit.json and reports
    /// EXITED exactly as for an init it started.
    /// </summary>
    public int Adopt(int pid, TimeSpan? timeout = null)
    {
        Span<byte> payload = stackalloc byte[ShimAbi.PidMsgSize];
        BinaryPrimitives.WriteInt32LittleEndian(payload, pid);
        _channel.Send(ShimMessage.Adopt, payload);
        ChildPid = ShimChannel.DecodePid(Expect(ShimMessage.Execed, timeout ?? TimeSpan.FromSeconds(30), default));
        return ChildPid;
    }

    /// <summary>Restore mode: criu, the shim's helper child, ended; its pid and wait status.</summary>
    public ShimExit WaitHelperExit(TimeSpan? timeout = null)
    {
        var f = Expect(ShimMessage.HelperExited, timeout, default);
        if (f.Payload.Length < ShimAbi.ExitMsgSize)
            throw new ShimException(ShimStep.Sync, Errno.EINVAL, "short HELPER_EXITED message from the shim");
        return new ShimExit(BinaryPrimitives.ReadInt32LittleEndian(f.Payload),
            BinaryPrimitives.ReadInt32LittleEndian(f.Payload.AsSpan(4)));
    }

    /// <summary>Kill a child that has not been started (in restore mode: criu and whatever it restored,
    /// before <see cref="Adopt"/>); the shim exits 255.</summary>
    public void Abort() => _channel.Send(ShimMessage.Abort, default);

    /// <summary>Close our end without killing anything. After READY or EXECED the shim keeps running
    /// (and keeps monitoring); before that it kills the child and exits.</summary>
    public void Detach() => _channel.Dispose();

    /// <summary>waitpid on the shim's pid (blocking) and its exit code: the container's exit code,
    /// 128+signal, or 255 when the container never reached execve.</summary>
    public int WaitShimExit()
    {
        if (!_shimReaped)
        {
            var (_, status) = Syscalls.WaitPid(ShimPid);
            _shimReaped = true;
            _shimExitCode = status.ExitCode;
        }
        return _shimExitCode;
    }

    private ShimFrame Expect(ShimMessage expected, TimeSpan? timeout, CancellationToken ct)
    {
        while (true)
        {
            var f = _channel.Receive(timeout, ct)
                ?? throw new ShimException(ShimStep.Sync, Errno.None,
                    $"supervisor-shim closed the control socket while waiting for {expected.ToString().ToUpperInvariant()}");
            switch (f.Type)
            {
                case ShimMessage.Error:
                    f.Fd?.Dispose();
                    throw ShimChannel.DecodeError(f.Payload);
                case ShimMessage.Pty when f.Fd is not null:
                    PtyMaster?.Dispose();
                    PtyMaster = f.Fd;
                    continue;
                case ShimMessage.Execed when expected == ShimMessage.Exited:
                    // A caller that only cares about the end may skip WaitExeced.
                    f.Fd?.Dispose();
                    continue;
                case ShimMessage.HelperExited when expected != ShimMessage.HelperExited:
                    // criu's end matters only to a caller that waits for it.
                    continue;
            }
            f.Fd?.Dispose();
            if (f.Type == expected)
                return f;
            throw new ShimException(ShimStep.Sync, Errno.None,
                $"unexpected {f.Type.ToString().ToUpperInvariant()} from supervisor-shim while waiting for {expected.ToString().ToUpperInvariant()}");
        }
    }

    /// <summary>Closes the control socket (like <see cref="Detach"/>) and collects the shim if it has
    /// already exited. It never kills anything and never blocks on the shim.</summary>
    public void Dispose()
    {
        _channel.Dispose();
        if (!_shimReaped)
        {
            try
            {
                var (pid, status) = Syscalls.WaitPid(ShimPid, Syscalls.WNOHANG);
                if (pid == ShimPid)
                {
                    _shimReaped = true;
                    _shimExitCode = status.ExitCode;
                }
            }
            catch (SyscallException)
            {
                _shimReaped = true;
            }
        }
    }
}

/// <summary>Talks to a running shim through &lt;state-dir&gt;/shim.sock (e.g. `supervisor start`).</summary>
public static unsafe class ShimControl
{
    /// <summary>Sends START and returns the pid from EXECED; throws ShimException on ERROR.</summary>
    public static int Start(string stateDir, TimeSpan timeout)
    {
        var f = Request(stateDir, ShimMessage.Start, timeout);
        if (f.Type != ShimMessage.Execed)
            throw new ShimException(ShimStep.WaitStart, Errno.None, $"unexpected {f.Type.ToString().ToUpperInvariant()} from supervisor-shim");
        return ShimChannel.DecodePid(f);
    }

    /// <summary>Sends ABORT: a created, not yet started container is killed and its shim exits.</summary>
    public static void Abort(string stateDir, TimeSpan timeout)
    {
        using var channel = Connect(stateDir);
        channel.Send(ShimMessage.Abort, default);
        try
        {
            channel.Receive(timeout, default)?.Fd?.Dispose();
        }
        catch (SyscallException e) when (e.Errno == Errno.ECONNRESET)
        {
        }
    }

    private static ShimFrame Request(string stateDir, ShimMessage type, TimeSpan timeout)
    {
        using var channel = Connect(stateDir);
        channel.Send(type, default);
        var f = channel.Receive(timeout, default)
            ?? throw new ShimException(ShimStep.WaitStart, Errno.None, "supervisor-shim closed shim.sock without an answer");
        f.Fd?.Dispose();
        if (f.Type == ShimMessage.Error)
            throw ShimChannel.DecodeError(f.Payload);
        return f;
    }

    private static ShimChannel Connect(string stateDir)
    {
        string path = Path.Combine(stateDir, ShimAbi.SocketFile);
        int dirFd = -1;
        string target = path;
        // sun_path holds 107 bytes: reach a deeper socket through an fd of its directory.
        if (Encoding.UTF8.GetByteCount(path) > 107)
        {
            dirFd = LibcIo.Open(stateDir, LibcIo.O_PATH | LibcIo.O_DIRECTORY | LibcIo.O_CLOEXEC, 0);
            if (dirFd < 0)
                throw new SyscallException("open", stateDir, Syscalls.LastErrno());
            target = $"/proc/self/fd/{dirFd.ToString(CultureInfo.InvariantCulture)}/{ShimAbi.SocketFile}";
        }
        try
        {
            int fd = LibcSocket.Socket(LibcSocket.AF_UNIX, LibcSocket.SOCK_STREAM | LibcSocket.SOCK_CLOEXEC, 0);
            if (fd < 0)
                throw new SyscallException("socket", path, Syscalls.LastErrno());
            byte* addr = stackalloc byte[110];
            new Span<byte>(addr, 110).Clear();
            addr[0] = (byte)LibcSocket.AF_UNIX;
            int n = Encoding.UTF8.GetBytes(target, new Span<byte>(addr + 2, 107));
            if (LibcSocket.Connect(fd, addr, (uint)(2 + n + 1)) < 0)
            {
                var e = Syscalls.LastErrno();
                LibcIo.Close(fd);
                throw new SyscallException("connect", path, e);
            }
            return new ShimChannel(fd);
        }
        finally
        {
            if (dirFd >= 0)
                LibcIo.Close(dirFd);
        }
    }
}
