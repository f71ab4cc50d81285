using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Supervisor.Actors;
using Supervisor.Actors.Restart;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;
using Supervisor.Runtime.Oci;

namespace Supervisor.Cluster;

/// <summary>
/// One per daemon, at <c>/user/supervisor-node</c>: the node's face in the cluster. It publishes the node's load
/// to the other agents, keeps the book of everybody's load for placement, carries out placement orders
/// against the node-local <see cref="ContainerSupervisor"/> (containers never leave their node's supervisor),
/// answers the cluster-wide list, and runs both ends of live migrations.
/// <para>
/// Placement choices are made by one agent, the decider: the agent of the oldest reachable daemon that is Up.
/// Every node computes it from the same gossiped membership, and the oldest member changes only when it
/// leaves, so all choices of a burst meet in one <see cref="LoadBook"/> whose reservations count the
/// placements still in flight. The other agents pass each <see cref="ChooseNode"/> on to it, and choose from
/// their own book when it does not answer within decide-timeout (a decider that just left, or a partition).
/// A ClusterSingleton would also give one decider, but during a hand-over it has none at all and choices
/// would wait or fail; here a change of decider only costs the new one the reservations it did not make.
/// </para>
/// </summary>
public sealed class NodeAgent : ReceiveActor, IWithTimers
{
    public const string Name = "supervisor-node";

    private readonly ClusterSettings _settings;
    private readonly SupervisorSettings _supervisor;
    private readonly IActorRef _containers;
    private readonly IContainerRuntime _runtime;
    private readonly IWorkloadAdmission _admission;
    private readonly ContainerFactory _factory;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LoadBook _book;
    private readonly PlacementTracker _tracker = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly Migrations _migrations;
    private readonly string _self;

    public NodeAgent(ClusterSettings settings, SupervisorSettings supervisor, IActorRef containers, IContainerRuntime runtime, IWorkloadAdmission? admission = null)
    {
        _settings = settings;
        _supervisor = supervisor;
        _containers = containers;
        _runtime = runtime;
        _admission = admission ?? TrustedOnlyAdmission.Instance;
        _factory = new ContainerFactory(new RuntimeOptions { StateRoot = supervisor.StateRoot, ShimPath = supervisor.ShimPath });
        _self = _cluster.SelfAddress.ToString();
        _migrations = new Migrations(settings, supervisor, containers, Context.System, _self, _log, _admission);
        // A placement that finished shows in its node's next report; one that never reached its node stops
        // counting once the workload entity has given up on it (place-timeout) and a report could have come.
        _book = new LoadBook(settings.PlaceTimeout + settings.LoadInterval + settings.LoadInterval);

        Receive<PublishLoad>(_ => PublishOwnLoad());
        Receive<NodeLoad>(l =>
        {
            // A report that overtook the removal of its node must not bring the node back.
            if (IsUsable(l.Address))
                _book.Report(l);
        });
        Receive<ClusterEvent.MemberRemoved>(m => _book.Remove(m.Member.Address.ToString()));
        Receive<ClusterEvent.UnreachableMember>(m => _book.Remove(m.Member.Address.ToString()));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.ReachableMember>(_ => { });
        Receive<ChooseNode>(OnChoose);
        Receive<DeciderAnswer>(OnDeciderAnswer);
        Receive<GetPlacementView>(_ => Sender.Tell(View()));
        Receive<PlaceContainer>(p => _tracker.Track(p.Spec.Id, () => Place(p.Spec)).PipeTo(Sender));
        Receive<RemoveContainerFromNode>(r => Remove(r.Id).PipeTo(Sender));
        Receive<ListNodeContainers>(_ => ListLocal().PipeTo(Sender));
        Receive<ListClusterContainers>(_ => ListCluster().PipeTo(Sender));
        Receive<GetNodeContainer>(g => GetState(g.Id).PipeTo(Sender));
        Receive<NodeContainerCommand>(c => Command(c).PipeTo(Sender));
        Receive<MigrateOut>(m => _migrations.MigrateOut(m).PipeTo(Sender));
        Receive<IncomingMigration>(m => Sender.Tell(_migrations.Prepare(m)));
        Receive<ImageChunk>(c => Sender.Tell(_migrations.Write(c)));
        Receive<RestoreIncoming>(r => _migrations.RestoreIncoming(r).PipeTo(Sender));
        Receive<AbortIncoming>(a => _migrations.Abort(a.MigrationId));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ClusterSettings settings, SupervisorSettings supervisor, IActorRef containers, IContainerRuntime runtime,
        IWorkloadAdmission? admission = null) =>
        Akka.Actor.Props.Create(() => new NodeAgent(settings, supervisor, containers, runtime, admission));

