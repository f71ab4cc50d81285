using System.Diagnostics;
using System.Globalization;

namespace Supervisor.RemoteClient;

/// <summary>
/// Phase timings on stderr when SUPERVISOR_TIMING=1, for finding where a call's time goes. Each line has the
/// time since Main and the wall clock (Unix ms), so that a caller that noted the wall clock before starting
/// the process can also tell the runtime's start-up and, after the process ended, its exit.
/// </summary>
internal static class Timing
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("SUPERVISOR_TIMING") == "1";
    private static readonly long Start = Stopwatch.GetTimestamp();

    public static Action<string>? Sink => Enabled ? Mark : null;

    public static void Mark(string phase)
    {
        if (!Enabled)
            return;
        var wall = (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[timing] {Stopwatch.GetElapsedTime(Start).TotalMilliseconds,8:F1} ms  wall {wall:F1}  jit {System.Runtime.JitInfo.GetCompiledMethodCount()} methods {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0} ms  {phase}"));
    }
}
