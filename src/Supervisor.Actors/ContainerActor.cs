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
    private IActorRef? _job;
    private int _childSeq;
    private bool _unsaved;
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

    /// <summary>The periodic comparison of what the actor believes with the state root.</summary>
    internal sealed record ReconcileTick
    {
        public static readonly ReconcileTick Instance = new();
    }

    internal sealed record PeriodicCheckpointDue
    {
        public static readonly PeriodicCheckpointDue Instance = new();
    }

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
            Timers.StartPeriodicTimer("tick", ReconcileTick.Instance, _settings.ReconcileInterval);
            if (_spec.Checkpoint is { } periodic)
                Timers.StartPeriodicTimer("checkpoint", PeriodicCheckpointDue.Instance, periodic.Interval);
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
        Receive<CheckpointContainer>(c => Command(c, "checkpoint", () => OnCheckpoint(c)));
        Receive<RestoreContainer>(c => Command(c, "restore", () => OnRestore(c)));
        Receive<CheckpointJob.Result>(OnJobResult);
        Receive<PeriodicCheckpointDue>(_ => OnPeriodicCheckpoint());
        Receive<ReconcileTick>(_ => OnTick());
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

    /// <summary>While a CRIU job works on the container, commands that change it are refused.</summary>
    private void RefuseDuringJob(string command)
    {
        if (_job is not null)
            throw new InvalidContainerStateException($"cannot {command} container {Id}: a checkpoint or restore is in progress");
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
        Save();
    }

    /// <summary>
    /// Writes the restart record. A state root that cannot be written (read-only, full, wrong permissions)
    /// is reported once, not treated as a fault: restarting the actor would not help, and the container is
    /// fine. The record stays in memory and the reconcile tick writes it again until that works.
    /// </summary>
    private void Save()
    {
        try
        {
            _store.Write(Id, _record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!_unsaved)
            {
                _log.Error("container {ContainerId}: cannot save its restart record ({Error}); keeping it in memory and retrying every {IntervalMs} ms",
                    Id, e.Message, (long)_settings.ReconcileInterval.TotalMilliseconds);
                Context.System.EventStream.Publish(new ContainerStateNotSaved(Id, e.Message));
            }
            _unsaved = true;
            return;
        }
        if (_unsaved)
        {
            _unsaved = false;
            _log.Info("container {ContainerId}: restart record saved again", Id);
        }
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
        // A container adopted without a record (made with the CLI, or its daemon died before writing one)
        // gets one, so that `state` shows its policy and counters from now on.
        if (_store.Read(Id) is null)
            Persist(_record);
        if (snap.Disowned)
        {
            _log.Warning("container {ContainerId}: its state names pid {Pid}, a live process outside the container's cgroup; not adopted, and that process is left alone",
                Id, snap.InitPid);
            Context.System.EventStream.Publish(new ContainerDisowned(Id, snap.InitPid));
        }
        var live = snap.Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Created;
        // Events go out after the watch is in place, so whoever reacts to one finds the actor ready.
        if (live)
            Watch(snap);
        Context.System.EventStream.Publish(new ContainerAdopted(Id, snap.Status, live ? snap.InitPid : 0));
        _log.Info("container {ContainerId}: adopted ({Status}, pid {Pid}, {RestartCount} restarts so far)",
            Id, snap.Status.ToOci(), snap.InitPid, _record.RestartCount);
        // A configured container found created: the daemon died between creating and starting it. Its init
        // is held before execve, so releasing it is the one start (a fresh run would be a second init).
        if (snap.Status == ContainerStatus.Created && _autoStart && _incarnations.Restarts == 0 && !_record.ManuallyStopped)
        {
            var started = _runtime.Start(Id);
            Persist(RestartTracker.OnRestarted(_record, Now) with { RestartPending = false });
            Watch(started);
            Context.System.EventStream.Publish(new ContainerStarted(Id, started.InitPid, _record.RestartCount));
            _log.Info("container {ContainerId}: was created but not started; started, pid {Pid}", Id, started.InitPid);
            return;
        }
        // A checkpointed container waits for a restore or a delete; no policy restarts it.
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

    private void StopStats()
    {
        if (_stats is not null)
        {
            Context.Unwatch(_stats);
            Context.Stop(_stats);
            _stats = null;
        }
    }

    private void StopChildren()
    {
        StopStats();
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
        if (IsCheckpointed())
        {
            StopWatching();
            return;
        }
        HandleExit(m.Report);
    }

    /// <summary>The init was ended by a checkpoint (CRIU kills the tree after the dump): not an exit the policy sees.</summary>
    private bool IsCheckpointed() => _runtime.Inspect(Id) is { Status: ContainerStatus.Checkpointed };

    private void StopWatching()
    {
        _exitWatch?.Dispose();
        _exitWatch = null;
        _run = null;
        Timers.Cancel("stop-kill");
        StopChildren();
        foreach (var (replier, command) in _stopWaiters)
            replier.Tell(new CommandSucceeded(Id, command));
        _stopWaiters.Clear();
    }

    /// <summary>
    /// Compares what the actor believes with the state root: an exit whose notification never came (or a
    /// container killed or deleted with the CLI behind the daemon's back) is handled as if it had been seen;
    /// a pause or resume done with the CLI starts or stops the stats poller; a restart record that could
    /// not be written is written again. A container deleted out of band that nothing will restart is
    /// forgotten, unless it is in the configuration.
    /// </summary>
    private void OnTick()
    {
        if (_unsaved)
            Save();
        if (_job is not null)
            return;
        var snap = _runtime.Inspect(Id);
        if (_run is not null)
        {
            if (snap is null || snap.InitPid != _run.InitPid || snap.Status is ContainerStatus.Stopped or ContainerStatus.Checkpointed)
            {
                if (snap is { Status: ContainerStatus.Checkpointed })
                {
                    StopWatching();
                    return;
                }
                // The init is gone but its shim is still writing exit.json: the exit watch reports the real
                // status in a moment. Handling it here would record an unknown exit (255) in its place.
                if (snap is { Status: ContainerStatus.Stopped, Exit.Recorded: false, ShimPid: > 0 } && ProcStat.IsAlive(snap.ShimPid, snap.ShimStartTime))
                    return;
                _log.Warning("container {ContainerId}: init {Pid} is gone and no exit was reported; handling it now", Id, _run.InitPid);
                var exit = snap is { Status: ContainerStatus.Stopped, Exit: { } e } && e.Pid == _run.InitPid ? e : ExitReport.Unknown(_run.InitPid, Now);
                HandleExit(exit);
                return;
            }
            // A pause or resume made with the CLI behind the supervisor's back is still a state change:
            // publish it as one, so that subscribers see the same events as for a Pause/Resume message.
            if (snap.Status is ContainerStatus.Paused or ContainerStatus.Running && snap.Status != _run.Status)
            {
                _run = _run with { Status = snap.Status };
                _log.Info("container {ContainerId}: {Status} outside the supervisor", Id, snap.Status.ToOci());
                Context.System.EventStream.Publish(snap.Status == ContainerStatus.Paused ? new ContainerPaused(Id) : new ContainerResumed(Id));
            }
            if (snap.Status == ContainerStatus.Running && _stats is null)
                StartStats();
            else if (snap.Status == ContainerStatus.Paused && _stats is not null)
                StopStats();
            return;
        }
        if (snap is null && !_autoStart && !_record.RestartPending)
        {
            _log.Info("container {ContainerId}: deleted outside the supervisor; forgetting it", Id);
            Timers.CancelAll();
            StopChildren();
            try
            {
                _store.Remove(Id);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            Context.Parent.Tell(new ContainerSupervisor.ChildDeleted(Id, Self));
            Context.System.EventStream.Publish(new ContainerRemoved(Id));
            Context.Stop(Self);
        }
    }

    private void OnCheckpoint(CheckpointContainer c)
    {
        RefuseDuringJob("checkpoint");
        var snap = _runtime.Inspect(Id) ?? throw new ContainerNotFoundException(Id);
        if (snap.Status is not (ContainerStatus.Running or ContainerStatus.Paused) || _run is null)
            throw new InvalidContainerStateException($"cannot checkpoint container {Id}: it is {snap.Status.ToOci()}");
        StartJob(new CheckpointJob.Request(Id, CheckpointJob.Operation.Checkpoint, new CheckpointSpec(Path.GetFullPath(c.ImagePath), c.LeaveRunning),
            _spec.Bundle, c.Timeout ?? _settings.Checkpoint.Timeout, Sender));
    }

    private void OnRestore(RestoreContainer c)
    {
        RefuseDuringJob("restore");
        var snap = _runtime.Inspect(Id);
        if (snap is not null && snap.Status != ContainerStatus.Checkpointed)
            throw new InvalidContainerStateException($"cannot restore container {Id}: it is {snap.Status.ToOci()}, not checkpointed");
        var bundle = c.Bundle ?? _spec.Bundle;
        if (snap is null && string.IsNullOrEmpty(bundle))
            throw new ContainerNotFoundException(Id);
        Timers.Cancel("restart");
        StartJob(new CheckpointJob.Request(Id, CheckpointJob.Operation.Restore, new CheckpointSpec(Path.GetFullPath(c.ImagePath)),
            Path.GetFullPath(bundle), c.Timeout ?? _settings.Checkpoint.Timeout, Sender));
    }

    private void StartJob(CheckpointJob.Request request)
    {
        _job = Context.ActorOf(CheckpointJob.Props(request, _runtime), $"{CheckpointJob.Name(request.Operation)}-{++_childSeq}");
        _log.Info("container {ContainerId}: {Operation} to {ImagePath} started", Id, CheckpointJob.Name(request.Operation), request.Spec.ImagePath);
    }

    private void OnPeriodicCheckpoint()
    {
        if (_job is not null || _run is null || _spec.Checkpoint is not { } periodic)
            return;
        if (_runtime.Inspect(Id) is not { Status: ContainerStatus.Running })
            return;
        StartJob(new CheckpointJob.Request(Id, CheckpointJob.Operation.Checkpoint,
            new CheckpointSpec(Path.Combine(periodic.ImageRoot, Id), periodic.LeaveRunning), _spec.Bundle, _settings.Checkpoint.Timeout, ActorRefs.Nobody));
    }

    private void OnJobResult(CheckpointJob.Result r)
    {
        _job = null;
        var op = CheckpointJob.Name(r.Request.Operation);
        if (r.Error is not null)
        {
            _log.Warning("container {ContainerId}: {Operation} failed after {DurationMs} ms: {Error}", Id, op, (long)r.Duration.TotalMilliseconds, r.Error);
            Context.System.EventStream.Publish(new CheckpointFailed(Id, op, r.Error));
            r.Request.Replier.Tell(new CommandFailed(Id, op, r.Error));
            // A failed restore of a checkpointed container leaves it checkpointed; a failed checkpoint leaves
            // it running, and the exit watch still covers it. Anything else is the next tick's business.
            return;
        }
        if (r.Request.Operation == CheckpointJob.Operation.Checkpoint)
        {
            if (!r.Request.Spec.LeaveRunning && IsCheckpointed())
                StopWatching();
            _log.Info("container {ContainerId}: checkpointed to {ImagePath} in {DurationMs} ms", Id, r.Request.Spec.ImagePath, (long)r.Duration.TotalMilliseconds);
            Context.System.EventStream.Publish(new ContainerCheckpointed(Id, r.Request.Spec.ImagePath, r.Request.Spec.LeaveRunning));
        }
        else
        {
            var snap = r.Restored!;
            if (string.IsNullOrEmpty(_spec.Bundle))
                _spec = _spec with { Bundle = snap.Bundle };
            // Watched like a fresh start; restoring is not a restart, so the count stays.
            Persist(_record with { StartedAt = Now, ManuallyStopped = false, GaveUp = false, RestartPending = false });
            Watch(snap);
            _log.Info("container {ContainerId}: restored from {ImagePath}, pid {Pid}, in {DurationMs} ms", Id, r.Request.Spec.ImagePath, snap.InitPid, (long)r.Duration.TotalMilliseconds);
            Context.System.EventStream.Publish(new ContainerRestored(Id, snap.InitPid));
        }
        r.Request.Replier.Tell(new CommandSucceeded(Id, op));
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
        RefuseDuringJob("start");
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
            case ContainerStatus.Checkpointed:
                throw new InvalidContainerStateException($"container {Id} is checkpointed: restore it or delete it");
            default:
                throw new InvalidContainerStateException($"container {Id} is already {snap.Status.ToOci()}");
        }
        Sender.Tell(new CommandSucceeded(Id, "start"));
    }

    private void OnStop(StopContainer c)
    {
        RefuseDuringJob("stop");
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
        RefuseDuringJob("pause");
        _runtime.Pause(Id);
        if (_run is not null)
            _run = _run with { Status = ContainerStatus.Paused };
        StopStats();
        Context.System.EventStream.Publish(new ContainerPaused(Id));
        Sender.Tell(new CommandSucceeded(Id, "pause"));
    }

    private void OnResume()
    {
        RefuseDuringJob("resume");
        _runtime.Resume(Id);
        if (_run is not null)
        {
            _run = _run with { Status = ContainerStatus.Running };
            StartStats();
        }
        Context.System.EventStream.Publish(new ContainerResumed(Id));
        Sender.Tell(new CommandSucceeded(Id, "resume"));
    }

    private void OnDelete(DeleteContainer c)
    {
        RefuseDuringJob("delete");
        Timers.CancelAll();
        if (_runtime.Inspect(Id) is not null)
            _runtime.Delete(Id, c.Force);
        _exitWatch?.Dispose();
        _exitWatch = null;
        _run = null;
        StopChildren();
        try
        {
            _store.Remove(Id);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Error("container {ContainerId}: cannot remove its restart record: {Error}", Id, e.Message);
        }
        // The parent forgets this actor before anyone hears of the delete, so that a command that follows
        // the reply is answered "does not exist" instead of reaching a stopping actor.
        Context.Parent.Tell(new ContainerSupervisor.ChildDeleted(Id, Self));
        Context.System.EventStream.Publish(new ContainerRemoved(Id));
        Sender.Tell(new CommandSucceeded(Id, "delete"));
        Context.Stop(Self);
    }
}
