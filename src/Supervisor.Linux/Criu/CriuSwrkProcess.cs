using System.Collections;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Supervisor.Linux.Interop;

namespace Supervisor.Linux.Criu;

/// <summary>
/// A <c>criu swrk 3</c> child: CRIU's RPC service on fd 3, one end of a SOCK_SEQPACKET socketpair, with
/// the given fds as its stdio (a restored task inherits CRIU's stdio through <c>inherit_fd</c>).
/// It is started with posix_spawn and reaped only by its own pid, never with waitpid(-1), which would
/// steal children that .NET itself started.
/// </summary>
public sealed unsafe class CriuSwrkProcess : IDisposable
{
    private const int SwrkFd = 3;
    private bool _reaped;
    private WaitStatus _status;

    private CriuSwrkProcess(int pid, SeqPacketSocket socket)
    {
        Pid = pid;
        Socket = socket;
    }

    public int Pid { get; }

    /// <summary>Our end of the RPC socket.</summary>
    public SeqPacketSocket Socket { get; }

    public static CriuSwrkProcess Spawn(string criuPath, int stdin = 0, int stdout = 1, int stderr = 2)
    {
        ArgumentException.ThrowIfNullOrEmpty(criuPath);
        var (ours, theirs) = SeqPacketSocket.CreatePair();
        var temps = new List<int>();
        int pid = 0;
        void* actions = NativeMemory.AllocZeroed(LibcSpawn.SpawnObjectSize);
        void* attr = NativeMemory.AllocZeroed(LibcSpawn.SpawnObjectSize);
        void* mask = NativeMemory.AllocZeroed(LibcSpawn.SigsetSize);
        void* defaults = NativeMemory.AllocZeroed(LibcSpawn.SigsetSize);
        bool actionsInit = false, attrInit = false;
        try
        {
            Check(LibcSpawn.FileActionsInit(actions), "posix_spawn_file_actions_init");
            actionsInit = true;
            // Every source is first copied above the targets 0..3, so that no dup2 overwrites a source a
            // later dup2 still needs (e.g. stdout given as our fd 3).
            int[] sources = [stdin, stdout, stderr, theirs.Fd];
            for (int target = 0; target < sources.Length; target++)
            {
                int tmp = DupAbove(sources[target], SwrkFd + 1);
                temps.Add(tmp);
                Check(LibcSpawn.FileActionsAddDup2(actions, tmp, target), "posix_spawn_file_actions_adddup2");
            }
            Check(LibcSpawn.AttrInit(attr), "posix_spawnattr_init");
            attrInit = true;
            // .NET ignores SIGPIPE and may block signals on this thread; both would survive execve and
            // reach the restored tasks, which CRIU forks from itself.
            LibcSpawn.SigEmptySet(mask);
            LibcSpawn.SigFillSet(defaults);
            Check(LibcSpawn.AttrSetSigMask(attr, mask), "posix_spawnattr_setsigmask");
            Check(LibcSpawn.AttrSetSigDefault(attr, defaults), "posix_spawnattr_setsigdefault");
            Check(LibcSpawn.AttrSetFlags(attr, LibcSpawn.POSIX_SPAWN_SETSIGMASK | LibcSpawn.POSIX_SPAWN_SETSIGDEF),
                "posix_spawnattr_setflags");

            var args = new[] { criuPath, "swrk", SwrkFd.ToString(CultureInfo.InvariantCulture) };
            var env = new List<string>();
            foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
                env.Add($"{e.Key}={e.Value}");
            var handles = new List<GCHandle>();
            try
            {
                byte** argv = stackalloc byte*[args.Length + 1];
                for (int i = 0; i < args.Length; i++)
                    argv[i] = Pin(args[i], handles);
                argv[args.Length] = null;
                byte** envp = (byte**)NativeMemory.Alloc((nuint)(env.Count + 1), (nuint)sizeof(byte*));
                try
                {
                    for (int i = 0; i < env.Count; i++)
                        envp[i] = Pin(env[i], handles);
                    envp[env.Count] = null;
                    int err = LibcSpawn.PosixSpawn(out pid, argv[0], actions, attr, argv, envp);
                    if (err != 0)
                        throw new SyscallException("posix_spawn", criuPath, (Errno)err);
                }
                finally
                {
                    NativeMemory.Free(envp);
                }
            }
            finally
            {
                foreach (var h in handles)
                    h.Free();
            }
        }
        catch
        {
            ours.Dispose();
            throw;
        }
        finally
        {
            if (actionsInit)
                LibcSpawn.FileActionsDestroy(actions);
            if (attrInit)
                LibcSpawn.AttrDestroy(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(mask);
            NativeMemory.Free(defaults);
            foreach (int fd in temps)
                LibcIo.Close(fd);
            // Only criu holds the other end now, so its exit shows up as EOF on ours.
            theirs.Dispose();
        }
        return new CriuSwrkProcess(pid, ours);
    }

    private static byte* Pin(string s, List<GCHandle> handles)
    {
        var b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, b);
        var h = GCHandle.Alloc(b, GCHandleType.Pinned);
        handles.Add(h);
        return (byte*)h.AddrOfPinnedObject();
    }

    private static void Check(int result, string op)
    {
        if (result != 0)
            throw new SyscallException(op, null, (Errno)result);
    }

    private static int DupAbove(int fd, int min)
    {
        int r = LibcIo.Fcntl(fd, LibcIo.F_DUPFD_CLOEXEC, min);
        if (r < 0)
            throw new SyscallException("fcntl(F_DUPFD_CLOEXEC)", fd.ToString(CultureInfo.InvariantCulture), Syscalls.LastErrno());
        return r;
    }

    /// <summary>Waits for criu to exit (blocking) and returns its status.</summary>
    public WaitStatus WaitExit()
    {
        if (!_reaped)
        {
            _status = Syscalls.WaitPid(Pid).Status;
            _reaped = true;
        }
        return _status;
    }

    /// <summary>Kills criu (SIGKILL) if it still runs, and reaps it.</summary>
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
