using System.Globalization;

namespace Supervisor.Runtime.Signals;

/// <summary>
/// Signal names and numbers with the x86_64 Linux numbering. Real-time signals start at 34: glibc reserves
/// 32 and 33 for its own threads, so SIGRTMIN as programs see it is 34 and SIGRTMAX is 64.
/// </summary>
public static class SignalNames
{
    public const int SigRtMin = 34;
    public const int SigRtMax = 64;

    private static readonly (string Name, int Number)[] Table =
    [
        ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6), ("BUS", 7),
        ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13), ("ALRM", 14),
        ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CLD", 17), ("CONT", 18), ("STOP", 19), ("TSTP", 20),
        ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24), ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27),
        ("WINCH", 28), ("IO", 29), ("POLL", 29), ("PWR", 30), ("SYS", 31),
    ];

    /// <summary>
    /// Parses "KILL", "SIGKILL", "kill", "9", "SIGRTMIN", "RTMIN+3" or "SIGRTMAX-2" into a signal number
    /// (1..64). Anything else throws <see cref="FormatException"/> with <c>invalid signal "X"</c>.
    /// </summary>
    public static int Parse(string text) =>
        TryParse(text, out var n) ? n : throw new FormatException($"invalid signal \"{text}\"");

    public static bool TryParse(string text, out int number)
    {
        number = 0;
        var s = text.Trim();
        if (s.Length == 0) return false;
        if (char.IsAsciiDigit(s[0]))
        {
            if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= SigRtMax)
            {
                number = n;
                return true;
            }
            return false;
        }
        s = s.ToUpperInvariant();
        if (s.StartsWith("SIG", StringComparison.Ordinal)) s = s[3..];
        foreach (var (name, n) in Table)
            if (name == s) { number = n; return true; }
        if (s.StartsWith("RTMIN", StringComparison.Ordinal))
            return RealTime(s[5..], SigRtMin, +1, out number);
        if (s.StartsWith("RTMAX", StringComparison.Ordinal))
            return RealTime(s[5..], SigRtMax, -1, out number);
        // "SIG32"/"SIG33" and "SIG40": the bare-number names used for signals without a symbolic name.
        if (s.Length > 0 && char.IsAsciiDigit(s[0]) && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var raw)
            && raw is >= 1 and <= SigRtMax)
        {
            number = raw;
            return true;
        }
        return false;
    }

    private static bool RealTime(string rest, int baseNumber, int sign, out int number)
    {
        number = 0;
        if (rest.Length == 0) { number = baseNumber; return true; }
        var op = rest[0] == '+' ? 1 : rest[0] == '-' ? -1 : 0;
        // RTMIN counts up and RTMAX counts down; "RTMIN-1" would leave the real-time range.
        if (op != sign) return false;
        if (!int.TryParse(rest.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var off)) return false;
        var n = baseNumber + sign * off;
        if (n < SigRtMin || n > SigRtMax) return false;
        number = n;
        return true;
    }

    /// <summary>The name of a signal number ("SIGKILL", "SIGRTMIN+3", "SIGRTMAX-1"), as <c>kill -l</c> prints it.</summary>
    public static string ToName(int number)
    {
        foreach (var (name, n) in Table)
            if (n == number) return "SIG" + name;
        return number switch
        {
            SigRtMin => "SIGRTMIN",
            SigRtMax => "SIGRTMAX",
            > SigRtMin and <= SigRtMin + 15 => $"SIGRTMIN+{number - SigRtMin}",
            > SigRtMin + 15 and < SigRtMax => $"SIGRTMAX-{SigRtMax - number}",
            >= 1 and < SigRtMin => $"SIG{number}",
            _ => throw new ArgumentOutOfRangeException(nameof(number), number, "not a signal number (1..64)"),
        };
    }
}
