using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Interop;

namespace Supervisor.Linux;

/// <summary>A decoded wait(2) status.</summary>
public readonly record struct WaitStatus(int Raw)
{
    public bool Exited => (Raw & 0x7f) == 0;
    public bool Signaled => (Raw & 0x7f) != 0 && (Raw & 0x7f) != 0x7f;
    public int Code => (Raw >> 8) & 0xff;
    public int Signal => Signaled ? Raw & 0x7f : 0;
    /// <summary>The shell convention: the exit code, or 128 + the signal number.</summary>
    public int ExitCode => Signaled ? 128 + Signal : Code;
}

/// <summary>Process-level system calls the runtime needs outside the shim protocol.</summary>
public static unsafe class Syscalls
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int WNOHANG = LibcProcess.WNOHANG;

    /// <summary>The caller's effective uid (rootless mode maps it to root in the container).</summary>
    public static uint EffectiveUid => LibcProcess.GetEuid();

    /// <summary>The caller's effective gid.</summary>
    public static uint EffectiveGid => LibcProcess.GetEgid();

    /// <summary>True when the caller may create entries in <paramref name="dir"/> (access(2) with W_OK|X_OK).</summary>
    public static bool CanWriteDirectory(string dir) => LibcProcess.Access(dir, 2 | 1) == 0;

    internal static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    public static void Kill(int pid, int signal)
    {
        if (LibcProcess.Kill(pid, signal) < 0)
            throw new SyscallException("kill", pid.ToString(CultureInfo.InvariantCulture), LastErrno());
    }

    /// <summary>waitpid on one pid (never -1: .NET reaps its own children). Returns (0, default) when
    /// WNOHANG finds the child still running.</summary>
    public static (int Pid, WaitStatus Status) WaitPid(int pid, int flags = 0)
    {
        if (pid <= 0)
            throw new ArgumentOutOfRangeException(nameof(pid), "waitpid needs a specific pid");
        int status = 0;
        while (true)
        {
            int r = LibcProcess.WaitPid(pid, &status, flags);
            if (r >= 0)
                return (r, new WaitStatus(status));
            var e = LastErrno();
            if (e != Errno.EINTR)
                throw new SyscallException("waitpid", pid.ToString(CultureInfo.InvariantCulture), e);
        }
    }

    /// <summary>A pidfd (close-on-exec) that becomes readable when the process exits and that cannot be
    /// confused with a later process reusing the pid.</summary>
    public static SafeFileHandle PidfdOpen(int pid)
    {
        int fd = LibcProcess.PidfdOpen(pid, 0);
        if (fd < 0)
            throw new SyscallException("pidfd_open", pid.ToString(CultureInfo.InvariantCulture), LastErrno());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Replaces the calling process with <paramref name="path"/> (execv); returns only by throwing.</summary>
    public static void Exec(string path, IReadOnlyList<string> argv)
    {
        var args = new string?[argv.Count + 1];
        for (int i = 0; i < argv.Count; i++)
            args[i] = argv[i];
        LibcProcess.Execv(path, args);
        throw new SyscallException("execv", path, LastErrno());
    }

    /// <summary>
    /// Replaces the calling process with <paramref name="path"/> (execve) with this process's environment
    /// in which <paramref name="overrides"/> replace or add variables; returns only by throwing.
    /// </summary>
    public static void Exec(string path, IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> overrides)
    {
        var args = new string?[argv.Count + 1];
        for (int i = 0; i < argv.Count; i++)
            args[i] = argv[i];
        var env = new List<string?>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var name = (string)e.Key;
            if (!overrides.ContainsKey(name))
                env.Add($"{name}={e.Value}");
        }
        foreach (var (name, value) in overrides)
            env.Add($"{name}={value}");
        env.Add(null);
        LibcProcess.Execve(path, args, [.. env]);
        throw new SyscallException("execve", path, LastErrno());
    }

    /// <summary>
    /// Makes the calling process a child subreaper (prctl PR_SET_CHILD_SUBREAPER): orphans among its
    /// descendants are re-parented to it rather than to PID 1, which on some hosts never reaps them.
    /// </summary>
    public static void SetChildSubreaper()
    {
        if (LibcProcess.Prctl(LibcProcess.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
            throw new SyscallException("prctl", "PR_SET_CHILD_SUBREAPER", LastErrno());
    }

    /// <summary>Field 22 (starttime, clock ticks since boot) of /proc/&lt;pid&gt;/stat. Together with the
    /// pid it identifies a process across pid reuse. The comm field may hold spaces and parentheses,
    /// so parsing starts after the last ')'.</summary>
    public static ulong ReadProcStartTime(int pid)
    {
        string path = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat";
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            throw new SyscallException("open", path, Errno.ENOENT);
        }
        catch (DirectoryNotFoundException)
        {
            throw new SyscallException("open", path, Errno.ENOENT);
        }
        return ParseStartTime(text, path);
    }

    internal static ulong ParseStartTime(string stat, string path)
    {
        int close = stat.LastIndexOf(')');
        if (close < 0)
            throw new SyscallException("parse", path, Errno.EINVAL);
        // After ") " come field 3 (state) onwards; starttime is field 22, i.e. the 20th from there.
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20 || !ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
            throw new SyscallException("parse", path, Errno.EINVAL);
        return start;
    }
}
