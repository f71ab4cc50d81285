using System.Diagnostics;

namespace Supervisor.Cli;

/// <summary>Phase timings on stderr when SUPERVISOR_TIMING=1, for finding where start-up time goes.</summary>
internal static class Timing
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("SUPERVISOR_TIMING") == "1";
    private static readonly long Start = Stopwatch.GetTimestamp();

    public static void Mark(string phase)
    {
        if (Enabled)
            Console.Error.WriteLine($"[timing] {Stopwatch.GetElapsedTime(Start).TotalMilliseconds,7:F2} ms  {phase}");
    }
}
