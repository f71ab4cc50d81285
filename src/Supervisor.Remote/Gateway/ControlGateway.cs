using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using Google.Protobuf;
using Supervisor.Actors;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Policy;
using Supervisor.Remote.Security;
using Supervisor.Runtime.Oci;
using Supervisor.Runtime.Validation;
using Cl = Supervisor.Cluster;
using Sup = Supervisor.Actors;
using Wire = Supervisor.Protocol.V1;

namespace Supervisor.Remote.Gateway;

/// <summary>
/// The control plane's only remotely reachable actor (the sole entry of trusted-selection-paths). For every
/// <see cref="SignedCommand"/> it, in this order:
/// <list type="number">
/// <item>decodes the command (anything else is refused);</item>
/// <item>authenticates it (<see cref="RequestAuthenticator"/>: certificate chain, allowlist, role, freshness, signature);</item>
/// <item>looks the request id up (<see cref="RequestDeduplicator{TReply,TWaiter}"/>): a retry gets the first reply, never a second execution;</item>
/// <item>checks it against the policy (<see cref="Policy.ControlPolicy"/>) before anything is written or started;</item>
/// <item>maps it to the supervisor's own command record and replies with the protobuf reply.</item>
/// </list>
/// On a cluster node (<see cref="ControlGatewaySettings.Workloads"/> and <see cref="ControlGatewaySettings.NodeAgent"/> set) a run becomes a cluster workload placed by
/// its constraints and carrying the checked config, a delete of a workload removes it wherever it runs, the
/// list is the cluster's, and state, stop, kill, pause and resume of a container on another node go to that
/// node's agent. Event subscribers are fed from the supervisor's EventStream; a subscription ends with Unsubscribe or when
/// the subscriber's connection goes (untrusted mode forbids remote DeathWatch, so the association events
/// are what tells).
/// </summary>
public sealed class ControlGateway : ReceiveActor
{
    private readonly IActorRef _supervisor;
    private readonly ControlGatewaySettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RequestDeduplicator<IControlReply, IActorRef> _dedup;
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);

    private sealed record Subscription(string Id, IActorRef Subscriber, string ContainerId, bool IncludeStats, string Thumbprint);

    private sealed record Completed(string Key, IControlReply Reply);

    public ControlGateway(IActorRef supervisor, ControlGatewaySettings settings)
    {
        _supervisor = supervisor;
        _settings = settings;
        _dedup = new RequestDeduplicator<IControlReply, IActorRef>(settings.DedupCapacity, settings.DedupWindow);

        Receive<SignedCommand>(OnCommand);
        Receive<Completed>(c =>
        {
            foreach (var waiter in _dedup.Complete(c.Key, c.Reply))
                waiter.Tell(c.Reply);
        });
        Receive<IContainerEvent>(OnEvent);
        Receive<DisassociatedEvent>(d =>
        {
            foreach (var s in _subscriptions.Values.Where(s => s.Subscriber.Path.Address.Equals(d.RemoteAddress)).ToList())
            {
                _subscriptions.Remove(s.Id);
                _log.Info("control: subscription {SubscriptionId} ended: {Address} disconnected", s.Id, d.RemoteAddress);
            }
        });
        // Anything else (a foreign message type that somehow deserialized) is ignored, never acted on.
        ReceiveAny(m => _log.Warning("control: ignored a {Type} from {Sender}", m.GetType().Name, Sender.Path));
    }

    public static Props Props(IActorRef supervisor, ControlGatewaySettings settings) =>
        Akka.Actor.Props.Create(() => new ControlGateway(supervisor, settings));

    /// <summary>The supervisor system's EventStream feeds the gateway; the control system's tells it about lost connections.</summary>
    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
    }

    private void OnCommand(SignedCommand envelope)
    {
        var sender = Sender;
        Command? command;
        try
        {
            command = Command.Parser.ParseFrom(envelope.Command);
        }
        catch (InvalidProtocolBufferException e)
        {
            sender.Tell(ProtocolMapping.ReplyFor(null, envelope.RequestId, ProtocolMapping.Error(ErrorCode.InvalidArgument, $"malformed command: {e.Message}")));
            return;
        }

        var auth = _settings.Authenticator.Authenticate(envelope);
        if (auth.Peer is not { } peer)
        {
            _log.Warning("control: refused {Command} request {RequestId} from {Sender}: {Reason}", command.KindCase, envelope.RequestId, sender.Path.Address, auth.Error);
            sender.Tell(ProtocolMapping.ReplyFor(command, envelope.RequestId, ProtocolMapping.Error(ErrorCode.Unauthenticated, auth.Error!)));
            return;
        }

        var key = peer.Thumbprint + "/" + envelope.RequestId;
        var digest = SHA256.HashData(envelope.Command.Span);
        switch (_dedup.Begin(key, digest, sender, DateTimeOffset.UtcNow, out var stored))
        {
            case DedupOutcome.Replay:
                _log.Info("control: request {RequestId} from {Subject} was already answered; replaying the reply", envelope.RequestId, peer.Subject);
                sender.Tell(stored!);
                return;
            case DedupOutcome.InFlight:
                return;
            case DedupOutcome.Conflict:
                sender.Tell(ProtocolMapping.ReplyFor(command, envelope.RequestId,
                    ProtocolMapping.Error(ErrorCode.InvalidArgument, $"request id {envelope.RequestId} was already used for another command")));
                return;
        }

        _log.Info("control: {Command} {ContainerId} request {RequestId} from {Subject} ({Role}, sha256 {Thumbprint})",
            command.KindCase, TargetOf(command), envelope.RequestId, peer.Subject, peer.Role, peer.Thumbprint);

        switch (command.KindCase)
        {
            case Command.KindOneofCase.SubscribeEvents:
                Self.Tell(new Completed(key, Subscribe(command.SubscribeEvents, envelope.RequestId, sender, peer)));
                return;
            case Command.KindOneofCase.UnsubscribeEvents:
                Self.Tell(new Completed(key, Unsubscribe(command.UnsubscribeEvents, envelope.RequestId, peer)));
                return;
        }

        var requestId = envelope.RequestId;
        var self = Self;
        Execute(command, requestId, peer).ContinueWith(t =>
        {
            var reply = t.IsCompletedSuccessfully
                ? t.Result
                : ProtocolMapping.ReplyFor(command, requestId, ProtocolMapping.Error(
                    t.Exception?.InnerException is AskTimeoutException ? ErrorCode.Timeout : ErrorCode.Internal,
                    t.Exception?.InnerException?.Message ?? "the command was cancelled"));
            self.Tell(new Completed(key, reply));
        }, TaskScheduler.Default);
    }

    private static string TargetOf(Command c) => c.KindCase switch
    {
        Command.KindOneofCase.Run => c.Run.Id,
        Command.KindOneofCase.Stop => c.Stop.Id,
        Command.KindOneofCase.Kill => c.Kill.Id,
        Command.KindOneofCase.Pause => c.Pause.Id,
        Command.KindOneofCase.Resume => c.Resume.Id,
        Command.KindOneofCase.Exec => c.Exec.Id,
        Command.KindOneofCase.Update => c.Update.Id,
        Command.KindOneofCase.Checkpoint => c.Checkpoint.Id,
        Command.KindOneofCase.Restore => c.Restore.Id,
        Command.KindOneofCase.Migrate => c.Migrate.Id,
        Command.KindOneofCase.Delete => c.Delete.Id,
        Command.KindOneofCase.GetState => c.GetState.Id,
        Command.KindOneofCase.SubscribeEvents => c.SubscribeEvents.ContainerId,
        _ => "",
    };

    // ---- execution (runs off the actor thread: touches only immutable fields) ----

    private async Task<IControlReply> Execute(Command command, string requestId, AuthenticatedPeer peer)
    {
        Wire.Error Err(ErrorCode code, string message) => ProtocolMapping.Error(code, message);
        IControlReply Fail(ErrorCode code, string message) => ProtocolMapping.ReplyFor(command, requestId, Err(code, message));

        var target = TargetOf(command);
        if (command.KindCase is not (Command.KindOneofCase.List or Command.KindOneofCase.None))
        {
            try
            {
                ConfigValidator.ValidateId(target);
            }
            catch (InvalidIdException e)
            {
                return Fail(ErrorCode.InvalidArgument, e.Message);
            }
        }

        switch (command.KindCase)
        {
            case Command.KindOneofCase.Run:
                return await Run(command.Run, requestId, peer);
            case Command.KindOneofCase.Stop:
            {
                var timeout = command.Stop.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(command.Stop.TimeoutMs) : (TimeSpan?)null;
                var ask = _settings.AskTimeout + (timeout ?? TimeSpan.Zero);
                return await Elsewhere(command, requestId, target, Ack(command, requestId, await AskSupervisor(new Sup.StopContainer(target, timeout), ask)),
                    new Cl.NodeContainerCommand(target, Cl.NodeCommandVerbs.Stop, TimeoutMs: command.Stop.TimeoutMs), ask);
            }
            case Command.KindOneofCase.Kill:
            {
                var signal = command.Kill.Signal == 0 ? 15 : command.Kill.Signal;
                return await Elsewhere(command, requestId, target, Ack(command, requestId, await AskSupervisor(new Sup.KillContainer(target, signal, command.Kill.All))),
                    new Cl.NodeContainerCommand(target, Cl.NodeCommandVerbs.Kill, signal, command.Kill.All));
            }
            case Command.KindOneofCase.Pause:
                return await Elsewhere(command, requestId, target, Ack(command, requestId, await AskSupervisor(new Sup.PauseContainer(target))),
                    new Cl.NodeContainerCommand(target, Cl.NodeCommandVerbs.Pause));
            case Command.KindOneofCase.Resume:
                return await Elsewhere(command, requestId, target, Ack(command, requestId, await AskSupervisor(new Sup.ResumeContainer(target))),
                    new Cl.NodeContainerCommand(target, Cl.NodeCommandVerbs.Resume));
            case Command.KindOneofCase.Update:
                return await Elsewhere(command, requestId, target,
                    Ack(command, requestId, await AskSupervisor(new Sup.UpdateContainer(target, ProtocolMapping.ToResources(command.Update)))));
            case Command.KindOneofCase.Delete:
            {
                if (Clustered && await RemoveWorkload(target, requestId) is { } removed)
                    return removed;
                var reply = Ack(command, requestId, await AskSupervisor(new Sup.DeleteContainer(target, command.Delete.Force)));
                if (reply.Error is null)
                    RemoveBundle(target);
                return await Elsewhere(command, requestId, target, reply);
            }
            case Command.KindOneofCase.Exec:
            {
                if (command.Exec.Args.Count == 0)
                    return Fail(ErrorCode.InvalidArgument, "exec: no command given");
                var baseProcess = _settings.Inspector.BaseProcess(target);
                if (baseProcess is null)
                    return await Elsewhere(command, requestId, target, Fail(ErrorCode.NotFound, $"container {target} does not exist"));
                // Only args, env and cwd can be set remotely; user, capabilities and rlimits stay the
                // container's own, so an exec cannot hold more privilege than the container it enters.
                var process = baseProcess with
                {
                    Args = [.. command.Exec.Args],
                    Env = [.. baseProcess.Env, .. command.Exec.Env],
                    Cwd = string.IsNullOrEmpty(command.Exec.Cwd) ? baseProcess.Cwd : command.Exec.Cwd,
                    Terminal = false,
                    ConsoleSize = null,
                };
                var r = await AskSupervisor(new Sup.ExecInContainer(target, process));
                return r switch
                {
                    ExecStarted s => new ExecInContainerReply { RequestId = requestId, Pid = s.Pid },
                    _ => Ack(command, requestId, r),
                };
            }
            case Command.KindOneofCase.Checkpoint:
            {
                var decision = _settings.Policy.CheckImagePath(peer.Role, command.Checkpoint.ImagePath);
                if (!decision.Allowed)
                    return Fail(ErrorCode.PermissionDenied, decision.Reason!);
                var r = await AskSupervisor(new Sup.CheckpointContainer(target, command.Checkpoint.ImagePath, command.Checkpoint.LeaveRunning));
                return r is CommandSucceeded
                    ? new CheckpointContainerReply { RequestId = requestId, ImagePath = command.Checkpoint.ImagePath }
                    : await Elsewhere(command, requestId, target, Ack(command, requestId, r));
            }
            case Command.KindOneofCase.Restore:
            {
                var decision = _settings.Policy.CheckImagePath(peer.Role, command.Restore.ImagePath);
                if (!decision.Allowed)
                    return Fail(ErrorCode.PermissionDenied, decision.Reason!);
                var r = await AskSupervisor(new Sup.RestoreContainer(target, command.Restore.ImagePath));
                return r is CommandSucceeded
                    ? new RestoreContainerReply { RequestId = requestId, Pid = (await Info(target))?.Pid ?? 0 }
                    : Ack(command, requestId, r);
            }
            case Command.KindOneofCase.Migrate:
            {
                if (_settings.Workloads is null)
                    return Fail(ErrorCode.Unsupported,
                        $"migrate: this daemon ({_settings.NodeName}) is not part of a cluster, so there is no node {command.Migrate.ToNode} to move {target} to");
                // Only the workload entity may move a container: it owns the desired state (which node runs
                // it), and a move behind its back would be undone by the next placement.
                var timeout = _settings.MigrationTimeout ?? TimeSpan.FromMinutes(5);
                var answer = await _settings.Workloads.Ask<object>(
                    new Supervisor.Cluster.MigrateWorkload(target, command.Migrate.ToNode, command.Migrate.TcpEstablished),
                    timeout + TimeSpan.FromSeconds(15));
                switch (answer)
                {
                    case Supervisor.Cluster.MigrationReport { Succeeded: true } report:
                    {
                        var reply = new MigrateContainerReply { RequestId = requestId, ToNode = report.To };
                        reply.Phases.Add(new PhaseTiming { Phase = "checkpoint", DurationMs = (long)report.CheckpointMs });
                        reply.Phases.Add(new PhaseTiming { Phase = "transfer", DurationMs = (long)report.TransferMs });
                        reply.Phases.Add(new PhaseTiming { Phase = "restore", DurationMs = (long)report.RestoreMs });
                        reply.Phases.Add(new PhaseTiming { Phase = "cleanup", DurationMs = (long)report.CleanupMs });
                        return reply;
                    }
                    case Supervisor.Cluster.MigrationReport report:
                        return Fail(ErrorCode.FailedPrecondition,
                            $"migrate {target} to {report.To}: {report.Error} (it runs on {report.RunningOn})");
                    case Supervisor.Cluster.WorkloadCommandFailed failed:
                        return Fail(ErrorCode.FailedPrecondition, failed.Error);
                    default:
                        return Fail(ErrorCode.Internal, $"migrate {target}: unexpected answer {answer.GetType().Name}");
                }
            }
            case Command.KindOneofCase.GetState:
            {
                var r = await AskSupervisor(new GetContainerState(target));
                if (r is ContainerInfo info)
                    return new GetStateReply { RequestId = requestId, State = ProtocolMapping.ToState(info, _settings.Inspector.State(target), _settings.NodeName) };
                var local = Ack(command, requestId, r);
                if (!Clustered || local.Error?.Code != ErrorCode.NotFound)
                    return local;
                // Not here: on a cluster node, the container may run on another node, whose agent knows its state.
                if (await FindNode(target) is not { } node)
                    return await PendingOr(target, local);
                var remote = await AgentAt(node).Ask<Cl.NodeContainerState>(new Cl.GetNodeContainer(target), _settings.AskTimeout);
                return remote.Error is { } error
                    ? Fail(error.Contains("does not exist", StringComparison.Ordinal) ? ErrorCode.NotFound : ErrorCode.FailedPrecondition, error)
                    : new GetStateReply { RequestId = requestId, State = ProtocolMapping.ToState(remote) };
            }
            case Command.KindOneofCase.List:
            {
                if (Clustered)
                    return await ListCluster(requestId);
                var list = (ContainerList)await AskSupervisor(Sup.ListContainers.Instance);
                var reply = new ListContainersReply { RequestId = requestId };
                var states = await Task.WhenAll(list.Ids.Select(Info));
                foreach (var info in states.OfType<ContainerInfo>())
                    reply.Containers.Add(ProtocolMapping.ToState(info, _settings.Inspector.State(info.Id), _settings.NodeName));
                return reply;
            }
            default:
                return Fail(ErrorCode.Unsupported, $"command {command.KindCase} is not supported by this daemon");
        }
    }

    private async Task<IControlReply> Run(RunContainer run, string requestId, AuthenticatedPeer peer)
    {
        IControlReply Fail(ErrorCode code, string message) =>
            new RunContainerReply { RequestId = requestId, Id = run.Id, Error = ProtocolMapping.Error(code, message) };

        if (!Clustered && run.Constraints is { Node.Length: > 0 } c && c.Node != _settings.NodeName)
            return Fail(ErrorCode.FailedPrecondition, $"run: this daemon is {_settings.NodeName}, not {c.Node}");

        Sup.Restart.RestartPolicy? restart = null;
        if (run.Restart is { Policy.Length: > 0 } rp)
        {
            try
            {
                var (mode, max) = Sup.Restart.RestartPolicy.ParseMode(rp.Policy);
                if (rp.MaxRetries > 0)
                    max = rp.MaxRetries;
                restart = _settings.DefaultRestart with { Mode = mode, MaxRetries = max };
            }
            catch (FormatException e)
            {
                return Fail(ErrorCode.InvalidArgument, $"run: restart policy: {e.Message}");
            }
        }

        // Read the config once; the policy checks exactly what will be written to the gateway's own bundle
        // directory and run from there, so the file cannot change between the check and the create.
        OciSpec spec;
        string? sourceBundle = null;
        try
        {
            switch (run.SourceCase)
            {
                case RunContainer.SourceOneofCase.Bundle:
                    if (!Path.IsPathRooted(run.Bundle))
                        return Fail(ErrorCode.InvalidArgument, "run: the bundle path must be absolute");
                    sourceBundle = Path.GetFullPath(run.Bundle);
                    spec = SpecLoader.LoadBundle(sourceBundle);
                    break;
                case RunContainer.SourceOneofCase.OciConfigJson:
                    spec = SpecLoader.Parse(run.OciConfigJson, "oci_config_json");
                    break;
                default:
                    return Fail(ErrorCode.InvalidArgument, "run: give a bundle path or an inline OCI config");
            }
        }
        catch (ConfigException e)
        {
            return Fail(ErrorCode.InvalidArgument, e.Message);
        }

        var decision = _settings.Policy.CheckRun(peer.Role, spec, sourceBundle);
        if (!decision.Allowed)
        {
            _log.Warning("control: policy refused run {ContainerId} for {Subject}: {Reason}", run.Id, peer.Subject, decision.Reason);
            return Fail(ErrorCode.PermissionDenied, decision.Reason!);
        }
        if (_settings.Inspector.State(run.Id) is not null)
            return Fail(ErrorCode.AlreadyExists, $"container with id {run.Id} already exists");
        if (Clustered)
            return await RunOnCluster(run, requestId, peer, spec, sourceBundle, restart);

        var bundle = Materialize(run.Id, spec, sourceBundle);
        var created = await AskSupervisor(new CreateContainer(run.Id, bundle, restart));
        if (created is not CommandSucceeded)
        {
            RemoveBundle(run.Id);
            var failed = Ack(ProtocolMapping.ReplyFor(new Command { Run = run }, requestId, null), created);
            return Fail(failed.Error.Code, failed.Error.Message);
        }
        var started = await AskSupervisor(new StartContainer(run.Id));
        if (started is not CommandSucceeded)
        {
            var failed = Ack(ProtocolMapping.ReplyFor(new Command { Run = run }, requestId, null), started);
            return Fail(failed.Error.Code, failed.Error.Message);
        }
        var info = await Info(run.Id);
        return new RunContainerReply { RequestId = requestId, Id = run.Id, Pid = info?.Pid ?? 0, Node = _settings.NodeName };
    }

    /// <summary>Writes the checked config to &lt;bundle-dir&gt;/&lt;id&gt;/config.json with every relative path made absolute.</summary>
    private string Materialize(string id, OciSpec spec, string? sourceBundle) =>
        CheckedConfig.Write(Path.Combine(_settings.BundleDir, id), CheckedConfig.Serialize(spec, sourceBundle));

    private void RemoveBundle(string id)
    {
        var dir = Path.Combine(_settings.BundleDir, id);
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (IOException e)
        {
            _log.Warning("control: could not remove bundle {Dir}: {Error}", dir, e.Message);
        }
    }

    private async Task<ContainerInfo?> Info(string id) =>
        await AskSupervisor(new GetContainerState(id)) as ContainerInfo;

    private Task<object> AskSupervisor(object message, TimeSpan? timeout = null) =>
        _supervisor.Ask<object>(message, timeout ?? _settings.AskTimeout);

    /// <summary>A reply for a supervisor answer that is an acknowledgement or a failure.</summary>
    private static IControlReply Ack(Command command, string requestId, object answer) =>
        Ack(ProtocolMapping.ReplyFor(command, requestId, null), answer);

    private static IControlReply Ack(IControlReply reply, object answer)
    {
        switch (answer)
        {
            case CommandSucceeded:
                break;
            case CommandFailed f:
                reply.Error = ProtocolMapping.FromFailure(f);
                break;
            case Status.Failure sf:
                reply.Error = ProtocolMapping.Error(ErrorCode.Internal, sf.Cause.Message);
                break;
            default:
                reply.Error = ProtocolMapping.Error(ErrorCode.Internal, $"unexpected answer {answer.GetType().Name}");
                break;
        }
        return reply;
    }

    // ---- cluster mode ----

    /// <summary>A cluster node: the workload region and the node agent are both there (the daemon gives both or neither).</summary>
    private bool Clustered => _settings.Workloads is not null && _settings.NodeAgent is not null;

    /// <summary>
    /// A checked run on a cluster node: the checked config (paths made absolute) becomes a workload that the
    /// cluster places by the run's constraints; the node it lands on checks it again against its own policy
    /// before writing it to its own state root. "Pending" (nothing fits, or every node that fits refused) is a
    /// successful reply with the reason: the workload exists and the cluster keeps trying.
    /// </summary>
    private async Task<IControlReply> RunOnCluster(RunContainer run, string requestId, AuthenticatedPeer peer, OciSpec spec, string? sourceBundle,
        Sup.Restart.RestartPolicy? restart)
    {
        IControlReply Fail(ErrorCode code, string message) =>
            new RunContainerReply { RequestId = requestId, Id = run.Id, Error = ProtocolMapping.Error(code, message) };

        if (await FindNode(run.Id) is { } holder)
            return Fail(ErrorCode.AlreadyExists, $"container with id {run.Id} already exists on {holder}");
        var existing = await _settings.Workloads!.Ask<object>(new Cl.GetWorkload(run.Id), _settings.AskTimeout);
        if (existing is Cl.WorkloadStatus { Phase: not (Cl.WorkloadPhases.Removed or Cl.WorkloadPhases.Lost) } present)
            return Fail(ErrorCode.AlreadyExists, $"workload {run.Id} already exists ({present.Phase}{(present.Node is { } n ? " on " + n : "")})");

        var workload = new Cl.WorkloadSpec(
            run.Id,
            sourceBundle ?? "",
            restart?.ToString() ?? "",
            ProtocolMapping.ToPlacement(run.Constraints),
            CheckedConfig.Serialize(spec, sourceBundle, indented: false),
            PolicyWorkloadAdmission.RoleName(peer.Role));
        var answer = await _settings.Workloads.Ask<object>(new Cl.RunWorkload(workload), _settings.AskTimeout);
        switch (answer)
        {
            case Cl.WorkloadStatus { Phase: Cl.WorkloadPhases.Placed, Node: { } node }:
            {
                var state = await AgentAt(node).Ask<Cl.NodeContainerState>(new Cl.GetNodeContainer(run.Id), _settings.AskTimeout);
                return new RunContainerReply { RequestId = requestId, Id = run.Id, Node = node, Pid = state.Pid, Phase = Cl.WorkloadPhases.Placed };
            }
            case Cl.WorkloadStatus { Phase: Cl.WorkloadPhases.Pending } pending:
                _log.Info("control: run {ContainerId} is pending: {Reason}", run.Id, pending.Error);
                return new RunContainerReply { RequestId = requestId, Id = run.Id, Phase = Cl.WorkloadPhases.Pending, Reason = pending.Error ?? "" };
            case Cl.WorkloadStatus other:
                return Fail(ErrorCode.FailedPrecondition, $"run {run.Id}: workload is {other.Phase}: {other.Error}");
            case Cl.WorkloadCommandFailed failed:
                return Fail(ErrorCode.InvalidArgument, $"run {run.Id}: {failed.Error}");
            default:
                return Fail(ErrorCode.Internal, $"run {run.Id}: unexpected answer {answer.GetType().Name}");
        }
    }

    /// <summary>
    /// Deletes the workload <paramref name="id"/> wherever its container runs and forgets it; null when there is
    /// no such workload (the id may still name an ordinary container, which the caller deletes as before).
    /// </summary>
    private async Task<IControlReply?> RemoveWorkload(string id, string requestId)
    {
        if (await FindWorkload(id) is not { Phase: not Cl.WorkloadPhases.Removed })
            return null;
        var removed = await _settings.Workloads!.Ask<object>(new Cl.RemoveWorkload(id), _settings.AskTimeout + TimeSpan.FromSeconds(60));
        var reply = new DeleteContainerReply { RequestId = requestId };
        if (removed is Cl.WorkloadStatus { Error: { } error })
            reply.Error = ProtocolMapping.Error(ErrorCode.FailedPrecondition, $"delete {id}: {error}");
        else if (removed is not Cl.WorkloadStatus)
            reply.Error = ProtocolMapping.Error(ErrorCode.Internal, $"delete {id}: unexpected answer {removed.GetType().Name}");
        return reply;
    }

    /// <summary>The cluster's list: every node's containers with their node; this node's own with the full local detail.</summary>
    private async Task<IControlReply> ListCluster(string requestId)
    {
        var all = await _settings.NodeAgent!.Ask<Cl.ClusterContainerList>(Cl.ListClusterContainers.Instance, _settings.AskTimeout);
        var reply = new ListContainersReply { RequestId = requestId };
        foreach (var e in all.Containers)
        {
            if (e.Node == _settings.NodeName && await Info(e.Id) is { } info)
                reply.Containers.Add(ProtocolMapping.ToState(info, _settings.Inspector.State(e.Id), _settings.NodeName));
            else
                reply.Containers.Add(new ContainerState { Id = e.Id, Status = e.Status, Pid = e.Pid, Node = e.Node, Bundle = e.Bundle ?? "" });
        }
        reply.UnansweredNodes.Add(all.Unanswered);
        return reply;
    }

    /// <summary>
    /// A command for a container this node does not have: on a cluster node, when another node has it, either
    /// that node's agent carries out <paramref name="forward"/>, or (for commands that are not forwarded) the
    /// reply says where to send it. Any other reply is returned as it is.
    /// </summary>
    private async Task<IControlReply> Elsewhere(Command command, string requestId, string id, IControlReply local,
        Cl.NodeContainerCommand? forward = null, TimeSpan? timeout = null)
    {
        if (!Clustered || local.Error?.Code != ErrorCode.NotFound)
            return local;
        if (await FindNode(id) is not { } node)
            return await PendingOr(id, local);
        if (forward is null)
        {
            return ProtocolMapping.ReplyFor(command, requestId, ProtocolMapping.Error(ErrorCode.FailedPrecondition,
                $"container {id} runs on node {node}; send {command.KindCase.ToString().ToLowerInvariant()} there"));
        }
        var result = await AgentAt(node).Ask<Cl.NodeCommandResult>(forward, timeout ?? _settings.AskTimeout);
        return ProtocolMapping.ReplyFor(command, requestId,
            result.Error is null ? null : ProtocolMapping.FromFailure(new CommandFailed(id, forward.Verb, $"{result.Error} (on {node})")));
    }

    /// <summary>For an id no node has a container for: a pending workload says so; otherwise <paramref name="notFound"/>.</summary>
    private async Task<IControlReply> PendingOr(string id, IControlReply notFound)
    {
        if (await FindWorkload(id) is { Phase: Cl.WorkloadPhases.Pending } pending)
            notFound.Error = ProtocolMapping.Error(ErrorCode.FailedPrecondition, $"workload {id} is pending, it has no container yet: {pending.Error}");
        return notFound;
    }

    /// <summary>
    /// The workload's replicated state, read without starting its entity (see <see cref="Cl.WorkloadDirectory"/>):
    /// deletes and lookups of ordinary containers must not leave a remembered workload entity behind per id.
    /// </summary>
    private Task<Cl.WorkloadState?> FindWorkload(string id) =>
        Cl.WorkloadDirectory.FindAsync(_settings.ClusterSystem ?? throw new InvalidOperationException("the gateway has no cluster system"), id,
            _settings.AskTimeout < TimeSpan.FromSeconds(3) ? _settings.AskTimeout : TimeSpan.FromSeconds(3));

    /// <summary>The cluster node (other than this one) whose supervisor has a container <paramref name="id"/>, or null.</summary>
    private async Task<string?> FindNode(string id)
    {
        if (_settings.NodeAgent is null)
            return null;
        var all = await _settings.NodeAgent.Ask<Cl.ClusterContainerList>(Cl.ListClusterContainers.Instance, _settings.AskTimeout);
        return all.Containers.FirstOrDefault(c => c.Id == id && c.Node != _settings.NodeName)?.Node;
    }

    private ActorSelection AgentAt(string node) =>
        Cl.NodeAgent.At(_settings.ClusterSystem ?? throw new InvalidOperationException("the gateway has no cluster system"), node);

    // ---- events ----

    private IControlReply Subscribe(SubscribeEvents s, string requestId, IActorRef subscriber, AuthenticatedPeer peer)
    {
        if (_subscriptions.Count >= _settings.MaxSubscriptions)
            return new SubscribeEventsReply { RequestId = requestId, Error = ProtocolMapping.Error(ErrorCode.FailedPrecondition, $"too many event subscriptions (limit {_settings.MaxSubscriptions})") };
        var id = Guid.NewGuid().ToString("N");
        _subscriptions[id] = new Subscription(id, subscriber, s.ContainerId, s.IncludeStats, peer.Thumbprint);
        return new SubscribeEventsReply { RequestId = requestId, SubscriptionId = id };
    }

    private IControlReply Unsubscribe(UnsubscribeEvents u, string requestId, AuthenticatedPeer peer)
    {
        // Only the certificate that subscribed may end a subscription.
        if (!_subscriptions.TryGetValue(u.SubscriptionId, out var s) || s.Thumbprint != peer.Thumbprint)
            return new UnsubscribeEventsReply { RequestId = requestId, Error = ProtocolMapping.Error(ErrorCode.NotFound, $"no subscription {u.SubscriptionId}") };
        _subscriptions.Remove(s.Id);
        return new UnsubscribeEventsReply { RequestId = requestId };
    }

    private void OnEvent(IContainerEvent e)
    {
        if (_subscriptions.Count == 0)
            return;
        var ev = ProtocolMapping.ToEvent(e, _settings.NodeName);
        if (ev is null)
            return;
        foreach (var s in _subscriptions.Values)
        {
            if (ev.KindCase == Event.KindOneofCase.Stats && !s.IncludeStats)
                continue;
            if (s.ContainerId.Length > 0 && s.ContainerId != e.Id)
                continue;
            s.Subscriber.Tell(new EventNotification { SubscriptionId = s.Id, Event = ev });
        }
    }
}
