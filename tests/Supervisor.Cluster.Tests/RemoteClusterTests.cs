using Akka.Actor;
using System.Text.Json.Nodes;
using Supervisor.Cluster.Tests.Infrastructure;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Client;

namespace Supervisor.Cluster.Tests;

/// <summary>
/// The remote control plane of cluster nodes (see <see cref="ThreeNodes"/>): a run through one node's gateway
/// becomes a workload placed by its constraints, carrying the config that gateway checked; the node that runs
/// it checks it again against its own policy; list, state and container commands reach every node.
/// </summary>
public sealed partial class PlacementAndMigrationTests
{
    private RemoteControlClient Connect(int node, (string Cert, string Key) who) =>
        RemoteControlClient.Connect(new RemoteClientOptions("127.0.0.1", fixture.ControlPorts[node], who.Cert, who.Key, fixture.Pki.CaPath)
        {
            Timeout = TimeSpan.FromSeconds(150),
        });

    /// <summary>Sends until the node's control plane answers (it starts after the cluster member is up).</summary>
    private async Task<T> Send<T>(RemoteControlClient client, Command command) where T : IControlReply
    {
        IControlReply? reply = null;
        await Cluster.WaitAsync(TimeSpan.FromSeconds(60), $"an answer to {command.KindCase}", async () =>
        {
            try
            {
                reply = await client.Send(command);
                return true;
            }
            catch (RemoteControlException e)
            {
                output.WriteLine($"{command.KindCase}: {e.Message}; trying again");
                await Task.Delay(1000);
                return false;
            }
        });
        return Assert.IsType<T>(reply);
    }

    private static Command Run(string id, string bundle, Action<NodeConstraints>? constraints = null, string restart = "")
    {
        var run = new RunContainer { Id = id, Bundle = bundle };
        if (restart.Length > 0)
            run.Restart = new RestartPolicy { Policy = restart };
        if (constraints is not null)
        {
            run.Constraints = new NodeConstraints();
            constraints(run.Constraints);
        }
        return new Command { Run = run };
    }

    private static string CarriedBundle(DaemonNode node, string id) => Path.Combine(node.StateRoot, ".cluster", "bundles", id);