    /// <summary>The agent of the node at <paramref name="address"/>.</summary>
    public static ActorSelection At(ActorSystem system, string address) => system.ActorSelection(address + "/user/" + Name);

    private sealed record PublishLoad
    {
        public static readonly PublishLoad Instance = new();
    }

    /// <summary>The decider's answer to a passed-on choice, or why there is none (<see cref="Choice"/> null).</summary>
    private sealed record DeciderAnswer(ChooseNode Request, IActorRef ReplyTo, string Decider, NodeChoice? Choice, string? Error);

    private TimeSpan Now => _clock.Elapsed;

    protected override void PreStart()
    {
        // Fencing: a node that leaves the cluster, gracefully or downed by the split-brain resolver, stops the
        // containers the cluster placed on it before it goes, because the surviving nodes place those
        // workloads again; left running, they would run twice. The node's other containers are not touched.
        var containers = _containers;
        var markers = Markers;
        var stateRoot = _supervisor.StateRoot;
        var timeout = _supervisor.StopTimeout + TimeSpan.FromSeconds(10);
        CoordinatedShutdown.Get(Context.System).AddTask(CoordinatedShutdown.PhaseBeforeClusterShutdown, "fence-cluster-workloads", async () =>
        {
            var ids = PlacedIds(markers);
            await Task.WhenAll(ids.Select(id => containers.Ask<object>(new DeleteContainer(id, Force: true), timeout)
                .ContinueWith(t =>
                {
                    TryDelete(Path.Combine(markers, id));
                    if (t.IsCompletedSuccessfully && t.Result is not CommandFailed)
                        TryDeleteDirectory(BundleDir(stateRoot, id));
                }, TaskScheduler.Default)));
            return Akka.Done.Instance;
        });
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer("load", PublishLoad.Instance, TimeSpan.Zero, _settings.LoadInterval);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    /// <summary>One empty file per container the cluster placed on this node (it survives daemon restarts).</summary>
    private string Markers => Path.Combine(_supervisor.StateRoot, ".cluster", "workloads");

    /// <summary>
    /// Where this node writes the config a workload carries (<see cref="WorkloadSpec.Config"/>) and creates its
    /// container from: &lt;state-root&gt;/.cluster/bundles/&lt;id&gt; (0700, like the state root's own entries).
    /// </summary>
    public static string BundleDir(string stateRoot, string id) => Path.Combine(stateRoot, ".cluster", "bundles", id);

    internal static void TryDeleteDirectory(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    internal static IReadOnlyList<string> PlacedIds(string markers) =>
        Directory.Exists(markers) ? Directory.GetFiles(markers).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList() : [];

    internal static void MarkPlaced(string markers, string id)
    {
        Directory.CreateDirectory(markers);
        File.WriteAllBytes(Path.Combine(markers, id), []);
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Up (or weakly up), reachable, and a daemon.</summary>
    private bool IsUsable(string address)
    {
        var state = _cluster.State;
        var member = state.Members.FirstOrDefault(m => m.Address.ToString() == address);
        return member is not null
            && member.Status is MemberStatus.Up or MemberStatus.WeaklyUp
            && member.HasRole(ClusterSettings.NodeRole)
            && !state.Unreachable.Contains(member);
    }

    private NodeLoad OwnLoad()
    {
        // The finished count first, then the containers: see PlacementTracker for why this order.
        var (completed, placing) = _tracker.Snapshot();
        int running = 0;
        foreach (var id in _runtime.ListIds())
        {
            if (placing.Contains(id))
                continue;
            try
            {
                if (_runtime.Inspect(id) is { Status: ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Created })
                    running++;
            }
            catch (Exception e) when (e is RuntimeException or IOException)
            {
                // A container being deleted right now: not counted.
            }
        }
        var free = _settings.MemoryCapacity > 0 ? _settings.MemoryCapacity : MemInfo.Available();
        return new NodeLoad(_self, _settings.AllRoles, _settings.Labels, running, free, completed);
    }

    private void PublishOwnLoad()
    {
        var load = OwnLoad();
        _book.Report(load);
        foreach (var m in _cluster.State.Members)
        {
            if (m.Address.Equals(_cluster.SelfAddress) || !m.HasRole(ClusterSettings.NodeRole) || m.Status != MemberStatus.Up)
                continue;
            At(Context.System, m.Address.ToString()).Tell(load);
        }
    }

    /// <summary>
    /// The agent of the oldest daemon that is Up and reachable, by this node's view of the membership; null
    /// while none is (this node still joining). Weakly-up members are left out: their age is not settled yet.
    /// </summary>
    private string? Decider()
    {
        var state = _cluster.State;
        Member? oldest = null;
        foreach (var m in state.Members)
        {
            if (m.Status == MemberStatus.Up && m.HasRole(ClusterSettings.NodeRole) && !state.Unreachable.Contains(m)
                && (oldest is null || m.IsOlderThan(oldest)))
                oldest = m;
        }
        return oldest?.Address.ToString();
    }

    private void OnChoose(ChooseNode c)
    {
        var decider = Decider();
        if (c.Forwarded || decider is null || decider == _self)
        {
            Sender.Tell(Decide(c));
            return;
        }
        var replyTo = Sender;
        At(Context.System, decider).Ask<NodeChoice>(c with { Forwarded = true }, _settings.DecideTimeout)
            .PipeTo(Self, success: r => new DeciderAnswer(c, replyTo, decider, r, null),
                failure: e => new DeciderAnswer(c, replyTo, decider, null, e.Message));
    }

    private void OnDeciderAnswer(DeciderAnswer a)
    {
        if (a.Choice is { } choice)
        {
            // Also kept here: should this agent become the decider, or decide without it, it knows these.
            if (choice.Address is { } node)
                _book.Reserve(node, Now);
            a.ReplyTo.Tell(choice);
            return;
        }
        _log.Warning("placement decider {0} did not answer within {1} s ({2}); choosing from this node's view",
            a.Decider, _settings.DecideTimeout.TotalSeconds, a.Error);
        a.ReplyTo.Tell(Decide(a.Request));
    }

    /// <summary>Chooses from this agent's book and reserves the chosen node there.</summary>
    private NodeChoice Decide(ChooseNode c)
    {
        var (node, reason) = _book.Choose(c.Constraints, c.Exclude, IsUsable, Now);
        return new NodeChoice(node?.Address, reason);
    }

    private PlacementView View()
    {
        var now = Now;
        var entries = _book.Nodes.Select(a => new PlacementViewEntry(_book.Reported(a)!, _book.Reserved(a, now))).ToList();
        return new PlacementView(_self, Decider(), entries);
    }

    private async Task<object> Place(WorkloadSpec spec)
    {
        var timeout = _settings.PlaceTimeout;
        // Checked before anything is looked at or written: a refusal leaves no trace on this node, and the
        // workload entity goes on to the next node that fits.
        if (_admission.Refuse(spec) is { } refusal)
        {
            _log.Warning("workload {0}: refused on this node: {1}", spec.Id, refusal);
            return new PlaceFailed(spec.Id, _self, refusal);
        }
        var carried = spec.Config is not null ? BundleDir(_supervisor.StateRoot, spec.Id) : null;
        try
        {
            var state = await _containers.Ask<object>(new GetContainerState(spec.Id), timeout);
            if (state is ContainerInfo { Status: ContainerStatus.Running } running)
            {
                MarkPlaced(Markers, spec.Id);
                return new ContainerPlaced(spec.Id, _self, running.Pid);
            }
            if (state is ContainerInfo)
            {
                // Left over from an earlier placement that did not finish: replaced by a fresh one.
                await _containers.Ask<object>(new DeleteContainer(spec.Id, Force: true), timeout);
            }
            var policy = ParseRestart(spec.Restart, _supervisor.DefaultRestart);
            // The carried config is written as it was checked, and the container is created from this copy.
            var bundle = carried is not null ? CheckedConfig.Write(carried, spec.Config!) : spec.Bundle;
            var created = await _containers.Ask<object>(new CreateContainer(spec.Id, bundle, policy), timeout);
            if (created is CommandFailed cf)
            {
                if (carried is not null)
                    TryDeleteDirectory(carried);
                return new PlaceFailed(spec.Id, _self, cf.Error);
            }
            var started = await _containers.Ask<object>(new StartContainer(spec.Id), timeout);
            if (started is CommandFailed sf)
            {
                var deleted = await _containers.Ask<object>(new DeleteContainer(spec.Id, Force: true), timeout);
                if (carried is not null && deleted is not CommandFailed)
                    TryDeleteDirectory(carried);
                return new PlaceFailed(spec.Id, _self, sf.Error);
            }
            MarkPlaced(Markers, spec.Id);
            var info = await _containers.Ask<object>(new GetContainerState(spec.Id), timeout);
            return new ContainerPlaced(spec.Id, _self, info is ContainerInfo ci ? ci.Pid : 0);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or FormatException or IOException or UnauthorizedAccessException)
        {
            return new PlaceFailed(spec.Id, _self, e.Message);
        }
    }

    /// <summary>A restart policy text on the wire, with this node's backoff settings.</summary>
    internal static RestartPolicy ParseRestart(string text, RestartPolicy defaults)
    {
        if (string.IsNullOrWhiteSpace(text))
            return defaults;
        var (mode, max) = RestartPolicy.ParseMode(text);
        return defaults with { Mode = mode, MaxRetries = max };
    }

    private async Task<object> Remove(string id)
    {
        try
        {
            var r = await _containers.Ask<object>(new DeleteContainer(id, Force: true), _supervisor.StopTimeout + TimeSpan.FromSeconds(10));
            TryDelete(Path.Combine(Markers, id));
            var error = r is CommandFailed f && !f.Error.Contains("does not exist", StringComparison.Ordinal) ? f.Error : null;
            if (error is null)
                TryDeleteDirectory(BundleDir(_supervisor.StateRoot, id));
            return new ContainerRemovedFromNode(id, _self, error);
        }
        catch (AskTimeoutException e)
        {
            return new ContainerRemovedFromNode(id, _self, e.Message);
        }
    }

    private async Task<object> ListLocal()
    {
        var list = await _containers.Ask<ContainerList>(ListContainers.Instance, TimeSpan.FromSeconds(10));
        var entries = new List<NodeContainerEntry>();
        foreach (var id in list.Ids)
        {
            ContainerSnapshot? snap = null;
            try
            {
                snap = _runtime.Inspect(id);
            }
            catch (Exception e) when (e is RuntimeException or IOException)
            {
            }
            if (snap is not null)
                entries.Add(new NodeContainerEntry(id, snap.Status.ToOci(), snap.Status == ContainerStatus.Stopped ? 0 : snap.InitPid, snap.Bundle));
        }
        return new NodeContainerList(_self, entries);
    }

    private async Task<object> ListCluster()
    {
        var nodes = _cluster.State.Members
            .Where(m => m.HasRole(ClusterSettings.NodeRole) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp)
            .Select(m => m.Address.ToString())
            .ToList();
        var system = Context.System;
        var asks = nodes.Select(async n =>
        {
            try
            {
                return (n, (NodeContainerList?)await At(system, n).Ask<NodeContainerList>(ListNodeContainers.Instance, TimeSpan.FromSeconds(5)));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return (n, null);
            }
        }).ToList();
        var results = await Task.WhenAll(asks);
        var entries = results.Where(r => r.Item2 is not null)
            .SelectMany(r => r.Item2!.Containers.Select(c => new ClusterContainerEntry(r.n, c.Id, c.Status, c.Pid, c.Bundle)))
            .OrderBy(e => e.Node, StringComparer.Ordinal).ThenBy(e => e.Id, StringComparer.Ordinal)
            .ToList();
        return new ClusterContainerList(entries, results.Where(r => r.Item2 is null).Select(r => r.n).ToList());
    }

    /// <summary>The supervisor's view of a container here and its OCI state, for a control gateway on another node.</summary>
    private async Task<object> GetState(string id)
    {
        try
        {
            var answer = await _containers.Ask<object>(new GetContainerState(id), TimeSpan.FromSeconds(10));
            if (answer is not ContainerInfo info)
                return new NodeContainerState(_self, id, answer is CommandFailed f ? f.Error : $"container {id} does not exist on {_self}");
            Runtime.State.OciState? oci = null;
            try
            {
                oci = _factory.Exists(id) ? _factory.Load(id).State() : null;
            }
            catch (Exception e) when (e is RuntimeException or IOException)
            {
                // Deleted between the two looks: the supervisor's view is what there is.
            }
            return new NodeContainerState(_self, id, null, info.Status.ToOci(), info.Pid, info.Restart, info.RestartCount, info.ManuallyStopped,
                info.RestartPending, info.LastExitCode, info.LastOomKilled, oci?.Bundle, oci?.Rootfs, oci?.Created.ToUnixTimeMilliseconds() ?? 0,
                oci?.Owner, oci?.Annotations);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new NodeContainerState(_self, id, e.Message);
        }
    }

    /// <summary>Stop, kill, pause or resume of a container here, for a control gateway on another node.</summary>
    private async Task<object> Command(NodeContainerCommand c)
    {
        var stopTimeout = c.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(c.TimeoutMs) : (TimeSpan?)null;
        object? command = c.Verb switch
        {
            NodeCommandVerbs.Stop => new StopContainer(c.Id, stopTimeout),
            NodeCommandVerbs.Kill => new KillContainer(c.Id, c.Signal == 0 ? 15 : c.Signal, c.All),
            NodeCommandVerbs.Pause => new PauseContainer(c.Id),
            NodeCommandVerbs.Resume => new ResumeContainer(c.Id),
            _ => null,
        };
        if (command is null)
            return new NodeCommandResult(c.Id, _self, $"unknown container command \"{c.Verb}\"");
        try
        {
            var answer = await _containers.Ask<object>(command, (stopTimeout ?? _supervisor.StopTimeout) + TimeSpan.FromSeconds(15));
            return new NodeCommandResult(c.Id, _self, answer is CommandFailed f ? f.Error : null);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new NodeCommandResult(c.Id, _self, e.Message);
        }
    }
}
