using Akka.Actor;
using Akka.Event;
using Supervisor.Actors.Runtime;
using Supervisor.Linux;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;

namespace Supervisor.Actors;

/// <summary>
/// Turns the runtime's OOM notifications for one container into <see cref="ContainerOomKilled"/> events,
/// and tells its parent, whose restart policy then counts the exit as a failure.
/// </summary>
public sealed class OomWatcher : ReceiveActor
{
    private readonly string _id;
    private readonly IContainerRuntime _runtime;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private static readonly TimeSpan Coalesce = TimeSpan.FromSeconds(1);
    private IDisposable? _watch;
    private DateTimeOffset? _lastReported;

    public OomWatcher(string id, IContainerRuntime runtime)
    {
        _id = id;
        _runtime = runtime;
        Receive<ContainerActor.OomSeen>(m =>
        {
            // cgroup v1 signals the eventfd for every OOM invocation, which an allocator being killed can
            // trigger many times in a row: one event per second is the news, the rest is noise.
            if (_lastReported is { } last && m.Time - last < Coalesce)
                return;
            _lastReported = m.Time;
            // The parent first: it must know of the OOM before anyone reacting to the event could make it see the exit.
            Context.Parent.Tell(m);
            Context.System.EventStream.Publish(new ContainerOomKilled(_id, m.Time));
        });
    }

    public static Props Props(string id, IContainerRuntime runtime) => Akka.Actor.Props.Create(() => new OomWatcher(id, runtime));

    protected override void PreStart()
    {
        var self = Self;
        try
        {
            _watch = _runtime.WatchOom(_id, t => self.Tell(new ContainerActor.OomSeen(t)));
        }
        catch (Exception e) when (e is RuntimeException or CgroupException or SyscallException or IOException)
        {
            // No memory cgroup (or it is already gone): there is nothing to watch, and the exit status
            // still carries the cgroup's OOM verdict.
            _log.Debug("container {ContainerId}: no OOM watch: {Error}", _id, e.Message);
            Context.Stop(Self);
        }
    }

    protected override void PostStop() => _watch?.Dispose();
}