    [ClusterFact(Timeout = 300_000)]
    public async Task A_remote_run_on_a_cluster_node_lands_where_its_constraints_say_and_list_state_commands_and_delete_reach_it_there()
    {
        var bundle = new TestBundle("/bin/sleep", "1000");
        _cleanup.Add(bundle);
        var (n1, n2, n3) = (Cluster.Nodes[0], Cluster.Nodes[1], Cluster.Nodes[2]);
        await using var admin1 = Connect(0, fixture.Admin);
        await using var admin2 = Connect(1, fixture.Admin);

        // Pinned by label (node = n3) through node 1's gateway.
        var byLabel = await Send<RunContainerReply>(admin1, Run("rc-label", bundle.Dir, c => c.Labels["node"] = n3.Name));
        Assert.True(byLabel.Error is null, byLabel.Error?.Message + "\n" + Cluster.Logs());
        Assert.Equal(WorkloadPhases.Placed, byLabel.Phase);
        Assert.Equal(n3.Address, byLabel.Node);
        Assert.True(byLabel.Pid > 0 && File.Exists($"/proc/{byLabel.Pid}/status"), $"pid {byLabel.Pid} is not running");
        Assert.Contains("rc-label", n3.ListedIds());
        Assert.DoesNotContain("rc-label", n1.ListedIds());
        Assert.DoesNotContain("rc-label", n2.ListedIds());
        // Node 3 runs the config node 1 checked, from its own state root, with the rootfs path made absolute.
        var carried = JsonNode.Parse(File.ReadAllText(Path.Combine(CarriedBundle(n3, "rc-label"), "config.json")))!;
        Assert.Equal(Path.Combine(bundle.Dir, "rootfs"), carried["root"]!["path"]!.GetValue<string>());
        Assert.False(Directory.Exists(CarriedBundle(n1, "rc-label")));

        // Pinned by node name, which for a cluster node is its address; an admin's config passes node 2's policy.
        var byNode = await Send<RunContainerReply>(admin1, Run("rc-node", bundle.Dir, c => c.Node = n2.Address, restart: "no"));
        Assert.True(byNode.Error is null, byNode.Error?.Message);
        Assert.Equal(n2.Address, byNode.Node);
        Assert.Contains("rc-node", n2.ListedIds());

        // The id is taken cluster-wide.
        var again = await Send<RunContainerReply>(admin1, Run("rc-label", bundle.Dir));
        Assert.Equal(ErrorCode.AlreadyExists, again.Error?.Code);

        // Any node's list is the cluster's, each container with its node.
        foreach (var client in new[] { admin1, admin2 })
        {
            var list = await Send<ListContainersReply>(client, new Command { List = new ListContainers() });
            Assert.Null(list.Error);
            Assert.Empty(list.UnansweredNodes);
            Assert.Equal(n3.Address, Assert.Single(list.Containers, c => c.Id == "rc-label").Node);
            Assert.Equal(n2.Address, Assert.Single(list.Containers, c => c.Id == "rc-node").Node);
            Assert.All(list.Containers.Where(c => c.Id.StartsWith("rc-", StringComparison.Ordinal)), c => Assert.Equal("running", c.Status));
        }

        // State of a container on another node comes from that node.
        var state = await Send<GetStateReply>(admin1, new Command { GetState = new GetState { Id = "rc-label" } });
        Assert.Null(state.Error);
        Assert.Equal(n3.Address, state.State.Node);
        Assert.Equal("running", state.State.Status);
        Assert.Equal(byLabel.Pid, state.State.Pid);
        Assert.Equal(CarriedBundle(n3, "rc-label"), state.State.Bundle);

        // Pause, resume and kill through node 1 are carried out by the node that runs the container.
        Assert.Null((await Send<PauseContainerReply>(admin1, new Command { Pause = new PauseContainer { Id = "rc-label" } })).Error);
        Assert.Equal("paused", (await Send<GetStateReply>(admin2, new Command { GetState = new GetState { Id = "rc-label" } })).State.Status);
        Assert.Null((await Send<ResumeContainerReply>(admin1, new Command { Resume = new ResumeContainer { Id = "rc-label" } })).Error);
        Assert.Equal("running", (await Send<GetStateReply>(admin1, new Command { GetState = new GetState { Id = "rc-label" } })).State.Status);
        Assert.Null((await Send<KillContainerReply>(admin1, new Command { Kill = new KillContainer { Id = "rc-node", Signal = 9 } })).Error);
        await Cluster.WaitAsync(TimeSpan.FromSeconds(30), "rc-node stopped on node 2", async () =>
            (await Send<GetStateReply>(admin1, new Command { GetState = new GetState { Id = "rc-node" } })).State.Status == "stopped");
        // A command that is not forwarded says where the container is.
        var exec = await Send<ExecInContainerReply>(admin1, new Command { Exec = new ExecInContainer { Id = "rc-label", Args = { "/bin/true" } } });
        Assert.Equal(ErrorCode.FailedPrecondition, exec.Error?.Code);
        Assert.Contains($"runs on node {n3.Address}", exec.Error!.Message);

        // Delete through any node removes the workload wherever it runs, with the config its node wrote.
        Assert.Null((await Send<DeleteContainerReply>(admin1, new Command { Delete = new DeleteContainer { Id = "rc-label", Force = true } })).Error);
        Assert.DoesNotContain("rc-label", n3.ListedIds());
        Assert.False(Directory.Exists(CarriedBundle(n3, "rc-label")), "node 3 kept the workload's config");
        Assert.Equal(WorkloadPhases.Removed, (await Cluster.StatusAsync("rc-label")).Phase);
        Assert.Null((await Send<DeleteContainerReply>(admin2, new Command { Delete = new DeleteContainer { Id = "rc-node", Force = true } })).Error);
        Assert.DoesNotContain("rc-node", n2.ListedIds());
        var gone = await Send<GetStateReply>(admin1, new Command { GetState = new GetState { Id = "rc-node" } });
        Assert.Equal(ErrorCode.NotFound, gone.Error?.Code);
    }

    /// <summary>The workload entities a daemon's shard region hosts now.</summary>
    private async Task<HashSet<string>> HostedEntities(DaemonNode node)
    {
        var state = await Cluster.Client.ActorSelection(node.Address + "/system/sharding/" + WorkloadEntity.TypeName)
            .Ask<Akka.Cluster.Sharding.CurrentShardRegionState>(Akka.Cluster.Sharding.GetShardRegionState.Instance, TimeSpan.FromSeconds(15));
        return state.Shards.SelectMany(s => s.EntityIds).ToHashSet(StringComparer.Ordinal);
    }

