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
    /// <summary>The last non-empty lines of a CRIU log (the error is at its end), empty when unreadable.</summary>
    public static IReadOnlyList<string> Tail(string path, int count)
    {
        try
        {
            return File.ReadLines(path).Where(l => l.Trim().Length > 0).TakeLast(count).Select(l => l.Trim()).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
