namespace Supervisor.Cluster;

/// <summary>
/// Marker of every message that crosses nodes (and of the replicated workload state). It is bound in HOCON
/// to <see cref="ClusterMessageSerializer"/>, so none of them falls back to Akka's default serializer.
/// </summary>
public interface IClusterMessage;

/// <summary>A command for one <see cref="WorkloadEntity"/>, routed by cluster sharding on <see cref="WorkloadId"/>.</summary>
public interface IWorkloadCommand : IClusterMessage
{
    string WorkloadId { get; }
}

/// <summary>
/// Where a workload may run: a node role (null: any daemon), labels every one of which the node must carry,
/// and a node's cluster address (akka.tcp://supervisor@HOST:PORT, as in <see cref="WorkloadStatus.Node"/>; null: any).
/// </summary>
public sealed record PlacementConstraints(string? Role, IReadOnlyDictionary<string, string> Labels, string? Node = null)
{
    public static readonly PlacementConstraints None = new(null, new Dictionary<string, string>());
}

/// <summary>
/// A workload's desired state as a user gives it: the container id, its OCI bundle (a path that must exist on
/// every node the workload may run on), the restart policy text (no | on-failure[:N] | always | unless-stopped)
/// and the placement constraints.
/// </summary>
/// <param name="Config">
/// The OCI config.json text that a control gateway read once and checked, with root.path and bind sources made
/// absolute (<c>CheckedConfig.Serialize</c>). When set, the node that runs the workload writes exactly this text to
/// its own bundle directory and creates the container from there, so the file checked is the file run;
/// <see cref="Bundle"/> is then only where it was read from. Null: the container is created from <see cref="Bundle"/>.
/// </param>
/// <param name="AdmitAs">
/// The role of the remote client whose request carried <see cref="Config"/> (<c>admin</c> or <c>operator</c>): the node
/// that runs it checks the config against its own policy for that role (see <see cref="IWorkloadAdmission"/>).
/// Null for workloads made through the cluster API, whose members are trusted.
/// </param>
public sealed record WorkloadSpec(string Id, string Bundle, string Restart, PlacementConstraints Constraints, string? Config = null, string? AdmitAs = null);

// ---- commands to the workload region ----

/// <summary>Creates the workload and places it on a node; replied to with <see cref="WorkloadStatus"/> once it runs (or failed to).</summary>
public sealed record RunWorkload(WorkloadSpec Spec) : IWorkloadCommand
{
    [System.Text.Json.Serialization.JsonIgnore]
    public string WorkloadId => Spec.Id;
}

/// <summary>Deletes the workload's container wherever it runs and forgets the workload; replied to with <see cref="WorkloadStatus"/>.</summary>
public sealed record RemoveWorkload(string WorkloadId) : IWorkloadCommand;

/// <summary>Replied to with <see cref="WorkloadStatus"/>.</summary>
public sealed record GetWorkload(string WorkloadId) : IWorkloadCommand;

/// <summary>Live-migrates the workload's container to <see cref="ToNode"/> (an address); replied to with <see cref="MigrationReport"/>.</summary>
public sealed record MigrateWorkload(string WorkloadId, string ToNode, bool TcpEstablished = false) : IWorkloadCommand;

/// <summary>The phases a workload goes through.</summary>
public static class WorkloadPhases
{
    /// <summary>Waiting for a node (none fits the constraints, or placement is in progress).</summary>
    public const string Pending = "pending";
    /// <summary>Its container was created and started on <see cref="WorkloadState.Node"/>.</summary>
    public const string Placed = "placed";
    /// <summary>Its node was lost and the restart policy (no) does not place it again.</summary>
    public const string Lost = "lost";
    public const string Removed = "removed";
}

/// <summary>The replicated desired state of one workload (a DistributedData LWW register per workload).</summary>
public sealed record WorkloadState(WorkloadSpec Spec, string? Node, string Phase, string? Error, int Placements) : IClusterMessage;

/// <summary>What a workload entity reports about its workload.</summary>
public sealed record WorkloadStatus(string Id, string? Node, string Phase, string? Error, int Placements, WorkloadSpec? Spec) : IClusterMessage;

