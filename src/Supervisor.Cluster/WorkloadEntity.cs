using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.DistributedData;
using Akka.Event;
using Supervisor.Actors.Restart;

namespace Supervisor.Cluster;

/// <summary>
/// The desired state of one workload, as a cluster-sharded entity (remember-entities on, so it is started
/// again wherever its shard lands after a rebalance or a node loss). Its state lives in a replicated
/// DistributedData register per workload, since remember-entities only brings the entity back, not its fields.
/// It never owns a process: placing means telling a node's <see cref="NodeAgent"/> to create and start the
/// container under that node's supervisor. So when sharding stops the entity (handoff sends PoisonPill)
/// nothing happens to the container; the entity's next incarnation reads the register and carries on.
/// When the node that runs the container leaves the cluster (downed by the split-brain resolver, or left),
/// the workload is placed again on the surviving nodes unless its restart policy is <c>no</c>.
/// </summary>
public sealed class WorkloadEntity : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    public const string TypeName = "workload";

    private readonly string _id;
    private readonly ClusterSettings _settings;
    private readonly IActorRef _agent;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly LWWRegisterKey<WorkloadState> _key;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waiting = [];
    private WorkloadState? _state;
    private readonly HashSet<string> _exclude = new(StringComparer.Ordinal);
    // Why each excluded node failed this round: when no node is left, the reason says what every one said.
    private readonly SortedDictionary<string, string> _failures = new(StringComparer.Ordinal);

    public WorkloadEntity(string id, ClusterSettings settings, IActorRef agent)
    {
        _id = id;
        _settings = settings;
        _agent = agent;
        _key = WorkloadDirectory.Key(id);
        Loading();
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string id, ClusterSettings settings, IActorRef agent) =>
        Akka.Actor.Props.Create(() => new WorkloadEntity(id, settings, agent));

    private sealed record Choice(NodeChoice Result);

    private sealed record PlaceOutcome(string Node, object Result);

    private sealed record RetryPlacement
    {
        public static readonly RetryPlacement Instance = new();
    }

    private sealed record Removed(ContainerRemovedFromNode? Result, IActorRef ReplyTo);

    private sealed record Migrated(MigrationReport Report, IActorRef ReplyTo);

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        // A majority read: this node may have just taken the shard over from a lost node, and its own replica
        // can lag behind the last write. When no majority answers in time the local replica has to do.
        _replicator.Tell(Dsl.Get(_key, new ReadMajority(TimeSpan.FromSeconds(5))));
    }

    private bool _readLocally;

    /// <summary>Nothing to undo: the container belongs to its node's supervisor, not to this entity.</summary>
    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Loading()
    {
        Receive<GetSuccess>(g =>
        {
            _state = g.Get(_key).Value;
            Become(Ready);
            Stash.UnstashAll();
            Reconcile();
        });
        Receive<NotFound>(_ =>
        {
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<GetFailure>(_ =>
        {
            if (!_readLocally)
            {
                _readLocally = true;
                _replicator.Tell(Dsl.Get(_key, ReadLocal.Instance));
                return;
            }
            Become(Ready);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Ready()
    {
        Receive<RunWorkload>(OnRun);
        Receive<GetWorkload>(_ => Sender.Tell(Status()));
        Receive<RemoveWorkload>(_ => OnRemove());
        Receive<MigrateWorkload>(OnMigrate);
        Receive<Choice>(OnChoice);
        Receive<PlaceOutcome>(OnPlaceOutcome);
        Receive<RetryPlacement>(_ =>
        {
            if (_state is { Phase: WorkloadPhases.Pending })
                Place();
        });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            if (_state?.Node is { } node && m.Member.Address.ToString() == node)
                OnNodeLost(node);
        });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        Receive<UpdateSuccess>(_ => { });
        Receive<UpdateTimeout>(_ => { });
        Receive<ModifyFailure>(f => _log.Error("workload {0}: state update failed: {1}", _id, f.Cause.Message));
        Receive<GetSuccess>(_ => { });
    }

    private WorkloadStatus Status() => _state is null
        ? new WorkloadStatus(_id, null, WorkloadPhases.Removed, "no such workload", 0, null)
        : new WorkloadStatus(_id, _state.Node, _state.Phase, _state.Error, _state.Placements, _state.Spec);

    /// <summary>
    /// The replicated state is written locally and to a majority when one answers in time; a node that reads
    /// it later (ReadLocal) has it by gossip within a gossip interval either way.
    /// </summary>
    private void Save(WorkloadState state)
    {
        _state = state;
        _replicator.Tell(Dsl.Update(_key, new LWWRegister<WorkloadState>(_cluster.SelfUniqueAddress, state),
            new WriteMajority(TimeSpan.FromSeconds(3)), r => r.WithValue(_cluster.SelfUniqueAddress, state)));
    }

    /// <summary>After (re)start: a workload whose node is gone, or that never got one, is placed now.</summary>
    private void Reconcile()
    {
        if (_state is null || _state.Phase is WorkloadPhases.Removed or WorkloadPhases.Lost)
            return;
        if (_state.Node is { } node && !IsMember(node))
            OnNodeLost(node);
        else if (_state.Node is null)
            Place();
    }

    private bool IsMember(string address) =>
        _cluster.State.Members.Any(m => m.Address.ToString() == address && m.Status is not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting));

    private void OnRun(RunWorkload r)
    {
        // A lost workload (its node went, policy no) is placed anew when it is run again.
        if (_state is { Phase: not (WorkloadPhases.Removed or WorkloadPhases.Lost) })
        {
            if (_state.Phase == WorkloadPhases.Pending)
                _waiting.Add(Sender);
            else
                Sender.Tell(Status());
            return;
        }
        try
        {
            RestartPolicy.ParseMode(r.Spec.Restart);
        }
        catch (FormatException e)
        {
            Sender.Tell(new WorkloadCommandFailed(_id, "run", e.Message));
            return;
        }
        if (WorkloadLimits.Check(r.Spec) is { } tooBig)
        {
            Sender.Tell(new WorkloadCommandFailed(_id, "run", tooBig));
            return;
        }
        _exclude.Clear();
        _failures.Clear();
        Save(new WorkloadState(r.Spec, null, WorkloadPhases.Pending, null, _state?.Placements ?? 0));
        _waiting.Add(Sender);
        Place();
    }

    private void Place()
    {
        if (_state is null)
            return;
        var self = Self;
        _agent.Ask<NodeChoice>(new ChooseNode(_state.Spec.Constraints, _exclude.ToList()), TimeSpan.FromSeconds(10))
            .PipeTo(self, success: c => new Choice(c), failure: e => new Choice(new NodeChoice(null, e.Message)));
    }

    private void OnChoice(Choice c)
    {
        if (_state is not { Phase: WorkloadPhases.Pending })
            return;
        if (c.Result.Address is not { } node)
        {
            // Nothing fits now; nodes may join or report later. Those waiting hear why right away.
            var reason = _failures.Count == 0
                ? c.Result.Reason
                : c.Result.Reason + "; " + string.Join("; ", _failures.Select(f => $"{f.Key} refused: {f.Value}"));
            _state = _state with { Error = reason };
            ReplyWaiting();
            _exclude.Clear();
            _failures.Clear();
            Timers.StartSingleTimer("retry", RetryPlacement.Instance, TimeSpan.FromSeconds(2));
            return;
        }
        var spec = _state.Spec;
        var self = Self;
        NodeAgent.At(Context.System, node).Ask<object>(new PlaceContainer(spec), _settings.PlaceTimeout)
            .PipeTo(self, success: r => new PlaceOutcome(node, r), failure: e => new PlaceOutcome(node, new PlaceFailed(spec.Id, node, e.Message)));
    }

    private void OnPlaceOutcome(PlaceOutcome o)
    {
        if (_state is not { Phase: WorkloadPhases.Pending })
            return;
        switch (o.Result)
        {
            case ContainerPlaced p:
                _exclude.Clear();
                _failures.Clear();
                Save(_state with { Node = p.Node, Phase = WorkloadPhases.Placed, Error = null, Placements = _state.Placements + 1 });
                _log.Info("workload {0}: running on {1} (pid {2})", _id, p.Node, p.Pid);
                ReplyWaiting();
                break;
            case PlaceFailed f:
                _log.Warning("workload {0}: placing on {1} failed: {2}", _id, o.Node, f.Error);
                _exclude.Add(o.Node);
                _failures[o.Node] = f.Error;
                _state = _state with { Error = $"{o.Node}: {f.Error}" };
                Place();
                break;
        }
    }

    private void ReplyWaiting()
    {
        var status = Status();
        foreach (var w in _waiting)
            w.Tell(status);
        _waiting.Clear();
    }

    private void OnNodeLost(string node)
    {
        if (_state is null)
            return;
        RestartMode mode;
        try
        {
            mode = RestartPolicy.ParseMode(_state.Spec.Restart).Mode;
        }
        catch (FormatException)
        {
            mode = RestartMode.No;
        }
        if (mode == RestartMode.No)
        {
            _log.Warning("workload {0}: node {1} is gone; restart policy no, so it is not placed again", _id, node);
            Save(_state with { Node = null, Phase = WorkloadPhases.Lost, Error = $"node {node} was lost" });
            return;
        }
        _log.Warning("workload {0}: node {1} is gone; placing it again", _id, node);
        _exclude.Clear();
        _failures.Clear();
        _exclude.Add(node);
        Save(_state with { Node = null, Phase = WorkloadPhases.Pending, Error = $"node {node} was lost" });
        Place();
    }

    private void OnRemove()
    {
        var replyTo = Sender;
        if (_state is null or { Phase: WorkloadPhases.Removed })
        {
            replyTo.Tell(Status());
            return;
        }
        var self = Self;
        if (_state.Node is { } node && IsMember(node))
        {
            NodeAgent.At(Context.System, node).Ask<ContainerRemovedFromNode>(new RemoveContainerFromNode(_id), TimeSpan.FromSeconds(60))
                .PipeTo(self, success: r => new Removed(r, replyTo), failure: _ => new Removed(null, replyTo));
        }
        else
        {
            self.Tell(new Removed(null, replyTo));
        }
        Become(Busy);
    }

    private void OnMigrate(MigrateWorkload m)
    {
        if (_state is not { Phase: WorkloadPhases.Placed, Node: { } from })
        {
            Sender.Tell(new WorkloadCommandFailed(_id, "migrate", $"workload {_id} is not placed ({_state?.Phase ?? "unknown"})"));
            return;
        }
        if (!IsMember(m.ToNode) || !_cluster.State.Members.Any(x => x.Address.ToString() == m.ToNode && x.HasRole(ClusterSettings.NodeRole)))
        {
            Sender.Tell(new WorkloadCommandFailed(_id, "migrate", $"{m.ToNode} is not a daemon of this cluster"));
            return;
        }
        if (m.ToNode == from)
        {
            Sender.Tell(new WorkloadCommandFailed(_id, "migrate", $"workload {_id} already runs on {from}"));
            return;
        }
        var replyTo = Sender;
        var self = Self;
        NodeAgent.At(Context.System, from).Ask<MigrationReport>(new MigrateOut(_id, m.ToNode, m.TcpEstablished, _state.Spec.Config, _state.Spec.AdmitAs), _settings.MigrationTimeout + TimeSpan.FromSeconds(10))
            .PipeTo(self, success: r => new Migrated(r, replyTo),
                failure: e => new Migrated(new MigrationReport(_id, from, m.ToNode, false, e.Message, from, 0, 0, 0, 0, 0), replyTo));
        Become(Busy);
    }

    /// <summary>While a removal or a migration runs, other commands wait their turn.</summary>
    private void Busy()
    {
        Receive<Removed>(r =>
        {
            Save(_state! with { Node = null, Phase = WorkloadPhases.Removed, Error = r.Result?.Error });
            r.ReplyTo.Tell(Status());
            Become(Ready);
            Stash.UnstashAll();
            // Passivated: remember-entities forgets it, so it is not started again with its shard.
            Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
        Receive<Migrated>(m =>
        {
            if (m.Report.Succeeded)
                Save(_state! with { Node = m.Report.To, Error = null });
            else
                _state = _state! with { Error = m.Report.Error };
            m.ReplyTo.Tell(m.Report);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<UpdateSuccess>(_ => { });
        Receive<UpdateTimeout>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }
}

/// <summary>Routes <see cref="IWorkloadCommand"/>s by workload id, the same on every node and on proxies.</summary>
public sealed class WorkloadMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => message switch
    {
        IWorkloadCommand c => c.WorkloadId,
        _ => null!,
    };
}
