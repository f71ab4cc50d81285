using System.Globalization;
using System.Runtime.InteropServices;
using Supervisor.Linux.Interop;

namespace Supervisor.Linux;

/// <summary>One fd of the child: a copy of our <paramref name="Source"/> at number <paramref name="Target"/>.</summary>
public readonly record struct SpawnFd(int Source, int Target);

/// <summary>
/// posix_spawn with an explicit fd layout and clean signal state: the one way this code base starts a
/// helper program (supervisor-shim, criu swrk). The child is reaped by its pid only, never with
/// waitpid(-1), which would steal children that .NET itself started.
/// </summary>
internal static unsafe class ProcessSpawner
{
    /// <summary>
    /// Starts <paramref name="path"/> with <paramref name="argv"/> (argv[0] included) and
    /// <paramref name="env"/>. Each <see cref="SpawnFd"/> places a copy of one of our fds at the given
    /// number; an fd of ours that is not close-on-exec is inherited as it is (and must not be a target).
    /// The signal mask is empty and every disposition default in the child: .NET ignores SIGPIPE and
    /// may block signals on the calling thread, and both would survive execve into the container.
    /// Returns the child's pid.
    /// </summary>
    public static int Spawn(string path, IReadOnlyList<string> argv, IReadOnlyList<string> env, IReadOnlyList<SpawnFd> fds)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(fds);
        int above = 3;
        foreach (var f in fds)
            above = Math.Max(above, f.Target + 1);
        var temps = new List<int>();
        var strings = new List<nint>();
        void* actions = NativeMemory.AllocZeroed(LibcSpawn.SpawnObjectSize);
        void* attr = NativeMemory.AllocZeroed(LibcSpawn.SpawnObjectSize);
        void* mask = NativeMemory.AllocZeroed(LibcSpawn.SigsetSize);
        void* defaults = NativeMemory.AllocZeroed(LibcSpawn.SigsetSize);
        byte** argvp = (byte**)NativeMemory.AllocZeroed((nuint)(argv.Count + 1), (nuint)sizeof(byte*));
        byte** envp = (byte**)NativeMemory.AllocZeroed((nuint)(env.Count + 1), (nuint)sizeof(byte*));
        bool actionsInit = false, attrInit = false;
        try
        {
            Check(LibcSpawn.FileActionsInit(actions), "posix_spawn_file_actions_init");
            actionsInit = true;
            // Every source is first copied above all targets, so no dup2 can overwrite a source that a
            // later dup2 still needs (e.g. stdout given as our fd 0, or as another target's number).
            // dup2 onto the target also clears close-on-exec on that copy only.
            foreach (var f in fds)
            {
                int tmp = LibcIo.Fcntl(f.Source, LibcIo.F_DUPFD_CLOEXEC, above);
                if (tmp < 0)
                    throw new SyscallException("fcntl(F_DUPFD_CLOEXEC)", f.Source.ToString(CultureInfo.InvariantCulture), Syscalls.LastErrno());
                temps.Add(tmp);
                Check(LibcSpawn.FileActionsAddDup2(actions, tmp, f.Target), "posix_spawn_file_actions_adddup2");
            }
            Check(LibcSpawn.AttrInit(attr), "posix_spawnattr_init");
            attrInit = true;
            LibcSpawn.SigEmptySet(mask);
            LibcSpawn.SigFillSet(defaults);
            Check(LibcSpawn.AttrSetSigMask(attr, mask), "posix_spawnattr_setsigmask");
            Check(LibcSpawn.AttrSetSigDefault(attr, defaults), "posix_spawnattr_setsigdefault");
            Check(LibcSpawn.AttrSetFlags(attr, LibcSpawn.POSIX_SPAWN_SETSIGMASK | LibcSpawn.POSIX_SPAWN_SETSIGDEF),
                "posix_spawnattr_setflags");

            for (int i = 0; i < argv.Count; i++)
                argvp[i] = Utf8(argv[i], strings);
            for (int i = 0; i < env.Count; i++)
                envp[i] = Utf8(env[i], strings);
            byte* file = Utf8(path, strings);
            int err = LibcSpawn.PosixSpawn(out int pid, file, actions, attr, argvp, envp);
            if (err != 0)
                throw new SyscallException("posix_spawn", path, (Errno)err);
            return pid;
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
            NativeMemory.Free(argvp);
            NativeMemory.Free(envp);
            foreach (var s in strings)
                Marshal.FreeCoTaskMem(s);
            foreach (int fd in temps)
                LibcIo.Close(fd);
        }
    }

    /// <summary>Our environment as KEY=VALUE strings (what criu gets: it runs through its own loader script).</summary>
    public static List<string> CurrentEnvironment()
    {
        var env = new List<string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            env.Add($"{e.Key}={e.Value}");
        return env;
    }

    private static byte* Utf8(string s, List<nint> owned)
    {
        nint p = Marshal.StringToCoTaskMemUTF8(s);
        owned.Add(p);
        return (byte*)p;
    }

    private static void Check(int result, string op)
    {
        if (result != 0)
            throw new SyscallException(op, null, (Errno)result);
    }
}
