using Supervisor.Actors.Restart;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Actors;

/// <summary>Marker of every message of the supervisor's protocol (commands, replies and events).</summary>
public interface ISupervisorMessage;

/// <summary>A command addressed to one container; the <see cref="ContainerSupervisor"/> routes it by <see cref="Id"/>.</summary>
public interface IContainerCommand : ISupervisorMessage
{
    string Id { get; }
}

/// <summary>An event published on the EventStream (subscribe to this type to see them all).</summary>
public interface IContainerEvent : ISupervisorMessage
{
    string Id { get; }
}

// ---- commands ----

/// <summary>Creates the container from an OCI bundle; the init waits before execve until <see cref="StartContainer"/>.</summary>
public sealed record CreateContainer(string Id, string Bundle, RestartPolicy? Restart = null) : IContainerCommand;

/// <summary>Starts a created container, or starts a stopped one again (a manual start: counters reset).</summary>
public sealed record StartContainer(string Id) : IContainerCommand;

/// <summary>The stop signal (SIGTERM) to the init, then SIGKILL to every process after the timeout. No automatic restart follows.</summary>
public sealed record StopContainer(string Id, TimeSpan? Timeout = null) : IContainerCommand;

/// <summary>A signal to the init, or to every process with <see cref="All"/>. A terminating signal counts as a manual stop.</summary>
public sealed record KillContainer(string Id, int Signal = 15, bool All = false) : IContainerCommand;

public sealed record PauseContainer(string Id) : IContainerCommand;

public sealed record ResumeContainer(string Id) : IContainerCommand;

/// <summary>Starts another process in the running container; replied to with <see cref="ExecStarted"/>.</summary>
public sealed record ExecInContainer(string Id, ProcessConfig Process) : IContainerCommand;

/// <summary>Changes the container's resource limits live.</summary>
public sealed record UpdateContainer(string Id, Resources Resources) : IContainerCommand;

/// <summary>
/// Checkpoints the running (or paused) container with CRIU into <see cref="ImagePath"/>, in a
/// <see cref="CheckpointJob"/>. Without <see cref="LeaveRunning"/> the container ends up checkpointed (its
/// processes gone, no restart) until a <see cref="RestoreContainer"/> or a delete. The reply comes when the
/// job ends; progress goes to the EventStream as <see cref="CheckpointProgress"/>. A job that fails or
/// passes <see cref="Timeout"/> (default supervisor.checkpoint.timeout) leaves the container running.
/// </summary>
public sealed record CheckpointContainer(string Id, string ImagePath, bool LeaveRunning = false, TimeSpan? Timeout = null) : IContainerCommand;

/// <summary>
/// Restores a checkpointed container from CRIU images; with <see cref="Bundle"/>, an id the supervisor does
/// not know is created from that bundle first (a migration). The restored init is then watched like a
/// freshly started one.
/// </summary>
public sealed record RestoreContainer(string Id, string ImagePath, string? Bundle = null, TimeSpan? Timeout = null) : IContainerCommand;

/// <summary>Removes the container (with <see cref="Force"/> also when it runs) and its restart record; the actor stops.</summary>
public sealed record DeleteContainer(string Id, bool Force = false) : IContainerCommand;

/// <summary>Replied to with <see cref="ContainerInfo"/>.</summary>
public sealed record GetContainerState(string Id) : IContainerCommand;

/// <summary>Asks the supervisor for the ids of the containers it supervises; replied to with <see cref="ContainerList"/>.</summary>
public sealed record ListContainers : ISupervisorMessage
{
    public static readonly ListContainers Instance = new();
    private ListContainers() { }
}

/// <summary>
/// Sent by the host's coordinated shutdown: stop every container (SIGTERM, SIGKILL after the stop timeout)
/// without marking it stopped by hand, so that <c>unless-stopped</c> starts it again with the daemon.
/// Replied to with <see cref="ContainersStopped"/> once all of them have exited.
/// </summary>
public sealed record StopAllContainers : ISupervisorMessage
{
    public static readonly StopAllContainers Instance = new();
    private StopAllContainers() { }
}

