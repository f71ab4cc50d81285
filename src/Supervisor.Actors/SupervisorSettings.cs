using Akka.Configuration;
using Supervisor.Actors.Restart;

namespace Supervisor.Actors;

/// <summary>What the daemon does with running containers when it shuts down.</summary>
public enum ShutdownPolicy
{
    /// <summary>Containers keep running under their shims; the next daemon re-adopts them.</summary>
    LeaveRunning,
    /// <summary>Containers are stopped (SIGTERM, then SIGKILL after the stop timeout).</summary>
    Stop,
}

/// <summary>One container the daemon keeps running.</summary>
/// <param name="Checkpoint">A periodic CRIU checkpoint of the running container, or null for none.</param>
public sealed record ContainerSpec(string Id, string Bundle, RestartPolicy Restart, PeriodicCheckpoint? Checkpoint = null);

/// <summary>A container checkpointed every <see cref="Interval"/> into <c>ImageRoot/&lt;id&gt;</c> (each dump replaces the last).</summary>
public sealed record PeriodicCheckpoint(TimeSpan Interval, string ImageRoot, bool LeaveRunning);

/// <summary>Checkpoint defaults: how long a CRIU job may take, and where periodic checkpoints go.</summary>
/// <param name="ImageRoot">Empty: <c>&lt;state-root&gt;/.checkpoints</c>.</param>
public sealed record CheckpointSettings(TimeSpan Timeout, string ImageRoot, bool LeaveRunning, TimeSpan Interval);

/// <summary>Backoff and limits for restarting a faulty container actor (not its container).</summary>
public sealed record ActorRestartSettings(int MaxRestarts, TimeSpan Window, TimeSpan MinBackoff, TimeSpan MaxBackoff)
{
    public TimeSpan BackoffFor(int restarts) =>
        new BackoffSettings(MinBackoff, 2.0, MaxBackoff, TimeSpan.MaxValue, 0).DelayFor(Math.Max(0, restarts - 1), 0);
}

