using System.Globalization;
using Supervisor.Linux;
using Supervisor.Linux.Notify;

namespace Supervisor.Runtime;

/// <summary>
/// The two fields of /proc/PID/stat the runtime needs: the state letter and the start time (clock ticks
/// since boot, field 22). Together with the pid, the start time identifies a process for good: a pid that
/// was reused belongs to a process that started later.
/// </summary>
public static class ProcStat
{
    public static bool TryRead(int pid, out char state, out ulong startTime)
    {
        state = '\0';
        startTime = 0;
        if (pid <= 0)
            return false;
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
        return TryParse(text, out state, out startTime);
    }

    /// <summary>
    /// Parses the stat line. The command name (field 2) is in parentheses and may itself contain spaces
    /// and parentheses, so the fields are counted from the *last* ')' (libcontainer's 2015 parser split
    /// on spaces and broke on such names, reference §5.15).
    /// </summary>
    public static bool TryParse(string text, out char state, out ulong startTime)
    {
        state = '\0';
        startTime = 0;
        int close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length)
            return false;
        var rest = text[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
        if (rest.Length < 20 || rest[0].Length != 1)
            return false;
        state = rest[0][0];
        return ulong.TryParse(rest[19], NumberStyles.None, CultureInfo.InvariantCulture, out startTime);
    }

    /// <summary>True when <paramref name="pid"/> is alive and is still the process that started at <paramref name="startTime"/>.</summary>
    public static bool IsAlive(int pid, ulong startTime)
    {
        if (!TryRead(pid, out var state, out var st))
            return false;
        // A zombie has exited; its parent (the shim) is about to reap it.
        return st == startTime && state != 'Z' && state != 'X';
    }

    /// <summary>
    /// Waits until the process that started at <paramref name="startTime"/> has exited (a zombie counts as
    /// exited, as in <see cref="IsAlive"/>) or <paramref name="timeout"/> passes; true when it is gone.
    /// It sleeps on a pidfd, which the kernel makes readable when the process exits, whoever its parent is,
    /// so there is no polling of /proc and no wake-up delay.
    /// </summary>
    public static bool WaitExited(int pid, ulong startTime, TimeSpan timeout)
    {
        if (pid <= 0)
            return true;
        Microsoft.Win32.SafeHandles.SafeFileHandle pidfd;
        try
        {
            pidfd = Syscalls.PidfdOpen(pid);
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
            return true;
        }
        using (pidfd)
        {
            // The pid may have been reused between the caller reading it and pidfd_open: the start time
            // tells whether the pidfd refers to the process the caller means. Checked after the open, the
            // answer holds for as long as the pidfd does, since a pidfd never moves to another process.
            if (!IsAlive(pid, startTime))
                return true;
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (true)
            {
                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                    return !IsAlive(pid, startTime);
                if (FdPoll.WaitReadable([(int)pidfd.DangerousGetHandle()], (int)Math.Min(left, int.MaxValue))[0])
                    return true;
            }
        }
    }
}
