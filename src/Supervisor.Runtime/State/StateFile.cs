using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.State;

/// <summary>
/// What state.json holds for one container: enough for a later process (another CLI call, or the daemon
/// after a restart) to find the container's processes, cgroups and namespaces and to tell a live init
/// from a reused pid. The exit status is not here: the shim records it separately in exit.json, because
/// the shim is the only process sure to see the init exit.
/// </summary>
public sealed record StateFile
{
    /// <summary>Format version of this file.</summary>
    public int Version { get; init; } = 1;
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    public required string Rootfs { get; init; }
    public DateTimeOffset Created { get; init; }
    public string Owner { get; init; } = "";

    /// <summary>Host pid of the container's init (0 before it exists).</summary>
    public int InitPid { get; init; }
    /// <summary>Start time of the init in clock ticks since boot (/proc/PID/stat field 22), to detect pid reuse.</summary>
    public ulong InitStartTime { get; init; }
    public int ShimPid { get; init; }
    public ulong ShimStartTime { get; init; }

    /// <summary>The init has been released with start (it is past execve).</summary>
    public bool Started { get; init; }
    public bool Paused { get; init; }
    public bool Checkpointed { get; init; }

    /// <summary>Controller (or "unified") to absolute cgroup directory.</summary>
    public Dictionary<string, string> CgroupPaths { get; init; } = new();
    /// <summary>OCI namespace type to the nsfs path that exec joins.</summary>
    public Dictionary<string, string> NamespacePaths { get; init; } = new();

    public required ContainerConfig Config { get; init; }
}

/// <summary>exit.json as the shim writes it (native/include/supervisor_shim.h).</summary>
public sealed record ExitRecord
{
    public int Pid { get; init; }
    public int Status { get; init; }
    public int ExitCode { get; init; }
    public int Signal { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
}

/// <summary>The OCI state document printed by <c>supervisor state</c> (runtime-spec state plus runc's extras).</summary>
public sealed record OciState
{
    public string OciVersion { get; init; } = "1.0.2";
    public required string Id { get; init; }
    public required string Status { get; init; }
    public int Pid { get; init; }
    public required string Bundle { get; init; }
    public string Rootfs { get; init; } = "";
    public DateTimeOffset Created { get; init; }
    public string Owner { get; init; } = "";
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    /// <summary>Exit code of a stopped container, when the shim recorded one.</summary>
    public int? ExitCode { get; init; }
}
