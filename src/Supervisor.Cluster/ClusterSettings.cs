using Akka.Configuration;

namespace Supervisor.Cluster;

/// <summary>The <c>supervisor.cluster</c> section, typed. Built from a <see cref="Config"/>, so it is testable without an ActorSystem.</summary>
public sealed record ClusterSettings(
    bool Enabled,
    string Hostname,
    int Port,
    IReadOnlyList<string> SeedNodes,
    IReadOnlyList<string> Roles,
    IReadOnlyDictionary<string, string> Labels,
    TimeSpan LoadInterval,
    long MemoryCapacity,
    TimeSpan PlaceTimeout,
    int NumberOfShards,
    string SplitBrainStrategy,
    TimeSpan StableAfter,
    bool DownAllWhenUnstable,
    TimeSpan AcceptableHeartbeatPause,
    string? MigrationSharedPath,
    int ChunkSize,
    TimeSpan MigrationTimeout,
    TimeSpan DecideTimeout)
{
    public const string ReferenceResource = "Supervisor.Cluster.reference.conf";

    /// <summary>The actor system's name on every node: seed-node addresses name it.</summary>
    public const string SystemName = "supervisor";

    /// <summary>The role every daemon has: it runs containers and hosts workload entities.</summary>
    public const string NodeRole = "supervisor";

    public static Config DefaultConfig() => ConfigurationFactory.FromResource(ReferenceResource, typeof(ClusterSettings).Assembly);

    /// <summary>Reads <c>supervisor.cluster</c> from <paramref name="root"/> over the reference defaults; throws
    /// <see cref="ConfigurationException"/> naming the key on a bad value.</summary>
    public static ClusterSettings Create(Config root)
    {
        var c = root.WithFallback(DefaultConfig()).GetConfig("supervisor.cluster");
        var port = c.GetInt("port", 4055);
        if (port is < 0 or > 65535)
            throw new ConfigurationException($"supervisor.cluster.port: {port} is not a TCP port");
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (c.HasPath("labels"))
        {
            foreach (var (key, value) in c.GetConfig("labels").AsEnumerable())
                labels[key] = value.GetString();
        }
        var roles = c.GetStringList("roles", []).Where(r => !string.IsNullOrWhiteSpace(r)).Distinct(StringComparer.Ordinal).ToList();
        var seeds = c.GetStringList("seed-nodes", []).ToList();
        foreach (var s in seeds)
        {
            if (!s.StartsWith("akka.tcp://" + SystemName + "@", StringComparison.Ordinal))
                throw new ConfigurationException($"supervisor.cluster.seed-nodes: \"{s}\" is not akka.tcp://{SystemName}@HOST:PORT");
        }
        var strategy = c.GetString("split-brain-resolver.active-strategy", "keep-majority");
        if (strategy is not ("keep-majority" or "keep-oldest" or "static-quorum" or "down-all"))
            throw new ConfigurationException($"supervisor.cluster.split-brain-resolver.active-strategy: \"{strategy}\" is not keep-majority, keep-oldest, static-quorum or down-all");
        var interval = c.GetTimeSpan("load-interval", TimeSpan.FromSeconds(1));
        if (interval <= TimeSpan.Zero)
            throw new ConfigurationException("supervisor.cluster.load-interval must be positive");
        var shards = c.GetInt("sharding.number-of-shards", 30);
        if (shards < 1)
            throw new ConfigurationException("supervisor.cluster.sharding.number-of-shards must be at least 1");
        var chunk = c.GetByteSize("migration.chunk-size") ?? 64 * 1024;
        if (chunk is < 1024 or > 512 * 1024)
            throw new ConfigurationException("supervisor.cluster.migration.chunk-size must be between 1KiB and 512KiB (base64 in a 1MiB cluster frame)");
        var shared = c.GetString("migration.shared-path", "");
        var decide = c.GetTimeSpan("decide-timeout", TimeSpan.FromSeconds(3));
        if (decide <= TimeSpan.Zero)
            throw new ConfigurationException("supervisor.cluster.decide-timeout must be positive");
        return new ClusterSettings(
            c.GetBoolean("enabled", false),
            c.GetString("hostname", "127.0.0.1"),
            port,
            seeds,
            roles,
            labels,
            interval,
            c.GetByteSize("memory-capacity") ?? 0,
            c.GetTimeSpan("place-timeout", TimeSpan.FromSeconds(60)),
            shards,
            strategy,
            c.GetTimeSpan("split-brain-resolver.stable-after", TimeSpan.FromSeconds(20)),
            c.GetBoolean("split-brain-resolver.down-all-when-unstable", true),
            c.GetTimeSpan("failure-detector.acceptable-heartbeat-pause", TimeSpan.FromSeconds(3)),
            string.IsNullOrWhiteSpace(shared) ? null : Path.GetFullPath(shared),
            (int)chunk,
            c.GetTimeSpan("migration.timeout", TimeSpan.FromSeconds(120)),
            decide);
    }

    /// <summary>This node's own address as other nodes name it.</summary>
    public string SelfAddress => $"akka.tcp://{SystemName}@{Hostname}:{Port}";

    /// <summary>Every role of this node: <see cref="NodeRole"/> and the configured ones.</summary>
    public IReadOnlyList<string> AllRoles => [NodeRole, .. Roles.Where(r => r != NodeRole)];
}
