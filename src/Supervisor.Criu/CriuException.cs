namespace Supervisor.Criu;

/// <summary>
/// A failed CRIU step. The message is one line naming the step, CRIU's own error, and the log file
/// (whose last lines follow, so the cause is visible without opening it).
/// </summary>
public sealed class CriuException : Exception
{
    public CriuException(string step, string detail, string? logFile = null, Exception? inner = null)
        : base(Format(step, detail, logFile), inner)
    {
        Step = step;
        LogFile = logFile;
    }

    public string Step { get; }
    public string? LogFile { get; }

    private static string Format(string step, string detail, string? logFile)
    {
        var msg = $"criu {step} failed: {detail}";
        if (logFile is null)
            return msg;
        msg += $" (log file: {logFile})";
        var tail = CriuLog.Tail(logFile, 6);
        return tail.Count == 0 ? msg : msg + " | " + string.Join(" | ", tail);
    }
}

internal static class CriuLog
{
    public static bool IsHarmless(string line) => line.Contains("RLIMIT_NOFILE", StringComparison.Ordinal);

    /// <summary>
    /// The last error lines of a CRIU log, or its last lines when it has none; empty when unreadable.
    /// CRIU logs "Can't setup RLIMIT_NOFILE" as an error on machines without CAP_SYS_RESOURCE in the
    /// bounding set, and then works on: that line never explains a failure, so it is left out.
    /// </summary>
    public static IReadOnlyList<string> Tail(string path, int count)
    {
        try
        {
            var lines = File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !IsHarmless(l)).ToList();
            var errors = lines.Where(l => l.Contains("Error", StringComparison.Ordinal)).TakeLast(count).ToList();
            return errors.Count > 0 ? errors : lines.TakeLast(count).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
