using System.Text.Json;

namespace Supervisor.Cluster;

/// <summary>What a workload's desired state may hold, so that it always fits the cluster's replication.</summary>
public static class WorkloadLimits
{
    /// <summary>
    /// The largest checked config a workload may carry, measured as it is replicated: as a JSON string inside
    /// the workload's state, where every quote and non-ASCII character is escaped (a quote takes six bytes).
    /// The state goes to every daemon, and <see cref="SupervisorClusterConfig.GossipEntriesPerMessage"/> states
    /// must fit one cluster frame. A default `supervisor spec` config with its seccomp profile takes about 15 KiB.
    /// </summary>
    public const int MaxConfigBytes = 64 * 1024;

    /// <summary>The size of <paramref name="config"/> as a string in the replicated state's JSON.</summary>
    public static int ReplicatedSize(string config) => JsonSerializer.SerializeToUtf8Bytes(config, ClusterJsonContext.Default.String).Length;

    /// <summary>Null when the spec fits; otherwise one line saying why not.</summary>
    public static string? Check(WorkloadSpec spec)
    {
        if (spec.Config is { } config && ReplicatedSize(config) is var bytes && bytes > MaxConfigBytes)
            return $"the config of workload {spec.Id} takes {bytes} bytes in the replicated state; a workload's config goes to every node and may take at most {MaxConfigBytes}";
        return null;
    }
}
