using System.Globalization;

namespace Supervisor.Actors.Restart;

/// <summary>When a container whose init exited is started again (Docker's restart policies).</summary>
public enum RestartMode
{
    /// <summary>Never restarted.</summary>
    No,
    /// <summary>Restarted when the exit was a failure: a non-zero code, a signal, or an OOM kill.</summary>
    OnFailure,
    /// <summary>Always restarted, unless stopped by hand while the daemon runs; a daemon restart starts it again.</summary>
    Always,
    /// <summary>Like <see cref="Always"/>, but a manual stop holds across daemon restarts too.</summary>
    UnlessStopped,
}

/// <summary>
/// Exponential backoff between restarts: <c>min(Max, Initial·Multiplier^n)</c> for the n-th consecutive
/// restart, stretched by up to <c>Jitter</c> (a fraction) so that many containers failing together do not
/// restart in lockstep. A run that lasted at least <see cref="ResetAfter"/> counts as healthy and starts the
/// sequence over.
/// </summary>
public sealed record BackoffSettings(TimeSpan Initial, double Multiplier, TimeSpan Max, TimeSpan ResetAfter, double Jitter)
{
    /// <summary>Docker's restart manager: 100 ms, ×2, capped at 60 s, reset after a run of 10 s, no jitter.</summary>
    public static BackoffSettings Docker { get; } = new(
        TimeSpan.FromMilliseconds(100), 2.0, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10), 0.0);

    /// <summary>The kubelet's CrashLoopBackOff: 10 s, ×2, capped at 300 s, reset after 600 s of running.</summary>
    public static BackoffSettings Kubernetes { get; } = new(
        TimeSpan.FromSeconds(10), 2.0, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(600), 0.0);

    public static BackoffSettings ForProfile(string profile) => profile.ToLowerInvariant() switch
    {
        "docker" => Docker,
        "kubernetes" or "k8s" => Kubernetes,
        _ => throw new ArgumentException($"unknown backoff profile \"{profile}\" (expected docker or kubernetes)", nameof(profile)),
    };

    /// <summary>Checks the values; returns the problems, empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Initial < TimeSpan.Zero)
            problems.Add("backoff initial delay must not be negative");
        if (Multiplier < 1.0 || double.IsNaN(Multiplier) || double.IsInfinity(Multiplier))
            problems.Add("backoff multiplier must be at least 1");
        if (Max < Initial)
            problems.Add("backoff cap must not be below the initial delay");
        if (ResetAfter < TimeSpan.Zero)
            problems.Add("backoff reset-after must not be negative");
        if (Jitter < 0.0 || Jitter > 1.0 || double.IsNaN(Jitter))
            problems.Add("backoff jitter must be between 0 and 1");
        return problems;
    }

    /// <summary>
    /// The delay before the restart that follows <paramref name="consecutive"/> earlier restarts without a
    /// healthy run in between. <paramref name="random01"/> is a sample in [0, 1) that scales the jitter;
    /// it is a parameter so that callers (and tests) decide where randomness comes from.
    /// </summary>
    public TimeSpan DelayFor(int consecutive, double random01)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(consecutive);
        // Computed in double and clamped before converting: 2^64 would overflow a TimeSpan long before the cap.
        double ms = Initial.TotalMilliseconds * Math.Pow(Multiplier, consecutive);
        if (double.IsInfinity(ms) || ms > Max.TotalMilliseconds)
            ms = Max.TotalMilliseconds;
        ms *= 1.0 + Jitter * Math.Clamp(random01, 0.0, 1.0);
        return TimeSpan.FromMilliseconds(Math.Round(ms));
    }
}

/// <summary>
/// A container's restart policy: the mode, the retry limit of on-failure (0 = unlimited, as Docker), the
/// backoff, and a restart-storm guard: more than <see cref="MaxRestartsInWindow"/> restarts within
/// <see cref="Window"/> (sliding) gives up, whatever the mode (0 turns the guard off).
/// </summary>
public sealed record RestartPolicy(
    RestartMode Mode,
    int MaxRetries,
    BackoffSettings Backoff,
    int MaxRestartsInWindow,
    TimeSpan Window)
{
    public static RestartPolicy Never { get; } = new(RestartMode.No, 0, BackoffSettings.Docker, 0, TimeSpan.Zero);

    /// <summary>
    /// Parses Docker's notation: <c>no</c>, <c>always</c>, <c>unless-stopped</c>, <c>on-failure</c> or
    /// <c>on-failure:N</c>. A retry count is accepted only with on-failure and must not be negative
    /// (Docker's ValidateRestartPolicy).
    /// </summary>
    public static (RestartMode Mode, int MaxRetries) ParseMode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim().ToLowerInvariant();
        var colon = s.IndexOf(':');
        var name = colon < 0 ? s : s[..colon];
        var mode = name switch
        {
            "no" or "never" or "" => RestartMode.No,
            "on-failure" => RestartMode.OnFailure,
            "always" => RestartMode.Always,
            "unless-stopped" => RestartMode.UnlessStopped,
            _ => throw new FormatException($"unknown restart policy \"{text}\" (expected no, on-failure[:N], always or unless-stopped)"),
        };
        if (colon < 0)
            return (mode, 0);
        if (mode != RestartMode.OnFailure)
            throw new FormatException($"restart policy \"{text}\": a maximum retry count is only valid with on-failure");
        if (!int.TryParse(s[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var max))
            throw new FormatException($"restart policy \"{text}\": the retry count must be a non-negative integer");
        return (mode, max);
    }

    public static string FormatMode(RestartMode mode) => mode switch
    {
        RestartMode.No => "no",
        RestartMode.OnFailure => "on-failure",
        RestartMode.Always => "always",
        _ => "unless-stopped",
    };

    public override string ToString() =>
        Mode == RestartMode.OnFailure && MaxRetries > 0 ? $"on-failure:{MaxRetries}" : FormatMode(Mode);
}
