namespace Supervisor.Actors.Restart;

/// <summary>How a container's init ended.</summary>
/// <param name="ExitCode">The exit code, or 128+signal when a signal killed it (the shell convention).</param>
/// <param name="Signal">The signal that killed it, 0 when it exited.</param>
/// <param name="OomKilled">The kernel's OOM killer ended it.</param>
/// <param name="StartedAt">When this run started (the backoff reset is measured from it).</param>
/// <param name="FinishedAt">When it ended.</param>
public sealed record ExitInfo(int ExitCode, int Signal, bool OomKilled, DateTimeOffset StartedAt, DateTimeOffset FinishedAt)
{
    /// <summary>Anything but a clean exit 0 is a failure; an OOM kill is one even if the code were 0.</summary>
    public bool IsFailure => ExitCode != 0 || Signal != 0 || OomKilled;

    public TimeSpan RunDuration => FinishedAt > StartedAt ? FinishedAt - StartedAt : TimeSpan.Zero;
}

/// <summary>
/// The restart bookkeeping that must survive a daemon restart (persisted next to the container's state).
/// </summary>
public sealed record RestartRecord
{
    public static RestartRecord Empty { get; } = new();

    /// <summary>Automatic restarts since the last manual start (Docker's RestartCount).</summary>
    public int RestartCount { get; init; }

    /// <summary>Consecutive restarts without a healthy run: the exponent of the backoff.</summary>
    public int ConsecutiveFailures { get; init; }

    /// <summary>Set by a manual stop or kill; cleared by a manual start. Suppresses automatic restarts.</summary>
    public bool ManuallyStopped { get; init; }

    /// <summary>The restart policy has given up (on-failure:N exhausted, or a restart storm).</summary>
    public bool GaveUp { get; init; }

    public int? LastExitCode { get; init; }
    public int? LastSignal { get; init; }
    public bool LastOomKilled { get; init; }
    public DateTimeOffset? LastFinishedAt { get; init; }

    /// <summary>When the current run started.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>Pid of the init whose exit was handled last, so that an exit seen twice (an exit event and a
    /// re-read of the state after an actor restart) is acted on once (moby#46212).</summary>
    public int? LastExitPid { get; init; }

    /// <summary>A restart was decided but has not happened yet (the delay was running when the actor or the daemon stopped).</summary>
    public bool RestartPending { get; init; }

    /// <summary>The container's restart policy in Docker notation, so a daemon restart finds it for a container
    /// created through the protocol rather than listed in the configuration.</summary>
    public string? Policy { get; init; }

    /// <summary>Times of recent automatic restarts, for the sliding restart-storm window.</summary>
    public IReadOnlyList<DateTimeOffset> RecentRestarts { get; init; } = [];
}

/// <summary>What the policy decided about an exit.</summary>
public abstract record RestartDecision(RestartRecord Record)
{
    /// <summary>Start the container again after <see cref="Delay"/>.</summary>
    public sealed record Restart(TimeSpan Delay, RestartRecord Record) : RestartDecision(Record);

    /// <summary>Leave it stopped; <see cref="Reason"/> says why, for the log and the event.</summary>
    public sealed record Stay(string Reason, RestartRecord Record) : RestartDecision(Record);
}

/// <summary>
/// The restart state machine, as pure functions of (policy, record, event): no clock, no randomness and no
/// I/O of its own, so every rule is unit-tested without an ActorSystem. The container actor keeps the
/// record, persists every new one, and turns a <see cref="RestartDecision.Restart"/> into a timer.
/// </summary>
public static class RestartTracker
{
    /// <summary>Decides what happens after the init exited.</summary>
    /// <param name="random01">A sample in [0, 1) for the jitter.</param>
    public static RestartDecision OnExit(RestartPolicy policy, RestartRecord record, ExitInfo exit, double random01)
    {
        var healthyRun = exit.RunDuration >= policy.Backoff.ResetAfter;
        var consecutive = healthyRun ? 0 : record.ConsecutiveFailures;
        var next = record with
        {
            LastExitCode = exit.ExitCode,
            LastSignal = exit.Signal == 0 ? null : exit.Signal,
            LastOomKilled = exit.OomKilled,
            LastFinishedAt = exit.FinishedAt,
            ConsecutiveFailures = consecutive,
        };

        if (record.ManuallyStopped)
            return new RestartDecision.Stay("stopped by hand", next);
        if (record.GaveUp)
            return new RestartDecision.Stay("the restart policy has already given up", next);

        switch (policy.Mode)
        {
            case RestartMode.No:
                return new RestartDecision.Stay("restart policy is no", next);
            case RestartMode.OnFailure when !exit.IsFailure:
                return new RestartDecision.Stay("exited successfully", next);
            case RestartMode.OnFailure when policy.MaxRetries > 0 && record.RestartCount >= policy.MaxRetries:
                return new RestartDecision.Stay($"on-failure:{policy.MaxRetries} exhausted", next with { GaveUp = true });
        }

        var recent = record.RecentRestarts.Where(t => exit.FinishedAt - t < policy.Window).ToList();
        if (policy.MaxRestartsInWindow > 0 && recent.Count >= policy.MaxRestartsInWindow)
        {
            return new RestartDecision.Stay(
                $"{recent.Count} restarts within {policy.Window.TotalSeconds:0.###} s: giving up",
                next with { GaveUp = true, RecentRestarts = recent });
        }

        var delay = policy.Backoff.DelayFor(consecutive, random01);
        recent.Add(exit.FinishedAt);
        return new RestartDecision.Restart(delay, next with
        {
            RestartCount = record.RestartCount + 1,
            ConsecutiveFailures = consecutive + 1,
            RecentRestarts = recent,
        });
    }

    /// <summary>A start asked for by a user (or the configuration): counters reset, manual stop cleared (Docker's ResetRestartManager).</summary>
    public static RestartRecord OnManualStart(RestartRecord record, DateTimeOffset now) => record with
    {
        RestartCount = 0,
        ConsecutiveFailures = 0,
        ManuallyStopped = false,
        GaveUp = false,
        RecentRestarts = [],
        StartedAt = now,
    };

    /// <summary>An automatic restart has started the container again.</summary>
    public static RestartRecord OnRestarted(RestartRecord record, DateTimeOffset now) => record with { StartedAt = now };

    /// <summary>A stop or kill asked for by a user: no automatic restart follows.</summary>
    public static RestartRecord OnManualStop(RestartRecord record) => record with { ManuallyStopped = true };

    /// <summary>
    /// Whether a container found stopped when the daemon starts should be started again. <c>always</c>
    /// starts it even after a manual stop ("restarted when the daemon restarts", Docker's docs);
    /// <c>unless-stopped</c> keeps a manual stop; <c>on-failure</c> acts on the recorded exit as if it had
    /// just happened (see <see cref="OnExit"/>); <c>no</c> never starts it.
    /// </summary>
    public static bool ShouldStartOnDaemonStart(RestartPolicy policy, RestartRecord record) => policy.Mode switch
    {
        RestartMode.Always => !record.GaveUp,
        RestartMode.UnlessStopped => !record.ManuallyStopped && !record.GaveUp,
        _ => false,
    };
}
