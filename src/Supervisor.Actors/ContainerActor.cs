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
/// Owns one container. It watches the init through the runtime's exit watch (a pidfd), applies the restart
/// policy to every exit, and runs the container's commands. An actor restart never touches the container:
/// the new incarnation waits out a backoff, re-reads the state root and reconciles (adopts a live init,
/// handles an exit it has not seen, carries out a restart that was pending).
/// </summary>
public sealed partial class ContainerActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;

    private readonly IContainerRuntime _runtime;
    private readonly RestartStore _store;
    private readonly SupervisorSettings _settings;
    private readonly Incarnations _incarnations;
    private readonly Func<double> _random;
    private readonly bool _autoStart;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private ContainerSpec _spec;
    private RestartRecord _record = RestartRecord.Empty;
    private ContainerSnapshot? _run;
    private IDisposable? _exitWatch;
    private IActorRef? _stats;
    private IActorRef? _oom;
    private int _childSeq;
    private bool _oomThisRun;
    private bool _shuttingDown;
    private readonly List<(IActorRef Replier, string Command)> _stopWaiters = [];

    public ContainerActor(ContainerSpec spec, bool autoStart, IContainerRuntime runtime, RestartStore store,
        SupervisorSettings settings, Incarnations incarnations, Func<double>? random = null)
    {
        _spec = spec;
        _autoStart = autoStart;
        _runtime = runtime;
        _store = store;
        _settings = settings;
        _incarnations = incarnations;
        _random = random ?? Random.Shared.NextDouble;
        Waiting();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    private string Id => _spec.Id;

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    /// <param name="autoStart">The container is listed in the configuration: run it when it does not exist.</param>
    /// <param name="incarnations">Shared by every incarnation of this actor (the Props capture it), to back off actor restarts.</param>
    public static Props Props(ContainerSpec spec, bool autoStart, IContainerRuntime runtime, RestartStore store,
        SupervisorSettings settings, Incarnations incarnations, Func<double>? random = null) =>
        Akka.Actor.Props.Create(() => new ContainerActor(spec, autoStart, runtime, store, settings, incarnations, random));

    /// <summary>Restart bookkeeping of the actor itself, kept across its incarnations.</summary>
    public sealed class Incarnations
    {
        public int Restarts { get; set; }
        public DateTimeOffset LastRestart { get; set; }
    }

    private sealed record Reconcile
    {
        public static readonly Reconcile Instance = new();
    }

    internal sealed record InitExited(int Pid, ExitReport Report);

    internal sealed record RestartDue(int Count, bool Manual = false);

    internal sealed record StopTimeoutElapsed(int Pid);

    internal sealed record OomSeen(DateTimeOffset Time);

    /// <summary>The daemon is shutting down with the stop policy: stop, but not as a manual stop.</summary>
    internal sealed record ShutdownStop
    {
        public static readonly ShutdownStop Instance = new();
    }

    protected override void PreStart()
    {
        Self.Tell(Reconcile.Instance);
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // The default would stop the children and call PostStop; doing that here keeps the container alive
        // (PostStop only cancels watches) while the stats and OOM children go with the old incarnation.
        _exitWatch?.Dispose();
        _exitWatch = null;
        base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        var now = Now;
        if (now - _incarnations.LastRestart > _settings.ActorRestart.Window)
            _incarnations.Restarts = 0;
        _incarnations.Restarts++;
        _incarnations.LastRestart = now;
        var delay = _settings.ActorRestart.BackoffFor(_incarnations.Restarts);
        Timers.StartSingleTimer("reconcile", Reconcile.Instance, delay);
        _log.Warning("container {ContainerId}: actor restarted after {Error}; re-reading its state in {DelayMs} ms",
            Id, reason.Message, (long)delay.TotalMilliseconds);
    }

    protected override void PostStop()
    {
        _exitWatch?.Dispose();
        _exitWatch = null;
    }

    private void Waiting()
    {
        Receive<Reconcile>(_ =>
        {
            DoReconcile();
            Become(Active);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Active()
    {
        Receive<InitExited>(OnInitExited);
        Receive<RestartDue>(OnRestartDue);
        Receive<StopTimeoutElapsed>(OnStopTimeout);
        Receive<OomSeen>(m =>
        {
            _oomThisRun = true;
            _log.Warning("container {ContainerId}: OOM kill at {Time}", Id, m.Time);
        });
        Receive<ShutdownStop>(_ =>
        {
            _shuttingDown = true;
            Timers.Cancel("restart");
            BeginStop(Sender, "shutdown", _settings.StopTimeout);
        });
        Receive<CreateContainer>(c => Command(c, "create", () => OnCreate(c)));
        Receive<StartContainer>(c => Command(c, "start", OnStart));
        Receive<StopContainer>(c => Command(c, "stop", () => OnStop(c)));
        Receive<KillContainer>(c => Command(c, "kill", () => OnKill(c)));
        Receive<PauseContainer>(c => Command(c, "pause", OnPause));
        Receive<ResumeContainer>(c => Command(c, "resume", OnResume));
        Receive<ExecInContainer>(c => Command(c, "exec", () =>
        {
            var pid = _runtime.Exec(Id, c.Process);
            Sender.Tell(new ExecStarted(Id, pid));
        }));
        Receive<UpdateContainer>(c => Command(c, "update", () =>
        {
            _runtime.Update(Id, c.Resources);
            Sender.Tell(new CommandSucceeded(Id, "update"));
        }));
        Receive<CheckpointContainer>(c => Sender.Tell(new CommandFailed(Id, "checkpoint", "checkpoint is not supported by the daemon")));
        Receive<RestoreContainer>(c => Sender.Tell(new CommandFailed(Id, "restore", "restore is not supported by the daemon")));
        Receive<DeleteContainer>(c => Command(c, "delete", () => OnDelete(c)));
        Receive<GetContainerState>(c => Command(c, "state", () => Sender.Tell(Info())));
        Receive<GetRecentStats>(c =>
        {
            if (_stats is null)
                Sender.Tell(new RecentStats(Id, []));
            else
                _stats.Forward(c);
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_stats))
                _stats = null;
            else if (t.ActorRef.Equals(_oom))
                _oom = null;
        });
    }

    /// <summary>
    /// Runs a command. What a user asked for wrongly, or what the container's state forbids, is a reply,
    /// not a fault. Anything else is replied to as well, then rethrown for the supervisor to decide.
    /// </summary>
    private void Command(IContainerCommand c, string name, Action body)
    {
        try
        {
            body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Sender.Tell(new CommandFailed(Id, name, e.Message));
        }
        catch (Exception e)
        {
            Sender.Tell(new CommandFailed(Id, name, e.Message));
            throw;
        }
    }

    private static bool IsUserError(Exception e) =>
        e is RuntimeException or ConfigException or InvalidIdException or CgroupException;

    private ContainerInfo Info()
    {
        var snap = _runtime.Inspect(Id);
        return new ContainerInfo(Id, snap?.Status ?? ContainerStatus.Stopped, snap is { Status: not ContainerStatus.Stopped } ? snap.InitPid : 0,
            _spec.Restart.ToString(), _record.RestartCount, _record.ManuallyStopped, _record.RestartPending,
            _record.LastExitCode, _record.LastOomKilled);
    }

    private void Persist(RestartRecord record)
    {
        _record = record with { Policy = _spec.Restart.ToString() };
        _store.Write(Id, _record);
    }

    private void DoReconcile()
    {
        _record = _store.Read(Id) ?? RestartRecord.Empty;
        var snap = _runtime.Inspect(Id);
        if (snap is null)
        {
            if (_autoStart || _record.RestartPending)
                StartFresh(manual: !_record.RestartPending);
            return;
        }
        if (string.IsNullOrEmpty(_spec.Bundle))
            _spec = _spec with { Bundle = snap.Bundle };
        // Events go out after the watch is in place, so whoever reacts to one finds the actor ready.
        if (snap.Status != ContainerStatus.Stopped)
            Watch(snap);
        Context.System.EventStream.Publish(new ContainerAdopted(Id, snap.Status, snap.Status == ContainerStatus.Stopped ? 0 : snap.InitPid));
        _log.Info("container {ContainerId}: adopted ({Status}, pid {Pid}, {RestartCount} restarts so far)",
            Id, snap.Status.ToOci(), snap.InitPid, _record.RestartCount);
        if (snap.Status != ContainerStatus.Stopped)
            return;
        var exit = snap.Exit ?? ExitReport.Unknown(snap.InitPid, Now);
        if (!AlreadyHandled(exit))
        {
            HandleExit(exit);
            return;
        }
        // A pending restart was cut short by an actor or daemon restart: carry it out now. Otherwise, on
        // daemon start (the actor's first incarnation), always and unless-stopped start the container as a
        // fresh start (Docker resets the restart manager there).
        if (_record.RestartPending)
            Self.Tell(new RestartDue(_record.RestartCount));
        else if (_incarnations.Restarts == 0 && RestartTracker.ShouldStartOnDaemonStart(_spec.Restart, _record))
            Self.Tell(new RestartDue(_record.RestartCount, Manual: true));
    }

    private bool AlreadyHandled(ExitReport exit) =>
        _record.LastExitPid == exit.Pid && (!exit.Recorded || _record.LastFinishedAt == exit.FinishedAt);

    /// <summary>Starts watching a live (or created) init and the children that belong to a running container.</summary>
    private void Watch(ContainerSnapshot snap)
    {
        _run = snap;
        _oomThisRun = false;
        _exitWatch?.Dispose();
        var self = Self;
        _exitWatch = _runtime.WatchExit(snap, report => self.Tell(new InitExited(snap.InitPid, report)));
        if (_oom is null)
        {
            _oom = Context.ActorOf(OomWatcher.Props(Id, _runtime), "oom-" + ++_childSeq);
            Context.Watch(_oom);
        }
        if (snap.Status == ContainerStatus.Running)
            StartStats();
    }

    private void StartStats()
    {
        if (_stats is not null)
            return;
        _stats = Context.ActorOf(StatsPoller.Props(Id, _runtime, _settings.StatsInterval, _settings.StatsHistory), "stats-" + ++_childSeq);
        Context.Watch(_stats);
    }

    private void StopChildren()
    {
        if (_stats is not null)
        {
            Context.Unwatch(_stats);
            Context.Stop(_stats);
            _stats = null;
        }
        if (_oom is not null)
        {
            Context.Unwatch(_oom);
            Context.Stop(_oom);
            _oom = null;
        }
    }

    private void OnInitExited(InitExited m)
    {
        // An exit of an init that is no longer ours (an earlier run) is stale.
        if (_run is null || _run.InitPid != m.Pid)
            return;
        HandleExit(m.Report);
    }

    /// <param name="dedupe">False for a failed start, which has no init whose exit could be seen twice.</param>
    private void HandleExit(ExitReport exit, bool dedupe = true)
    {
        _exitWatch?.Dispose();
        _exitWatch = null;
        _run = null;
        Timers.Cancel("stop-kill");
        StopChildren();
        var oom = exit.OomKilled || _oomThisRun;
        if (dedupe && AlreadyHandled(exit))
            return;
        Context.System.EventStream.Publish(new ContainerExited(Id, exit.Pid, exit.ExitCode, exit.Signal, oom, exit.FinishedAt));
        _log.Info("container {ContainerId}: init {Pid} exited with {ExitCode} (signal {Signal}, oom {OomKilled})",
            Id, exit.Pid, exit.ExitCode, exit.Signal, oom);
        foreach (var (replier, command) in _stopWaiters)
            replier.Tell(new CommandSucceeded(Id, command));
        _stopWaiters.Clear();

        var info = new ExitInfo(exit.ExitCode, exit.Signal, oom, _record.StartedAt ?? exit.FinishedAt, exit.FinishedAt);
        var decision = _shuttingDown
            ? new RestartDecision.Stay("the daemon is shutting down", _record)
            : RestartTracker.OnExit(_spec.Restart, _record, info, _random());
        var restart = decision as RestartDecision.Restart;
        var gaveUpNow = decision.Record.GaveUp && !_record.GaveUp;
        Persist(decision.Record with { LastExitPid = exit.Pid, RestartPending = restart is not null });
        if (restart is not null)
        {
            Timers.StartSingleTimer("restart", new RestartDue(_record.RestartCount), restart.Delay);
            Context.System.EventStream.Publish(new ContainerRestarting(Id, restart.Delay, _record.RestartCount));
            _log.Info("container {ContainerId}: restarting in {DelayMs} ms (restart {RestartCount})",
                Id, (long)restart.Delay.TotalMilliseconds, _record.RestartCount);
        }
        else if (decision is RestartDecision.Stay stay)
        {
            Context.System.EventStream.Publish(new ContainerNotRestarted(Id, stay.Reason));
            if (gaveUpNow)
                _log.Warning("container {ContainerId}: not restarted: {Reason}", Id, stay.Reason);
        }
    }

    private void OnRestartDue(RestartDue m)
    {
        if (_shuttingDown)
            return;
        StartFresh(manual: m.Manual);
    }

    /// <summary>Removes what is left of the last run and runs the container from its bundle again.</summary>
    private void StartFresh(bool manual)
    {
        ContainerSnapshot snap;
        try
        {
            if (_runtime.Inspect(Id) is not null)
                _runtime.Delete(Id, force: true);
            snap = _runtime.Run(Id, _spec.Bundle);
        }
        catch (Exception e) when (IsUserError(e) || e is ShimException)
        {
            Context.System.EventStream.Publish(new ContainerStartFailed(Id, e.Message));
            _log.Error("container {ContainerId}: start failed: {Error}", Id, e.Message);
            // A start that fails is an immediate failed run, so the backoff, on-failure's limit and the
            // storm window all bound how often it is tried again.
            _record = manual ? RestartTracker.OnManualStart(_record, Now) : RestartTracker.OnRestarted(_record, Now);
            HandleExit(new ExitReport(0, 255, 0, false, Now), dedupe: false);
            return;
        }
        var now = Now;
        Persist((manual ? RestartTracker.OnManualStart(_record, now) : RestartTracker.OnRestarted(_record, now)) with { RestartPending = false });
        Watch(snap);
        Context.System.EventStream.Publish(new ContainerStarted(Id, snap.InitPid, _record.RestartCount));
        _log.Info("container {ContainerId}: started, pid {Pid} (restart {RestartCount})", Id, snap.InitPid, _record.RestartCount);
    }

    private void OnCreate(CreateContainer c)
    {
        if (_runtime.Inspect(Id) is not null)
            throw new ContainerExistsException(Id);
        if (c.Restart is not null)
            _spec = _spec with { Restart = c.Restart };
        _spec = _spec with { Bundle = c.Bundle };
        var snap = _runtime.Create(Id, c.Bundle);
        Persist(RestartRecord.Empty);
        Watch(snap);
        Context.System.EventStream.Publish(new ContainerCreated(Id, snap.InitPid));
        Sender.Tell(new CommandSucceeded(Id, "create"));
    }

    private void OnStart()
    {
        var snap = _runtime.Inspect(Id) ?? throw new ContainerNotFoundException(Id);
        Timers.Cancel("restart");
        switch (snap.Status)
        {
            case ContainerStatus.Created:
                snap = _runtime.Start(Id);
                Persist(RestartTracker.OnManualStart(_record, Now) with { RestartPending = false });
                Watch(snap);
                Context.System.EventStream.Publish(new ContainerStarted(Id, snap.InitPid, 0));
                break;
            case ContainerStatus.Stopped:
                StartFresh(manual: true);
                break;
            default:
                throw new InvalidContainerStateException($"container {Id} is already {snap.Status.ToOci()}");
        }
        Sender.Tell(new CommandSucceeded(Id, "start"));
    }

    private void OnStop(StopContainer c)
    {
        Timers.Cancel("restart");
        Persist(RestartTracker.OnManualStop(_record) with { RestartPending = false });
        BeginStop(Sender, "stop", c.Timeout ?? _settings.StopTimeout);
    }

    /// <summary>SIGTERM to the init now, SIGKILL to every process when the timeout passes; the reply goes out with the exit.</summary>
    private void BeginStop(IActorRef replier, string command, TimeSpan timeout)
    {
        var snap = _runtime.Inspect(Id);
        if (snap is null || snap.Status == ContainerStatus.Stopped || _run is null)
        {
            replier.Tell(new CommandSucceeded(Id, command));
            return;
        }
        _stopWaiters.Add((replier, command));
        // A frozen init cannot act on SIGTERM; thaw it so that it can shut down cleanly.
        if (snap.Status == ContainerStatus.Paused)
            _runtime.Resume(Id);
        Timers.StartSingleTimer("stop-kill", new StopTimeoutElapsed(snap.InitPid), timeout);
        SignalQuietly(SIGTERM, all: false);
    }

    private void OnStopTimeout(StopTimeoutElapsed m)
    {
        if (_run is null || _run.InitPid != m.Pid)
            return;
        _log.Warning("container {ContainerId}: still running after the stop timeout; sending SIGKILL", Id);
        SignalQuietly(SIGKILL, all: true);
    }

    private void SignalQuietly(int signal, bool all)
    {
        try
        {
            _runtime.Signal(Id, signal, all);
        }
        catch (InvalidContainerStateException)
        {
            // It stopped in the meantime; the exit watch reports it.
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
        }
    }

    private void OnKill(KillContainer c)
    {
        if (c.Signal is SIGKILL or SIGTERM or 2 or 3)
        {
            Timers.Cancel("restart");
            Persist(RestartTracker.OnManualStop(_record) with { RestartPending = false });
        }
        _runtime.Signal(Id, c.Signal, c.All);
        Sender.Tell(new CommandSucceeded(Id, "kill"));
    }

    private void OnPause()
    {
        _runtime.Pause(Id);
        if (_stats is not null)
        {
            Context.Unwatch(_stats);
            Context.Stop(_stats);
            _stats = null;
        }
        Context.System.EventStream.Publish(new ContainerPaused(Id));
        Sender.Tell(new CommandSucceeded(Id, "pause"));
    }

    private void OnResume()
    {
        _runtime.Resume(Id);
        if (_run is not null)
            StartStats();
        Context.System.EventStream.Publish(new ContainerResumed(Id));
        Sender.Tell(new CommandSucceeded(Id, "resume"));
    }

    private void OnDelete(DeleteContainer c)
    {
        Timers.CancelAll();
        if (_runtime.Inspect(Id) is not null)
            _runtime.Delete(Id, c.Force);
        _exitWatch?.Dispose();
        _exitWatch = null;
        _run = null;
        StopChildren();
        _store.Remove(Id);
        // The parent forgets this actor before anyone hears of the delete, so that a command that follows
        // the reply is answered "does not exist" instead of reaching a stopping actor.
        Context.Parent.Tell(new ContainerSupervisor.ChildDeleted(Id, Self));
        Context.System.EventStream.Publish(new ContainerRemoved(Id));
        Sender.Tell(new CommandSucceeded(Id, "delete"));
        Context.Stop(Self);
    }
}
