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
    TimeSpan? MigrationTimeout = null);