/// <summary>The <c>supervisor</c> section of the configuration, typed. Built from a <see cref="Config"/>, so it is testable without an ActorSystem.</summary>
public sealed record SupervisorSettings(
    string StateRoot,
    string? ShimPath,
    string? CriuPath,
    ShutdownPolicy ShutdownPolicy,
    TimeSpan StopTimeout,
    TimeSpan StatsInterval,
    int StatsHistory,
    RestartPolicy DefaultRestart,
    ActorRestartSettings ActorRestart,
    IReadOnlyList<ContainerSpec> Containers,
    CheckpointSettings Checkpoint,
    TimeSpan ReconcileInterval)
{
    public const string ReferenceResource = "Supervisor.Actors.reference.conf";

    /// <summary>The embedded reference.conf (every default, commented).</summary>
    public static Config DefaultConfig() => ConfigurationFactory.FromResource(ReferenceResource, typeof(SupervisorSettings).Assembly);

    /// <summary>Reads <c>supervisor { ... }</c> from <paramref name="root"/>, falling back to the reference defaults.
    /// Throws <see cref="ConfigurationException"/> with the offending key on a bad value.</summary>
    public static SupervisorSettings Create(Config root)
    {
        var c = root.WithFallback(DefaultConfig()).GetConfig("supervisor");
        var defaultRestart = ReadRestart(c.GetConfig("restart"), null, "supervisor.restart");
        var stateRoot = c.GetString("state-root", Supervisor.Runtime.RuntimeOptions.DefaultStateRoot);
        var checkpoint = ReadCheckpoint(c.GetConfig("checkpoint"), stateRoot, "supervisor.checkpoint");
        var containers = new List<ContainerSpec>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int index = 0;
        foreach (var item in c.GetValue("containers")?.GetArray() ?? [])
        {
            var where = $"supervisor.containers[{index++}]";
            var cc = new Config(new Akka.Configuration.Hocon.HoconRoot(item));
            var id = cc.GetString("id", "");
            var bundle = cc.GetString("bundle", "");
            if (string.IsNullOrWhiteSpace(id))
                throw new ConfigurationException($"{where}: id is required");
            if (string.IsNullOrWhiteSpace(bundle))
                throw new ConfigurationException($"{where} ({id}): bundle is required");
            if (!seen.Add(id))
                throw new ConfigurationException($"{where}: container id {id} appears twice");
            var restart = cc.HasPath("restart")
                ? ReadRestart(cc.GetConfig("restart").WithFallback(c.GetConfig("restart")), defaultRestart, $"{where}.restart")
                : defaultRestart;
            var cp = cc.HasPath("checkpoint")
                ? ReadCheckpoint(cc.GetConfig("checkpoint").WithFallback(c.GetConfig("checkpoint")), stateRoot, $"{where}.checkpoint")
                : checkpoint;
            var periodic = cp.Interval > TimeSpan.Zero ? new PeriodicCheckpoint(cp.Interval, cp.ImageRoot, cp.LeaveRunning) : null;
            containers.Add(new ContainerSpec(id, Path.GetFullPath(bundle), restart, periodic));
        }

        var shutdown = c.GetString("shutdown-policy", "leave-running").ToLowerInvariant() switch
        {
            "leave-running" => ShutdownPolicy.LeaveRunning,
            "stop" => ShutdownPolicy.Stop,
            var other => throw new ConfigurationException($"supervisor.shutdown-policy: \"{other}\" is not leave-running or stop"),
        };
        var history = c.GetInt("stats.history", 30);
        if (history < 1)
            throw new ConfigurationException("supervisor.stats.history must be at least 1");
        var interval = c.GetTimeSpan("stats.interval", TimeSpan.FromSeconds(10));
        if (interval <= TimeSpan.Zero)
            throw new ConfigurationException("supervisor.stats.interval must be positive");
        var actor = new ActorRestartSettings(
            c.GetInt("actor-restart.max-restarts", 10),
            c.GetTimeSpan("actor-restart.window", TimeSpan.FromMinutes(1)),
            c.GetTimeSpan("actor-restart.min-backoff", TimeSpan.FromMilliseconds(100)),
            c.GetTimeSpan("actor-restart.max-backoff", TimeSpan.FromSeconds(10)));
        var reconcile = c.GetTimeSpan("reconcile-interval", TimeSpan.FromSeconds(5));
        if (reconcile <= TimeSpan.Zero)
            throw new ConfigurationException("supervisor.reconcile-interval must be positive");
        return new SupervisorSettings(
            stateRoot,
            NullIfEmpty(c.GetString("shim-path", "")),
            NullIfEmpty(c.GetString("criu-path", "")),
            shutdown,
            c.GetTimeSpan("stop-timeout", TimeSpan.FromSeconds(10)),
            interval,
            history,
            defaultRestart,
            actor,
            containers,
            checkpoint,
            reconcile);
    }

    private static CheckpointSettings ReadCheckpoint(Config c, string stateRoot, string where)
    {
        var timeout = c.GetTimeSpan("timeout", TimeSpan.FromMinutes(5));
        if (timeout <= TimeSpan.Zero)
            throw new ConfigurationException($"{where}.timeout must be positive");
        var interval = c.GetTimeSpan("interval", TimeSpan.Zero);
        if (interval < TimeSpan.Zero)
            throw new ConfigurationException($"{where}.interval must not be negative");
        var imageRoot = c.GetString("image-root", "");
        imageRoot = string.IsNullOrWhiteSpace(imageRoot) ? Path.Combine(stateRoot, ".checkpoints") : Path.GetFullPath(imageRoot);
        return new CheckpointSettings(timeout, imageRoot, c.GetBoolean("leave-running", true), interval);
    }

    private static string? NullIfEmpty(string s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private static RestartPolicy ReadRestart(Config r, RestartPolicy? fallback, string where)
    {
        RestartMode mode;
        int max;
        try
        {
            (mode, max) = RestartPolicy.ParseMode(r.GetString("policy", "no"));
        }
        catch (FormatException e)
        {
            throw new ConfigurationException($"{where}.policy: {e.Message}");
        }
        var maxRetries = r.GetInt("max-retries", 0);
        if (maxRetries < 0)
            throw new ConfigurationException($"{where}.max-retries must not be negative");
        if (maxRetries > 0 && mode != RestartMode.OnFailure)
            throw new ConfigurationException($"{where}.max-retries is only valid with policy on-failure");
        if (max == 0)
            max = maxRetries;

        BackoffSettings profile;
        try
        {
            profile = BackoffSettings.ForProfile(r.GetString("profile", "docker"));
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"{where}.profile: {e.Message.Split(" (Parameter")[0]}");
        }
        var backoff = new BackoffSettings(
            r.HasPath("initial-delay") ? r.GetTimeSpan("initial-delay") : profile.Initial,
            r.HasPath("multiplier") ? r.GetDouble("multiplier") : profile.Multiplier,
            r.HasPath("max-delay") ? r.GetTimeSpan("max-delay") : profile.Max,
            r.HasPath("reset-after") ? r.GetTimeSpan("reset-after") : profile.ResetAfter,
            r.GetDouble("jitter", 0.0));
        var problems = backoff.Validate();
        if (problems.Count > 0)
            throw new ConfigurationException($"{where}: {problems[0]}");
        var storm = r.GetInt("max-restarts-in-window", fallback?.MaxRestartsInWindow ?? 0);
        var window = r.GetTimeSpan("window", fallback?.Window ?? TimeSpan.FromSeconds(60));
        return new RestartPolicy(mode, max, backoff, storm, window);
    }
}