    [ClusterFact(Timeout = 300_000)]
    public async Task Deleting_or_looking_up_an_id_that_is_no_workload_starts_no_workload_entity()
    {
        await using var admin1 = Connect(0, fixture.Admin);
        var state = await Send<GetStateReply>(admin1, new Command { GetState = new GetState { Id = "rc-nowhere" } });
        Assert.Equal(ErrorCode.NotFound, state.Error?.Code);
        var delete = await Send<DeleteContainerReply>(admin1, new Command { Delete = new DeleteContainer { Id = "rc-nowhere-2", Force = true } });
        Assert.NotNull(delete.Error);

        // The check can see entities: asking the workload region about an id starts its entity somewhere.
        Assert.Equal(WorkloadPhases.Removed, (await Cluster.StatusAsync("rc-asked")).Phase);
        var hosted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in Cluster.Nodes)
            hosted.UnionWith(await HostedEntities(node));
        Assert.Contains("rc-asked", hosted);
        Assert.DoesNotContain("rc-nowhere", hosted);
        Assert.DoesNotContain("rc-nowhere-2", hosted);
    }

    [ClusterFact(Timeout = 300_000)]
    public async Task An_operators_run_is_checked_by_the_receiving_node_and_again_by_the_node_that_would_run_it()
    {
        var bundle = new TestBundle("/bin/sleep", "1000");
        _cleanup.Add(bundle);
        var (n1, n2, n3) = (Cluster.Nodes[0], Cluster.Nodes[1], Cluster.Nodes[2]);
        await using var op = Connect(0, fixture.Operator);

        // A privileged config is refused by node 1's gateway before anything exists anywhere.
        var privileged = new TestBundle("/bin/sleep", "1000");
        _cleanup.Add(privileged);
        var configPath = Path.Combine(privileged.Dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["process"]!["capabilities"]!["bounding"]!.AsArray().Add("CAP_SYS_ADMIN");
        File.WriteAllText(configPath, config.ToJsonString());
        var refused = await Send<RunContainerReply>(op, Run("rc-priv", privileged.Dir));
        Assert.Equal(ErrorCode.PermissionDenied, refused.Error?.Code);
        Assert.Contains("CAP_SYS_ADMIN", refused.Error!.Message);
        Assert.Equal(WorkloadPhases.Removed, (await Cluster.StatusAsync("rc-priv")).Phase);
        Assert.DoesNotContain((await Cluster.ListAsync(n1)).Containers, c => c.Id == "rc-priv");
        Assert.All(Cluster.Nodes, n => Assert.False(Directory.Exists(CarriedBundle(n, "rc-priv"))));

        // Pinned to node 2, whose policy does not allow the rootfs: node 2 refuses it, so it waits (a success
        // with phase pending and node 2's reason), and nothing of it exists on any node.
        var pending = await Send<RunContainerReply>(op, Run("rc-pend", bundle.Dir, c => c.Node = n2.Address));
        Assert.True(pending.Error is null, pending.Error?.Message);
        Assert.Equal(WorkloadPhases.Pending, pending.Phase);
        Assert.Contains($"{n2.Address} refused: operator certificate: rootfs {Path.Combine(bundle.Dir, "rootfs")} is outside the allowed bundle roots", pending.Reason);
        Assert.DoesNotContain((await Cluster.ListAsync(n1)).Containers, c => c.Id == "rc-pend");
        Assert.False(Directory.Exists(CarriedBundle(n2, "rc-pend")));
        var pendingState = await Send<GetStateReply>(op, new Command { GetState = new GetState { Id = "rc-pend" } });
        Assert.Contains("is pending", pendingState.Error?.Message);
        Assert.Null((await Send<DeleteContainerReply>(op, new Command { Delete = new DeleteContainer { Id = "rc-pend" } })).Error);
        Assert.Equal(WorkloadPhases.Removed, (await Cluster.StatusAsync("rc-pend")).Phase);

        // In pool b (nodes 2 and 3) every operator workload runs on node 3. Placement goes by load, so runs go
        // on until node 2 has been tried (and refused) at least once.
        var ids = new List<string>();
        for (int i = 1; i <= 8; i++)
        {
            var id = "rc-pool-" + i;
            ids.Add(id);
            var r = await Send<RunContainerReply>(op, Run(id, bundle.Dir, c => c.Labels["pool"] = "b"));
            Assert.True(r.Error is null, r.Error?.Message);
            Assert.True(r.Phase == WorkloadPhases.Placed, $"{id}: {r.Phase} {r.Reason}");
            Assert.Equal(n3.Address, r.Node);
            Assert.Contains(id, n3.ListedIds());
            Assert.DoesNotContain(id, n2.ListedIds());
            if (n2.Output().Contains($"workload {id}: refused on this node", StringComparison.Ordinal))
                break;
        }
        Assert.Contains(ids, id => n2.Output().Contains($"workload {id}: refused on this node: operator certificate: rootfs", StringComparison.Ordinal));
        Assert.All(ids, id => Assert.False(Directory.Exists(CarriedBundle(n2, id)), $"node 2 kept the config of {id}"));

        foreach (var id in ids)
            Assert.Null((await Send<DeleteContainerReply>(op, new Command { Delete = new DeleteContainer { Id = id, Force = true } })).Error);
        Assert.Empty(n3.ListedIds().Intersect(ids));
    }

    [ClusterFact(Timeout = 300_000)]
    public async Task A_migrated_remote_workload_takes_its_checked_config_along_and_the_target_admits_it_first()
    {
        var bundle = new TestBundle("/bin/sh", "-c", CounterScript);
        _cleanup.Add(bundle);
        var (n1, n2) = (Cluster.Nodes[0], Cluster.Nodes[1]);
        await using var admin = Connect(2, fixture.Admin);
        await using var op = Connect(0, fixture.Operator);

        // An operator's workload on node 1 cannot move to node 2, whose policy refuses its rootfs: node 2 says
        // so before the source dumps anything, and the counter goes on on node 1.
        var opRun = await Send<RunContainerReply>(op, Run("rc-opmig", bundle.Dir, c => c.Node = n1.Address, restart: "always"));
        Assert.True(opRun.Error is null && opRun.Phase == WorkloadPhases.Placed, opRun.Error?.Message + opRun.Reason);
        var before = await WaitCounterAbove(bundle, 10);
        var refused = await Send<MigrateContainerReply>(op, new Command { Migrate = new MigrateContainer { Id = "rc-opmig", ToNode = n2.Address } });
        Assert.Equal(ErrorCode.FailedPrecondition, refused.Error?.Code);
        Assert.Contains("refused: operator certificate: rootfs", refused.Error!.Message);
        Assert.Contains($"it runs on {n1.Address}", refused.Error.Message);
        Assert.True(await WaitCounterAbove(bundle, before + 5) > before);
        Assert.False(Directory.Exists(CarriedBundle(n2, "rc-opmig")), "node 2 kept the refused config");
        Assert.Null((await Send<DeleteContainerReply>(op, new Command { Delete = new DeleteContainer { Id = "rc-opmig", Force = true } })).Error);
        Assert.DoesNotContain("rc-opmig", n1.ListedIds());

        // An admin's workload moves: node 2 writes the carried config to its own state root and restores from it.
        var run = await Send<RunContainerReply>(admin, Run("rc-mig", bundle.Dir, c => c.Node = n1.Address, restart: "always"));
        Assert.True(run.Error is null && run.Node == n1.Address, run.Error?.Message + run.Reason);
        var start = Counter(bundle);
        await WaitCounterAbove(bundle, start + 10);
        var moved = await Send<MigrateContainerReply>(admin, new Command { Migrate = new MigrateContainer { Id = "rc-mig", ToNode = n2.Address } });
        Assert.True(moved.Error is null, moved.Error?.Message + "\n" + Cluster.Logs());
        Assert.Equal(n2.Address, moved.ToNode);
        var atDump = Counter(bundle);
        Assert.True(await WaitCounterAbove(bundle, atDump + 10) > atDump);
        Assert.True(File.Exists(Path.Combine(CarriedBundle(n2, "rc-mig"), "config.json")));
        Assert.False(Directory.Exists(CarriedBundle(n1, "rc-mig")), "the source kept the moved workload's config");
        var state = await Send<GetStateReply>(admin, new Command { GetState = new GetState { Id = "rc-mig" } });
        Assert.Equal(n2.Address, state.State.Node);
        Assert.Equal(CarriedBundle(n2, "rc-mig"), state.State.Bundle);
        Assert.Equal("running", state.State.Status);

        Assert.Null((await Send<DeleteContainerReply>(admin, new Command { Delete = new DeleteContainer { Id = "rc-mig", Force = true } })).Error);
        Assert.DoesNotContain("rc-mig", n2.ListedIds());
        Assert.False(Directory.Exists(CarriedBundle(n2, "rc-mig")));
    }
}
