using Akka.Actor;
using Akka.Event;
using Supervisor.Actors.Restart;
using Supervisor.Actors.Runtime;
using Supervisor.Linux;
using Supervisor.Linux.Shim;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Validation;

namespace Supervisor.Actors;

/// <summary>
/// One per node. Owns the state root: on start it re-adopts every container found there and starts the
/// configured ones, with one <see cref="ContainerActor"/> child each (mapped by container id). Commands are
/// routed to the child by id; <see cref="CreateContainer"/> makes a new child.
/// </summary>
public sealed class ContainerSupervisor : ReceiveActor
{
    private readonly SupervisorSettings _settings;
    private readonly IContainerRuntime _runtime;
    private readonly RestartStore _store;
    private readonly Func<double>? _random;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _children = new(StringComparer.Ordinal);
    private int _seq;

    public ContainerSupervisor(SupervisorSettings settings, IContainerRuntime runtime, Func<double>? random = null)
    {
        _settings = settings;
        _runtime = runtime;
        _store = new RestartStore(runtime.StateRoot);
        _random = random;

        Receive<CreateContainer>(c =>
        {
            if (!_children.TryGetValue(c.Id, out var child))
                child = Spawn(new ContainerSpec(c.Id, c.Bundle, c.Restart ?? _settings.DefaultRestart), autoStart: false);
            child.Forward(c);
        });
        Receive<RestoreContainer>(c =>
        {
            // A restore with a bundle may bring in a container this node has never seen (a migration).
            if (!_children.TryGetValue(c.Id, out var child))
            {
                if (c.Bundle is null)
                {
                    Sender.Tell(new CommandFailed(c.Id, "restore", $"container {c.Id} does not exist (give a bundle to restore it as a new container)"));
                    return;
                }
                child = Spawn(new ContainerSpec(c.Id, Path.GetFullPath(c.Bundle), _settings.DefaultRestart), autoStart: false);
            }
            child.Forward(c);
        });
        Receive<IContainerCommand>(c =>
        {
            if (!_children.TryGetValue(c.Id, out var child))
                Sender.Tell(new CommandFailed(c.Id, c.GetType().Name, $"container {c.Id} does not exist"));
            else
                child.Forward(c);
        });
        Receive<ListContainers>(_ =>
            Sender.Tell(new ContainerList(_children.Keys.Order(StringComparer.Ordinal).ToList())));
        Receive<StopAllContainers>(_ => StopAll());
        Receive<AdoptContainer>(a =>
        {
            if (_children.ContainsKey(a.Id))
            {
                Sender.Tell(new CommandFailed(a.Id, "adopt", $"container {a.Id} is already supervised"));
                return;
            }
            if (_runtime.Inspect(a.Id) is null)
            {
                Sender.Tell(new CommandFailed(a.Id, "adopt", $"container {a.Id} does not exist"));
                return;
            }
            // The policy is recorded first: the new actor reads the record when it reconciles, and a daemon
            // restart takes the policy from it.
            _store.Write(a.Id, (_store.Read(a.Id) ?? RestartRecord.Empty) with { Policy = a.Restart.ToString() });
            Spawn(new ContainerSpec(a.Id, "", a.Restart), autoStart: false);
            Sender.Tell(new CommandSucceeded(a.Id, "adopt"));
        });
        Receive<ReleaseContainer>(r =>
        {
            if (_children.Remove(r.Id, out var child))
            {
                // Unwatched first: the Terminated of a released actor must not tear its container down.
                Context.Unwatch(child);
                Context.Stop(child);
            }
            Sender.Tell(new CommandSucceeded(r.Id, "release"));
        });
        Receive<ChildDeleted>(d =>
        {
            if (_children.TryGetValue(d.Id, out var c) && c.Equals(d.Actor))
            {
                _children.Remove(d.Id);
                Context.Unwatch(d.Actor);
            }
        });
        Receive<Terminated>(t =>
        {
            var id = _children.FirstOrDefault(kv => kv.Value.Equals(t.ActorRef)).Key;
            if (id is not null)
            {
                _children.Remove(id);
                OnChildTerminated(id);
            }
        });
    }

    /// <summary>A container actor deleted its container and is stopping.</summary>
    internal sealed record ChildDeleted(string Id, IActorRef Actor);

