using Supervisor.Actors.Restart;

namespace Supervisor.Actors.Tests.Restart;

public class RestartTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private static RestartPolicy Policy(RestartMode mode, int max = 0, BackoffSettings? backoff = null, int storm = 0, double windowSec = 0) =>
        new(mode, max, backoff ?? BackoffSettings.Docker, storm, TimeSpan.FromSeconds(windowSec));

    private static ExitInfo Exit(int code, DateTimeOffset started, TimeSpan ran, int signal = 0, bool oom = false) =>
        new(code, signal, oom, started, started + ran);

    /// <summary>Runs a container that fails after <paramref name="ran"/> each time, n times; returns the delays.</summary>
    private static List<TimeSpan> FailRepeatedly(RestartPolicy policy, int n, TimeSpan ran, ref RestartRecord record)
    {
        var delays = new List<TimeSpan>();
        var now = T0;
        for (int i = 0; i < n; i++)
        {
            var d = RestartTracker.OnExit(policy, record, Exit(1, now, ran), 0.0);
            record = d.Record;
            if (d is not RestartDecision.Restart r)
                break;
            delays.Add(r.Delay);
            now = now + ran + r.Delay;
            record = RestartTracker.OnRestarted(record, now);
        }
        return delays;
    }

    [Fact]
    public void Docker_backoff_doubles_from_100ms_and_caps_at_60s()
    {
        var record = RestartRecord.Empty;
        var delays = FailRepeatedly(Policy(RestartMode.Always), 14, TimeSpan.FromMilliseconds(50), ref record);
        var ms = delays.Select(d => (long)d.TotalMilliseconds).ToArray();
        Assert.Equal(new long[] { 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 60000 }, ms);
        Assert.Equal(14, record.RestartCount);
    }

    [Fact]
    public void Kubernetes_profile_is_10s_doubling_to_300s()
    {
        var record = RestartRecord.Empty;
        var delays = FailRepeatedly(Policy(RestartMode.Always, backoff: BackoffSettings.Kubernetes), 7, TimeSpan.FromSeconds(1), ref record);
        Assert.Equal(new double[] { 10, 20, 40, 80, 160, 300, 300 }, delays.Select(d => d.TotalSeconds).ToArray());
    }

    [Fact]
    public void A_run_longer_than_reset_after_starts_the_backoff_over_but_keeps_the_count()
    {
        var policy = Policy(RestartMode.Always);
        var record = RestartRecord.Empty;
        FailRepeatedly(policy, 5, TimeSpan.FromMilliseconds(10), ref record);
        Assert.Equal(5, record.ConsecutiveFailures);

        var d = RestartTracker.OnExit(policy, record, Exit(1, T0, TimeSpan.FromSeconds(11)), 0.0);
        var restart = Assert.IsType<RestartDecision.Restart>(d);
        Assert.Equal(TimeSpan.FromMilliseconds(100), restart.Delay);
        Assert.Equal(6, restart.Record.RestartCount);
        Assert.Equal(1, restart.Record.ConsecutiveFailures);
    }

    [Fact]
    public void A_run_just_short_of_reset_after_keeps_growing()
    {
        var policy = Policy(RestartMode.Always);
        var record = RestartRecord.Empty with { ConsecutiveFailures = 3 };
        var d = Assert.IsType<RestartDecision.Restart>(RestartTracker.OnExit(policy, record, Exit(1, T0, TimeSpan.FromSeconds(9.999)), 0.0));
        Assert.Equal(TimeSpan.FromMilliseconds(800), d.Delay);
    }

    [Fact]
    public void On_failure_3_restarts_exactly_three_times()
    {
        var record = RestartRecord.Empty;
        var delays = FailRepeatedly(Policy(RestartMode.OnFailure, max: 3), 10, TimeSpan.FromMilliseconds(5), ref record);
        Assert.Equal(3, delays.Count);
        Assert.Equal(3, record.RestartCount);
        Assert.True(record.GaveUp);
        Assert.Equal(1, record.LastExitCode);
    }

    [Fact]
    public void On_failure_without_a_limit_keeps_restarting()
    {
        var record = RestartRecord.Empty;
        var delays = FailRepeatedly(Policy(RestartMode.OnFailure), 30, TimeSpan.FromMilliseconds(5), ref record);
        Assert.Equal(30, delays.Count);
    }

    [Theory]
    [InlineData(RestartMode.OnFailure, false)]
    [InlineData(RestartMode.No, false)]
    [InlineData(RestartMode.Always, true)]
    [InlineData(RestartMode.UnlessStopped, true)]
    public void A_clean_exit_restarts_only_always_and_unless_stopped(RestartMode mode, bool restarts)
    {
        var d = RestartTracker.OnExit(Policy(mode), RestartRecord.Empty, Exit(0, T0, TimeSpan.FromSeconds(1)), 0.0);
        Assert.Equal(restarts, d is RestartDecision.Restart);
        Assert.Equal(0, d.Record.LastExitCode);
    }

    [Fact]
    public void A_signal_or_an_oom_kill_is_a_failure()
    {
        var policy = Policy(RestartMode.OnFailure);
        var killed = RestartTracker.OnExit(policy, RestartRecord.Empty, Exit(137, T0, TimeSpan.FromSeconds(1), signal: 9), 0.0);
        Assert.IsType<RestartDecision.Restart>(killed);
        Assert.Equal(9, killed.Record.LastSignal);
        var oom = RestartTracker.OnExit(policy, RestartRecord.Empty, Exit(0, T0, TimeSpan.FromSeconds(1), oom: true), 0.0);
        Assert.IsType<RestartDecision.Restart>(oom);
        Assert.True(oom.Record.LastOomKilled);
    }

    [Theory]
    [InlineData(RestartMode.Always)]
    [InlineData(RestartMode.UnlessStopped)]
    [InlineData(RestartMode.OnFailure)]
    public void A_manual_stop_suppresses_the_restart(RestartMode mode)
    {
        var record = RestartTracker.OnManualStop(RestartRecord.Empty);
        var d = RestartTracker.OnExit(Policy(mode), record, Exit(143, T0, TimeSpan.FromSeconds(1), signal: 15), 0.0);
        var stay = Assert.IsType<RestartDecision.Stay>(d);
        Assert.Contains("by hand", stay.Reason);
        Assert.Equal(143, stay.Record.LastExitCode);
    }

    [Fact]
    public void After_a_daemon_restart_always_starts_a_manually_stopped_container_and_unless_stopped_does_not()
    {
        var stopped = RestartTracker.OnManualStop(RestartRecord.Empty);
        Assert.True(RestartTracker.ShouldStartOnDaemonStart(Policy(RestartMode.Always), stopped));
        Assert.False(RestartTracker.ShouldStartOnDaemonStart(Policy(RestartMode.UnlessStopped), stopped));
        Assert.True(RestartTracker.ShouldStartOnDaemonStart(Policy(RestartMode.UnlessStopped), RestartRecord.Empty));
        Assert.False(RestartTracker.ShouldStartOnDaemonStart(Policy(RestartMode.No), RestartRecord.Empty));
        Assert.False(RestartTracker.ShouldStartOnDaemonStart(Policy(RestartMode.Always), RestartRecord.Empty with { GaveUp = true }));
    }

    [Fact]
    public void A_manual_start_resets_the_count_the_backoff_and_the_stop_flag()
    {
        var record = RestartRecord.Empty;
        FailRepeatedly(Policy(RestartMode.OnFailure, max: 2), 5, TimeSpan.FromMilliseconds(5), ref record);
        Assert.True(record.GaveUp);
        record = RestartTracker.OnManualStop(record);

        var fresh = RestartTracker.OnManualStart(record, T0);
        Assert.Equal(0, fresh.RestartCount);
        Assert.Equal(0, fresh.ConsecutiveFailures);
        Assert.False(fresh.ManuallyStopped);
        Assert.False(fresh.GaveUp);
        Assert.Equal(T0, fresh.StartedAt);
        Assert.Equal(1, fresh.LastExitCode);
        var d = Assert.IsType<RestartDecision.Restart>(RestartTracker.OnExit(Policy(RestartMode.OnFailure, max: 2), fresh, Exit(1, T0, TimeSpan.Zero), 0.0));
        Assert.Equal(TimeSpan.FromMilliseconds(100), d.Delay);
    }

    [Fact]
    public void Too_many_restarts_within_the_window_give_up_even_with_always()
    {
        // Three restarts allowed per 60 s sliding window; every run lasts 1 s and the backoff is flat 1 s.
        var flat = new BackoffSettings(TimeSpan.FromSeconds(1), 1.0, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), 0);
        var policy = Policy(RestartMode.Always, backoff: flat, storm: 3, windowSec: 60);
        var record = RestartRecord.Empty;
        var delays = FailRepeatedly(policy, 10, TimeSpan.FromSeconds(1), ref record);
        Assert.Equal(3, delays.Count);
        Assert.True(record.GaveUp);
    }

    [Fact]
    public void Restarts_that_left_the_window_no_longer_count()
    {
        var policy = Policy(RestartMode.Always, storm: 2, windowSec: 60);
        var record = RestartRecord.Empty with { RecentRestarts = [T0, T0.AddSeconds(1)] };
        var d = RestartTracker.OnExit(policy, record, Exit(1, T0.AddSeconds(100), TimeSpan.FromSeconds(1)), 0.0);
        var r = Assert.IsType<RestartDecision.Restart>(d);
        Assert.Single(r.Record.RecentRestarts);
    }

    [Fact]
    public void Jitter_stretches_the_delay_by_at_most_its_fraction()
    {
        var b = BackoffSettings.Docker with { Jitter = 0.5 };
        Assert.Equal(TimeSpan.FromMilliseconds(400), b.DelayFor(2, 0.0));
        Assert.Equal(TimeSpan.FromMilliseconds(500), b.DelayFor(2, 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(600), b.DelayFor(2, 1.0));
        // Jitter applies on top of the cap, never below it.
        Assert.Equal(TimeSpan.FromSeconds(90), b.DelayFor(40, 1.0));
    }

    [Fact]
    public void Huge_attempt_numbers_stay_at_the_cap()
    {
        Assert.Equal(TimeSpan.FromSeconds(60), BackoffSettings.Docker.DelayFor(10_000, 0));
    }

    [Theory]
    [InlineData("no", RestartMode.No, 0)]
    [InlineData("always", RestartMode.Always, 0)]
    [InlineData("unless-stopped", RestartMode.UnlessStopped, 0)]
    [InlineData("on-failure", RestartMode.OnFailure, 0)]
    [InlineData("on-failure:5", RestartMode.OnFailure, 5)]
    [InlineData(" On-Failure:2 ", RestartMode.OnFailure, 2)]
    public void Parses_docker_notation(string text, RestartMode mode, int max)
    {
        Assert.Equal((mode, max), RestartPolicy.ParseMode(text));
    }

    [Theory]
    [InlineData("always:3", "only valid with on-failure")]
    [InlineData("on-failure:-1", "non-negative")]
    [InlineData("on-failure:x", "non-negative")]
    [InlineData("sometimes", "unknown restart policy")]
    public void Rejects_bad_notation(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => RestartPolicy.ParseMode(text));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Validation_names_each_bad_backoff_value()
    {
        var bad = new BackoffSettings(TimeSpan.FromSeconds(-1), 0.5, TimeSpan.FromSeconds(-2), TimeSpan.FromSeconds(-1), 2);
        Assert.Equal(5, bad.Validate().Count);
        Assert.Empty(BackoffSettings.Docker.Validate());
        Assert.Empty(BackoffSettings.Kubernetes.Validate());
    }

    [Fact]
    public void Records_round_trip_through_the_store_atomically()
    {
        var root = Directory.CreateTempSubdirectory("restart-store").FullName;
        try
        {
            var store = new RestartStore(root);
            Assert.Null(store.Read("web"));
            var record = RestartRecord.Empty with
            {
                RestartCount = 4, ConsecutiveFailures = 2, ManuallyStopped = true, LastExitCode = 137, LastSignal = 9,
                LastFinishedAt = T0, StartedAt = T0.AddSeconds(-3), RecentRestarts = [T0.AddSeconds(-1)],
            };
            store.Write("web", record);
            var back = store.Read("web");
            Assert.NotNull(back);
            Assert.Equal(record.RestartCount, back.RestartCount);
            Assert.Equal(record.ManuallyStopped, back.ManuallyStopped);
            Assert.Equal(record.LastSignal, back.LastSignal);
            Assert.Equal(record.RecentRestarts, back.RecentRestarts);
            Assert.Empty(Directory.GetFiles(store.Dir, "*.tmp"));
            File.WriteAllText(store.PathOf("bad"), "{not json");
            Assert.Null(store.Read("bad"));
            store.Remove("web");
            Assert.Null(store.Read("web"));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
