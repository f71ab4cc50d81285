using Akka.Actor;
using Supervisor.Actors.Restart;
using Supervisor.Remote.Policy;
using Supervisor.Remote.Security;

namespace Supervisor.Remote.Gateway;

/// <summary>What the <see cref="ControlGateway"/> needs besides the supervisor.</summary>
/// <param name="BundleDir">Where the gateway writes the checked config of each container it runs (one directory per id).</param>
/// <param name="NodeName">This daemon's name in replies and events (and what NodeConstraints.node must name).</param>
/// <param name="DefaultRestart">The daemon's restart policy, whose backoff a requested policy mode is combined with.</param>
/// <param name="AskTimeout">How long a command may take in the supervisor before the reply says timeout.</param>
/// <param name="Workloads">On a cluster node, the workload shard region: run and delete go to the cluster's workloads.</param>
/// <param name="NodeAgent">On a cluster node, this node's agent: the cluster-wide list.</param>
/// <param name="ClusterSystem">On a cluster node, the supervisor's (cluster) ActorSystem, through which other nodes' agents are reached.</param>
public sealed record ControlGatewaySettings(
    RequestAuthenticator Authenticator,
    ControlPolicy Policy,
    IContainerInspector Inspector,
    string BundleDir,
    string NodeName,
    RestartPolicy DefaultRestart,
    TimeSpan AskTimeout,
    int DedupCapacity,
    TimeSpan DedupWindow,
    int MaxSubscriptions,
    IActorRef? Workloads = null,
    TimeSpan? MigrationTimeout = null,
    IActorRef? NodeAgent = null,
    ActorSystem? ClusterSystem = null);