    public static Props Props(SupervisorSettings settings, IContainerRuntime runtime, Func<double>? random = null) =>
        Akka.Actor.Props.Create(() => new ContainerSupervisor(settings, runtime, random));

    /// <summary>
    /// The container actors' own faults (not their containers' exits, which are messages):
    /// <list type="bullet">
    /// <item>a bad bundle or configuration, or a failure to initialise, means Stop: retrying cannot help;</item>
    /// <item>transient host trouble (I/O, a syscall, the shim, a cgroup) means Restart; the new incarnation
    /// backs off (actor-restart.min-backoff doubling to max-backoff) before it re-reads the state root;</item>
    /// <item>more than actor-restart.max-restarts within actor-restart.window stops the actor, and the
    /// supervisor then tears its container down, since nothing would be watching it any more.</item>
    /// </list>
    /// An actor restart never restarts the container.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(
        _settings.ActorRestart.MaxRestarts,
        _settings.ActorRestart.Window,
        Decide);

    public static Directive Decide(Exception e) => e switch
    {
        ActorInitializationException { InnerException: { } inner } => Decide(inner) == Directive.Restart ? Directive.Restart : Directive.Stop,
        ActorKilledException or DeathPactException => Directive.Stop,
        ConfigException or InvalidIdException or Akka.Configuration.ConfigurationException => Directive.Stop,
        IOException or SyscallException or ShimException or CgroupException or UnauthorizedAccessException => Directive.Restart,
        RuntimeException => Directive.Restart,
        _ => Directive.Restart,
    };

    protected override void PreStart()
    {
        var configured = _settings.Containers.ToDictionary(c => c.Id, StringComparer.Ordinal);
        var ids = new SortedSet<string>(_runtime.ListIds(), StringComparer.Ordinal);
        ids.UnionWith(configured.Keys);
        foreach (var id in ids)
        {
            if (configured.TryGetValue(id, out var spec))
            {
                Spawn(spec, autoStart: true);
                continue;
            }
            // A container created through the protocol (or with the CLI): its policy is in its restart record.
            var record = _store.Read(id);
            var policy = _settings.DefaultRestart;
            if (record?.Policy is { } text)
            {
                try
                {
                    var (mode, max) = RestartPolicy.ParseMode(text);
                    policy = policy with { Mode = mode, MaxRetries = max };
                }
                catch (FormatException)
                {
                }
            }
            Spawn(new ContainerSpec(id, "", policy), autoStart: false);
        }
        _log.Info("supervisor: state root {StateRoot}, {Count} containers", _runtime.StateRoot, ids.Count);
    }

    private IActorRef Spawn(ContainerSpec spec, bool autoStart)
    {
        // Actor names carry a sequence number: a container deleted and created again under the same id gets a
        // new actor while the old one may still be stopping.
        var child = Context.ActorOf(
            ContainerActor.Props(spec, autoStart, _runtime, _store, _settings, new ContainerActor.Incarnations(), _random),
            $"{spec.Id}-{++_seq}");
        Context.Watch(child);
        _children[spec.Id] = child;
        return child;
    }

    /// <summary>
    /// A child stopped. After a delete its container is gone and there is nothing to do; if the container
    /// still exists, the actor was stopped by the supervision strategy, and a container nobody watches is
    /// torn down rather than left to run unsupervised.
    /// </summary>
    private void OnChildTerminated(string id)
    {
        try
        {
            if (_runtime.Inspect(id) is null)
                return;
            _log.Error("container {ContainerId}: its actor was stopped by supervision; tearing the container down", id);
            _runtime.Delete(id, force: true);
            _store.Remove(id);
            Context.System.EventStream.Publish(new ContainerRemoved(id));
        }
        catch (Exception e) when (e is RuntimeException or IOException or SyscallException or CgroupException or ShimException)
        {
            _log.Error("container {ContainerId}: tear-down failed: {Error}", id, e.Message);
        }
    }

    private void StopAll()
    {
        var children = _children.Values.ToList();
        var timeout = _settings.StopTimeout + TimeSpan.FromSeconds(5);
        var tasks = children.Select(c => c.Ask<object>(ContainerActor.ShutdownStop.Instance, timeout)).ToArray();
        Task.WhenAll(tasks).PipeTo(Sender,
            success: _ => new ContainersStopped(children.Count),
            failure: e => new Status.Failure(e));
    }
}
