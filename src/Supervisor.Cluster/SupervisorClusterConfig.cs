using System.Globalization;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Configuration;

namespace Supervisor.Cluster;

/// <summary>The Akka configuration a daemon (or a client of the cluster) needs, derived from <see cref="ClusterSettings"/>.</summary>
public static class SupervisorClusterConfig
{
    /// <summary>
    /// The largest frame the cluster transport carries (Akka's default is 128000 bytes). DistributedData's gossip
    /// sends up to <see cref="GossipEntriesPerMessage"/> workload states in one message when a replica catches up
    /// (a node that joins or comes back), and a workload from a remote run carries its checked config (up to
    /// <see cref="WorkloadLimits.MaxConfigBytes"/>); a frame over the limit is dropped by the receiver, and the
    /// replica would never converge. The cluster transport is node-to-node on a private network, unlike the
    /// mutual-TLS control plane, which keeps its own small frame.
    /// </summary>
    public const int FrameSizeBytes = 1024 * 1024;

    /// <summary>
    /// Entries per gossip message (DistributedData's max-delta-elements, 500 by default): the rest follows in the
    /// next gossip rounds. 10 states of the largest size fit a frame with room to spare (SettingsTests checks it).
    /// </summary>
    public const int GossipEntriesPerMessage = 10;

    /// <summary>
    /// Remoting on the node's address, the cluster with its seeds and roles, the split-brain resolver, sharding
    /// of the workload entities (state and remembered entities in DistributedData, no idle passivation) and the
    /// binding of <see cref="IClusterMessage"/> to <see cref="ClusterMessageSerializer"/>.
    /// DistributedData is kept in memory (no LMDB durable store): the daemon ships as a single file without
    /// LMDB's native library, and replicas on the surviving nodes carry the state through the loss of any
    /// minority; only a restart of the whole cluster forgets the workloads (their containers keep running on
    /// their nodes and are re-adopted by each node's supervisor).
    /// </summary>
    public static Config ForNode(ClusterSettings s)
    {
        var seeds = s.SeedNodes.Count > 0 ? s.SeedNodes : [s.SelfAddress];
        return ConfigurationFactory.ParseString(Common(s.Hostname, s.Port, seeds, s.AllRoles, s.StableAfter, s.DownAllWhenUnstable,
            s.SplitBrainStrategy, s.AcceptableHeartbeatPause) + $$"""
            akka.cluster.sharding {
              role = "{{ClusterSettings.NodeRole}}"
              state-store-mode = ddata
              remember-entities = on
              remember-entities-store = ddata
              passivate-idle-entity-after = off
              distributed-data.durable.keys = []
            }
            # Workload state replicates among the daemons only: a client member runs no replicator, and
            # counting it would make majority writes and gossip rounds go to nobody.
            akka.cluster.distributed-data.role = "{{ClusterSettings.NodeRole}}"
            """);
    }

    /// <summary>
    /// A member that runs no containers (a test driver, a gateway): same transport, serializer and resolver,
    /// with <paramref name="role"/> instead of the daemon role, so it hosts no workload entities and is never
    /// chosen for placement. Use <see cref="StartWorkloadProxy"/> to talk to the workloads.
    /// </summary>
    public static Config ForClient(IReadOnlyList<string> seedNodes, string hostname = "127.0.0.1", int port = 0, string role = "client",
        TimeSpan? stableAfter = null, TimeSpan? acceptableHeartbeatPause = null) =>
        ConfigurationFactory.ParseString(Common(hostname, port, seedNodes, [role], stableAfter ?? TimeSpan.FromSeconds(20), true,
            "keep-majority", acceptableHeartbeatPause ?? TimeSpan.FromSeconds(3)));

    /// <summary>A proxy of the workload region for a node without the daemon role.</summary>
    public static IActorRef StartWorkloadProxy(ActorSystem system, int numberOfShards = 30) =>
        ClusterSharding.Get(system).StartProxy(WorkloadEntity.TypeName, ClusterSettings.NodeRole, new WorkloadMessageExtractor(numberOfShards));

    private static string Common(string hostname, int port, IReadOnlyList<string> seeds, IReadOnlyList<string> roles, TimeSpan stableAfter,
        bool downAllWhenUnstable, string strategy, TimeSpan heartbeatPause) => $$"""
        akka.actor.provider = cluster
        akka.actor.serializers.supervisor-cluster = "{{typeof(ClusterMessageSerializer).FullName}}, {{typeof(ClusterMessageSerializer).Assembly.GetName().Name}}"
        akka.actor.serialization-bindings {
          "{{typeof(IClusterMessage).FullName}}, {{typeof(IClusterMessage).Assembly.GetName().Name}}" = supervisor-cluster
        }
        akka.remote.dot-netty.tcp {
          hostname = {{Quote(hostname)}}
          port = {{port.ToString(CultureInfo.InvariantCulture)}}
          maximum-frame-size = {{FrameSizeBytes.ToString(CultureInfo.InvariantCulture)}}b
        }
        akka.cluster {
          seed-nodes = [{{string.Join(", ", seeds.Select(Quote))}}]
          roles = [{{string.Join(", ", roles.Select(Quote))}}]
          downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
          split-brain-resolver {
            active-strategy = {{strategy}}
            stable-after = {{Ms(stableAfter)}}
            down-all-when-unstable = {{(downAllWhenUnstable ? "on" : "off")}}
          }
          failure-detector.acceptable-heartbeat-pause = {{Ms(heartbeatPause)}}
        }
        akka.cluster.distributed-data.durable.keys = []
        akka.cluster.distributed-data.max-delta-elements = {{GossipEntriesPerMessage.ToString(CultureInfo.InvariantCulture)}}

        """;

    private static string Ms(TimeSpan t) => ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
