using Akka.Actor;
using Akka.Event;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;

namespace Supervisor.Actors;

/// <summary>
/// Samples a running container's cgroup statistics on a timer, publishes each sample as
/// <see cref="ContainerStats"/> and keeps the last few for <see cref="GetRecentStats"/>. The container actor
/// stops it while the container is paused or stopped and starts a new one when it runs again; it stops
/// itself when the cgroup is gone.
/// </summary>
public sealed class StatsPoller : ReceiveActor, IWithTimers
{
    private readonly string _id;
    private readonly IContainerRuntime _runtime;
    private readonly TimeSpan _interval;
    private readonly int _history;
    private readonly Queue<ContainerStats> _ring = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public StatsPoller(string id, IContainerRuntime runtime, TimeSpan interval, int history)
    {
        _id = id;
        _runtime = runtime;
        _interval = interval;
        _history = history;
        Receive<Tick>(_ => Sample());
        Receive<GetRecentStats>(_ => Sender.Tell(new RecentStats(_id, _ring.ToArray())));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string id, IContainerRuntime runtime, TimeSpan interval, int history) =>
        Akka.Actor.Props.Create(() => new StatsPoller(id, runtime, interval, history));

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    protected override void PreStart() => Timers.StartPeriodicTimer("tick", Tick.Instance, _interval);

    private void Sample()
    {
        CgroupStats stats;
        try
        {
            // No state read here: the container actor stops this poller when the container pauses or
            // ends, and its reconcile tick does so for a pause made behind its back.
            stats = _runtime.Stats(_id);
        }
        catch (Exception e) when (e is RuntimeException or CgroupException or IOException)
        {
            // The cgroup went away under us (the container is ending); the exit watch reports the rest.
            _log.Debug("container {ContainerId}: stats unavailable: {Error}", _id, e.Message);
            Context.Stop(Self);
            return;
        }
        var sample = new ContainerStats(_id, Context.System.Scheduler.Now, stats);
        _ring.Enqueue(sample);
        while (_ring.Count > _history)
            _ring.Dequeue();
        Context.System.EventStream.Publish(sample);
    }
}
