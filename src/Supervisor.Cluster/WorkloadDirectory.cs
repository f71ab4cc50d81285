using Akka.Actor;
using Akka.DistributedData;

namespace Supervisor.Cluster;

/// <summary>
/// Looks a workload's replicated state up without going through its entity. Any message routed to a workload
/// id makes cluster sharding start that entity, and with remember-entities it is then remembered and started
/// again with its shard for good; a lookup of an id that is not a workload (the delete or state of an ordinary
/// container) must therefore not be routed. A majority read agrees with the entity's majority writes; when no
/// majority answers in time the local replica, which gossip keeps within a few seconds, has to do.
/// </summary>
public static class WorkloadDirectory
{
    /// <summary>The DistributedData key of workload <paramref name="id"/>'s state, written by its <see cref="WorkloadEntity"/>.</summary>
    public static LWWRegisterKey<WorkloadState> Key(string id) => new("workload-" + id);

    /// <summary>The workload's state, or null when there is none (never a workload, or its state is not known here yet).</summary>
    public static async Task<WorkloadState?> FindAsync(ActorSystem clusterSystem, string id, TimeSpan timeout)
    {
        var replicator = DistributedData.Get(clusterSystem).Replicator;
        var key = Key(id);
        var answer = await replicator.Ask<IGetResponse>(Dsl.Get(key, new ReadMajority(timeout)), timeout + TimeSpan.FromSeconds(1));
        if (answer is GetFailure)
            answer = await replicator.Ask<IGetResponse>(Dsl.Get(key, ReadLocal.Instance), timeout);
        return answer is GetSuccess found ? found.Get(key).Value : null;
    }
}
