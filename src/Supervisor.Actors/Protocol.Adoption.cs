using Supervisor.Actors.Restart;

namespace Supervisor.Actors;

/// <summary>
/// Hands an existing container of the state root (e.g. one just restored from CRIU images by a migration)
/// to the supervisor, which gives it a container actor as it does for containers found at start-up.
/// Replied to with <see cref="CommandSucceeded"/>, or <see cref="CommandFailed"/> when it is not in the state root.
/// </summary>
public sealed record AdoptContainer(string Id, RestartPolicy Restart) : ISupervisorMessage;

/// <summary>
/// Stops supervising a container without touching it: its actor stops (exit and OOM watches end), the
/// container keeps running and the restart policy no longer applies. A migration does this before the
/// dump, so that the exit the dump causes is not taken for a crash. Replied to with <see cref="CommandSucceeded"/>.
/// </summary>
public sealed record ReleaseContainer(string Id) : ISupervisorMessage;