// ---- replies ----

public sealed record CommandSucceeded(string Id, string Command) : ISupervisorMessage;

/// <summary>A command that could not be carried out; <see cref="Error"/> is one line fit for a user.</summary>
public sealed record CommandFailed(string Id, string Command, string Error) : ISupervisorMessage;

public sealed record ExecStarted(string Id, int Pid) : ISupervisorMessage;

public sealed record ContainerList(IReadOnlyList<string> Ids) : ISupervisorMessage;

public sealed record ContainersStopped(int Count) : ISupervisorMessage;

/// <summary>What the supervisor knows about one container.</summary>
public sealed record ContainerInfo(
    string Id,
    ContainerStatus Status,
    int Pid,
    string Restart,
    int RestartCount,
    bool ManuallyStopped,
    bool RestartPending,
    int? LastExitCode,
    bool LastOomKilled) : ISupervisorMessage;

/// <summary>The stats poller's recent samples, oldest first.</summary>
public sealed record RecentStats(string Id, IReadOnlyList<ContainerStats> Samples) : ISupervisorMessage;

/// <summary>Asks a container's stats poller (through the container actor) for its ring of samples.</summary>
public sealed record GetRecentStats(string Id) : IContainerCommand;

// ---- events ----

public sealed record ContainerCreated(string Id, int Pid) : IContainerEvent;

public sealed record ContainerStarted(string Id, int Pid, int RestartCount) : IContainerEvent;

/// <summary>A container found in the state root when its actor started (daemon start or actor restart).</summary>
public sealed record ContainerAdopted(string Id, ContainerStatus Status, int Pid) : IContainerEvent;

/// <summary>The init ended: <see cref="ExitCode"/> is the code or 128+signal; 255 when the shim left no record.</summary>
public sealed record ContainerExited(string Id, int Pid, int ExitCode, int Signal, bool OomKilled, DateTimeOffset FinishedAt) : IContainerEvent;

public sealed record ContainerRestarting(string Id, TimeSpan Delay, int RestartCount) : IContainerEvent;

/// <summary>The restart policy leaves the container stopped.</summary>
public sealed record ContainerNotRestarted(string Id, string Reason) : IContainerEvent;

/// <summary>An automatic (re)start failed; the policy treats it as an exit with code 255.</summary>
public sealed record ContainerStartFailed(string Id, string Error) : IContainerEvent;

public sealed record ContainerOomKilled(string Id, DateTimeOffset Time) : IContainerEvent;

public sealed record ContainerPaused(string Id) : IContainerEvent;

public sealed record ContainerResumed(string Id) : IContainerEvent;

/// <summary>A checkpoint finished; with <see cref="LeaveRunning"/> false the container is now checkpointed.</summary>
public sealed record ContainerCheckpointed(string Id, string ImagePath, bool LeaveRunning = false) : IContainerEvent;

/// <summary>A checkpoint or restore job moved on (<see cref="Stage"/>: started, timed-out).</summary>
public sealed record CheckpointProgress(string Id, string Operation, string Stage, TimeSpan Elapsed) : IContainerEvent;

/// <summary>A checkpoint or restore job failed (or timed out); a checkpointed container is left running.</summary>
public sealed record CheckpointFailed(string Id, string Operation, string Error) : IContainerEvent;

/// <summary>The restart record could not be written (e.g. a read-only state root); it is kept in memory and written again on the next reconcile tick.</summary>
public sealed record ContainerStateNotSaved(string Id, string Error) : IContainerEvent;

/// <summary>The state named a live process outside the container's cgroup (forged or stale); that pid was dropped and is never signalled.</summary>
public sealed record ContainerDisowned(string Id, int Pid) : IContainerEvent;

public sealed record ContainerRestored(string Id, int Pid) : IContainerEvent;

public sealed record ContainerRemoved(string Id) : IContainerEvent;

/// <summary>One stats sample of a running container.</summary>
public sealed record ContainerStats(string Id, DateTimeOffset Time, CgroupStats Cgroups) : IContainerEvent;
