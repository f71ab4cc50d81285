using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Actors.Runtime;

/// <summary>What the state root says about one container right now.</summary>
/// <param name="Disowned">The state named a live process that is not in the container's cgroup (a forged or
/// stale state file): the runtime has dropped that pid from the state, so it is never signalled, and reports
/// the container stopped with an unknown exit.</param>
public sealed record ContainerSnapshot(
    string Id,
    string Bundle,
    ContainerStatus Status,
    int InitPid,
    ulong InitStartTime,
    int ShimPid,
    ulong ShimStartTime,
    ExitReport? Exit,
    bool Disowned = false);

/// <summary>How an init ended, as the shim recorded it (exit.json), plus the cgroup's OOM verdict.</summary>
/// <param name="Recorded">False when the shim left no exit.json: the status is then unknown and reported as 255.</param>
public sealed record ExitReport(int Pid, int ExitCode, int Signal, bool OomKilled, DateTimeOffset FinishedAt, bool Recorded = true)
{
    public static ExitReport Unknown(int pid, DateTimeOffset now) => new(pid, 255, 0, false, now, Recorded: false);
}

/// <summary>Where a CRIU checkpoint goes (or a restore comes from), and whether the container runs on after a dump.</summary>
/// <param name="ImagePath">The images directory (created when missing).</param>
/// <param name="LeaveRunning">Dump only: the container keeps running; otherwise it ends up checkpointed (its processes gone).</param>
/// <param name="WorkPath">Where CRIU writes its log; by default the images directory.</param>
public sealed record CheckpointSpec(string ImagePath, bool LeaveRunning = false, string? WorkPath = null);

/// <summary>
/// The runtime as the actors see it: one seam, so that actor tests run against a fake and the daemon against
/// <see cref="LinuxContainerRuntime"/>. Operations throw <see cref="RuntimeException"/> for what a user did
/// wrong or the container's state forbids, <see cref="Supervisor.Runtime.Validation.ConfigException"/> for a bad
/// bundle, and I/O or syscall exceptions for transient host trouble.
/// </summary>
public interface IContainerRuntime
{
    string StateRoot { get; }

    IReadOnlyList<string> ListIds();

    /// <summary>The container's current state, or null when it does not exist.</summary>
    ContainerSnapshot? Inspect(string id);

    /// <summary>Creates the container; its init is held before execve until <see cref="Start"/>.</summary>
    ContainerSnapshot Create(string id, string bundle);

    /// <summary>Releases a created init to execve.</summary>
    ContainerSnapshot Start(string id);

    /// <summary>Creates and starts the container in one go, leaving its shim to run on its own.</summary>
    ContainerSnapshot Run(string id, string bundle);

    void Signal(string id, int signal, bool all);

    void Pause(string id);

    void Resume(string id);

    CgroupStats Stats(string id);

    void Update(string id, Resources resources);

    /// <summary>Starts a process in the container; returns its host pid.</summary>
    int Exec(string id, ProcessConfig process);

    void Delete(string id, bool force);

    /// <summary>
    /// Dumps the running (or paused) container with CRIU. Blocks until CRIU is done; cancelling kills CRIU,
    /// which makes the call fail. On failure the container is left running as it was.
    /// </summary>
    void Checkpoint(string id, CheckpointSpec spec, CancellationToken cancel);

    /// <summary>
    /// Restores the container from CRIU images and returns it running under its new init: in place when the
    /// container is checkpointed, or created from <paramref name="bundle"/> when the id is unknown (migration).
    /// Blocks until CRIU is done; cancelling kills CRIU and undoes the attempt.
    /// </summary>
    ContainerSnapshot Restore(string id, string bundle, CheckpointSpec spec, CancellationToken cancel);

    /// <summary>
    /// Calls <paramref name="onExit"/> once, from another thread, when the init of <paramref name="snapshot"/>
    /// has exited and its exit status is known. Disposing the watch cancels it (the container is untouched).
    /// </summary>
    IDisposable WatchExit(ContainerSnapshot snapshot, Action<ExitReport> onExit);

    /// <summary>Calls <paramref name="onOom"/>, from another thread, on every OOM kill in the container's memory cgroup.</summary>
    IDisposable WatchOom(string id, Action<DateTimeOffset> onOom);
}
