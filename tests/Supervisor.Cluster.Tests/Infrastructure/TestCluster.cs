using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Supervisor.Cluster;

namespace Supervisor.Cluster.Tests.Infrastructure;

/// <summary>
/// N daemons as separate processes (the first is the seed) and a test-side actor system that joins their
/// cluster with the role "client": it hosts no workloads, talks to them through a shard region proxy, and
/// asks any node's agent for the cluster-wide list.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private TestCluster(IReadOnlyList<DaemonNode> nodes, ActorSystem client, IActorRef workloads)
    {
        Nodes = nodes;
        Client = client;
        Workloads = workloads;
    }

    public IReadOnlyList<DaemonNode> Nodes { get; }
    public ActorSystem Client { get; }
    public IActorRef Workloads { get; }

    public static async Task<TestCluster> StartAsync(int count, Func<int, string>? extraHocon = null)
    {
        var ports = Enumerable.Range(0, count).Select(_ => Shell.FreePort()).ToList();
        var seed = $"akka.tcp://supervisor@127.0.0.1:{ports[0]}";
        var nodes = ports.Select((p, i) => new DaemonNode("n" + (i + 1), p, seed, extraHocon?.Invoke(i) ?? "")).ToList();
        nodes[0].Start();
        foreach (var n in nodes.Skip(1))
            n.Start();
        // The client joins once the seed listens, which keeps connection-refused noise out of the test log.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline && !Listening(ports[0]))
            await Task.Delay(100);
        var client = ActorSystem.Create(ClusterSettings.SystemName,
            SupervisorClusterConfig.ForClient([seed], stableAfter: TimeSpan.FromSeconds(4), acceptableHeartbeatPause: TimeSpan.FromSeconds(6))
                .WithFallback(ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.cluster.log-info = off\nakka.remote.log-remote-lifecycle-events = off")));
        var cluster = new TestCluster(nodes, client, SupervisorClusterConfig.StartWorkloadProxy(client));
        try
        {
            await cluster.WaitAsync(TimeSpan.FromSeconds(60), "every daemon up with its load reported", async () =>
            {
                var members = Akka.Cluster.Cluster.Get(client).State.Members;
                if (members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up && m.HasRole(ClusterSettings.NodeRole)) < count)
                    return false;
                var list = await cluster.ListAsync(nodes[0]);
                return list.Unanswered.Count == 0;
            });
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return cluster;
    }

    private static bool Listening(int port)
    {
        try
        {
            using var c = new System.Net.Sockets.TcpClient();
            c.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    public DaemonNode NodeAt(string address) => Nodes.Single(n => n.Address == address);

    public async Task<object> AskWorkload(IWorkloadCommand command, TimeSpan? timeout = null) =>
        await Workloads.Ask<object>(command, timeout ?? TimeSpan.FromSeconds(60));

    public async Task<WorkloadStatus> RunAsync(string id, string bundle, string restart, PlacementConstraints? constraints = null)
    {
        var r = await AskWorkload(new RunWorkload(new WorkloadSpec(id, bundle, restart, constraints ?? PlacementConstraints.None)));
        return r as WorkloadStatus ?? throw new InvalidOperationException($"run {id}: {r}");
    }

    public async Task<WorkloadStatus> StatusAsync(string id) => (WorkloadStatus)await AskWorkload(new GetWorkload(id), TimeSpan.FromSeconds(15));

    public Task<ClusterContainerList> ListAsync(DaemonNode via) =>
        NodeAgent.At(Client, via.Address).Ask<ClusterContainerList>(ListClusterContainers.Instance, TimeSpan.FromSeconds(15));

    public Task<PlacementView> PlacementViewAsync(string agentAddress) =>
        NodeAgent.At(Client, agentAddress).Ask<PlacementView>(GetPlacementView.Instance, TimeSpan.FromSeconds(15));

    /// <summary>
    /// Waits until the placement decider (as the first daemon names it, and as it names itself) has a load
    /// report from every daemon and <paramref name="condition"/> holds for its view.
    /// </summary>
    public Task WaitDeciderAsync(string what, Func<PlacementView, bool> condition) =>
        WaitAsync(TimeSpan.FromSeconds(60), what, async () =>
        {
            var first = await PlacementViewAsync(Nodes[0].Address);
            if (first.Decider is null)
                return false;
            var view = await PlacementViewAsync(first.Decider);
            return view.Decider == view.Node && view.Nodes.Count == Nodes.Count && condition(view);
        });

    /// <summary>Removes the workloads (their containers are force-deleted on their nodes), all at once.</summary>
    public async Task RemoveAsync(IEnumerable<string> ids)
    {
        var replies = await Task.WhenAll(ids.Select(id => AskWorkload(new RemoveWorkload(id))));
        foreach (var r in replies)
        {
            if (r is not WorkloadStatus { Phase: WorkloadPhases.Removed })
                throw new InvalidOperationException($"remove: {r}");
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; on a timeout the daemons' output goes into the exception.</summary>
    public async Task WaitAsync(TimeSpan timeout, string what, Func<Task<bool>> condition)
    {
        var sw = Stopwatch.StartNew();
        Exception? last = null;
        while (sw.Elapsed < timeout)
        {
            try
            {
                if (await condition())
                    return;
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or InvalidOperationException or InvalidCastException)
            {
                last = e;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{what}: not within {timeout.TotalSeconds} s (last error: {last?.Message})\n{Logs()}");
    }

    public string Logs() => string.Join("\n", Nodes.Select(n => $"---- {n.Name} ({n.Address}) ----\n{Tail(n.Output(), 60)}"));

    private static string Tail(string text, int lines) => string.Join("\n", text.Split('\n').TakeLast(lines));

    public async ValueTask DisposeAsync()
    {
        await Client.Terminate().WaitAsync(TimeSpan.FromSeconds(20)).ContinueWith(_ => { });
        foreach (var n in Nodes)
            n.Dispose();
    }
}
