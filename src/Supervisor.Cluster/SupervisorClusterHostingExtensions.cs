using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Hosting;
using Supervisor.Actors;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;

namespace Supervisor.Cluster;

/// <summary>Registry key of the workload shard region (<c>IRequiredActor&lt;WorkloadRegion&gt;</c>).</summary>
public sealed class WorkloadRegion;

public static class SupervisorClusterHostingExtensions
{
    /// <summary>
    /// Makes the daemon a cluster node when <c>supervisor.cluster.enabled</c> is on in <paramref name="site"/>;
    /// otherwise it adds nothing and the daemon stays a single node. Call it after
    /// <c>WithContainerSupervisor</c>: the node agent drives the <see cref="ContainerSupervisor"/> registered there.
    /// Starts the <see cref="NodeAgent"/> (registered under its type) and the workload shard region (registered
    /// under <see cref="WorkloadRegion"/>). <paramref name="admission"/> decides which workloads this node runs
    /// (default: <see cref="TrustedOnlyAdmission"/>); a daemon with a remote-control policy passes one backed by it.
    /// </summary>
    public static AkkaConfigurationBuilder WithSupervisorCluster(this AkkaConfigurationBuilder builder, Config site, SupervisorSettings supervisor,
        IWorkloadAdmission? admission = null)
    {
        var settings = ClusterSettings.Create(site);
        if (!settings.Enabled)
            return builder;
        return builder.WithSupervisorCluster(settings, supervisor, admission);
    }

    public static AkkaConfigurationBuilder WithSupervisorCluster(this AkkaConfigurationBuilder builder, ClusterSettings settings, SupervisorSettings supervisor,
        IWorkloadAdmission? admission = null)
    {
        builder.AddHocon(SupervisorClusterConfig.ForNode(settings), HoconAddMode.Prepend);
        // The fencing task (see NodeAgent) stops the node's cluster containers in this phase; Akka's 5 s default
        // is shorter than a container's stop timeout.
        var fence = supervisor.StopTimeout + TimeSpan.FromSeconds(15);
        builder.AddHocon($"akka.coordinated-shutdown.phases.before-cluster-shutdown.timeout = {(long)fence.TotalMilliseconds}ms", HoconAddMode.Prepend);
        return builder.WithActors((system, registry) =>
        {
            var containers = registry.Get<ContainerSupervisor>();
            var runtime = new LinuxContainerRuntime(new RuntimeOptions { StateRoot = supervisor.StateRoot, ShimPath = supervisor.ShimPath });
            var agent = system.ActorOf(NodeAgent.Props(settings, supervisor, containers, runtime, admission), NodeAgent.Name);
            registry.Register<NodeAgent>(agent);
            var sharding = ClusterSharding.Get(system);
            var region = sharding.Start(
                WorkloadEntity.TypeName,
                id => WorkloadEntity.Props(id, settings, agent),
                ClusterShardingSettings.Create(system).WithRole(ClusterSettings.NodeRole).WithRememberEntities(true),
                new WorkloadMessageExtractor(settings.NumberOfShards));
            registry.Register<WorkloadRegion>(region);
        });
    }
}