/// <summary>A workload command that could not be carried out; <see cref="Error"/> is one line fit for a user.</summary>
public sealed record WorkloadCommandFailed(string Id, string Command, string Error) : IClusterMessage;

/// <summary>
/// The outcome of a live migration, with the time of each phase in milliseconds: the CRIU dump on the source,
/// the transfer of the images, the restore on the target and the removal of the source's leftovers.
/// On failure the container runs on <see cref="RunningOn"/> (the source, restored there if the dump had stopped it).
/// </summary>
public sealed record MigrationReport(
    string Id,
    string From,
    string To,
    bool Succeeded,
    string? Error,
    string RunningOn,
    long ImageBytes,
    double CheckpointMs,
    double TransferMs,
    double RestoreMs,
    double CleanupMs) : IClusterMessage
{
    [System.Text.Json.Serialization.JsonIgnore]
    public double TotalMs => CheckpointMs + TransferMs + RestoreMs + CleanupMs;
}

// ---- node agent protocol ----

/// <summary>
/// One node's load as it publishes it every load-interval. <see cref="RunningContainers"/> leaves out the
/// containers being placed right now; <see cref="CompletedPlacements"/> counts the placements the node has
/// finished (successfully or not) since its daemon started, so the decider knows which of its reservations
/// for the node the report already covers (see <see cref="LoadBook"/>). A report from an older node lacks
/// the count and reads as 0: its reservations then only expire.
/// </summary>
public sealed record NodeLoad(
    string Address,
    IReadOnlyList<string> Roles,
    IReadOnlyDictionary<string, string> Labels,
    int RunningContainers,
    long FreeMemoryBytes,
    long CompletedPlacements = 0) : IClusterMessage;

/// <summary>Asks a node's agent to create and start the workload's container there.</summary>
public sealed record PlaceContainer(WorkloadSpec Spec) : IClusterMessage;

public sealed record ContainerPlaced(string Id, string Node, int Pid) : IClusterMessage;

public sealed record PlaceFailed(string Id, string Node, string Error) : IClusterMessage;

/// <summary>Asks a node's agent to delete the container (force); replied to with <see cref="ContainerRemovedFromNode"/>.</summary>
public sealed record RemoveContainerFromNode(string Id) : IClusterMessage;

public sealed record ContainerRemovedFromNode(string Id, string Node, string? Error) : IClusterMessage;

/// <summary>
/// Asks the local agent to choose a node by placement rules; replied to with <see cref="NodeChoice"/>. The
/// local agent passes it on to the cluster's placement decider with <see cref="Forwarded"/> set; an agent
/// decides a forwarded request itself even when its own view names another decider, so a request is never
/// passed on twice.
/// </summary>
public sealed record ChooseNode(PlacementConstraints Constraints, IReadOnlyList<string> Exclude, bool Forwarded = false) : IClusterMessage;

/// <summary>The chosen node's address, or null with the reason none fits.</summary>
public sealed record NodeChoice(string? Address, string Reason) : IClusterMessage;

/// <summary>Asks one agent for its placement view; replied to with <see cref="PlacementView"/>.</summary>
public sealed record GetPlacementView : IClusterMessage
{
    public static readonly GetPlacementView Instance = new();
}

/// <summary>A node's last report as the asked agent holds it, and the reservations it holds for that node.</summary>
public sealed record PlacementViewEntry(NodeLoad Reported, int Reserved);

/// <summary>
/// What one agent knows for placement: its own address, the decider it forwards choices to (by its view of
/// the membership) and, per node in address order, the last report and the live reservations.
/// </summary>
public sealed record PlacementView(string Node, string? Decider, IReadOnlyList<PlacementViewEntry> Nodes) : IClusterMessage;

/// <summary>Asks one agent for its node's containers; replied to with <see cref="NodeContainerList"/>.</summary>
public sealed record ListNodeContainers : IClusterMessage
{
    public static readonly ListNodeContainers Instance = new();
}

public sealed record NodeContainerEntry(string Id, string Status, int Pid, string? Bundle = null);

public sealed record NodeContainerList(string Node, IReadOnlyList<NodeContainerEntry> Containers) : IClusterMessage;

/// <summary>Asks any agent for the containers of every daemon in the cluster; replied to with <see cref="ClusterContainerList"/>.</summary>
public sealed record ListClusterContainers : IClusterMessage
{
    public static readonly ListClusterContainers Instance = new();
}

