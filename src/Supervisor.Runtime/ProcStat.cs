using System.Globalization;

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
}