public sealed record ClusterContainerEntry(string Node, string Id, string Status, int Pid, string? Bundle = null);

/// <summary>Every node's containers, sorted by node then id; <see cref="Unanswered"/> names nodes that did not reply in time.</summary>
public sealed record ClusterContainerList(IReadOnlyList<ClusterContainerEntry> Containers, IReadOnlyList<string> Unanswered) : IClusterMessage;

/// <summary>
/// Asks the source node's agent to migrate its container to <see cref="ToNode"/>; replied to with <see cref="MigrationReport"/>.
/// <see cref="Config"/> and <see cref="AdmitAs"/> are the workload's (<see cref="WorkloadSpec"/>): they go on to the target.
/// </summary>
public sealed record MigrateOut(string Id, string ToNode, bool TcpEstablished, string? Config = null, string? AdmitAs = null) : IClusterMessage;

/// <summary>
/// Announces a migration to the target: where the images will be (<see cref="SharedImages"/> when a shared
/// path is configured; otherwise they follow as <see cref="ImageChunk"/>s). Replied to with <see cref="MigrationStep"/>.
/// With <see cref="Config"/> the target admits it for <see cref="AdmitAs"/> and writes it to its own bundle
/// directory, from which it restores; otherwise it restores from <see cref="Bundle"/>.
/// </summary>
public sealed record IncomingMigration(string MigrationId, string Id, string Bundle, string Restart, string? SharedImages,
    string? Config = null, string? AdmitAs = null) : IClusterMessage;

/// <summary>A piece of one image file; replied to with <see cref="MigrationStep"/> (stop-and-wait keeps the remote buffers small).</summary>
public sealed record ImageChunk(string MigrationId, string File, long Offset, byte[] Data) : IClusterMessage;

/// <summary>All images are there: restore on the target. Replied to with <see cref="MigrationStep"/> carrying the new pid.</summary>
public sealed record RestoreIncoming(string MigrationId, bool TcpEstablished) : IClusterMessage;

/// <summary>The source gave up: the target forgets the migration and removes what it received.</summary>
public sealed record AbortIncoming(string MigrationId) : IClusterMessage;

public sealed record MigrationStep(string MigrationId, bool Ok, string? Error, int Pid) : IClusterMessage;

/// <summary>Asks one node's agent for the state of a container there; replied to with <see cref="NodeContainerState"/>.</summary>
public sealed record GetNodeContainer(string Id) : IClusterMessage;

/// <summary>
/// A container's state on <see cref="Node"/> (the supervisor's view and the OCI state's), or <see cref="Error"/>
/// (e.g. "container X does not exist") with the other fields empty.
/// </summary>
public sealed record NodeContainerState(
    string Node,
    string Id,
    string? Error,
    string Status = "",
    int Pid = 0,
    string Restart = "",
    int RestartCount = 0,
    bool ManuallyStopped = false,
    bool RestartPending = false,
    int? LastExitCode = null,
    bool LastOomKilled = false,
    string? Bundle = null,
    string? Rootfs = null,
    long CreatedUnixMs = 0,
    string? Owner = null,
    IReadOnlyDictionary<string, string>? Annotations = null) : IClusterMessage;

/// <summary>The container commands one node's agent carries out for a control gateway on another node.</summary>
public static class NodeCommandVerbs
{
    public const string Stop = "stop";
    public const string Kill = "kill";
    public const string Pause = "pause";
    public const string Resume = "resume";
}

/// <summary>
/// Asks one node's agent to stop, kill, pause or resume a container there (<see cref="NodeCommandVerbs"/>);
/// replied to with <see cref="NodeCommandResult"/>. <see cref="Signal"/> and <see cref="All"/> are kill's,
/// <see cref="TimeoutMs"/> is stop's (0: the node's stop timeout).
/// </summary>
public sealed record NodeContainerCommand(string Id, string Verb, int Signal = 0, bool All = false, long TimeoutMs = 0) : IClusterMessage;

/// <summary>The outcome of a <see cref="NodeContainerCommand"/>: <see cref="Error"/> is null on success.</summary>
public sealed record NodeCommandResult(string Id, string Node, string? Error) : IClusterMessage;
